"""The ideal integrate-and-fire time encoding machine (TEM) and its t-transform.

Channel j integrates its input y_j without leak:

    v_j(t) = v_j(t_k) + (1/kappa_j) int_{t_k}^{t} (y_j(s) + b_j) ds,    v_j(0) = -delta_j

and spikes when v_j reaches +delta_j; the reset subtracts 2 delta_j (back to -delta_j). So every
spike, the first included (from t = 0), ends an interval over which the integral of y_j + b_j is
2 kappa_j delta_j. For consecutive spikes t_k < t_{k+1} this is the t-transform,

    int_{t_k}^{t_{k+1}} y_j = 2 kappa_j delta_j - b_j (t_{k+1} - t_k),                     (1)

one linear equation in whatever y_j depends on linearly (the weights, or y_j's Fourier
coefficients). The interval (0, t_1] is not used by the learners: in a network the initial
integrator value is not known.

Spike times are exact up to a tolerance: the running integral is evaluated in closed form
(`signals.exp_integrals`) on a grid of 32 points per period of the highest frequency, the first
grid point where it reaches the threshold brackets the spike, and bisection narrows the bracket
to `tol`; a final linear interpolation inside the bracket (regula falsi) makes the time exact to
far below `tol` for smooth inputs. A threshold crossing that enters and leaves within one grid
step (a near-tangency) is missed; with the grid above that needs y + b to change sign twice
within 1/32 of its fastest oscillation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ir.errors import InputError
from trainers.tem.signals import PeriodicBandlimited, exp_integrals

__all__ = ["IFTEM", "interval_integrals", "t_transform"]


@dataclass(frozen=True, eq=False)
class IFTEM:
    """Parameters of n ideal IF TEM channels: integrator scale `kappa`, threshold `delta`,
    bias `bias` (each (n,), positive kappa and delta)."""

    kappa: np.ndarray
    delta: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        arrays = np.broadcast_arrays(
            *(np.asarray(getattr(self, f), dtype=np.float64) for f in ("kappa", "delta", "bias"))
        )
        for name, arr in zip(("kappa", "delta", "bias"), arrays, strict=True):
            arr = np.atleast_1d(arr).copy()
            if not np.all(np.isfinite(arr)):
                raise InputError(f"IFTEM.{name} must be finite")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if np.any(self.kappa <= 0) or np.any(self.delta <= 0):
            raise InputError("IFTEM: kappa and delta must be positive")

    @classmethod
    def uniform(cls, n: int, kappa: float, delta: float, bias: float) -> IFTEM:
        return cls(np.full(n, kappa), np.full(n, delta), np.full(n, bias))

    @property
    def n_channels(self) -> int:
        return int(self.kappa.size)

    def repeat(self, times: int) -> IFTEM:
        """The same channels `times` times over (for encoding several examples in one bank)."""
        return IFTEM(
            np.tile(self.kappa, times), np.tile(self.delta, times), np.tile(self.bias, times)
        )

    def encode(
        self, y: PeriodicBandlimited, duration: float, tol: float = 1e-8
    ) -> list[np.ndarray]:
        """Spike times in (0, duration] of channel j driven by y_j, for every channel (module
        docstring).

        All channels advance in lock step: one bracket search and one vectorized bisection per
        spike index, so a bank of many examples costs little more than one.
        """
        n = self.n_channels
        if y.n_signals != n:
            raise InputError(f"IFTEM has {n} channels, the input bank has {y.n_signals} signals")
        if not duration > 0 or not tol > 0:
            raise InputError(f"duration and tol must be positive, got {duration}, {tol}")
        k = y.n_components
        step = y.period / (32 * max(k - 1, 1))
        grid = np.linspace(0.0, duration, max(2, int(np.ceil(duration / step)) + 1))
        coef_t = y.coefficients.T  # (2K-1, n)

        def running(t: np.ndarray) -> np.ndarray:
            # H_j(t) = int_0^t (y_j + b_j), one time per channel.
            e = exp_integrals(np.zeros_like(t), t, k, y.period)
            return np.real(np.einsum("cm,mc->c", e, coef_t)) + self.bias * t

        grid_h = (
            np.real(exp_integrals(np.zeros_like(grid), grid, k, y.period) @ coef_t)
            + grid[:, None] * self.bias
        )
        jump = 2.0 * self.kappa * self.delta
        t_last = np.zeros(n)
        h_last = np.zeros(n)
        spikes: list[list[float]] = [[] for _ in range(n)]
        active = np.ones(n, dtype=bool)
        while active.any():
            reached = (grid_h >= h_last + jump) & (grid[:, None] > t_last)
            found = reached.any(axis=0) & active
            active = found
            if not found.any():
                break
            idx = np.argmax(reached, axis=0)
            lo = np.where(found, np.maximum(grid[np.maximum(idx - 1, 0)], t_last), 0.0)
            hi = np.where(found, grid[idx], 0.0)
            target = h_last + jump
            while np.max(hi - lo) > tol:
                mid = 0.5 * (lo + hi)
                above = running(mid) >= target
                hi = np.where(above, mid, hi)
                lo = np.where(above, lo, mid)
            # One regula-falsi step inside the final bracket: H is smooth, so the interpolated
            # root is accurate far below `tol` (the bracket still bounds the error).
            h_lo, h_hi = running(lo), running(hi)
            span = h_hi - h_lo
            frac = np.where(span > 0, (target - h_lo) / np.where(span > 0, span, 1.0), 0.5)
            t_new = lo + np.clip(frac, 0.0, 1.0) * (hi - lo)
            for j in np.flatnonzero(found):
                spikes[j].append(float(t_new[j]))
            # Restart from the exact threshold level (not H(t_new)), so that bisection errors
            # do not accumulate from spike to spike.
            t_last = np.where(found, t_new, t_last)
            h_last = np.where(found, target, h_last)
        return [np.asarray(s, dtype=np.float64) for s in spikes]


def interval_integrals(x: PeriodicBandlimited, spikes: np.ndarray) -> np.ndarray:
    """Rows int_{t_k}^{t_{k+1}} x_i for consecutive spikes: (len(spikes) - 1, n_signals)."""
    t = np.asarray(spikes, dtype=np.float64)
    if t.size < 2:
        return np.zeros((0, x.n_signals))
    return x.integral(t[:-1], t[1:])


def t_transform(tem: IFTEM, channel: int, spikes: np.ndarray) -> np.ndarray:
    """Right-hand sides of (1) for consecutive spikes of `channel`:
    2 kappa delta - b (t_{k+1} - t_k)."""
    t = np.asarray(spikes, dtype=np.float64)
    return 2.0 * tem.kappa[channel] * tem.delta[channel] - tem.bias[channel] * np.diff(t)
