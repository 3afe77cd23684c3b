"""The synapse format netx 0.6.0 gives a dense layer, derived from the file's integer weights.

netx does not take a weight exponent from the file. For every dense (and dense_rec, jointly for
`weight` and `weight_rec`) layer it re-derives one from the weights (lava-dl
netx/utils.py `optimize_weight_bits`), and hands Lava's Dense the shifted weights, the exponent
and a bit count; Lava's bit-accurate Dense then clips and truncates the weights
(`ir.fixed.effective_weights`) and shifts each step's sum by the exponent. This module computes
the same integers so that the imported QDense is the Lava process netx builds:

1. If the weights are mixed-sign beyond [-256, 254] they are clipped to it (netx prints a warning).
2. Sign: all < 0 inhibitory, all >= 0 excitatory, else mixed (signed).
3. scale = 255 / max (excitatory), -256 / min (inhibitory), min(127 / max, -128 / min) (mixed);
   s = floor(log2(scale)) + is_signed.
4. n = the largest of 8..1 such that every weight is a multiple of 2^n (0 if none), minus is_signed.
5. weight = int32(w) << s (a negative s gives 0, numpy's shift by a negative count), num_weight_bits
   = 8 - s - n, weight_exp = -s.

Since the shifted weights carry s extra zero bits and the exponent removes exactly those, Lava
computes sum(w * x) for weights that fit (the exponent is exact on the sum). netx passes no sign
mode, so Lava determines it from the shifted weights (lava utils/weightutils.py
`determine_sign_mode`), as `lava_sign_mode` does here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DenseFormat", "dense_conv_weight", "lava_sign_mode", "netx_dense_format"]

_MIXED_MAX, _MIXED_MIN = 254, -256


@dataclass(frozen=True)
class DenseFormat:
    """What netx gives Lava's Dense: shifted weights, their bit count and exponent.

    `note` says what netx did to the weights that a user would not expect (clipped, zeroed,
    impossible), or is empty."""

    weight: np.ndarray
    num_weight_bits: int
    weight_exp: int
    note: str = ""


def lava_sign_mode(weight: np.ndarray) -> str:
    """Lava's `determine_sign_mode`: excitatory if all >= 0, inhibitory if all <= 0, else mixed."""
    if weight.size == 0 or weight.min() >= 0:
        return "excitatory"
    if weight.max() <= 0:
        return "inhibitory"
    return "mixed"


def netx_dense_format(weight: np.ndarray) -> DenseFormat:
    """The format netx 0.6.0 derives from integer weights `weight` (see the module docstring)."""
    w = np.asarray(weight, dtype=np.int64)
    note = ""
    if w.size == 0 or not w.any():
        # netx divides by the largest weight (255 / 0) and fails to load such a layer; Lava's Dense
        # with zero weights is exact, and this keeps the layer as it is.
        return DenseFormat(w, 8, 0, "all weights are 0: netx 0.6.0 cannot load this layer "
                                    "(optimize_weight_bits divides by the largest weight)")
    hi, lo = int(w.max()), int(w.min())
    if (hi > _MIXED_MAX and lo < 0) or (lo < _MIXED_MIN and hi > 0):
        # netx clips in two steps (max first, then min with the clipped max); both clip to this.
        note = f"weights {lo}..{hi} clipped to [-256, 254] (netx prints a warning and clips)"
        w = np.clip(w, _MIXED_MIN, _MIXED_MAX)
        hi, lo = int(w.max()), int(w.min())
    if hi < 0:
        signed, scale = 0, -256 / lo
    elif lo >= 0:
        signed, scale = 0, 255 / hi
    else:
        # max 0 with negatives is "mixed" too; netx's numpy division gives 127 / 0 = inf there.
        signed, scale = 1, min(127 / hi if hi else math.inf, -128 / lo)
    shift = math.floor(math.log2(scale)) + signed
    n = next((k for k in range(8, 0, -1) if not np.any(w % (1 << k))), 0) - signed
    w32 = w.astype(np.int32)
    if shift < 0:
        shifted = np.zeros_like(w32)  # numpy's left_shift by a negative count
        note = (f"weights up to {max(abs(hi), abs(lo))} do not fit the 8-bit synapse: netx 0.6.0 "
                f"shifts them left by {shift}, which gives 0")
    else:
        shifted = np.left_shift(w32, shift)
    return DenseFormat(shifted.astype(np.int64), 8 - shift - n, -shift, note)


def dense_conv_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped convolution's weight (C_out, C_in / groups, kH, kW) as the groups = 1 weight
    (C_out, C_in, kH, kW) that computes the same: zero where an output channel would read
    another group's inputs (how a grouped convolution reading a `concat` is cut per part)."""
    c_out, c_in_g = weight.shape[:2]
    if groups == 1:
        return weight
    full = np.zeros((c_out, c_in_g * groups, *weight.shape[2:]), dtype=weight.dtype)
    per_group = c_out // groups
    for o in range(c_out):
        g = o // per_group
        full[o, g * c_in_g:(g + 1) * c_in_g] = weight[o]
    return full
