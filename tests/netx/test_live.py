"""netx itself, live (lava-dl 0.6.0 through `backends.lava.compat.ensure_lava_dl`): the committed
references are netx's outputs, files snnc exports load in netx and give the same outputs, and
random SLAYER networks agree between netx and snnc. `make test` runs one sample of a few
fixtures (each netx run starts Lava); the rest is `slow`."""

from __future__ import annotations

import numpy as np
import pytest

from backends.cpu.simulator import run as run_cpu
from compiler.model_io import load_model
from compiler.netx.exporter import export_netx
from tests.netx.helpers import NETX_RUNS, REFUSED, fixture, run_netx

pytestmark = pytest.mark.lavadl


@pytest.fixture(scope="module", autouse=True)
def _lava_dl():
    from backends.lava import compat

    if not compat.lava_dl_available():
        pytest.skip("lava-dl 0.6.0 not importable (make setup-lavadl)")


def _check_reference(name: str, samples: int | None) -> None:
    fx = fixture(name)
    out = run_netx(
        fx.path, fx.inputs, tuple(fx.info["input_shape"]), samples=samples, **fx.netx_kwargs
    )
    np.testing.assert_array_equal(out, fx.netx[:samples])


def _check_round_trip(name: str, tmp_path, samples: int | None) -> None:
    """import -> export -> netx: netx's output on the exported file is the committed reference
    (netx's own on the original, or SLAYER's where netx refuses the original)."""
    fx = fixture(name)
    exported = tmp_path / f"{name}.net"
    export_netx(load_model(fx.path), exported)
    out = run_netx(exported, fx.inputs, tuple(fx.info["input_shape"]), samples=samples)
    np.testing.assert_array_equal(out, fx.reference[:samples])


def test_committed_reference_is_netx_output():
    _check_reference("cuba_conv", samples=1)


@pytest.mark.parametrize("name", ["cuba_rec", "cuba_pool", "rf_complex"])
def test_export_round_trips_through_netx(tmp_path, name):
    """cuba_pool: netx refuses SLAYER's file (pool), and loads the one snnc exports (the pool as
    a grouped conv), with SLAYER's output."""
    _check_round_trip(name, tmp_path, samples=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", NETX_RUNS)
def test_every_committed_reference_is_netx_output(name):
    _check_reference(name, samples=None)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [*NETX_RUNS, *[n for n in REFUSED if n not in ("cuba_convt", "cuba_concat")]]
)
def test_every_export_round_trips_through_netx(tmp_path, name):
    _check_round_trip(name, tmp_path, samples=None)


def _random_slayer_net(seed: int):
    """A random CUBA chain of SLAYER blocks (dense, or conv-[pool]-flatten-dense), random sizes,
    decays, thresholds, strides and weight scales; returns (blocks, input (C, H, W) or (n,))."""
    import torch
    from lava.lib.dl import slayer

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    def params():
        return {
            "threshold": float(rng.choice([0.25, 0.5, 1.0, 1.5])),
            "current_decay": float(rng.choice([0, 0.1, 0.5, 1])),
            "voltage_decay": float(rng.choice([0, 0.03, 0.2, 1])),
            "requires_grad": False,
        }

    blocks = []
    if rng.random() < 0.5:
        sizes = [int(s) for s in rng.integers(4, 24, int(rng.integers(2, 5)))]
        for a, b in zip(sizes, sizes[1:]):
            blocks.append(
                slayer.block.cuba.Dense(
                    params(),
                    a,
                    b,
                    weight_scale=float(rng.uniform(1, 4)),
                    delay=bool(rng.random() < 0.3),
                )
            )
        return blocks, (sizes[0],)
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(5, 10)), int(rng.integers(5, 10))
    c_out, k, s = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    groups = int(rng.choice([g for g in (1, 2, 3) if c % g == 0 and c_out * g % g == 0]))
    c_out *= groups
    blocks.append(slayer.block.cuba.Input(None, delay_shift=False))
    blocks.append(
        slayer.block.cuba.Conv(
            params(),
            c,
            c_out,
            k,
            stride=s,
            padding=int(rng.integers(0, 2)),
            groups=groups,
            weight_scale=float(rng.uniform(1, 4)),
        )
    )
    blocks.append(slayer.block.cuba.Flatten())
    with torch.no_grad():
        probe = torch.zeros(1, c, h, w, 1)
        n_flat = int(np.prod(blocks[1].synapse(probe).shape[1:-1]))
    blocks.append(
        slayer.block.cuba.Dense(
            params(), n_flat, int(rng.integers(3, 10)), weight_scale=float(rng.uniform(1, 4))
        )
    )
    return blocks, (c, h, w)


def _export_blocks(blocks, path, x):
    """SLAYER's own export of `blocks` at `path`, and the SLAYER-layout spikes `x` (N, ..., T)
    in snnc's (N, T, n) layout."""
    import h5py

    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layer.create_group(str(i)))
    n, steps = x.shape[0], x.shape[-1]
    return path, np.ascontiguousarray(np.moveaxis(x, -1, 1).reshape(n, steps, -1)).astype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_random_slayer_networks_netx_equals_snnc(tmp_path, seed):
    """Networks nobody designed: SLAYER exports them, netx runs them, snnc imports and runs them
    on the cpu backend; the outputs are equal spike for spike."""
    import torch

    blocks, shape = _random_slayer_net(seed)
    rng = np.random.default_rng(100 + seed)
    x = (rng.random((2, *shape, 24)) < 0.3).astype(np.float32)
    with torch.no_grad():
        y = torch.tensor(x)
        for b in blocks:
            b.eval()
            y = b(y)
    path, inputs = _export_blocks(blocks, tmp_path / "random.net", x)
    want = run_netx(path, inputs, shape)
    assert want.any(), "a silent network would prove nothing"
    graph = load_model(path)
    got = run_cpu(graph, inputs).get(graph.outputs[0])
    np.testing.assert_array_equal(got, want)
    slayer_out = np.moveaxis(y.numpy(), -1, 1).reshape(2, 24, -1)
    np.testing.assert_array_equal(slayer_out, want)  # and SLAYER's forward is netx's output


def _random_rf_net(seed: int):
    """A random chain of SLAYER's resonate-and-fire dense blocks (rf or rf_iz, complex synapses),
    random sizes, periods, decays (per neuron or per layer) and thresholds, maybe a CUBA dense
    at the end; returns (blocks, (n_in,))."""
    import torch
    from lava.lib.dl import slayer

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sizes = [int(s) for s in rng.integers(4, 20, int(rng.integers(2, 5)))]
    blocks = []
    for a, b in zip(sizes, sizes[1:]):
        kind = slayer.block.rf if rng.random() < 0.5 else slayer.block.rf_iz
        shared = bool(rng.random() < 0.5)
        lo, hi = float(rng.uniform(4.5, 10)), float(rng.uniform(10, 30))
        params = {
            "threshold": float(rng.choice([0.1, 0.2, 0.4])),
            "requires_grad": False,
            "shared_param": shared,
            "period": lo if shared else (lo, hi),
            "decay": float(rng.uniform(0.02, 0.2))
            if shared
            else (0.02, float(rng.uniform(0.05, 0.3))),
        }
        blocks.append(kind.Dense(params, a, b, weight_scale=float(rng.uniform(1, 3))))
    if rng.random() < 0.5:
        cuba = {
            "threshold": 1.0,
            "current_decay": 0.25,
            "voltage_decay": 0.03,
            "requires_grad": False,
        }
        blocks.append(
            slayer.block.cuba.Dense(cuba, sizes[-1], int(rng.integers(2, 6)), weight_scale=2)
        )
    return blocks, (sizes[0],)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_random_slayer_rf_networks_netx_equals_snnc(tmp_path, seed):
    """Random SLAYER rf / rf_iz chains (complex dense synapses, per-neuron periods and decays):
    netx's output equals snnc's on the cpu backend, spike for spike."""
    import torch

    blocks, shape = _random_rf_net(seed)
    rng = np.random.default_rng(200 + seed)
    x = (rng.random((2, *shape, 30)) < 0.3).astype(np.float32)
    with torch.no_grad():
        y = torch.tensor(x[:1])
        for b in blocks:
            b.eval()
            y = b(y)  # draws the per-neuron periods
    path, inputs = _export_blocks(blocks, tmp_path / "random_rf.net", x)
    want = run_netx(path, inputs, shape)
    graph = load_model(path)
    got = run_cpu(graph, inputs).get(graph.outputs[0])
    np.testing.assert_array_equal(got, want)
    exported = tmp_path / "again.net"
    export_netx(graph, exported)
    np.testing.assert_array_equal(run_netx(exported, inputs, shape), want)


def _edge_files():
    """Hand-written files for each field netx reads in its own way (tests/netx/test_import.py
    checks the integers; these check them against netx's run)."""
    from tests.netx.test_import import conv, cuba, dense, weights

    rec = dense(
        6, 6, seed=1, weight_rec=weights((6, 6), seed=2), delay=np.arange(6, dtype=np.float32)
    )
    rec["type"] = "dense_rec"
    return {
        # netx drops the weight exponent of a delayed dense_rec
        "dense_rec_delay": ([dense(6, 8), rec], (8,)),
        # a full delay matrix, and delays above 62 (clipped)
        "delay_matrix": (
            [
                dense(
                    5, 8, delay=np.random.default_rng(3).integers(0, 70, (5, 8)).astype(np.float32)
                ),
                dense(3, 5),
            ],
            (8,),
        ),
        # the input transform netx never applies, and input neurons
        "input_transform": (
            [
                {
                    "type": "input",
                    "shape": np.array([8]),
                    "neuron": cuba(vThMant=0),
                    "weight": 30,
                    "bias": 7,
                },
                dense(4, 8),
            ],
            (8,),
        ),
        # a conv delay netx ignores, per-channel bias, refDelay and gradedSpike netx drops
        "conv_fields": (
            [
                {"type": "input", "shape": np.array([2, 6, 6])},
                conv(
                    3,
                    2,
                    3,
                    [3, 4, 4],
                    delay=np.array([3.0, 1.0, 2.0]),
                    bias=np.array([20.0, -10.0, 4.0]),
                    neuron=cuba(refDelay=4, gradedSpike=True),
                ),
                {"type": "flatten"},
                dense(4, 48),
            ],
            (2, 6, 6),
        ),
        # weights beyond the synapse: mixed clipped to 254, excitatory above 255 zeroed; fractions
        # truncated
        "big_weights": (
            [
                dense(
                    5,
                    8,
                    weight=2
                    * np.random.default_rng(4).integers(-300, 300, (5, 8)).astype(np.float32),
                ),
                dense(
                    3, 5, weight=np.random.default_rng(5).uniform(0, 300, (3, 5)).astype(np.float32)
                ),
            ],
            (8,),
        ),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_edge_files()))
def test_edge_files_netx_equals_snnc(tmp_path, name):
    from compiler.netx.writer import write_layers

    layers, shape = _edge_files()[name]
    path = tmp_path / f"{name}.net"
    write_layers(layers, path)
    rng = np.random.default_rng(7)
    inputs = (rng.random((1, 30, int(np.prod(shape)))) < 0.4).astype(np.uint8)
    want = run_netx(path, inputs, shape)
    graph = load_model(path)
    latency = graph.metadata["import"]["latency"]
    got = run_cpu(graph, np.pad(inputs, ((0, 0), (0, latency), (0, 0)))).get(graph.outputs[0])[
        :, latency:
    ]
    np.testing.assert_array_equal(got, want)
