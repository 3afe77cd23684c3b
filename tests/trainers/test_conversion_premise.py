"""The premise study measures what the derivation predicts (reference/seeds.md 2.4)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trainers.conversion.chain import LinearMap  # noqa: E402
from trainers.conversion.fastsim import SnnChain  # noqa: E402
from trainers.conversion.premise import draw_inputs, pearson, premise_study  # noqa: E402

pytestmark = pytest.mark.torch


def test_input_models_have_the_right_moments():
    x = np.array([0.0, 0.2, 0.5, 1.0])
    b = draw_inputs(x, 4000, 10, 0.5, "bernoulli", seed=0).astype(float)
    p = draw_inputs(x, 4000, 10, 0.5, "poisson", seed=0).astype(float)
    np.testing.assert_allclose(b.mean(axis=(0, 1)), 0.5 * x, atol=0.01)
    np.testing.assert_allclose(b.var(axis=(0, 1)), 0.5 * x * (1 - 0.5 * x), atol=0.01)
    np.testing.assert_allclose(p.mean(axis=(0, 1)), 0.5 * x, atol=0.01)
    np.testing.assert_allclose(p.var(axis=(0, 1)), 0.5 * x, atol=0.01)  # Poisson: variance = mean


def test_pearson():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_homogeneous_inputs_make_the_l2_norm_the_predictor():
    """With every input at p = 1/2, Var[V_j] = n p (1 - p) ||w_j||_2^2 exactly. Neuron k has 2^k
    equal weights with ||w_k||_2 growing in k while ||w_k||_4 = ||w_k||_2 / 2^(k/4) falls: the
    study must find the spread following L2 and not L4."""
    n_in, ks = 16, range(5)
    w = np.zeros((len(ks), n_in))
    for k in ks:
        m = 2**k
        w[k, :m] = (1 + 0.1 * k) / np.sqrt(m)
    snn = SnnChain((LinearMap("dense", w, (n_in,), (len(ks),)),), (1e9,), (np.zeros(len(ks)),))
    images = np.full((3, n_in), 0.5)
    [layer] = premise_study(snn, images, realisations=600, window=8, max_rate=1.0, seed=1)
    assert layer.layer == 1 and layer.neurons == len(ks)
    assert layer.r_l2[0] > 0.95 and layer.r_exact[0] > 0.95
    assert layer.r_l4[0] < -0.5
