"""Compare snnc's float simulation of each third-party NIR fixture with the framework's own output.

    python -m tests.nir.fixture_check        # from the repository root: one line per fixture

The fixtures (tests/fixtures/nir, written by generate.py) propagate spikes through all layers
within one step; snnc's projections each add a step (Lava's timing). snnc therefore runs
T + L steps, L = the number of projections from the input to the output, and its steps
L .. L + T - 1 are compared with the framework's steps 0 .. T - 1.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backends import get_backend
from backends.base import Probe
from compiler.nir.importer import import_nir
from ir import Graph, Input

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nir"


@dataclass
class Result:
    name: str
    info: dict
    graph: Graph
    latency: int
    snnc: np.ndarray  # snnc's output, aligned with the framework's steps
    framework: np.ndarray
    warnings: list[str]

    def metrics(self) -> dict:
        if self.info["compare"] == "voltage_close":
            return {"max_abs_voltage_diff": float(np.abs(self.snnc - self.framework).max()),
                    "voltage_range": float(np.abs(self.framework).max())}
        # ours, theirs: (batch, neurons)
        ours, theirs = self.snnc.sum(axis=1), self.framework.astype(np.int64).sum(axis=1)
        return {
            "identical": bool(np.array_equal(self.snnc, self.framework)),
            "framework_spikes": int(theirs.sum()),
            "snnc_spikes": int(ours.sum()),
            "mismatched_entries": int((self.snnc != self.framework).sum()),
            "entries": int(self.snnc.size),
            "equal_counts": float(np.mean(ours == theirs)),
            "mean_abs_count_diff": float(np.mean(np.abs(ours - theirs))),
            "count_correlation": float(np.corrcoef(ours.reshape(-1), theirs.reshape(-1))[0, 1]),
        }


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def latency(graph: Graph) -> int:
    """Projections on the shortest path from the inputs to the first output."""
    dist = {n: 0 for n in graph.inputs}
    frontier = list(graph.inputs)
    while frontier:
        nxt = []
        for name in frontier:
            for _, proj in graph.outgoing(name):
                if proj.dst not in dist:
                    dist[proj.dst] = dist[name] + 1
                    nxt.append(proj.dst)
        frontier = nxt
    return dist[graph.output_names[0]]


def run_fixture(name: str) -> Result:
    info = json.loads((FIXTURES / f"{name}.json").read_text())
    warnings: list[str] = []
    graph = import_nir(FIXTURES / f"{name}.nir", dt=info["import_dt"], warn=warnings.append)
    x = np.load(FIXTURES / f"{name}.input.npy", allow_pickle=False).astype(np.int64)
    ref = np.load(FIXTURES / f"{name}.output.npy", allow_pickle=False)
    lat = latency(graph)
    steps = x.shape[1]
    out = graph.output_names[0]
    variable = "v" if info["compare"] == "voltage_close" else "spikes"
    trace = get_backend("float")(graph, x, steps=steps + lat, probes=[Probe(out, (variable,))])
    ours = trace.get(out, variable)[:, lat:lat + steps]
    return Result(name, info, graph, lat, ours, ref.reshape(ours.shape), warnings)


def main() -> int:
    for name in fixture_names():
        r = run_fixture(name)
        n_pops = sum(not isinstance(p, Input) for p in r.graph.populations.values())
        m = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.metrics().items()
        )
        print(
            f"{name}: {r.info['framework']} {r.info['versions'][r.info['framework']]}, seed "
            f"{r.info['seed']}, {n_pops} populations, latency {r.latency}, compare "
            f"{r.info['compare']}: {m}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
