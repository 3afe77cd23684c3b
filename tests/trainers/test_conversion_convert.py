"""Conversion: scales (data-based and spike-based), the L4 variants, the deployed graph, tuning."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ir import LIF, Conv2d, Dense, verify  # noqa: E402
from trainers.conversion.chain import Chain, LinearMap, chain_activations  # noqa: E402
from trainers.conversion.convert import (  # noqa: E402
    ConversionParams,
    build_snn,
    calibrate,
    to_graph,
)
from trainers.conversion.fastsim import SnnChain  # noqa: E402
from trainers.conversion.tune import SIGMA_GRID, ValEvaluator, tune  # noqa: E402
from trainers.encoders import encode  # noqa: E402

pytestmark = pytest.mark.torch


def _chain(seed=0, conv=False):
    rng = np.random.default_rng(seed)
    if conv:
        return Chain(
            (
                LinearMap(
                    "conv", rng.normal(0.1, 0.5, (3, 1, 3, 3)), (1, 6, 6), (3, 6, 6), padding=(1, 1)
                ),
                LinearMap("dense", rng.normal(0, 0.3, (4, 108)), (3, 6, 6), (4,)),
            )
        )
    return Chain(
        (
            LinearMap("dense", rng.normal(0.05, 0.3, (20, 16)), (16,), (20,)),
            LinearMap("dense", rng.normal(0.05, 0.3, (12, 20)), (20,), (12,)),
            LinearMap("dense", rng.normal(0, 0.3, (5, 12)), (12,), (5,)),
        )
    )


def _x(n=64, d=16, seed=1):
    return np.random.default_rng(seed).uniform(0, 1, (n, d))


def test_data_scales_are_percentiles_of_positive_activations():
    chain, x = _chain(), _x()
    cal = calibrate(chain, x, mode="data", percentile=99.0, max_rate=0.5)
    acts = chain_activations(chain, x)
    for lam, a in zip(cal.scales, acts, strict=True):
        assert lam == pytest.approx(np.percentile(a[a > 0], 99.0), rel=1e-6)
    # In threshold units, layer 1's drive W_hat_1 (max_rate x) has the chosen percentile at 1.
    w1 = cal.normalized_maps()[0].weight
    drive = np.maximum(0.5 * x @ w1.T, 0)
    assert np.percentile(drive[drive > 0], 99.0) == pytest.approx(1.0, rel=1e-5)


def test_spike_scales_are_the_largest_per_step_currents():
    """percentile 100 = Sengupta's max; layer 1 sees the input spikes one step late, so the last
    step's input never arrives within the run."""
    chain, x = _chain(), _x(n=8)
    steps = 12
    cal = calibrate(
        chain, x, mode="spike", percentile=100.0, max_rate=1.0, balance_steps=steps, seed=3
    )
    spikes = encode({"kind": "rate", "max_rate": 1.0}, x, steps, 3).astype(np.float64)
    current = spikes[:, :-1] @ chain.maps[0].weight.T
    assert cal.scales[0] == pytest.approx(current.max(), rel=1e-9)
    assert all(s > 0 for s in cal.scales)


def test_noise_factor_formula():
    chain = Chain((LinearMap("dense", np.ones((2, 4)), (4,), (2,)),))
    x = np.array([[0.5, 0.5, 0.0, 1.0], [0.25, 0.0, 0.0, 0.0]])
    cal = calibrate(chain, x, mode="data", percentile=100.0)
    q = x * (1 - x)
    expect = np.mean(np.sqrt(np.sqrt((q**2).sum(axis=1))))
    assert cal.noise[0] == pytest.approx(expect)


@pytest.mark.parametrize("variant", ["none", "margin", "bias"])
def test_build_snn_folds_per_neuron_thresholds(variant):
    chain, x = _chain(conv=True), np.random.default_rng(2).uniform(0, 1, (32, 1, 6, 6))
    cal = calibrate(chain, x)
    sigma, gamma = (0.8, 1.25), 0.3
    snn = build_snn(cal, ConversionParams(sigma, variant, gamma if variant != "none" else 0.0))
    for k, (m, norm) in enumerate(zip(snn.maps, cal.normalized_maps(), strict=True)):
        sd = norm.channel_norms(4) * cal.noise[k]
        theta = sigma[k] + (gamma * sd if variant == "margin" else 0.0)
        bias = -gamma * sd if variant == "bias" else np.zeros_like(sd)
        ratio = norm.weight.reshape(norm.channels, -1) / m.weight.reshape(m.channels, -1)
        np.testing.assert_allclose(ratio, np.broadcast_to(np.reshape(theta, (-1, 1)), ratio.shape))
        np.testing.assert_allclose(snn.bias[k], (bias / theta)[norm.channel_of_neuron()])
        assert snn.v_th[k] == 1.0
    if variant == "bias":
        assert np.all(snn.bias[0] < 0)


def test_margin_must_keep_thresholds_positive():
    chain, x = _chain(), _x()
    cal = calibrate(chain, x)
    with pytest.raises(Exception, match="threshold"):
        build_snn(cal, ConversionParams((1.0, 1.0, 1.0), "margin", -100.0))


@pytest.mark.parametrize("conv", [False, True])
def test_to_graph_is_a_deployable_if_network(conv):
    chain = _chain(conv=conv)
    snn = SnnChain(
        chain.maps,
        tuple([1.0] * chain.depth),
        tuple(np.linspace(-0.1, 0.1, m.n_out) for m in chain.maps),
    )
    g = verify(to_graph(snn, chain, {"k": 1}))
    assert list(g.populations) == ["in"] + [f"h{i + 1}" for i in range(chain.depth - 1)] + ["out"]
    assert g.outputs == ("out",) and g.metadata["k"] == 1
    for name, pop in g.populations.items():
        if name == "in":
            continue
        assert isinstance(pop, LIF)
        assert (
            float(pop.tau_syn) == 0.0 and math.isinf(float(pop.tau_mem)) and float(pop.v_th) == 1.0
        )
    kinds = [type(p) for p in g.projections.values()]
    assert kinds == ([Conv2d, Dense] if conv else [Dense, Dense, Dense])


class _SigmaObjective:
    """A stand-in evaluator: reads sigma back from the SNN's weights, scores a known optimum."""

    def __init__(self, cal, target):
        self.norm = cal.normalized_maps()
        self.target = target

    def accuracy(self, snn):
        sig = [
            n.weight.flat[0] / m.weight.flat[0] for n, m in zip(self.norm, snn.maps, strict=True)
        ]
        return 1.0 - sum((s - t) ** 2 for s, t in zip(sig, self.target, strict=True))


def test_tune_finds_the_best_sigma_on_its_grid():
    chain, x = _chain(), _x()
    cal = calibrate(chain, x)
    target = (0.7, 1.25, 0.9)
    res = tune(lambda s: cal, _SigmaObjective(cal, target), "none", 3)
    assert res.params.sigma == pytest.approx(target)
    assert res.val_accuracy == max(e["val_accuracy"] for e in res.log)
    assert res.log[0]["sigma"] == [1.0, 1.0, 1.0] and all(t in SIGMA_GRID for t in target)


def test_val_evaluator_prefix_cache_gives_the_same_accuracy():
    chain, x = _chain(), _x(n=40)
    cal = calibrate(chain, x)
    y = np.random.default_rng(0).integers(0, 5, 40)
    spikes = encode({"kind": "rate", "max_rate": 1.0}, x, 20, 7)
    cached = ValEvaluator(spikes, y, (10, 20), batch=16)
    fresh = ValEvaluator(spikes, y, (10, 20), batch=16, cache_bytes=0)
    for sigma in [
        (1.0, 1.0, 1.0),
        (1.0, 1.0, 0.6),
        (1.0, 0.8, 0.6),
        (1.0, 0.8, 1.5),
        (0.7, 0.8, 1.5),
    ]:
        snn = build_snn(cal, ConversionParams(sigma))
        assert cached.accuracy(snn) == fresh.accuracy(snn)
    assert cached.cache  # prefixes were kept
