"""trainers.tem continuous time: signals, the ideal IF TEM, one- and two-layer training, and a
small version of each reproduction table (the full tables: benchmarks/tem_reproduction.py)."""

import warnings

import numpy as np
import pytest

from ir.errors import InputError
from trainers.tem.machine import IFTEM, interval_integrals, t_transform
from trainers.tem.one_layer import IdentifiabilityWarning, fit_one_layer
from trainers.tem.reproduction import jitter, noise_trial, one_layer_trial, two_layer_trial
from trainers.tem.signals import PeriodicBandlimited, dirac_stream_coefficients
from trainers.tem.two_layer import (
    annihilating_filter,
    dirac_amplitudes,
    dirac_locations,
    kmeans,
    preactivation_coefficients,
)


def _bank(seed=0, n=3, k=10, period=10.0):
    return PeriodicBandlimited.random(n, k, period, np.random.default_rng(seed))


def test_signals_are_real_and_integrals_closed_form():
    x = _bank()
    t = np.linspace(0.3, 7.9, 200001)
    samples = x.sample(t)
    numeric = np.trapz(samples, t, axis=1)
    exact = x.integral(np.array([0.3]), np.array([7.9]))[0]
    np.testing.assert_allclose(exact, numeric, rtol=1e-8)
    # Periodic: one period integrates to Tp * c_0.
    np.testing.assert_allclose(
        x.integral(np.array([1.0]), np.array([11.0]))[0],
        10.0 * x.coefficients[:, 9].real,
        rtol=1e-12,
    )


def test_mixing_acts_on_coefficients():
    x = _bank(n=4)
    w = np.random.default_rng(1).random((2, 4))
    t = np.linspace(0, 10, 7)
    np.testing.assert_allclose(x.mixed(w).sample(t), w @ x.sample(t), atol=1e-12)


def test_non_symmetric_coefficients_rejected():
    with pytest.raises(InputError, match="conjugate-symmetric"):
        PeriodicBandlimited(np.array([[1.0, 2.0, 3.0]]), 10.0)


def test_tem_spikes_satisfy_the_t_transform_and_are_first_crossings():
    x = _bank(n=2)
    w = np.array([[0.7, 0.2], [0.1, 0.9]])
    tem = IFTEM(np.array([1.0, 2.0]), np.array([1.0, 0.5]), np.array([1.0, 3.0]))
    y = x.mixed(w)
    spikes = tem.encode(y, 10.0)
    for j, s in enumerate(spikes):
        assert s.size > 5 and np.all(np.diff(s) > 0) and s[-1] <= 10.0
        lhs = interval_integrals(y, s)[:, j]
        np.testing.assert_allclose(lhs, t_transform(tem, j, s), atol=1e-9)
        # the first spike ends the interval from t = 0 (v(0) = -delta)
        first = y.integral(np.array([0.0]), s[:1])[0, j] + tem.bias[j] * s[0]
        assert first == pytest.approx(2 * tem.kappa[j] * tem.delta[j], abs=1e-9)
        # brute force: the running integral never reaches the next threshold early
        grid = np.linspace(0, s[0], 2001)[1:-1]
        h = y.integral(np.zeros_like(grid), grid)[:, j] + tem.bias[j] * grid
        assert np.all(h < 2 * tem.kappa[j] * tem.delta[j])


def test_tem_bank_channels_are_independent():
    x = _bank(n=2)
    tem = IFTEM.uniform(1, 1.0, 1.0, 1.0)
    both = IFTEM.uniform(2, 1.0, 1.0, 1.0).encode(x, 6.0)
    for j in range(2):
        alone = tem.encode(PeriodicBandlimited(x.coefficients[j : j + 1], x.period), 6.0)[0]
        np.testing.assert_allclose(both[j], alone, atol=1e-12)


def test_one_layer_recovers_weights_with_enough_examples():
    errors = one_layer_trial(0, n_examples=(1, 4), durations=(10.0,))
    assert errors[1, 0] <= 1e-6  # Done-when: >= 4 examples at duration >= 10
    assert errors[0, 0] > 0.1  # one example spans 10 of 20 dimensions: not identifiable


def test_one_layer_warns_and_reports_rank_when_not_identifiable():
    rng = np.random.default_rng(3)
    w = rng.random((2, 20))
    tem = IFTEM.uniform(2, 1.0, 1.0, 1.0)
    x = PeriodicBandlimited.random(20, 10, 10.0, rng)
    spikes = tem.encode(x.mixed(w), 14.0)
    with pytest.warns(
        IdentifiabilityWarning, match=r"rank \d+ < 20 inputs; the weights are not identified"
    ):
        fit = fit_one_layer([x], [spikes], tem)
    # one example: rows lie in the 10-dimensional span of its cosine signals
    assert not fit.identifiable and all(n.rank <= 10 for n in fit.neurons)
    assert fit.neurons[0].condition == float("inf")
    xs = [x] + [PeriodicBandlimited.random(20, 10, 10.0, rng) for _ in range(3)]
    more = [spikes] + [tem.encode(xi.mixed(w), 14.0) for xi in xs[1:]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdentifiabilityWarning)
        fit = fit_one_layer(xs, more, tem)
    assert fit.identifiable and all(np.isfinite(n.condition) and n.rank == 20 for n in fit.neurons)
    np.testing.assert_allclose(fit.weights, w, atol=1e-8)


def test_noise_error_grows_with_jitter():
    errors = noise_trial(0, 8, (1e-5, 1e-3, 1e-1))
    assert np.all(np.diff(errors) > 0) and errors[0] < 1e-2


def test_jitter_scale():
    s = np.arange(1.0, 101.0)
    rng = np.random.default_rng(0)
    noisy = jitter(s, 0.1, rng)  # std = 0.1 * ||diff||_2 / len(diff) = 0.1 * sqrt(99) / 99
    assert np.std(noisy - s) == pytest.approx(0.1 / np.sqrt(99), rel=0.3)


def test_annihilating_filter_finds_diracs_shared_by_several_signals():
    times = np.array([0.7, 2.9, 5.5, 8.1])
    amps = np.array([[1.0, 0.3, 0.5, 0.9], [0.2, 0.8, 0.6, 0.1]])
    y = np.stack([dirac_stream_coefficients(times, a, 4, 10.0) for a in amps])  # K' = D = 4
    found = dirac_locations(annihilating_filter(y, 4), 10.0)
    np.testing.assert_allclose(found, times, atol=1e-9)
    np.testing.assert_allclose(dirac_amplitudes(y, found, 10.0), amps, atol=1e-9)


def test_preactivation_coefficients_from_spikes():
    x = _bank(n=1, k=4)
    tem = IFTEM.uniform(1, 1.0, 1.0, 2.0)
    spikes = tem.encode(x, 30.0)[0]
    np.testing.assert_allclose(
        preactivation_coefficients(spikes, tem, 0, 4, 10.0), x.coefficients[0], atol=1e-8
    )


def test_kmeans_is_deterministic_and_separates_clusters():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(0, 0.01, (10, 3)), rng.normal(1, 0.01, (12, 3))])
    c1, l1 = kmeans(pts, 2, seed=4)
    c2, l2 = kmeans(pts, 2, seed=4)
    assert np.array_equal(c1, c2) and np.array_equal(l1, l2)
    assert len(set(l1[:10])) == 1 and len(set(l1[10:])) == 1 and l1[0] != l1[10]


def test_two_layers_recovered_without_backprop_once_outputs_spike_enough():
    errors = np.stack([two_layer_trial(seed, (10.0, 30.0)) for seed in (0, 1, 2)])  # (runs, D, 2)
    median = np.median(errors, axis=0)
    assert median[1].max() <= 1e-3  # Done-when: median <= 1e-3 at duration >= 28
    assert median[0].max() > 1e-2  # too few output spikes at duration 10
