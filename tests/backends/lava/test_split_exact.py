"""Issue 20: a compiled program means one thing however it is cut. Seeded random programs whose
sources are cut into blocks (`tests.backends.random_nets.split_case`: dense, sparse, conv,
graded inputs, recurrent and delayed projections from cut populations, weight exponents from -4
to 7, fixed-point models on 4- and 6-neuron cores, float LIF models on small cores, on `tiny`,
and wide layers on loihi1 and loihi2) are compiled by `compile_model` and run on Lava *block by
block* (one process per block and per block pair: each block pair's partial sum is shifted and
wrapped on its own) and on the cpu backend's default engine (the uncut program): spikes, u and
v equal at every step. Many programs are packed as disjoint components of one graph into one
Lava run (`merge_programs`); `make test` runs 30, `make test-full` 200 more.
"""

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu.simulator import run as cpu_run
from backends.lava import compat
from compiler.compile import compile_model
from compiler.passes.split_exact import placement_pieces, split_hazards
from ir import Input
from tests.backends.random_nets import SPLIT_FAMILIES, merge_programs, split_case

pytestmark = pytest.mark.lava

FAST_SEEDS = range(30)
SLOW_SEEDS = range(30, 230)
SLOW_PER_RUN = 20


@pytest.fixture(scope="module", autouse=True)
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")


def _programs(seeds):
    out = []
    for seed in seeds:
        case = split_case(seed)
        program, report = compile_model(case.model, case.hw)
        pieces = placement_pieces(program)
        cut = [n for n, p in program.projections.items() if len(pieces[p.src]) > 1]
        assert cut, f"seed {seed} ({case.family}): no projection has a cut source"
        assert split_hazards(program) == {}
        out.append((case, program, report))
    return out


def _compare(seeds):
    from backends.lava.run import run as lava_run

    compiled = _programs(seeds)
    graph, x = merge_programs([p for _, p, _ in compiled], [c.inputs for c, _, _ in compiled])
    probes = [
        Probe(n, ("spikes", "u", "v"))
        for n, p in graph.populations.items()
        if not isinstance(p, Input)
    ]
    lava = lava_run(graph, x, probes=probes, lowering="blocks")
    cpu = cpu_run(graph, x, probes=probes)
    for p in probes:
        for var in p.variables:
            got, want = cpu.get(p.population, var), lava.get(p.population, var)
            if not np.array_equal(got, want):
                b, t, i = np.argwhere(got != want)[0]
                pytest.fail(
                    f"{p.population}.{var} differs first at sample {b}, step {t + 1}, neuron "
                    f"{i}: cpu {got[b, t, i]}, lava --lava-blocks {want[b, t, i]}"
                )
    return compiled, cpu, lava


def test_cut_programs_equal_on_cpu_and_lava_block_by_block():
    compiled, cpu, lava = _compare(FAST_SEEDS)
    # What the 30 cover: every family, rounded and re-quantized projections, negative and
    # positive exponents on projections from cut sources, and activity.
    assert {c.family for c, _, _ in compiled} == set(SPLIT_FAMILIES)
    how = [e["how"] for _, _, r in compiled for e in r["split_exact"]["projections"]]
    assert any(h.startswith("rounded") for h in how) and any(h.startswith("quantized") for h in how)
    exps = set()
    for _, program, _ in compiled:
        pieces = placement_pieces(program)
        exps |= {
            getattr(p, "weight_exp", 0)
            for p in program.projections.values()
            if len(pieces[p.src]) > 1
        }
    assert min(exps) < 0 < max(exps)
    assert lava.info["lowering"] == "blocks" and lava.info["processes"] > 200
    assert sum(int(cpu.get(n).sum()) for n in cpu.data) > 100


@pytest.mark.slow
@pytest.mark.parametrize(
    "start", range(SLOW_SEEDS.start, SLOW_SEEDS.stop, SLOW_PER_RUN), ids=lambda s: f"seeds{s}"
)
def test_more_cut_programs_equal_on_cpu_and_lava_block_by_block(start):
    _compare(range(start, start + SLOW_PER_RUN))
