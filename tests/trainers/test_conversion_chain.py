"""The converted chain: pooling folded into the next map, torch model read exactly, the L4
rescaling keeping the ANN's function."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trainers.conversion.ann import AnnSpec, _build, to_chain  # noqa: E402
from trainers.conversion.chain import LinearMap, chain_activations, chain_logits, fold_avgpool  # noqa: E402
from trainers.conversion.convert import l4_rescale  # noqa: E402

pytestmark = pytest.mark.torch


def _rand(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=shape)


def test_fold_avgpool_into_dense_equals_pool_then_dense():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 3 * 2 * 3))
    x = torch.as_tensor(_rand((4, 3, 4, 6)))
    expect = torch.nn.functional.linear(
        torch.nn.functional.avg_pool2d(x, 2).reshape(4, -1), torch.as_tensor(w)
    )
    folded = fold_avgpool(2, (3, 4, 6), LinearMap("dense", w, (18,), (5,)))
    assert np.allclose(folded.apply(x).numpy(), expect.numpy(), atol=1e-12)
    pooled = LinearMap("dense", w, (3, 4, 6), (5,), pool=2)
    assert np.allclose(pooled.apply(x).numpy(), expect.numpy(), atol=1e-12)
    assert np.array_equal(pooled.folded().weight, folded.weight)


@pytest.mark.parametrize(
    ("stride", "padding"), [((1, 1), (1, 1)), ((1, 1), (0, 0)), ((2, 1), (1, 0))]
)
def test_fold_avgpool_into_conv_equals_pool_then_conv(stride, padding):
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 3, 3, 3))
    x = torch.as_tensor(_rand((2, 3, 8, 12)))
    pooled = torch.nn.functional.avg_pool2d(x, 2)
    expect = torch.nn.functional.conv2d(pooled, torch.as_tensor(w), stride=stride, padding=padding)
    nxt = LinearMap("conv", w, (3, 4, 6), tuple(expect.shape[1:]), stride=stride, padding=padding)
    folded = fold_avgpool(2, (3, 8, 12), nxt)
    assert folded.stride == (2 * stride[0], 2 * stride[1]) and folded.padding == (
        2 * padding[0],
        2 * padding[1],
    )
    assert np.allclose(folded.apply(x).numpy(), expect.reshape(2, -1).numpy(), atol=1e-12)
    pooled = LinearMap("conv", w, (3, 8, 12), nxt.out_shape, stride=stride, padding=padding, pool=2)
    assert np.allclose(pooled.apply(x).numpy(), expect.reshape(2, -1).numpy(), atol=1e-12)
    assert pooled.channel_norms(4) == pytest.approx(folded.channel_norms(4))


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_to_chain_reproduces_the_torch_model(arch):
    torch.manual_seed(0)
    if arch == "mlp":
        spec = AnnSpec("mlp", (1, 8, 8), 10, hidden=(16, 12))
    else:
        spec = AnnSpec("cnn", (1, 8, 8), 10, channels=(4, 6), kernels=(3, 3))
    model = _build(spec, dropout=0.0).double().eval()
    x = _rand((7, 1, 8, 8), seed=3)
    with torch.no_grad():
        expect = model(torch.as_tensor(x)).numpy()
    chain = to_chain(spec, model)
    assert chain.depth == 3
    # No pooling neurons: each pool belongs to the following map.
    assert [m.kind for m in chain.maps] == (
        ["dense"] * 3 if arch == "mlp" else ["conv", "conv", "dense"]
    )
    assert [m.pool for m in chain.maps] == ([1, 1, 1] if arch == "mlp" else [1, 2, 2])
    assert np.allclose(chain_logits(chain, x), expect, atol=1e-10)


def test_l4_rescale_keeps_the_function_and_equalizes_hidden_l4_norms():
    torch.manual_seed(1)
    spec = AnnSpec("cnn", (1, 8, 8), 10, channels=(4, 6), kernels=(3, 3))
    chain = to_chain(spec, _build(spec, dropout=0.0).double().eval())
    x = _rand((5, 1, 8, 8), seed=4)
    rescaled = l4_rescale(chain, 1.0)
    assert np.allclose(chain_logits(rescaled, x), chain_logits(chain, x), atol=1e-10)
    # alpha = 1 equalizes the first map's channel norms (later maps' inputs are compensated
    # afterwards, so only the first is exactly equal).
    first = rescaled.maps[0].channel_norms(4)
    assert np.allclose(first, first.mean())
    # Activations of hidden channel j are multiplied by the factor (ReLU is positively homogeneous).
    a0, a1 = chain_activations(chain, x)[0], chain_activations(rescaled, x)[0]
    ratio = a1.reshape(5, 4, -1).sum(axis=(0, 2)) / a0.reshape(5, 4, -1).sum(axis=(0, 2))
    n4 = chain.maps[0].channel_norms(4)
    assert np.allclose(ratio, n4.mean() / n4, rtol=1e-5)
    assert l4_rescale(chain, 0.0) is chain
