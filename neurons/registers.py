"""Neuron register formats as pure functions: decays, biases, and clustering a population's
decays to a few levels (`--decay-levels`).

Everything follows the `lava_fixed_pt` profile (ir/fixed.py). Rounding is round-half-to-even
(`np.rint`) everywhere, so the same float gives the same integer on every machine. The scalar
functions take one value; the `*_regs` forms take arrays and give the same integers element
by element.
"""

from __future__ import annotations

import numpy as np

from ir.fixed import LAVA_FIXED_PT, Profile

__all__ = [
    "alpha_from_du",
    "alpha_from_dv",
    "bias_registers",
    "du_from_alpha",
    "du_regs",
    "dv_from_alpha",
    "dv_regs",
    "k_center_levels",
    "summary",
]


def du_regs(alpha: np.ndarray, prof: Profile = LAVA_FIXED_PT) -> np.ndarray:
    """Current decay registers for retention factors `alpha` per step (int64 array).

    Lava multiplies u by (4096 - (du + 1)) / 4096 (ds_offset = 1), so the nearest register is
    du = rint(4096 (1 - alpha)) - 1, clipped to 0..4095: alpha = 0 gives 4095 (u cleared every
    step, exact); alpha = 1 (no decay) is not representable and becomes du = 0 (4095/4096)."""
    unity = prof.decay_unity
    raw = np.rint(unity * (1.0 - np.asarray(alpha, dtype=np.float64))).astype(np.int64)
    return np.clip(raw - prof.current_decay_offset, 0, unity - 1)


def dv_regs(alpha: np.ndarray, prof: Profile = LAVA_FIXED_PT) -> np.ndarray:
    """Voltage decay registers: v is multiplied by (4096 - dv) / 4096 (dm_offset = 0), so
    dv = rint(4096 (1 - alpha)) clipped to 0..4095; alpha = 1 gives dv = 0 (exact), alpha = 0
    becomes dv = 4095 (1/4096 kept)."""
    unity = prof.decay_unity
    raw = np.rint(unity * (1.0 - np.asarray(alpha, dtype=np.float64))).astype(np.int64)
    return np.clip(raw - prof.voltage_decay_offset, 0, unity - 1)


def du_from_alpha(alpha: float, prof: Profile = LAVA_FIXED_PT) -> int:
    """`du_regs` for one value."""
    return int(du_regs(np.float64(alpha), prof))


def dv_from_alpha(alpha: float, prof: Profile = LAVA_FIXED_PT) -> int:
    """`dv_regs` for one value."""
    return int(dv_regs(np.float64(alpha), prof))


def alpha_from_du(du, prof: Profile = LAVA_FIXED_PT):
    """The retention factor register du gives (scalar or array)."""
    return (prof.decay_unity - du - prof.current_decay_offset) / prof.decay_unity


def alpha_from_dv(dv, prof: Profile = LAVA_FIXED_PT):
    """The retention factor register dv gives (scalar or array)."""
    return (prof.decay_unity - dv - prof.voltage_decay_offset) / prof.decay_unity


def bias_registers(
    bias: np.ndarray, exp_min: int, exp_max: int, prof: Profile = LAVA_FIXED_PT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bias_mant, bias_exp, clipped) for biases `bias` already in v units (float).

    Lava adds bias_mant << bias_exp to v every step (not shifted by 6). Per neuron the smallest
    exponent >= max(exp_min, 0) whose rounded mantissa fits the signed mantissa bits is used
    (finest step 2**exp); negative exponents are never chosen because Lava's arithmetic right
    shift only coarsens. Biases beyond the largest exponent are clipped (`clipped` marks them).
    """
    b = np.asarray(bias, dtype=np.float64)
    half = 1 << (prof.bias_mant_bits - 1)
    lo_m, hi_m = -half, half - 1
    start = max(exp_min, 0)
    exp = np.full(b.shape, exp_max, dtype=np.int64)
    chosen = np.zeros(b.shape, dtype=bool)
    for e in range(start, exp_max + 1):
        m = np.rint(b / (1 << e))
        fits = (m >= lo_m) & (m <= hi_m) & ~chosen
        exp[fits] = e
        chosen |= fits
    mant = np.rint(b / np.left_shift(1, exp).astype(np.float64))
    clipped = (mant < lo_m) | (mant > hi_m)
    mant = np.clip(mant, lo_m, hi_m).astype(np.int64)
    return mant, exp, clipped


def k_center_levels(values: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    """Integer registers `values` mapped to at most `k` integer levels with the smallest
    largest change r (the 1-D k-center problem, solved exactly): (new values, r).

    For a radius r, covering the sorted distinct values greedily from the smallest (a level at
    v + r covers [v, v + 2r]) uses the fewest levels possible, and that count only falls as r
    grows, so the smallest r with at most k levels is found by bisection. r never exceeds
    ceil((max - min) / (2k)): k equal intervals of that half-width cover the span. Each value
    moves to its nearest level (the lower one on a tie), never farther than r."""
    vals = np.asarray(values, dtype=np.int64)
    distinct = np.unique(vals)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if distinct.size <= k:
        return vals.copy(), 0

    def cover(r: int) -> list[int]:
        levels: list[int] = []
        for v in distinct.tolist():
            if not levels or v > levels[-1] + r:
                levels.append(v + r)
        return levels

    lo, hi = 0, -(-int(distinct[-1] - distinct[0]) // (2 * k))
    while lo < hi:
        mid = (lo + hi) // 2
        if len(cover(mid)) <= k:
            hi = mid
        else:
            lo = mid + 1
    levels = np.array(cover(lo), dtype=np.int64)
    # The last level may sit above every value it covers; keep levels inside the values' span.
    levels = np.minimum(levels, distinct[-1])
    pos = np.clip(np.searchsorted(levels, vals), 1, levels.size - 1) if levels.size > 1 else None
    if pos is None:
        return np.full(vals.shape, levels[0]), lo
    below, above = levels[pos - 1], levels[pos]
    nearest = np.where(vals - below <= above - vals, below, above)
    nearest = np.where(vals <= levels[0], levels[0], nearest)
    return nearest, int(np.max(np.abs(nearest - vals), initial=0))


def summary(values: np.ndarray) -> int | dict[str, int]:
    """A register for reports: its value when every neuron shares it, else
    {min, max, distinct}."""
    distinct = np.unique(np.asarray(values))
    if distinct.size == 1:
        return int(distinct[0])
    return {"min": int(distinct[0]), "max": int(distinct[-1]), "distinct": int(distinct.size)}

