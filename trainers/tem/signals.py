"""Real periodic bandlimited signals and their closed-form integrals.

A bank of n real signals with period `Tp` and K Fourier components:

    x_i(t) = sum_{m=-(K-1)}^{K-1} c[i, m] exp(j w_m t),
    w_m = 2 pi m / Tp,   c[i, -m] = conj(c[i, m])

The coefficient array holds column `K - 1 + m` for frequency m. Integrals are exact:

    int_a^b x_i = sum_m c[i, m] E_m(a, b),
    E_m = (exp(j w_m b) - exp(j w_m a)) / (j w_m),   E_0 = b - a

Mixing (y = W x) acts on the coefficients, so a weighted sum of signals is again such a bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ir.errors import InputError

__all__ = ["PeriodicBandlimited", "dirac_stream_coefficients", "exp_integrals"]


def exp_integrals(
    start: np.ndarray, stop: np.ndarray, n_components: int, period: float
) -> np.ndarray:
    """E_m(start, stop) for m = -(K-1)..K-1: complex array (len(start), 2K-1)."""
    a = np.asarray(start, dtype=np.float64).reshape(-1, 1)
    b = np.asarray(stop, dtype=np.float64).reshape(-1, 1)
    m = np.arange(-(n_components - 1), n_components)
    w = 2.0 * np.pi * m / period
    out = np.empty((a.shape[0], m.size), dtype=np.complex128)
    nz = m != 0
    jw = 1j * w[nz]
    out[:, nz] = (np.exp(jw * b) - np.exp(jw * a)) / jw
    out[:, ~nz] = b - a
    return out


@dataclass(frozen=True, eq=False)
class PeriodicBandlimited:
    """A bank of real periodic bandlimited signals (module docstring).

    `coefficients`: complex (n_signals, 2K-1), conjugate-symmetric per row; `period`: Tp.
    """

    coefficients: np.ndarray
    period: float

    def __post_init__(self) -> None:
        c = np.atleast_2d(np.asarray(self.coefficients, dtype=np.complex128)).copy()
        if c.ndim != 2 or c.shape[1] % 2 != 1:
            raise InputError(f"coefficients must be (n_signals, 2K-1), got shape {c.shape}")
        if not np.allclose(
            c, c[:, ::-1].conj(), rtol=0, atol=1e-12 * max(1.0, float(np.abs(c).max(initial=0)))
        ):
            raise InputError("coefficients must be conjugate-symmetric (real signals)")
        c.setflags(write=False)
        object.__setattr__(self, "coefficients", c)
        if not self.period > 0:
            raise InputError(f"period must be positive, got {self.period}")
        object.__setattr__(self, "period", float(self.period))

    @classmethod
    def from_cosine_coefficients(cls, c: np.ndarray, period: float) -> PeriodicBandlimited:
        """Signals c[i,0] + 2 sum_m Re(c[i,m] e^{j w_m t}) from c[i, m], m = 0..K-1 (complex or
        real)."""
        c = np.atleast_2d(np.asarray(c, dtype=np.complex128))
        full = np.concatenate([c[:, :0:-1].conj(), c], axis=1)
        full[:, c.shape[1] - 1] = c[:, 0].real
        return cls(full, period)

    @classmethod
    def random(
        cls, n_signals: int, n_components: int, period: float, rng: np.random.Generator
    ) -> PeriodicBandlimited:
        """Real cosine coefficients c[i, m] ~ U[0, 1) for m = 0..K-1 (the paper's experiments)."""
        return cls.from_cosine_coefficients(rng.random((n_signals, n_components)), period)

    @property
    def n_signals(self) -> int:
        return int(self.coefficients.shape[0])

    @property
    def n_components(self) -> int:
        return (int(self.coefficients.shape[1]) + 1) // 2

    def mixed(self, weights: np.ndarray) -> PeriodicBandlimited:
        """The bank y = W x (W: (n_out, n_signals))."""
        return PeriodicBandlimited(
            np.asarray(weights, dtype=np.float64) @ self.coefficients, self.period
        )

    def sample(self, t: np.ndarray) -> np.ndarray:
        """x(t): real array (n_signals, len(t))."""
        t = np.asarray(t, dtype=np.float64).reshape(1, -1)
        m = np.arange(-(self.n_components - 1), self.n_components).reshape(-1, 1)
        return np.real(self.coefficients @ np.exp(1j * 2.0 * np.pi * m * t / self.period))

    def integral(self, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """int_start^stop x_i: real array (len(start), n_signals), one row per interval."""
        e = exp_integrals(start, stop, self.n_components, self.period)
        return np.real(e @ self.coefficients.T)


def dirac_stream_coefficients(
    times: np.ndarray, amplitudes: np.ndarray, n_components: int, period: float
) -> np.ndarray:
    """Fourier-series coefficients of the Tp-periodic stream sum_k a_k delta(t - t_k),
    m = -(K-1)..K-1.

        S[m] = (1/Tp) sum_k a_k exp(-j 2 pi m t_k / Tp)

    The truncated series is the stream low-passed to K components (a finite-rate-of-innovation
    signal); it is real, so S[-m] = conj(S[m]).
    """
    t = np.asarray(times, dtype=np.float64).reshape(1, -1)
    a = np.asarray(amplitudes, dtype=np.float64).reshape(1, -1)
    m = np.arange(-(n_components - 1), n_components).reshape(-1, 1)
    return (a * np.exp(-1j * 2.0 * np.pi * m * t / period)).sum(axis=1) / period
