"""Two-layer training without backpropagation (x -> hidden TEMs -> output TEMs).

Known: the inputs x of every example and the output spike times. Unknown: W1, W2 and the hidden
spike times. Hidden neuron h's first L spikes tau_{h,l} form a period-Tp stream of unit Diracs,
seen by the output layer through its K' = L * n_hidden lowest Fourier components
(`signals.dirac_stream_coefficients`); output o is an IF TEM driven by y_o = sum_h W2[o,h] s_h.

Per example:
1. `preactivation_coefficients`: the t-transform (1) of output o, with the 2K'-1 real degrees of
   freedom of y_o (Y_0, Re Y_m, Im Y_m for m >= 1) as the unknowns, solved by least squares.
2. `annihilating_filter`: every output sees Diracs at the same places (the union of the hidden
   spikes) with its own amplitudes, so one filter h (h_0 = 1, length D + 1 for D Diracs) with
   sum_l h_l Y_o[m - l] = 0 is fitted to all outputs jointly; the roots u_k of
   sum_l h_l z^(D-l) are exp(-j 2 pi tau_k / Tp).
3. `dirac_amplitudes`: real least squares for a_{o,k} in Y_o[m] = (1/Tp) sum_k a_{o,k} u_k^m.
   All-or-none spikes have unit height, so the amplitude vector a_{:,k} is column W2[:, h(k)]
   of the hidden neuron h(k) that fired spike k; asynchrony keeps the spikes of different
   hidden neurons apart.
Pooled over examples:
4. `kmeans` of the amplitude vectors into n_hidden clusters: the centroids are W2's columns (up to
   a permutation), the labels assign every recovered spike to a hidden neuron.
5. Layer 1 by `one_layer.fit_one_layer` from the inputs and the estimated hidden spike times.

Assumptions (checked by the caller's generator, not here): exactly D = L * n_hidden Diracs per
period (the first L spikes of every hidden neuron fall in [0, Tp); later ones wrap modulo Tp), no
two hidden spikes at the same time, and enough output intervals (at least 2K'-1 per output and
example) to determine the Fourier coefficients.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ir.errors import InputError
from trainers.tem.machine import IFTEM
from trainers.tem.one_layer import OneLayerFit, fit_one_layer, solve_min_norm
from trainers.tem.signals import PeriodicBandlimited, dirac_stream_coefficients, exp_integrals

__all__ = [
    "TwoLayerFit",
    "annihilating_filter",
    "dirac_amplitudes",
    "dirac_locations",
    "encode_two_layer",
    "fit_two_layer",
    "kmeans",
    "matched_errors",
    "preactivation_coefficients",
]

# Least-squares cut-off for the Fourier coefficients (relative to the largest singular value).
FOURIER_RCOND = 1e-12


def preactivation_coefficients(
    spikes: np.ndarray, tem: IFTEM, channel: int, n_components: int, period: float
) -> np.ndarray:
    """Fourier coefficients Y[m], m = -(K-1)..K-1, of the input of `channel` from its spike times.

    Row for consecutive spikes (a, b): int_a^b y = Y_0 (b - a) + sum_{m>=1} 2 Re(Y_m E_m(a, b)),
    linear in (Y_0, Re Y_m, Im Y_m); the right-hand side is the t-transform.
    """
    t = np.asarray(spikes, dtype=np.float64)
    k = n_components
    if t.size < 2:
        return np.zeros(2 * k - 1, dtype=np.complex128)
    e = exp_integrals(t[:-1], t[1:], k, period)[:, k:]  # m = 1..K-1
    a = np.concatenate([np.diff(t)[:, None], 2.0 * e.real, -2.0 * e.imag], axis=1)
    q = 2.0 * tem.kappa[channel] * tem.delta[channel] - tem.bias[channel] * np.diff(t)
    theta, _, _ = solve_min_norm(a, q, FOURIER_RCOND)
    pos = theta[1:k] + 1j * theta[k:]
    return np.concatenate([pos[::-1].conj(), [theta[0] + 0j], pos])


def annihilating_filter(coefficients: np.ndarray, n_diracs: int) -> np.ndarray:
    """The filter h (length D + 1, h_0 = 1) annihilating every row of `coefficients` (n, 2K-1).

    Equations: sum_{l=0}^{D} h_l Y[m - l] = 0 for every m with m - D >= -(K-1) and m <= K-1,
    for every signal; least squares in h_1..h_D.
    """
    y = np.atleast_2d(coefficients)
    k = (y.shape[1] + 1) // 2
    d = int(n_diracs)
    ms = np.arange(-(k - 1) + d, k)  # m such that m - d stays in range
    if d < 1 or ms.size * y.shape[0] < d:
        raise InputError(
            f"annihilating filter: {ms.size * y.shape[0]} equations cannot determine {d} taps"
        )
    idx = (k - 1) + ms[:, None] - np.arange(1, d + 1)[None, :]  # Y[m - l], l = 1..D
    lhs = np.concatenate([row[idx] for row in y], axis=0)
    rhs = -np.concatenate([row[(k - 1) + ms] for row in y])
    taps = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    return np.concatenate([[1.0 + 0j], taps])


def dirac_locations(filt: np.ndarray, period: float) -> np.ndarray:
    """Dirac times in [0, Tp) from the filter's roots u_k = exp(-j 2 pi tau_k / Tp), sorted."""
    roots = np.roots(filt)
    return np.sort(np.mod(-np.angle(roots) * period / (2.0 * np.pi), period))


def dirac_amplitudes(coefficients: np.ndarray, times: np.ndarray, period: float) -> np.ndarray:
    """Real amplitudes a (n_signals, D) with
    Y_o[m] = (1/Tp) sum_k a[o, k] exp(-j 2 pi m t_k / Tp)."""
    y = np.atleast_2d(coefficients)
    k = (y.shape[1] + 1) // 2
    m = np.arange(-(k - 1), k)[:, None]
    basis = np.exp(-1j * 2.0 * np.pi * m * np.asarray(times)[None, :] / period) / period
    lhs = np.concatenate([basis.real, basis.imag], axis=0)
    rhs = np.concatenate([y.real.T, y.imag.T], axis=0)
    return np.linalg.lstsq(lhs, rhs, rcond=None)[0].T


def kmeans(
    points: np.ndarray, k: int, seed: int, n_init: int = 10, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding, best of `n_init` seeded starts: (centroids, labels).

    Deterministic for a given seed (a small numpy version, so results do not depend on the
    installed scikit-learn).
    """
    x = np.asarray(points, dtype=np.float64)
    if x.shape[0] < k:
        raise InputError(f"k-means: {x.shape[0]} points cannot form {k} clusters")
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(n_init):
        centers = [x[rng.integers(x.shape[0])]]
        for _ in range(1, k):
            d2 = np.min(((x[:, None, :] - np.array(centers)[None]) ** 2).sum(-1), axis=1)
            total = d2.sum()
            pick = rng.choice(x.shape[0], p=d2 / total) if total > 0 else rng.integers(x.shape[0])
            centers.append(x[pick])
        c = np.array(centers)
        labels = np.zeros(x.shape[0], dtype=np.int64)
        for _ in range(max_iter):
            labels = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
            new = np.array(
                [x[labels == j].mean(axis=0) if np.any(labels == j) else c[j] for j in range(k)]
            )
            if np.allclose(new, c, rtol=0, atol=0):
                break
            c = new
        inertia = float(((x - c[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, c, labels)
    assert best is not None
    return best[1], best[2]


def encode_two_layer(
    x: PeriodicBandlimited,
    w1: np.ndarray,
    w2: np.ndarray,
    hidden_tem: IFTEM,
    output_tem: IFTEM,
    spikes_per_hidden: int,
    duration: float,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Run the two-layer network on one example: (hidden spike times, output spike times).

    Hidden neuron h passes on its first `spikes_per_hidden` spikes (fewer if it fired fewer) as a
    Tp-periodic unit-Dirac stream low-passed to K' = L * n_hidden components.
    """
    hidden = hidden_tem.encode(x.mixed(w1), duration)
    n_components = spikes_per_hidden * hidden_tem.n_channels
    streams = [
        dirac_stream_coefficients(
            h[:spikes_per_hidden], np.ones(min(h.size, spikes_per_hidden)), n_components, x.period
        )
        for h in hidden
    ]
    s = PeriodicBandlimited(np.stack(streams), x.period)
    return [h[:spikes_per_hidden] for h in hidden], output_tem.encode(s.mixed(w2), duration)


@dataclass(frozen=True)
class TwoLayerFit:
    w1: np.ndarray  # (n_hidden, n_in), rows in the order of w2's columns
    w2: np.ndarray  # (n_out, n_hidden)
    hidden_spikes: list[list[np.ndarray]]  # [example][hidden] estimated spike times
    layer1: OneLayerFit


def fit_two_layer(
    inputs: Sequence[PeriodicBandlimited],
    output_spikes: Sequence[Sequence[np.ndarray]],
    hidden_tem: IFTEM,
    output_tem: IFTEM,
    spikes_per_hidden: int,
    seed: int = 0,
) -> TwoLayerFit:
    """W1, W2 and the hidden spike times from inputs and output spikes (module docstring)."""
    n_hidden = hidden_tem.n_channels
    n_out = output_tem.n_channels
    if len(inputs) != len(output_spikes) or not inputs:
        raise InputError(
            f"need one output spike list per example; got {len(inputs)} and {len(output_spikes)}"
        )
    period = inputs[0].period
    n_diracs = spikes_per_hidden * n_hidden
    n_components = n_diracs  # K' = L * n_hidden, as in the paper's setup
    times, amps = [], []
    for spikes in output_spikes:
        if len(spikes) != n_out:
            raise InputError(f"{len(spikes)} output spike trains for {n_out} output neurons")
        y = np.stack(
            [
                preactivation_coefficients(spikes[o], output_tem, o, n_components, period)
                for o in range(n_out)
            ]
        )
        tau = dirac_locations(annihilating_filter(y, n_diracs), period)
        times.append(tau)
        amps.append(dirac_amplitudes(y, tau, period).T)  # (D, n_out)
    centroids, labels = kmeans(np.concatenate(amps, axis=0), n_hidden, seed)
    hidden_spikes = []
    for e, tau in enumerate(times):
        lab = labels[e * n_diracs : (e + 1) * n_diracs]
        hidden_spikes.append([np.sort(tau[lab == h]) for h in range(n_hidden)])
    layer1 = fit_one_layer(list(inputs), hidden_spikes, hidden_tem)
    return TwoLayerFit(
        w1=layer1.weights, w2=centroids.T.copy(), hidden_spikes=hidden_spikes, layer1=layer1
    )


def matched_errors(
    w1_hat: np.ndarray, w2_hat: np.ndarray, w1: np.ndarray, w2: np.ndarray
) -> tuple[float, float]:
    """(W1 error, W2 error) under the hidden-neuron permutation that best matches W2.

    W2: min over permutations P of ||W2_hat - W2 P||_F; W1: matrix 1-norm of W1_hat - P^T W1 with
    the same P (the paper's metrics; the inputs are known, so W1's columns are not permuted).
    """
    best = None
    for perm in itertools.permutations(range(w2.shape[1])):
        p = list(perm)
        e2 = float(np.linalg.norm(w2_hat - w2[:, p]))
        if best is None or e2 < best[0]:
            best = (e2, p)
    assert best is not None
    e2, p = best
    e1 = float(np.linalg.norm(w1_hat - w1[p, :], ord=1))
    return e1, e2
