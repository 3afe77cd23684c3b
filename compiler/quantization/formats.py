"""The target's register formats as pure functions: weights here; the neuron registers
(decays, biases) are in `neurons.registers`, re-exported.

Everything here follows the `lava_fixed_pt` profile (ir/fixed.py) and is what the quantize pass
needs to turn one float number into the integer Lava will use. Rounding is round-half-to-even
(`np.rint`) everywhere, so the same float gives the same integer on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ir.fixed import weight_lsb_shift
from neurons.registers import (
    alpha_from_du,
    alpha_from_dv,
    bias_registers,
    du_from_alpha,
    dv_from_alpha,
)

__all__ = [
    "WeightFormat",
    "alpha_from_du",
    "alpha_from_dv",
    "bias_registers",
    "bits_used",
    "du_from_alpha",
    "dv_from_alpha",
    "full_scale",
    "sign_mode_of",
]


@dataclass(frozen=True)
class WeightFormat:
    """One projection's synapse format.

    Lava keeps an 8-bit weight V and clears its low `lsb_shift = 8 - bits + is_mixed` bits
    (weightutils.truncate_weights), so the weights a projection can hold are V = M << lsb_shift
    for a `bits`-bit mantissa M: signed for mixed sign, unsigned magnitude for excitatory and
    inhibitory (sign restored). The summed input is then shifted by `weight_exp` in
    [exp_min, exp_max]; one step of M is worth 2**(lsb_shift + weight_exp) input units.
    Convolutions have no exponent in Lava's model (exp_min = exp_max = 0).
    """

    sign_mode: str
    bits: int
    exp_min: int
    exp_max: int

    @property
    def lsb_shift(self) -> int:
        return weight_lsb_shift(self.bits, self.sign_mode)

    @property
    def mant_min(self) -> int:
        if self.sign_mode == "mixed":
            return -(1 << (self.bits - 1))
        return -((1 << self.bits) - 1) if self.sign_mode == "inhibitory" else 0

    @property
    def mant_max(self) -> int:
        if self.sign_mode == "mixed":
            return (1 << (self.bits - 1)) - 1
        return (1 << self.bits) - 1 if self.sign_mode == "excitatory" else 0


def sign_mode_of(pos_max: float, neg_max: float) -> str:
    """Lava's determine_sign_mode: all weights >= 0 excitatory, all <= 0 inhibitory, else mixed.

    `pos_max` / `neg_max` are the largest positive weight and the largest magnitude of a
    negative one (0 when there is none)."""
    if neg_max <= 0:
        return "excitatory"
    return "inhibitory" if pos_max <= 0 else "mixed"


def full_scale(
    pos_max: np.ndarray, neg_max: np.ndarray, mant_max: np.ndarray, mant_min: np.ndarray
) -> np.ndarray:
    """The largest mantissa-per-float-unit factor c at which no weight clips:
    c0 = min(mant_max / pos_max, -mant_min / neg_max), inf where every weight is 0.

    A side the format cannot represent at all (1-bit mixed sign holds only -1 and 0) is left
    out: its weights clip to 0 at any scale."""
    pos_max, neg_max = np.asarray(pos_max, float), np.asarray(neg_max, float)
    mant_max, mant_min = np.asarray(mant_max, float), np.asarray(mant_min, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where((pos_max > 0) & (mant_max > 0), mant_max / pos_max, np.inf)
        down = np.where((neg_max > 0) & (mant_min < 0), -mant_min / neg_max, np.inf)
    return np.minimum(up, down)


def bits_used(mantissas: np.ndarray, sign_mode: str) -> int:
    """Bits the stored mantissas actually exercise: the bit length of the largest magnitude,
    plus a sign bit for mixed sign (which Lava stores as two's complement)."""
    if mantissas.size == 0:
        return 0
    lo, hi = int(mantissas.min()), int(mantissas.max())
    if sign_mode == "mixed":
        # Two's complement: -2^(b-1) needs b bits, +2^(b-1) needs b+1.
        need = max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0)
        return need + 1
    return max(abs(lo), abs(hi)).bit_length()
