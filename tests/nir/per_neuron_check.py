"""The per-neuron NIR fixtures (tests/fixtures/nir/per_neuron, written by snnTorch and Norse):
import, compile for loihi2 and loihi1, run the deployed program on cpu (and Lava), and compare
per-neuron output spike counts with the framework's own output on the fixture inputs.

    python -m tests.nir.per_neuron_check [--lava]
    # from the repository root: the table of docs/nir.md

Counts: snnc's projections each add one step (Lava's timing), so snnc runs T + L steps and its
steps L .. L + T - 1 stand for the framework's 0 .. T - 1 (L = the fixture's latency_steps);
a count is one (sample, output neuron)'s spikes over those T steps, and the correlation is
Pearson's r over every (sample, neuron) pair.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backends import get_backend
from backends.base import Probe
from compiler.compile import compile_model
from compiler.nir.importer import import_nir
from ir import Block, Graph, Input, Placement, load_hw
from neurons import model_of, variables_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nir" / "per_neuron"
TARGETS = ("loihi2", "loihi1")


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


@dataclass
class Deployed:
    """One fixture compiled for one target."""

    target: str
    program: Graph
    report: dict
    counts: np.ndarray  # (batch, n_out) on the cpu backend
    correlation: float  # with the framework's counts
    float_correlation: float  # with snnc's float model's counts (the file's network)
    cores: int
    groups: int  # Lava processes the output populations' parameter groups need, summed


@dataclass
class Fixture:
    name: str
    info: dict
    graph: Graph
    inputs: np.ndarray  # padded to T + latency steps
    framework_counts: np.ndarray
    float_counts: np.ndarray
    float_correlation: float
    deployed: dict[str, Deployed] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.graph.output_names[0]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return float(np.array_equal(a, b))
    return float(np.corrcoef(a, b)[0, 1])


def _counts(spikes: np.ndarray, latency: int, steps: int) -> np.ndarray:
    return spikes[:, latency : latency + steps].astype(np.int64).sum(axis=1)


def parameter_groups(program: Graph) -> int:
    """Parameter groups of every neuron population (what Lava runs as processes, per block)."""
    total = 0
    for pop in program.populations.values():
        if isinstance(pop, Input):
            continue
        total += len(model_of(pop).parameter_groups(pop))
    return total


def load(name: str) -> Fixture:
    info = json.loads((FIXTURES / f"{name}.json").read_text())
    graph = import_nir(FIXTURES / f"{name}.nir", dt=info["import_dt"], warn=lambda m: None)
    x = np.load(FIXTURES / f"{name}.input.npy", allow_pickle=False)
    out = np.load(FIXTURES / f"{name}.output.npy", allow_pickle=False)
    latency, steps = int(info["latency_steps"]), int(info["steps"])
    padded = np.concatenate([x, np.zeros((x.shape[0], latency, x.shape[2]), dtype=x.dtype)], axis=1)
    fw = out.astype(np.int64).sum(axis=1)
    trace = get_backend("float")(graph, padded, probes=[Probe(graph.output_names[0])])
    ours = _counts(trace.get(graph.output_names[0]), latency, steps)
    return Fixture(name, info, graph, padded, fw, ours, _correlation(ours, fw))


def deploy(fx: Fixture, target: str) -> Deployed:
    program, report = compile_model(fx.graph, load_hw(target))
    latency, steps = int(fx.info["latency_steps"]), int(fx.info["steps"])
    trace = get_backend("cpu")(program, fx.inputs, probes=[Probe(fx.output)])
    counts = _counts(trace.get(fx.output), latency, steps)
    return Deployed(target, program, report, counts, _correlation(counts, fx.framework_counts),
                    _correlation(counts, fx.float_counts), int(report["cores_used"]),
                    parameter_groups(program))


def check_all(targets=TARGETS) -> list[Fixture]:
    out = []
    for name in fixture_names():
        fx = load(name)
        for target in targets:
            fx.deployed[target] = deploy(fx, target)
        out.append(fx)
    return out


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


def side_by_side(fixtures: list[Fixture], samples: int, steps: int | None = None) -> np.ndarray:
    """The fixtures' first samples side by side, zero-padded to the longest run (or cut to
    `steps`)."""
    steps = steps or max(fx.inputs.shape[1] for fx in fixtures)
    xs = []
    for fx in fixtures:
        x = np.zeros((samples, steps, fx.inputs.shape[2]), dtype=np.uint8)
        used = min(steps, fx.inputs.shape[1])
        x[:, :used] = fx.inputs[:samples, :used]
        xs.append(x)
    return np.concatenate(xs, axis=2)


def cpu_vs_lava(
    fixtures: list[Fixture], target: str, samples: int, steps: int | None = None
) -> tuple[dict[str, list[str]], int, int]:
    """Every fixture's deployed program for `target`, in one Lava run: ({fixture: variables that
    differ from the cpu backend's}, Lava processes, populations). Spikes and every state variable
    of every population are compared at every step."""
    from backends.lava.run import run as lava_run

    program = merge_programs([fx.deployed[target].program for fx in fixtures])
    x = side_by_side(fixtures, samples, steps)
    probes = [
        Probe(n, variables_of(p))
        for n, p in program.populations.items()
        if not isinstance(p, Input)
    ]
    lava = lava_run(program, x, probes=probes)
    cpu = get_backend("cpu")(program, x, probes=probes)
    mismatches: dict[str, list[str]] = {fx.name: [] for fx in fixtures}
    for p in probes:
        k = int(p.population[1 : p.population.index("_")])
        for var in p.variables:
            if not np.array_equal(cpu.get(p.population, var), lava.get(p.population, var)):
                mismatches[fixtures[k].name].append(f"{p.population}.{var}")
    return (
        {k: v for k, v in mismatches.items() if v},
        int(lava.info["processes"]),
        len(program.populations),
    )


def table(fixtures: list[Fixture], lava: dict[str, bool] | None = None) -> str:
    """The table of docs/nir.md (one row per fixture)."""
    rows = [
        "| fixture | framework | neurons | parameter groups | cores loihi2 / loihi1 | framework "
        "spikes | r(snnc float, framework) | r(loihi2, framework) | r(loihi1, framework) | "
        "r(loihi2, snnc float) | r(loihi1, snnc float) | cpu == Lava |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fx in fixtures:
        l2, l1 = fx.deployed["loihi2"], fx.deployed["loihi1"]
        neurons = sum(p.size for n, p in fx.graph.populations.items() if n not in fx.graph.inputs)
        same = "-" if lava is None else ("yes" if lava.get(fx.name) else "NO")
        rows.append(
            f"| {fx.name} | {fx.info['framework']} {fx.info['versions'][fx.info['framework']]} | "
            f"{neurons} | {l2.groups} | {l2.cores} / {l1.cores} | {int(fx.framework_counts.sum())} "
            f"| {fx.float_correlation:.3f} | {l2.correlation:.3f} | {l1.correlation:.3f} | "
            f"{l2.float_correlation:.3f} | {l1.float_correlation:.3f} | {same} |"
        )
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    fixtures = check_all()
    lava = None
    if "--lava" in argv:
        bad = [cpu_vs_lava(fixtures, t, samples=fixtures[0].inputs.shape[0])[0] for t in TARGETS]
        lava = {fx.name: not any(fx.name in b for b in bad) for fx in fixtures}
    print(table(fixtures, lava))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
