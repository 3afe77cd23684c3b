"""What every backend returns, and how callers say what to record.

A run records only what is asked for: by default the spikes of the graph's output populations.
Each neuron model names its own state variables (`neurons.variables_of`: LIF has u and v);
recording them for every population of a large network costs memory proportional to
batch x T x neurons, so it is opt-in (`Probe(population, ("spikes", "u", "v"))`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ir.errors import InputError
from ir.graph import Graph
from ir.nodes import Input, Population
from neurons import variables_of

__all__ = [
    "Probe",
    "Trace",
    "check_probe_variables",
    "check_run_budget",
    "default_probes",
    "parse_probes",
    "run_bytes_per_sample",
]


@dataclass(frozen=True)
class Probe:
    """Record `variables` ("spikes" and state variables the population's model declares) of
    population `population`; backends check them against the model (`check_probe_variables`)."""

    population: str
    variables: tuple[str, ...] = ("spikes",)

    def __post_init__(self) -> None:
        if not self.variables or not all(isinstance(v, str) and v for v in self.variables):
            raise InputError(
                f"probe {self.population}: name at least one variable, got {self.variables}"
            )


def check_probe_variables(probe: Probe, pop: Population) -> None:
    """InputError unless every variable of `probe` is one the population's model records."""
    allowed = variables_of(pop)
    if any(v not in allowed for v in probe.variables):
        raise InputError(
            f"probe {probe.population}: variables must be among {', '.join(allowed)}, got "
            f"{probe.variables}"
        )


def default_probes(graph: Graph) -> tuple[Probe, ...]:
    return tuple(Probe(name) for name in graph.output_names)


def parse_probes(text: str | None, graph: Graph) -> tuple[Probe, ...]:
    """Parse `pop[:var,var];pop...` (e.g. `h1:spikes,v;out`); `all` probes everything.

    None or empty gives the default (output spikes)."""
    if not text:
        return default_probes(graph)
    names = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
    if text.strip() == "all":
        return tuple(Probe(n, variables_of(graph.populations[n])) for n in names)
    probes = []
    for part in text.split(";"):
        pop, _, vars_ = part.strip().partition(":")
        if pop not in graph.populations or isinstance(graph.populations[pop], Input):
            raise InputError(
                f"probe: {pop!r} is not a neuron population of the model; have: {', '.join(names)}"
            )
        variables = tuple(v.strip() for v in vars_.split(",")) if vars_ else ("spikes",)
        probe = Probe(pop, variables)
        check_probe_variables(probe, graph.populations[pop])
        probes.append(probe)
    return tuple(probes)


@dataclass
class Trace:
    """Recorded variables: `data[population][variable]` is a (batch, T, n) array.

    Spikes are uint8 0/1 (graded models' payloads: int64, float64 in float runs). For
    fixed-point runs state variables are int64 in Lava's units (LIF u, v: << 6 scaled); for
    float runs they are float64.
    """

    backend: str
    steps: int
    batch: int
    data: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)

    def get(self, population: str, variable: str = "spikes") -> np.ndarray:
        try:
            return self.data[population][variable]
        except KeyError:
            raise InputError(
                f"trace from {self.backend}: {population}.{variable} was not probed"
            ) from None

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat mapping for OUT.npz: spikes under the population name, states under `name:u`."""
        out: dict[str, np.ndarray] = {}
        for pop, vars_ in self.data.items():
            for var, arr in vars_.items():
                out[pop if var == "spikes" else f"{pop}:{var}"] = arr
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], backend: str) -> Trace:
        data: dict[str, dict[str, np.ndarray]] = {}
        for key, arr in arrays.items():
            pop, _, var = key.partition(":")
            data.setdefault(pop, {})[var or "spikes"] = arr
        first = next(iter(arrays.values()), np.zeros((0, 0, 0)))
        return cls(
            backend=backend,
            steps=int(first.shape[1]) if first.ndim == 3 else 0,
            batch=int(first.shape[0]) if first.ndim == 3 else 0,
            data=data,
        )


def _run_values_per_step(graph: Graph, probes: Sequence[Probe]) -> tuple[int, int, int]:
    """(neurons, synaptic inputs, recorded values) a run keeps per sample and step."""
    neurons = sum(p.size for p in graph.populations.values())
    synapses = sum(graph.populations[p.dst].size for p in graph.projections.values())
    recorded = sum(graph.populations[p.population].size * len(p.variables) for p in probes)
    return neurons, synapses, recorded


def run_bytes_per_sample(graph: Graph, steps: int, probes: Sequence[Probe]) -> int:
    """What one sample of a run costs against the memory budget when the engine keeps the whole
    run (`check_run_budget` without a working set)."""
    from ir.budget import VALUE_BYTES

    return steps * VALUE_BYTES * sum(_run_values_per_step(graph, probes))


def check_run_budget(
    graph: Graph, batch: int, steps: int, probes: Sequence[Probe], working_set: int | None = None
) -> None:
    """Refuse, before anything is allocated, a run whose arrays exceed the memory budget
    (`ir.budget`). An engine that keeps, for the whole run, each population's spikes and each
    projection's synaptic input per step (the reference engine, Lava's recorder) is charged
    for them and for the state variables the probes record (8 bytes a value at most); one that
    works through the batch in chunks (the fast engine) passes its `working_set` in bytes and
    is charged for it and the recordings."""
    from ir.budget import VALUE_BYTES, check_bytes, format_bytes

    neurons, synapses, recorded = _run_values_per_step(graph, probes)
    if working_set is None:
        need = batch * steps * VALUE_BYTES * (neurons + synapses + recorded)
        what = (
            f"a run of {batch} sample(s) x {steps} steps ({neurons} neurons, {synapses} synaptic "
            f"inputs and {recorded} recorded values per step)"
        )
    else:
        need = batch * steps * VALUE_BYTES * recorded + working_set
        what = (
            f"a run of {batch} sample(s) x {steps} steps ({recorded} recorded values per step, "
            f"and a working set of {format_bytes(working_set)})"
        )
    check_bytes(need, what)
