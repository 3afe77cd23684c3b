"""The lava backend: partitioned programs, batches, devices, errors and cleanup."""

import multiprocessing

import numpy as np
import pytest

from backends import get_backend
from backends.base import Probe
from backends.blocks import split_hazards
from backends.cpu.simulator import run as cpu_run
from backends.lava import compat
from backends.lava import run as lava_module
from ir import QLIF, Block, Graph, Input, IRVerifyError, Placement, QConv2d, QDense, QSparse
from ir.errors import BackendUnavailableError, InputError

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module", autouse=True)
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")


def _program():
    """Input (1, 6, 6) -> conv (2, 4, 4) -> dense hidden (12, with recurrence) -> out (4), with
    a skip from the conv layer to the output; weight_exp >= 0 everywhere (no split hazards)."""
    rng = np.random.default_rng(7)
    pops = {
        "in": Input((1, 6, 6)),
        "conv": QLIF(
            (2, 4, 4),
            du=1024,
            dv=512,
            vth=300,
            bias_mant=rng.integers(-20, 20, (2, 4, 4)),
            bias_exp=2,
        ),
        "hid": QLIF((12,), du=2047, dv=256, vth=400, reset_interval=5, reset_offset=3),
        "out": QLIF((4,), du=512, dv=1024, vth=250),
    }
    projs = {
        "c": QConv2d("in", "conv", weight=rng.integers(-80, 200, (2, 1, 3, 3))),
        "h": QDense("conv", "hid", weight=rng.integers(-100, 160, (12, 32)), weight_exp=1),
        "r": QSparse(
            "hid",
            "hid",
            rows=np.arange(12),
            cols=(np.arange(12) + 1) % 12,
            values=rng.integers(-200, 200, 12),
            delay=rng.integers(0, 3, 12),
        ),
        "o": QDense(
            "hid",
            "out",
            weight=rng.integers(-60, 200, (4, 12)),
            sign_mode="mixed",
            num_weight_bits=6,
        ),
        "skip": QDense("conv", "out", weight=rng.integers(-40, 60, (4, 32)), delay=2),
    }
    graph = Graph(populations=pops, projections=projs)
    x = (rng.random((2, 20, 36)) < 0.5).astype(np.uint8)
    return graph, x


def _placed(graph):
    conv_tiles = [np.arange(0, 12), np.arange(12, 32)]  # two tiles of the (2, 4, 4) layer
    blocks = (
        Block("conv", conv_tiles[0], 0),
        Block("conv", conv_tiles[1], 1),
        Block("hid", np.array([0, 2, 4, 6, 8, 10]), 2),
        Block("hid", np.array([1, 3, 5, 7, 9, 11]), 3),
        Block.from_range("out", 0, 2, 4),
        Block.from_range("out", 2, 4, 3),
    )
    return graph.replace(placement=Placement(blocks, np.array([0, 0, 1, 1, 2]), "tiny"))


ALL_VARS = ("spikes", "u", "v")


def test_program_on_several_cores_and_chips_matches_unpartitioned():
    graph, x = _program()
    placed = _placed(graph)
    assert placed.placement.n_chips == 3 and split_hazards(placed) == []
    probes = [Probe(n, ALL_VARS) for n in ("conv", "hid", "out")]
    lava = get_backend("lava")(placed, x, probes=probes)
    flat = cpu_run(graph, x, probes=probes)
    assert lava.info["processes"] > 10  # one LIF per block, one connection per block pair
    for p in probes:
        for var in ALL_VARS:
            np.testing.assert_array_equal(lava.get(p.population, var), flat.get(p.population, var))
    assert flat.get("out").sum() > 0 and flat.get("hid").sum() > 0


def test_batch_with_reset_interval_pads_each_sample_to_the_interval():
    graph, x = _program()
    # hid resets every 5 steps: 7 steps per sample are played as 10, each sample starting at
    # t = 1 of its own clock.
    x = np.concatenate([x, x[::-1]], axis=0)[:, :7]
    assert lava_module.sample_stride(graph, 7) == 10
    probes = [Probe("hid", ALL_VARS), Probe("out", ALL_VARS)]
    lava = get_backend("lava")(graph, x, probes=probes)
    cpu = cpu_run(graph, x, probes=probes)
    for p in probes:
        for var in ALL_VARS:
            np.testing.assert_array_equal(lava.get(p.population, var), cpu.get(p.population, var))
    # Sample 0 run alone gives the same trace as inside the batch.
    alone = get_backend("lava")(graph, x[:1], probes=probes)
    np.testing.assert_array_equal(alone.get("hid", "v"), lava.get("hid", "v")[:1])


def test_loihi2_device_without_the_extension_is_one_clear_line():
    graph, x = _program()
    missing = lava_module.loihi_extension_missing()
    if missing is None:
        pytest.skip("the Lava extension for Loihi is installed here")
    with pytest.raises(
        BackendUnavailableError, match=r"lava-loihi.*not importable.*--device cpu"
    ) as err:
        get_backend("lava")(graph, x, device="loihi2")
    assert "\n" not in str(err.value)


def test_unknown_device_and_float_program_are_refused():
    graph, x = _program()
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        get_backend("lava")(graph, x, device="gpu")
    from ir import LIF, Dense

    fg = Graph(
        populations={"in": Input((2,)), "l": LIF((2,))},
        projections={"d": Dense("in", "l", weight=np.eye(2))},
    )
    with pytest.raises(InputError, match="compiled"):
        get_backend("lava")(fg, np.zeros((1, 3, 2), dtype=np.uint8))


def test_delay_beyond_lava_limit_is_refused():
    g = Graph(
        populations={"in": Input((2,)), "l": QLIF((2,))},
        projections={"d": QDense("in", "l", weight=np.eye(2, dtype=np.int64) * 10, delay=64)},
    )
    with pytest.raises(IRVerifyError, match=r"projection 'd'.*delay = 64 exceeds 63"):
        get_backend("lava")(g, np.zeros((1, 3, 2), dtype=np.uint8))


def _lava_children():
    return [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_processes_are_stopped_when_a_run_fails(monkeypatch, error):
    graph, x = _program()
    before = len(_lava_children())

    def fail(prog):
        raise error

    monkeypatch.setattr(lava_module, "_reset_state", fail)  # fails between sample 1 and 2
    with pytest.raises(type(error)):
        get_backend("lava")(graph, x[:, :4])
    assert len(_lava_children()) == before


def test_only_the_probed_part_is_built():
    graph, x = _program()
    lava = get_backend("lava")(graph, x[:1, :5], probes=[Probe("conv")])
    assert lava.info["processes"] == 3  # RingBuffer, Conv, LIF


def test_a_split_signs_convolution_compiles_and_runs_the_same_on_lava():
    # Two kernels (excitatory and inhibitory) into one population, placed on several cores.
    from compiler.compile import CompileOptions, compile_model
    from ir import LIF, Conv2d, Dense, load_hw

    rng = np.random.default_rng(3)
    model = Graph(
        populations={"in": Input((1, 8, 8)), "c": LIF((3, 4, 4)), "out": LIF((5,))},
        projections={
            "k": Conv2d("in", "c", weight=rng.normal(0.05, 0.4, (3, 1, 4, 4)), stride=2, padding=1),
            "fc": Dense("c", "out", weight=rng.normal(0.02, 0.3, (5, 48))),
        },
    )
    program, _ = compile_model(model, load_hw("loihi2"), CompileOptions(split_signs=True))
    assert {"k.pos", "k.neg", "fc.pos", "fc.neg"} <= set(program.projections)
    x = (rng.random((2, 25, 64)) < 0.5).astype(np.uint8)
    probes = [Probe(n, ALL_VARS) for n in ("c", "out")]
    lava = get_backend("lava")(program, x, probes=probes)
    cpu = cpu_run(program, x, probes=probes)
    for p in probes:
        for var in ALL_VARS:
            np.testing.assert_array_equal(lava.get(p.population, var), cpu.get(p.population, var))
    assert cpu.get("c").sum() > 0 and cpu.get("out").sum() > 0
