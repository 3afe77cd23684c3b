"""The `lava_fixed_pt` semantics profile: constants and the weight rules of Lava's bit-accurate
models (lava-nc 0.10.0: proc/lif/models.py `AbstractPyLifModelFixed`, proc/dense/models.py
`AbstractPyDenseModelBitAcc`, utils/weightutils.py).

These are the facts every part of snnc must agree on (simulator, quantizer, Lava lowering,
reports); they live here, once. Hardware configs name the profile and restate its numbers with
sources; `ir.hardware` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LAVA_FIXED_PT",
    "PROFILES",
    "Profile",
    "effective_weights",
    "saturate",
    "weight_lsb_shift",
    "wrap",
]


@dataclass(frozen=True)
class Profile:
    """Bit widths and shifts of one fixed-point neuron/synapse semantics."""

    name: str
    state_bits: int  # u and v
    decay_bits: int  # du, dv precision; decay_unity = 2**decay_bits
    current_decay_offset: int  # ds_offset: added to du ("1-bit register in Loihi 1")
    voltage_decay_offset: int  # dm_offset
    vth_shift: int  # effective threshold = vth << vth_shift
    activation_shift: int  # synaptic input enters u as a << activation_shift
    vth_bits: int  # unsigned mantissa
    bias_mant_bits: int  # signed
    max_weight_bits: int  # synapse weights before the exponent
    conv_wrap_bits: int  # Conv output wraps to this many signed bits
    u_overflow: str  # "wrap"
    v_overflow: str  # "saturate"
    # bias_exp is an unsigned 3-bit field: 0..7 (lava proc/lif/models.py: LavaPyType bias_exp
    # precision=3, and the LIF docstring "bias_exp: unsigned 3-bit integer (0 to 7)").
    bias_exp_bits: int = 3

    @property
    def weight_exp_range(self) -> tuple[int, int]:
        """Exponents a weight sum can be shifted by and still land in the state: a shift by more
        than `state_bits` moves every weight entirely out of (or past) the 24-bit u."""
        return -self.state_bits, self.state_bits

    @property
    def decay_unity(self) -> int:
        return 1 << self.decay_bits

    @property
    def state_max(self) -> int:
        return (1 << (self.state_bits - 1)) - 1


# Lava 0.10.0, AbstractPyLifModelFixed.__init__: uv_bitwidth=24, decay_shift=12, ds_offset=1,
# dm_offset=0, vth_shift=6, act_shift=6; LavaPyType precisions: vth 17, bias_mant 13.
# Dense clip_weights(num_bits=8); Conv fixed model wraps its output to 24 bits.
LAVA_FIXED_PT = Profile(
    name="lava_fixed_pt",
    state_bits=24,
    decay_bits=12,
    current_decay_offset=1,
    voltage_decay_offset=0,
    vth_shift=6,
    activation_shift=6,
    vth_bits=17,
    bias_mant_bits=13,
    max_weight_bits=8,
    conv_wrap_bits=24,
    u_overflow="wrap",
    v_overflow="saturate",
)

PROFILES: dict[str, Profile] = {LAVA_FIXED_PT.name: LAVA_FIXED_PT}


def weight_lsb_shift(num_weight_bits: int, sign_mode: str) -> int:
    """Low bits Lava clears from each weight: 8 - num_weight_bits + is_mixed (truncate_weights)."""
    return LAVA_FIXED_PT.max_weight_bits - num_weight_bits + (sign_mode == "mixed")


def effective_weights(weight: np.ndarray, num_weight_bits: int, sign_mode: str) -> np.ndarray:
    """The integer weights Lava's bit-accurate Dense/Sparse actually use.

    Lava (weightutils.clip_weights, truncate_weights), in order: for inhibitory weights negate;
    clip to [-256, 255] when mixed, else [0, 255]; clear the low `weight_lsb_shift` bits with an
    arithmetic shift (so negatives floor: -3 -> -4 for one bit); negate back if inhibitory.
    With mixed sign and 8 bits the result is an even number in [-256, 254].
    """
    w = np.asarray(weight).astype(np.int64)
    mixed = sign_mode == "mixed"
    if sign_mode == "inhibitory":
        w = -w
    w = np.clip(w, -256 if mixed else 0, 255)
    k = weight_lsb_shift(num_weight_bits, sign_mode)
    w = (w >> k) << k
    if sign_mode == "inhibitory":
        w = -w
    return w


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap to `bits` signed bits: (x + 2^(b-1)) mod 2^b - 2^(b-1)."""
    half = 1 << (bits - 1)
    return ((np.asarray(x, dtype=np.int64) + half) % (1 << bits)) - half


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clip to the symmetric signed range [-(2^(b-1) - 1), 2^(b-1) - 1] (Lava's v clip)."""
    m = (1 << (bits - 1)) - 1
    return np.clip(np.asarray(x, dtype=np.int64), -m, m)
