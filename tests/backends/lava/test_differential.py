"""Differential tests: the cpu backend (both engines) against Lava, spike for spike and state
for state, on seeded random networks (tests/backends/random_nets.py: dense, sparse, conv,
graded inputs, skip connections, recurrent projections and cycles, delays, reset intervals,
extreme parameters that drive u past its 24-bit wrap and v into saturation).

The Lava side is built by the lava backend's lowering (backends/lava/lower.py) and run on
Loihi2SimCfg(select_tag="fixed_pt"); every population's spikes, u and v are recorded at every
step. `make test` runs 50 networks (two per Lava run, some with two samples, which also checks
the reset between samples); `make test-full` adds 200 more.
"""

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu.simulator import run as cpu_run
from backends.lava import compat
from ir import Input
from tests.backends.random_nets import first_mismatch, merge, random_network

pytestmark = pytest.mark.lava

FAST_SEEDS = range(50)
SLOW_SEEDS = range(1000, 1200)
PER_RUN = 2


@pytest.fixture(scope="module", autouse=True)
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")


def _groups(seeds, steps, batch_every):
    seeds = list(seeds)
    for i in range(0, len(seeds), PER_RUN):
        chunk = seeds[i : i + PER_RUN]
        batch = 2 if (i // PER_RUN) % batch_every == 0 else 1
        yield pytest.param(chunk, steps, batch, id=f"seeds{chunk[0]}-{chunk[-1]}")


def _compare(seeds, steps, batch):
    from backends.lava.run import run as lava_run

    nets = [random_network(s, steps=steps, batch=batch) for s in seeds]
    graph, inputs = merge(nets)
    probes = [
        Probe(n, ("spikes", "u", "v"))
        for n, p in graph.populations.items()
        if not isinstance(p, Input)
    ]
    lava = lava_run(graph, inputs, probes=probes)
    for engine in ("reference", "fast"):
        cpu = cpu_run(graph, inputs, probes=probes, engine=engine)
        mismatch = first_mismatch(cpu, lava, probes, f"{engine}: ")
        if mismatch:
            pytest.fail(mismatch)
    return lava


@pytest.mark.parametrize(("seeds", "steps", "batch"), list(_groups(FAST_SEEDS, 12, 3)))
def test_random_networks_match_lava(seeds, steps, batch):
    _compare(seeds, steps, batch)


@pytest.mark.slow
@pytest.mark.parametrize(("seeds", "steps", "batch"), list(_groups(SLOW_SEEDS, 24, 2)))
def test_more_random_networks_match_lava(seeds, steps, batch):
    _compare(seeds, steps, batch)


def test_the_suite_reaches_the_overflow_paths():
    """The random networks of `make test` do reach the paths that matter for bit accuracy
    (checked on the cpu trace, which the tests above show equal to Lava's)."""
    seen = {"spikes": 0, "v_saturated": 0, "u_beyond_24_bits": 0, "u_wrapped": 0}
    for seed in FAST_SEEDS:
        net = random_network(seed, steps=12, batch=1)
        probes = [
            Probe(n, ("spikes", "u", "v"))
            for n, p in net.graph.populations.items()
            if not isinstance(p, Input)
        ]
        tr = cpu_run(net.graph, net.inputs, probes=probes)
        for p in probes:
            u, v = tr.get(p.population, "u"), tr.get(p.population, "v")
            seen["spikes"] += int(tr.get(p.population).sum())
            seen["v_saturated"] += int((np.abs(v) == 2**23 - 1).sum())
            seen["u_beyond_24_bits"] += int((np.abs(u) > 2**23).sum())
            # A wrap flips the sign of a large u between consecutive steps.
            flips = np.abs(u[:, 1:] - u[:, :-1]) > 2**23
            seen["u_wrapped"] += int(flips.sum())
    assert all(count > 0 for count in seen.values()), seen
