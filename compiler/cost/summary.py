"""The cost of a counted run as JSON-ready data (what `snnc eval --json` puts under `cost`,
and `snnc report` shows), and as text."""

from __future__ import annotations

from typing import Any

from compiler.cost.counts import HOP_KINDS, MESSAGE_KINDS, CostCounts
from compiler.cost.estimate import estimate, message_energy_pj
from compiler.cost.neurobench import neurobench_metrics
from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = ["format_cost", "summarize"]

_PER_CORE = ("spikes", "synaptic_ops", "neuron_updates", "messages_out", "messages_in")


def summarize(graph: Graph, hw: HardwareSpec, counts: CostCounts) -> dict[str, Any]:
    """Counts per inference (averaged over samples), per population and per core, the
    NeuroBench metrics, and the energy and time estimate (or why there is none)."""
    n = max(counts.samples, 1)
    placement = graph.placement
    assert placement is not None
    per_pop = {
        name: {k: (v if k == "neurons" else v / n) for k, v in row.items()}
        for name, row in counts.per_population.items()
    }
    rows = counts.per_population.values()
    keys = [k for k in (*MESSAGE_KINDS, *HOP_KINDS) if any(k in r for r in rows)]
    per_inference: dict[str, Any] = {
        "spikes": counts.total("spikes", graph) / n,
        "input_events": sum(counts.per_population[i]["spikes"] for i in graph.inputs) / n,
        "synaptic_ops": counts.total("synaptic_ops", graph) / n,
        "neuron_updates": counts.total("neuron_updates", graph) / n,
        "messages": {k: counts.total(k, graph) / n for k in keys if k in MESSAGE_KINDS},
        "hops": {k: counts.total(k, graph) / n for k in keys if k in HOP_KINDS},
    }
    per_core = []
    for c in range(placement.n_cores):
        row: dict[str, Any] = {
            "core": c,
            "chip": int(placement.core_chip[c]),
            "neurons": int(counts.per_core["neurons"][c]),
        }
        row.update({k: int(counts.per_core[k][c]) / n for k in _PER_CORE})
        if hw.cost is not None:
            sent = {k: int(counts.per_core[f"{k}_out"][c]) for k in HOP_KINDS}
            sent["messages"] = int(counts.per_core["messages_out"][c])
            row["message_energy_j"] = message_energy_pj(sent, hw.cost) * 1e-12 / n
        per_core.append(row)
    est = estimate(counts, graph, hw)
    return {
        "target": hw.name,
        "samples": counts.samples,
        "steps": counts.steps,
        "per_inference": per_inference,
        "per_population": per_pop,
        "per_core": per_core,
        "neurobench": neurobench_metrics(graph, hw, counts),
        "estimate": est.to_json() if est is not None else {
            "available": False,
            "reason": f"the hardware config of target {hw.name!r} has no cost section "
                      "(see `snnc hw show loihi2`)",
        },
    }


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def format_cost(summary: dict[str, Any]) -> list[str]:
    """A few lines for a terminal: counts and the estimate per inference."""
    p = summary["per_inference"]
    m, h = p["messages"], p["hops"]
    tiles = (f", {h['tile_hops_east_west']:.6g} E-W + {h['tile_hops_north_south']:.6g} N-S "
             "tile hops" if "tile_hops_east_west" in h else "")
    nb = summary["neurobench"]
    lines = [
        f"cost      per inference (T = {summary['steps']}, {summary['samples']} samples, "
        f"target {summary['target']}):",
        f"          {p['spikes']:.6g} spikes, {p['synaptic_ops']:.6g} synaptic ops, "
        f"{p['neuron_updates']:.6g} neuron updates",
        f"          messages: {m['intra_core']:.6g} within cores, {m['inter_core']:.6g} between "
        f"cores ({m['inter_chip']:.6g} between chips, {h['chip_hops']:.6g} chip hops{tiles}), "
        f"{m['host_input']:.6g} from the host",
        f"          NeuroBench: {nb['effective_acs']:.6g} effective ACs, "
        f"{nb['effective_macs']:.6g} MACs, activation sparsity {nb['activation_sparsity']:.4f}, "
        f"connection sparsity {nb['connection_sparsity']:.4f}, "
        f"footprint {nb['footprint_bytes']:.0f} bytes",
    ]
    est = summary["estimate"]
    if est["available"]:
        e, t = est["energy_per_inference_j"], est["time_per_inference_s"]
        n_est = len(est["estimated_keys"])
        lines.append(
            f"          estimate: {_si(e['total'], 'J')} (synaptic {_si(e['synaptic_ops'], 'J')}, "
            f"neurons {_si(e['neuron_updates'], 'J')}, messages {_si(e['messages'], 'J')}), "
            f"{_si(t['total'], 's')} ({_si(est['time_per_step_s']['mean'], 's')} per step)"
            + (f"; {n_est} cost-model numbers are estimates (snnc hw show)" if n_est else "")
        )
    else:
        lines.append(f"          estimate: unavailable: {est['reason']}")
    return lines
