"""Energy and time per inference from operation counts and the target's cost model.

With the numbers of `hw.cost` (`ir.cost_model`; e_ for energies, t_ for times):

    E_message(m) = e_spike_within_tile + dx(m) e_tile_hop_east_west + dy(m) e_tile_hop_north_south
                   + h(m) e_chip_hop
    E_inference  = [N_syn e_synaptic_op + N_upd e_neuron_update + sum over messages E_message]
                   / samples

    T_step       = T_barrier + max over cores c of (U_c t_neuron_update + S_c(step) t_synaptic_op)
                   + max over the step's messages of L(m)
    L(m)         = t_spike_within_tile + dx(m) t_tile_hop_east_west + dy(m) t_tile_hop_north_south
                   + h(m) t_chip_hop
    T_inference  = sum of T_step over the run's steps (averaged over samples)

dx, dy: tile hops between the two cores on one chip (east-west, north-south); h: chip hops
(0 on one chip; a message between chips counts chip hops only). U_c: neuron updates of core c
per step; S_c(step): synaptic ops on core c caused by the spikes sent in that step (Loihi
accumulates them in the step they are sent). T_barrier: `barrier_multi_chip` when the program
spans chips, else interpolated linearly between `barrier_one_tile` and `barrier_full_chip` by
the tiles it spans. Cores work in parallel: the busiest one and the slowest message bound the
step, and the barrier ends it. Messages from the host (input spikes) are counted but not
priced, and static (leakage) power is not modelled: E is dynamic energy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.cost.counts import HOP_KINDS, ChipLayout, CostCounts, barrier_ns
from ir.cost_model import CostModel
from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = ["CostEstimate", "estimate", "message_energy_pj"]


def _barrier_ns(graph: Graph, hw: HardwareSpec) -> float:
    """The barrier of one step of `graph`'s placement (`compiler.cost.counts.barrier_ns`)."""
    assert graph.placement is not None
    return barrier_ns(hw, ChipLayout.of(graph.placement.core_chip, hw))


@dataclass(frozen=True)
class CostEstimate:
    """Per inference: energy in joules by part, time in seconds by term; the step times."""

    energy_j: dict[str, float]
    time_s: dict[str, float]
    step_time_s: dict[str, float]
    estimated_keys: tuple[str, ...]
    """Keys of the cost model used that are marked `estimate`."""

    def to_json(self) -> dict[str, Any]:
        return {
            "available": True,
            "energy_per_inference_j": self.energy_j,
            "time_per_inference_s": self.time_s,
            "time_per_step_s": self.step_time_s,
            "estimated_keys": list(self.estimated_keys),
        }


def message_energy_pj(counts: Mapping[str, Any], cost: CostModel) -> float:
    """Energy of messages from their counts: `messages` and the HOP_KINDS counts."""
    e = cost.energy_pj
    messages = counts["messages"]
    return (
        messages * e.spike_within_tile.value
        + counts["tile_hops_east_west"] * e.tile_hop_east_west.value
        + counts["tile_hops_north_south"] * e.tile_hop_north_south.value
        + counts["chip_hops"] * e.chip_hop.value
    )


def estimate(counts: CostCounts, graph: Graph, hw: HardwareSpec) -> CostEstimate | None:
    """The estimate of a counted run, or None when `hw` has no cost model."""
    cost = hw.cost
    if cost is None or counts.timing is None:
        return None
    n = max(counts.samples, 1)
    e, t = cost.energy_pj, cost.time_ns
    sent = {k: counts.total(k, graph) for k in ("intra_core", "inter_core", *HOP_KINDS)}
    sent["messages"] = sent["intra_core"] + sent["inter_core"]
    parts = {
        "synaptic_ops": counts.total("synaptic_ops", graph) * e.synaptic_op.value,
        "neuron_updates": counts.total("neuron_updates", graph) * e.neuron_update.value,
        "messages": message_energy_pj(sent, cost),
    }
    energy = {k: v * 1e-12 / n for k, v in parts.items()}
    energy["total"] = sum(energy.values())
    tm = counts.timing
    rows = n * counts.steps
    barrier = rows * _barrier_ns(graph, hw)
    work = (tm["busy_updates"] * t.neuron_update.value
            + tm["busy_synaptic_ops"] * t.synaptic_op.value)
    latency = sum(v * k for v, k in sorted(tm["latency_rows"].items()))
    total = barrier + work + latency
    time = {
        "total": total * 1e-9 / n,
        "barrier": barrier * 1e-9 / n,
        "core_work": work * 1e-9 / n,
        "message_latency": latency * 1e-9 / n,
    }
    steps = {"mean": total * 1e-9 / max(rows, 1), "max": tm["max_step_ns"] * 1e-9}
    keys = tuple(v.key for v in cost.values() if v.estimate)
    return CostEstimate(energy, time, steps, keys)
