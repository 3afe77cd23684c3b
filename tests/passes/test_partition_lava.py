"""A program partitioned and placed by snnc's passes, run on Lava block by block (one process per
block, one connection process per block pair) and population by population: the same spikes as
the unpartitioned program on the cpu backend."""

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu.simulator import run as cpu_run
from backends.lava import compat
from tests.passes.nets import conv_net
from tests.passes.test_partition import compile_, config

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module", autouse=True)
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")


def test_partitioned_residual_net_on_lava_spikes_as_unpartitioned():
    from backends.lava.run import run as lava_run

    graph = conv_net(2, 5, 2, seed=3, skip=True)  # 2 x (2, 5, 5) conv layers, skips from the input
    hw = config(system={"max_chips": 16})  # tiny cores: 16 neurons each
    placed, report = compile_(graph, hw)
    assert all(len(placed.placement.blocks_of(n)) > 1 for n in ("c0", "c1"))
    assert report["split_exact"]["rounded"] == []
    spikes = (np.random.default_rng(0).random((1, 15, graph.n_inputs)) < 0.5).astype(np.int64)
    probes = [Probe("c0"), Probe("c1")]
    ref = cpu_run(graph, spikes, probes=probes)
    got = lava_run(placed, spikes, probes=probes, hw=hw, lowering="blocks")
    assert got.info["lowering"] == "blocks" and got.info["processes"] > 20
    for p in probes:
        assert ref.get(p.population).sum() > 0
        assert np.array_equal(ref.get(p.population), got.get(p.population)), p.population
