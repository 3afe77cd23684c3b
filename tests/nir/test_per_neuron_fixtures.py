"""Networks as users bring them: NIR files that snnTorch 1.0.0 and Norse 1.1.0 export with one
time constant per neuron (or per channel) import, compile for loihi2 and loihi1, and the
deployed program tracks the float model (tests/fixtures/nir/per_neuron, tests/nir/per_neuron_check.py).

Correlations are of per-(sample, output neuron) spike counts on the fixture inputs. The
deployed program is compared with snnc's float model of the file and with the framework's own
output; for Norse's LIFCell the file itself differs from Norse's network (its JSON says why),
so that fixture is held to the float model only.
"""

from __future__ import annotations

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu.simulator import run as cpu_run
from backends.lava import compat
from ir import Block, Graph, Input, Placement
from neurons import variables_of
from tests.nir import per_neuron_check as check

MIN_CORRELATION = 0.95


@pytest.fixture(scope="module")
def fixtures():
    return check.check_all()


def test_the_fixtures_are_the_frameworks_own_per_neuron_exports(fixtures):
    assert {fx.info["framework"] for fx in fixtures} == {"snntorch", "norse"}
    for fx in fixtures:
        assert fx.info["versions"][fx.info["framework"]] in ("1.0.0", "1.1.0")
        # Per-neuron time constants really reach the float model and the compiled program.
        varying = [p for n, p in fx.graph.populations.items() if n not in fx.graph.inputs
                   and np.ndim(p.tau_mem)]
        assert varying, f"{fx.name}: no population with per-neuron tau_mem"
        groups = fx.deployed["loihi2"].report["quantization"]["populations"]
        assert any(p.get("parameter_groups", 1) > 1 for p in groups.values()), fx.name


@pytest.mark.parametrize("target", check.TARGETS)
def test_deployed_programs_track_the_float_model(fixtures, target):
    for fx in fixtures:
        d = fx.deployed[target]
        assert fx.float_counts.sum() > 0 and d.counts.sum() > 0, fx.name
        assert d.float_correlation >= MIN_CORRELATION, (fx.name, target, d.float_correlation)
        if fx.info["file_is_exact"]:
            assert fx.float_correlation >= 0.999, (fx.name, fx.float_correlation)
            assert d.correlation >= MIN_CORRELATION, (fx.name, target, d.correlation)


def merge_programs(programs: list[Graph]) -> Graph:
    """Compiled programs side by side in one (names prefixed `fK_`), each keeping its blocks on
    cores of its own (core and chip numbers offset), so one Lava run checks them all."""
    pops, projs, blocks, chips = {}, {}, [], []
    core_base = chip_base = 0
    for k, prog in enumerate(programs):
        pre = f"f{k}_"
        pops.update({pre + n: p for n, p in prog.populations.items()})
        projs.update({pre + n: p.replace(src=pre + p.src, dst=pre + p.dst)
                      for n, p in prog.projections.items()})
        pl = prog.placement
        blocks += [Block(pre + b.population, b.neurons, b.core + core_base) for b in pl.blocks]
        chips.append(pl.core_chip + chip_base)
        core_base += pl.n_cores
        chip_base += pl.n_chips
    placement = Placement(tuple(blocks), np.concatenate(chips), programs[0].placement.target)
    return Graph(pops, projs, placement=placement)


def _inputs(fixtures) -> np.ndarray:
    """The fixtures' first two samples side by side, zero-padded to the longest run."""
    steps = max(fx.inputs.shape[1] for fx in fixtures)
    xs = []
    for fx in fixtures:
        x = np.zeros((2, steps, fx.inputs.shape[2]), dtype=np.uint8)
        x[:, : fx.inputs.shape[1]] = fx.inputs[:2]
        xs.append(x)
    return np.concatenate(xs, axis=2)


def _cpu_equals_lava(fixtures, target: str) -> None:
    """Every fixture's deployed program (one Lava run for all): spikes and every state variable
    of every population agree at every step."""
    from backends.lava.run import run as lava_run

    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    program = merge_programs([fx.deployed[target].program for fx in fixtures])
    x = _inputs(fixtures)
    probes = [Probe(n, variables_of(p)) for n, p in program.populations.items() if not isinstance(p, Input)]
    lava = lava_run(program, x, probes=probes)
    cpu = cpu_run(program, x, probes=probes)
    for p in probes:
        for var in p.variables:
            assert np.array_equal(cpu.get(p.population, var), lava.get(p.population, var)), (
                p.population, var)
    # Per-neuron decays: Lava runs several processes (parameter groups) per population.
    assert lava.info["processes"] > 2 * len(program.populations)


@pytest.mark.lava
def test_deployed_fixtures_run_identically_on_cpu_and_lava(fixtures):
    _cpu_equals_lava(fixtures, "loihi2")


@pytest.mark.lava
@pytest.mark.slow
def test_deployed_fixtures_run_identically_on_cpu_and_lava_loihi1(fixtures):
    _cpu_equals_lava(fixtures, "loihi1")
