"""What a deployment costs: operation counts of a placed program's run, NeuroBench's metrics,
and energy and time per inference from the target's cost model.

Pure functions of (program, placement, hardware spec, recorded spikes); running the program to
record the spikes is the application layer's job (`app.cost`), since the compiler does not
import backends.
"""

from compiler.cost.counts import MESSAGE_KINDS, CostCounter, CostCounts, neuron_updates_per_step
from compiler.cost.estimate import CostEstimate, estimate
from compiler.cost.neurobench import (
    activation_sparsity,
    connection_sparsity,
    dense_synaptic_ops_per_step,
    footprint_bytes,
    neurobench_metrics,
)
from compiler.cost.summary import format_cost, summarize

__all__ = [
    "MESSAGE_KINDS",
    "CostCounter",
    "CostCounts",
    "CostEstimate",
    "activation_sparsity",
    "connection_sparsity",
    "count_spikes",
    "dense_synaptic_ops_per_step",
    "estimate",
    "footprint_bytes",
    "format_cost",
    "neurobench_metrics",
    "neuron_updates_per_step",
    "summarize",
]


def count_spikes(program, hw, spikes) -> CostCounts:
    """The counts of one recorded run: `spikes[pop]` (batch, T, n) for every population."""
    counter = CostCounter(program, hw)
    counter.add(spikes)
    return counter.result()
