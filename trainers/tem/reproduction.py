"""The paper's three weight-recovery experiments (seeds.md section 1.5), as seeded trials.

Settings (from the authors' scripts): inputs are real periodic bandlimited signals with period 10
and 10 Fourier components, cosine coefficients ~ U[0, 1); weights ~ U[0, 1).
- one layer: 20 inputs -> 5 IF TEMs (kappa = delta = b = 1); error ||W_hat - W||_F;
- noise: the same at duration 10, Gaussian jitter of std level * ||diff(t)||_2 / len(diff(t))
  added to each neuron's spike times (per example);
- two layers: 2 inputs -> 2 hidden TEMs (kappa = 10, delta = 1, b = 10) -> first 4 spikes each
  -> 4 output TEMs (kappa = delta = b = 1), 2 examples; W1, W2 errors as in
  `two_layer.matched_errors`.
Every trial draws its network and signals from `numpy.random.default_rng(seed)`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from trainers.tem.machine import IFTEM
from trainers.tem.one_layer import IdentifiabilityWarning, fit_one_layer
from trainers.tem.signals import PeriodicBandlimited
from trainers.tem.two_layer import encode_two_layer, fit_two_layer, matched_errors

__all__ = ["N_COMPONENTS", "PERIOD", "jitter", "noise_trial", "one_layer_trial", "two_layer_trial"]

PERIOD = 10.0
N_COMPONENTS = 10


def _encode_examples(
    rng: np.random.Generator, w: np.ndarray, tem: IFTEM, n_examples: int, duration: float
):
    """Random input banks and the layer's spike times for each (one lock-step bank for all)."""
    n_out, n_in = w.shape
    xs = [PeriodicBandlimited.random(n_in, N_COMPONENTS, PERIOD, rng) for _ in range(n_examples)]
    bank = PeriodicBandlimited(np.concatenate([x.mixed(w).coefficients for x in xs]), PERIOD)
    spikes = tem.repeat(n_examples).encode(bank, duration)
    return xs, [spikes[e * n_out : (e + 1) * n_out] for e in range(n_examples)]


def _fit_error(xs, spikes, tem: IFTEM, w: np.ndarray) -> float:
    with warnings.catch_warnings():
        # Unidentifiable cells are part of the experiment; the error shows it.
        warnings.simplefilter("ignore", IdentifiabilityWarning)
        fit = fit_one_layer(xs, spikes, tem)
    return float(np.linalg.norm(fit.weights - w))


def one_layer_trial(
    seed: int, n_examples: Sequence[int], durations: Sequence[float], n_in: int = 20, n_out: int = 5
) -> np.ndarray:
    """Errors (len(n_examples), len(durations)) for one random network.

    The examples are nested (the first e of max(n_examples)) and every example is encoded once up
    to the longest duration; a shorter exposure keeps the spikes up to its end.
    """
    rng = np.random.default_rng(seed)
    w = rng.random((n_out, n_in))
    tem = IFTEM.uniform(n_out, 1.0, 1.0, 1.0)
    xs, spikes = _encode_examples(rng, w, tem, max(n_examples), max(durations))
    out = np.empty((len(n_examples), len(durations)))
    for i, e in enumerate(n_examples):
        for j, d in enumerate(durations):
            cut = [[s[s <= d] for s in ex] for ex in spikes[:e]]
            out[i, j] = _fit_error(xs[:e], cut, tem, w)
    return out


def jitter(spikes: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Spike times plus Gaussian noise of std level * ||diff(t)||_2 / len(diff(t)) (the
    authors')."""
    if spikes.size < 2:
        return spikes.copy()
    d = np.diff(spikes)
    return spikes + rng.normal(0.0, level * float(np.linalg.norm(d)) / d.size, spikes.shape)


def noise_trial(
    seed: int,
    n_examples: int,
    levels: Sequence[float],
    duration: float = 10.0,
    n_in: int = 20,
    n_out: int = 5,
) -> np.ndarray:
    """Errors (len(levels),) for one random network and one set of examples, jittered per level."""
    rng = np.random.default_rng(seed)
    w = rng.random((n_out, n_in))
    tem = IFTEM.uniform(n_out, 1.0, 1.0, 1.0)
    xs, spikes = _encode_examples(rng, w, tem, n_examples, duration)
    out = np.empty(len(levels))
    for k, level in enumerate(levels):
        noisy = [[jitter(s, level, rng) for s in ex] for ex in spikes]
        out[k] = _fit_error(xs, noisy, tem, w)
    return out


def two_layer_trial(
    seed: int, durations: Sequence[float], n_examples: int = 2, spikes_per_hidden: int = 4
) -> np.ndarray:
    """(W1 error, W2 error) per duration (len(durations), 2) for one random 2-2-4 network."""
    rng = np.random.default_rng(seed)
    w1 = rng.random((2, 2))
    w2 = rng.random((4, 2))
    hidden = IFTEM.uniform(2, 10.0, 1.0, 10.0)
    output = IFTEM.uniform(4, 1.0, 1.0, 1.0)
    xs = [PeriodicBandlimited.random(2, N_COMPONENTS, PERIOD, rng) for _ in range(n_examples)]
    longest = max(durations)
    out_spikes = [
        encode_two_layer(x, w1, w2, hidden, output, spikes_per_hidden, longest)[1] for x in xs
    ]
    errors = np.empty((len(durations), 2))
    for j, d in enumerate(durations):
        cut = [[s[s <= d] for s in ex] for ex in out_spikes]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IdentifiabilityWarning)
            fit = fit_two_layer(xs, cut, hidden, output, spikes_per_hidden, seed=seed)
        errors[j] = matched_errors(fit.w1, fit.w2, w1, w2)
    return errors
