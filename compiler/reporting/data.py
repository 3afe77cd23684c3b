"""What `snnc report` draws, as plain data: recorded activity, accuracy curves, and the traffic
of a placed program broken down by source population and by core pair.

Nothing here runs a backend (the compiler does not import backends): the application layer
(`app/activity.py`, `app/cost.py`) runs the program and hands the results over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.resources import Accounting, account
from ir.traffic import core_traffic_matrix, traffic, uniform_rates

__all__ = [
    "Activity",
    "AccuracyCurve",
    "CostPoint",
    "TrafficBreakdown",
    "measured_rates",
    "traffic_breakdown",
]


@dataclass(frozen=True, eq=False)
class Activity:
    """Spikes of every population (inputs included) from one run of a few samples.

    `spikes[pop]` is (batch, T, n) uint8. `labels` and `predictions` are per sample, when the
    samples come from a labelled dataset and the model has a spike-count readout. `source` says
    where the inputs came from, in words (shown in captions)."""

    spikes: Mapping[str, np.ndarray]
    source: str
    backend: str
    labels: np.ndarray | None = None
    predictions: np.ndarray | None = None

    @property
    def batch(self) -> int:
        return int(next(iter(self.spikes.values())).shape[0])

    @property
    def steps(self) -> int:
        return int(next(iter(self.spikes.values())).shape[1])


@dataclass(frozen=True)
class AccuracyCurve:
    """Accuracy on `samples` samples of `dataset`/`split` after t steps, for each t in `steps`
    (one curve per backend: float model, deployed program)."""

    label: str
    backend: str
    steps: tuple[int, ...]
    accuracy: tuple[float, ...]
    samples: int
    dataset: str
    split: str
    seed: int

    def at(self, t: int) -> float | None:
        """Accuracy after exactly t steps, if measured."""
        return self.accuracy[self.steps.index(t)] if t in self.steps else None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "backend": self.backend,
            "dataset": self.dataset,
            "split": self.split,
            "samples": self.samples,
            "seed": self.seed,
            "steps": list(self.steps),
            "accuracy": [round(a, 6) for a in self.accuracy],
        }


@dataclass(frozen=True)
class CostPoint:
    """What a program costs run for `steps` steps (`compiler.cost.summarize`), with its
    accuracy on the same samples (None without labels or a spike-count readout)."""

    steps: int
    accuracy: float | None
    samples: int
    cost: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "accuracy": self.accuracy, "samples": self.samples,
                "cost": dict(self.cost)}


@dataclass(frozen=True, eq=False)
class TrafficBreakdown:
    """Estimated spikes per step of a placed program.

    `per_source[pop]` has the keys of `ir.traffic.traffic` (intra_core, inter_core, inter_chip,
    host_input) for the routes leaving that population; `pairs` is the core-to-core traffic as
    COO (src core, dst core, spikes per step), src != dst; `rates` says how the per-neuron
    rates were obtained."""

    per_source: dict[str, dict[str, float]]
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]
    core_chip: np.ndarray
    rates: str
    totals: dict[str, float] = field(default_factory=dict)

    @property
    def n_cores(self) -> int:
        return int(self.core_chip.size)


def measured_rates(activity: Activity) -> dict[str, np.ndarray]:
    """Per neuron: spikes per step, averaged over the samples and steps of `activity`."""
    return {
        pop: (s != 0).reshape(-1, s.shape[-1]).mean(axis=0) for pop, s in activity.spikes.items()
    }


def traffic_breakdown(
    program: Graph,
    hw: HardwareSpec,
    rates: Mapping[str, np.ndarray] | None = None,
    rates_label: str | None = None,
) -> TrafficBreakdown:
    """Traffic of the program's placement with the given per-neuron rates (default: one spike
    per step per neuron, the compile report's fan-out counts)."""
    placement = program.placement
    if placement is None:
        raise ValueError("traffic_breakdown needs a placed program")
    if rates is None:
        rates, rates_label = uniform_rates(program), "fan-out counts (1 spike per step per neuron)"
    acc = account(program, hw)
    mesh = hw.system.mesh_columns.value
    per_source = {}
    for pop in program.populations:
        if pop not in acc.routes:
            continue
        only = Accounting(
            usage=acc.usage, routes={pop: acc.routes[pop]}, core_of=acc.core_of, n_cores=acc.n_cores
        )
        per_source[pop] = traffic(program, only, rates, placement.core_chip, mesh)
    totals = traffic(program, acc, rates, placement.core_chip, mesh)
    return TrafficBreakdown(
        per_source=per_source,
        pairs=core_traffic_matrix(acc, rates),
        core_chip=np.asarray(placement.core_chip),
        rates=rates_label or "given rates",
        totals=totals,
    )
