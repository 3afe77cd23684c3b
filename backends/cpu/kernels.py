"""Numeric kernels of the CPU simulator's connections: with the neuron models' kernels
(`neurons`, one module per model) the living definition of snnc's `lava_fixed_pt` semantics
(and of the float semantics with the same structure and timing).

Everything here reproduces what lava-nc 0.10.0's Python process models compute, including
their integer types, because the types decide what happens on overflow:

- Connections (`dense/models.py`, `sparse/models.py`): the output port is int32, so every
  connection output is wrapped to 32 bits on its way to the neurons. How the sum and the
  `weight_exp` shift interact with that wrap depends on the model and on graded spikes; see
  `ACCUMULATE` below.
- Conv (`conv/models.py`, `conv/utils.py`): a float64 sum cast to int32 (numpy's cast; out of
  range values become INT32_MIN on x86) and then wrapped to 24 bits.

All integer arrays here are int64 holding values in the int32 range unless a name says
otherwise.
"""

from __future__ import annotations

import numpy as np

from ir.fixed import LAVA_FIXED_PT, effective_weights
from neurons.base import trunc_shift, wrap32

__all__ = [
    "ACCUMULATE",
    "SHIFT_THEN_WRAP",
    "WRAP_THEN_SHIFT",
    "accumulate_mode",
    "conv_output_fixed",
    "shift64",
    "shift_wrapped32",
    "trunc_shift",
    "wrap24",
    "wrap32",
]

_P = LAVA_FIXED_PT

# How a connection's integer sum becomes its int32 output (Lava 0.10 models):
SHIFT_THEN_WRAP = "shift_then_wrap"
"""sum exactly (int64), shift by weight_exp, wrap to int32 when sent (binary Dense/Sparse:
`weights[:, s].sum()` promotes int32 to int64; DelayDense: `np.sum` of int32 products -> int64,
shifted, then added into the int32 buffer)."""
WRAP_THEN_SHIFT = "wrap_then_shift"
"""sum in int32 (wrapping), then shift the int32 value (graded Dense/Sparse: `weights.dot(s)`
of int32 operands stays int32; DelaySparse: the sparse product is int32 for binary and graded)."""
ACCUMULATE = (SHIFT_THEN_WRAP, WRAP_THEN_SHIFT)


def accumulate_mode(kind: str, delayed: bool, graded: bool) -> str:
    """The accumulation of Lava's model for a `kind` ("dense"/"sparse") connection."""
    if kind == "dense":
        return SHIFT_THEN_WRAP if (delayed or not graded) else WRAP_THEN_SHIFT
    return WRAP_THEN_SHIFT if (delayed or graded) else SHIFT_THEN_WRAP


def wrap24(x: np.ndarray) -> np.ndarray:
    """Lava conv utils.signed_clamp(x, bits=24): (x + 2^23) mod 2^24 - 2^23."""
    base = 1 << _P.conv_wrap_bits
    return ((np.asarray(x, dtype=np.int64) + base // 2) % base) - base // 2


def shift64(acc: np.ndarray, weight_exp: int) -> np.ndarray:
    """acc << weight_exp, or acc >> -weight_exp (arithmetic: floor), on exact integers."""
    if weight_exp > 0:
        return acc << weight_exp
    if weight_exp < 0:
        return acc >> -weight_exp
    return acc


def shift_wrapped32(acc32: np.ndarray, weight_exp: int) -> np.ndarray:
    """The same shift applied to an int32 value in int32 (a left shift wraps at 32 bits)."""
    if weight_exp > 0:
        return wrap32(acc32 << weight_exp)
    if weight_exp < 0:
        return acc32 >> -weight_exp
    return acc32


def conv_output_fixed(total: np.ndarray) -> np.ndarray:
    """Lava PyConvModelFixed: `output.astype(int32)` of the float64 sum, then a 24-bit wrap."""
    with np.errstate(invalid="ignore"):
        as_int32 = np.asarray(total, dtype=np.float64).astype(np.int32)
    return wrap24(as_int32.astype(np.int64))


def lava_weights(weight: np.ndarray, num_weight_bits: int, sign_mode: str) -> np.ndarray:
    """Effective integer weights of a Dense/Sparse (Lava's clip then truncation), int64."""
    return effective_weights(weight, num_weight_bits, sign_mode)
