"""Running a compiled program to measure what it costs: every population's spikes go to
`compiler.cost` (which counts them), batch after batch, alongside the accuracy.

`CostRecorder` plugs into an evaluation loop (`snnc eval`): it says what to probe and counts
each batch's spikes. `cost_vs_steps` measures accuracy and cost at several T on one dataset
split (`snnc report --steps`, benchmarks/cost.py): for prefix encoders one run at the largest T
gives every smaller T (trainers.encoders.PREFIX_ENCODERS), otherwise one run per T.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backends.base import Probe, Trace
from compiler.cost import CostCounter, summarize
from compiler.reporting.data import CostPoint
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input
from ir.progress import progress

__all__ = ["CostPoint", "CostRecorder", "cost_vs_steps", "population_spikes", "probe_all"]


def probe_all(program: Graph, extra: Sequence[Probe] = ()) -> tuple[Probe, ...]:
    """Spikes of every neuron population, plus what `extra` probes ask for."""
    more = {p.population: p.variables for p in extra}
    return tuple(
        Probe(name, tuple(dict.fromkeys(("spikes", *more.get(name, ())))))
        for name, pop in program.populations.items()
        if not isinstance(pop, Input)
    )


def population_spikes(program: Graph, inputs: np.ndarray, trace: Trace) -> dict[str, np.ndarray]:
    """Spikes of every population of a run: input populations' from `inputs` (batch, T,
    n_inputs), the others from `trace` (which must have probed them)."""
    out: dict[str, np.ndarray] = {}
    start = 0
    for name in program.inputs:
        size = program.populations[name].size
        out[name] = np.asarray(inputs[:, : trace.steps, start : start + size])
        start += size
    for name, pop in program.populations.items():
        if not isinstance(pop, Input):
            out[name] = trace.get(name, "spikes")
    return out


class CostRecorder:
    """Counts the cost of a placed program over the batches of an evaluation."""

    def __init__(self, program: Graph, hw: HardwareSpec) -> None:
        self.program, self.hw = program, hw
        self.counter = CostCounter(program, hw)

    def probes(self, extra: Sequence[Probe] = ()) -> tuple[Probe, ...]:
        return probe_all(self.program, extra)

    def add(self, inputs: np.ndarray, trace: Trace) -> None:
        self.counter.add(population_spikes(self.program, inputs, trace))

    def summary(self) -> dict[str, Any]:
        return summarize(self.program, self.hw, self.counter.result())


def _prefix(trace: Trace, t: int) -> Trace:
    return Trace(trace.backend, t, trace.batch,
                 {p: {v: a[:, :t] for v, a in d.items()} for p, d in trace.data.items()})


def cost_vs_steps(
    program: Graph,
    hw: HardwareSpec,
    x: np.ndarray,
    y: np.ndarray | None,
    encoding: Mapping[str, Any],
    readout: Mapping[str, Any] | None,
    steps: Sequence[int],
    seed: int,
    batch_size: int = 128,
    backend: str = "cpu",
) -> list[CostPoint]:
    """Accuracy (with labels and a spike-count readout) and cost after each T in `steps`;
    sample i is encoded with `first_index=i`, as `snnc eval` does."""
    from backends import get_backend
    from trainers.encoders import PREFIX_ENCODERS, encode
    from trainers.readout import classify, readout_probes

    steps = sorted(set(steps))
    runs = (
        {max(steps): steps} if encoding.get("kind") in PREFIX_ENCODERS else {t: [t] for t in steps}
    )
    extra = readout_probes(readout) if readout is not None else ()
    counters = {t: CostCounter(program, hw) for t in steps}
    correct = dict.fromkeys(steps, 0)
    simulate = get_backend(backend)
    starts = range(0, len(x), batch_size)
    for lo in progress(starts, f"cost vs T ({backend})", total=len(starts)):
        xb = x[lo : lo + batch_size]
        for t_run, read_at in runs.items():
            spikes = encode(encoding, xb, t_run, seed, first_index=lo)
            trace = simulate(program, spikes, steps=t_run, probes=probe_all(program, extra), hw=hw)
            for t in read_at:
                prefix = _prefix(trace, t)
                counters[t].add(population_spikes(program, spikes, prefix))
                if readout is not None and y is not None:
                    correct[t] += int(np.sum(classify(readout, prefix) == y[lo : lo + batch_size]))
    labelled = readout is not None and y is not None and len(x) > 0
    return [
        CostPoint(
            steps=t,
            accuracy=correct[t] / len(x) if labelled else None,
            samples=len(x),
            cost=summarize(program, hw, counters[t].result()),
        )
        for t in steps
    ]
