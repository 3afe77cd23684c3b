"""ANN training on rate estimates of the inputs (`ann.rate_estimate`, `--ann-encoding-steps`)."""

import numpy as np
import pytest

from ir.errors import InputError
from trainers.conversion.ann import AnnSpec, TrainSettings, rate_estimate, train_ann
from trainers.conversion.trainer import ConversionOptions, _train_settings

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("max_rate", [1.0, 0.5])
def test_rate_estimate_is_an_unbiased_spike_count_estimate(max_rate):
    """Binomial(n, r x) / (n r): multiples of 1 / (n r) within [0, 1 / r], mean x, and the
    binomial variance x (1 - r x) / (n r)."""
    steps = 16
    x = torch.linspace(0.0, 1.0, 11).repeat(20000, 1)
    gen = torch.Generator().manual_seed(3)
    est = rate_estimate(x, steps, max_rate, gen)
    counts = est * steps * max_rate
    assert torch.equal(counts, counts.round())
    assert est.min() >= 0 and est.max() <= 1 / max_rate
    x0 = x[0].double().numpy()
    mean, var = est.double().mean(0).numpy(), est.double().var(0).numpy()
    np.testing.assert_allclose(mean, x0, atol=0.01)
    np.testing.assert_allclose(var, x0 * (1 - max_rate * x0) / (steps * max_rate), atol=2e-3)
    assert torch.equal(est[:, 0], torch.zeros(len(est)))  # a black pixel never spikes


def test_the_estimates_default_to_the_deployment_steps():
    assert _train_settings(ConversionOptions("digits", steps=32)).encoding_steps == 32
    opts = ConversionOptions("digits", steps=32, ann_encoding_steps=0, max_rate=0.5)
    assert _train_settings(opts).encoding_steps == 0
    assert _train_settings(opts).encoding_max_rate == 0.5
    with pytest.raises(InputError, match="--ann-encoding-steps must be >= 0"):
        ConversionOptions("digits", ann_encoding_steps=-2)
    with pytest.raises(InputError, match="--ann-encoding-steps must be >= 0"):
        TrainSettings(epochs=1, encoding_steps=-1)


def _train(encoding_steps):
    rng = np.random.default_rng(0)
    x = rng.random((256, 1, 4, 4)).astype(np.float32)
    y = (x.reshape(256, -1)[:, :8].sum(1) > x.reshape(256, -1)[:, 8:].sum(1)).astype(np.int64)
    spec = AnnSpec("mlp", (1, 4, 4), 2, hidden=(8,))
    settings = TrainSettings(epochs=2, batch_size=32, encoding_steps=encoding_steps)
    return train_ann(x, y, x[:32], y[:32], spec, settings).chain.maps[0].weight


def test_training_on_estimates_is_deterministic_and_differs_from_clean_training():
    noisy = _train(8)
    np.testing.assert_array_equal(noisy, _train(8))
    assert not np.array_equal(noisy, _train(0))
    assert not np.array_equal(noisy, _train(64))
