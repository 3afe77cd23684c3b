"""Numeric kernels of the CPU simulator: the living definition of snnc's `lava_fixed_pt`
semantics (and of the float semantics with the same structure and timing).

Everything here reproduces what lava-nc 0.10.0's Python process models compute, including
their integer types, because the types decide what happens on overflow:

- LIF (`lava/proc/lif/models.py`, `AbstractPyLifModelFixed`): `u`, `v` are int32 arrays; the
  input `a_in` arrives as int32 (the int16 port type is only the zero the received values are
  added to, so there is no 16-bit saturation); `a << 6` and every sum are int32 operations that
  wrap at 32 bits; the decays are int64 products truncated toward zero; `u` gets a single
  24-bit wrap (so a value beyond 3 * 2^23 stays outside 24 bits); `v` is clipped to
  +-(2^23 - 1); the bias is `int32(bias_mant) << bias_exp` (int32, wraps) or `>> -bias_exp`.
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
from ir.nodes import conv2d_output_hw

__all__ = [
    "ACCUMULATE",
    "SHIFT_THEN_WRAP",
    "WRAP_THEN_SHIFT",
    "accumulate_mode",
    "conv2d_sum",
    "conv_output_fixed",
    "effective_bias",
    "fixed_lif_step",
    "float_lif_step",
    "shift64",
    "shift_wrapped32",
    "trunc_shift",
    "wrap24",
    "wrap32",
]

_P = LAVA_FIXED_PT
_TWO32 = 1 << 32
_HALF32 = 1 << 31
_MAX_UV = 1 << (_P.state_bits - 1)  # 2^23, Lava max_uv_val
_DECAY_UNITY = _P.decay_unity  # 4096
_DECAY_SHIFT = _P.decay_bits  # 12

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


def wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32 (what storing into an int32 array does)."""
    return ((np.asarray(x, dtype=np.int64) + _HALF32) & (_TWO32 - 1)) - _HALF32


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


def trunc_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """sign(x) * (|x| >> shift): division by 2^shift truncating toward zero (Lava's decay)."""
    return np.sign(x) * (np.abs(x) >> shift)


def effective_bias(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """Lava scale_bias: int32(bias_mant) << bias_exp (int32, wraps), or >> -bias_exp (floor).

    Lava's docstring calls bias_exp "unsigned 3-bit (0 to 7)", but the code shifts right for a
    negative exponent, so negative exponents are allowed (netx uses bias_exp = 6)."""
    mant = np.asarray(bias_mant, dtype=np.int64)
    exp = np.asarray(bias_exp, dtype=np.int64)
    left = wrap32(mant << np.clip(exp, 0, 31))
    right = mant >> np.clip(-exp, 0, 63)
    return np.where(exp >= 0, left, right)


def fixed_lif_step(
    u: np.ndarray,
    v: np.ndarray,
    a: np.ndarray,
    *,
    du: int,
    dv: int,
    vth: int,
    bias: np.ndarray,
) -> np.ndarray:
    """One step of Lava's `PyLifModelBitAcc` in place on u, v (int64 arrays); returns spikes.

    `a` is the received input (already an int32 value); `bias` is `effective_bias(...)`.
    """
    act = wrap32(a << _P.activation_shift)
    # ds_offset = 1: the current decays by (du + 1) / 4096 per step.
    decayed_u = trunc_shift(u * (_DECAY_UNITY - (du + _P.current_decay_offset)), _DECAY_SHIFT)
    d = wrap32(decayed_u + act)
    # One 24-bit wrap only, as Lava applies it; the kept range is (-2^23, 2^23].
    u[...] = np.where(d > _MAX_UV, d - 2 * _MAX_UV, np.where(d <= -_MAX_UV, d + 2 * _MAX_UV, d))
    decayed_v = trunc_shift(v * (_DECAY_UNITY - (dv + _P.voltage_decay_offset)), _DECAY_SHIFT)
    # decayed_v + u + bias is an int32 sum in Lava (wraps before the clip).
    np.clip(wrap32(decayed_v + u + bias), -(_MAX_UV - 1), _MAX_UV - 1, out=v)
    spikes = v > (vth << _P.vth_shift)
    v[spikes] = 0
    return spikes


def float_lif_step(
    u: np.ndarray,
    v: np.ndarray,
    a: np.ndarray,
    *,
    alpha_syn: np.ndarray,
    alpha_mem: np.ndarray,
    v_th: np.ndarray,
    bias: np.ndarray,
) -> np.ndarray:
    """One step of the float LIF (ir.nodes.LIF docstring), in place on u, v; returns spikes."""
    u *= alpha_syn
    u += a
    v *= alpha_mem
    v += u
    v += bias
    spikes = v > v_th
    v[spikes] = 0.0
    return spikes


def conv2d_sum(
    x: np.ndarray,
    weight: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """Cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in/groups, kH, kW) as
    PyTorch computes it, accumulated in float64 (exact for integers while |sums| < 2^53), or
    in float32 when `weight` is float32 (exact while |sums| < 2^24)."""
    dtype = np.float32 if np.asarray(weight).dtype == np.float32 else np.float64
    n, c_in, h, w = x.shape
    c_out, cg, kh, kw = weight.shape
    oh, ow = conv2d_output_hw((h, w), (kh, kw), stride, padding, dilation)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    # Channels first, so that every tap gathered below is (C_in, N, oH, oW) and the whole batch
    # is one matrix product per group: (C_out/g, cg kH kW) @ (cg kH kW, N oH oW).
    xp = np.pad(
        np.asarray(x, dtype=dtype).transpose(1, 0, 2, 3), ((0, 0), (0, 0), (ph, ph), (pw, pw))
    )
    og = c_out // groups
    wf = np.asarray(weight, dtype=dtype)
    cols = np.empty((c_in, kh, kw, n, oh, ow), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[
                :,
                :,
                i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                j * dw : j * dw + sw * (ow - 1) + 1 : sw,
            ]
    out = np.empty((n, c_out, oh * ow), dtype=dtype)
    for g in range(groups):
        src = cols[g * cg : (g + 1) * cg].reshape(cg * kh * kw, n * oh * ow)
        tap = wf[g * og : (g + 1) * og].reshape(og, cg * kh * kw)
        out[:, g * og : (g + 1) * og] = (tap @ src).reshape(og, n, oh * ow).transpose(1, 0, 2)
    return out.reshape(n, c_out, oh, ow)


def conv_output_fixed(total: np.ndarray) -> np.ndarray:
    """Lava PyConvModelFixed: `output.astype(int32)` of the float64 sum, then a 24-bit wrap."""
    with np.errstate(invalid="ignore"):
        as_int32 = np.asarray(total, dtype=np.float64).astype(np.int32)
    return wrap24(as_int32.astype(np.int64))


def lava_weights(weight: np.ndarray, num_weight_bits: int, sign_mode: str) -> np.ndarray:
    """Effective integer weights of a Dense/Sparse (Lava's clip then truncation), int64."""
    return effective_weights(weight, num_weight_bits, sign_mode)
