"""Partition: cut every population into blocks and pack the blocks onto cores, within every
per-core limit of the hardware config (what each limit counts: `ir.resources`).

Objective, in order: fewest cores; least estimated inter-core spike traffic. The pass packs
populations in topological order onto cores filled one after another (a core may hold blocks of
several populations up to `core.max_populations`); each block is the longest run of the
population's neurons, in a chosen *order*, that still fits what is left of the core, found by
interpolation search on exactly counted resources (never per-synapse Python loops). The order is
what differs between candidates, and the pass keeps the best:

- `sequential`: neurons in index order (the naive split: NengoLoihi's default fills cores in
  layer order the same way); always computed, it is the baseline the report compares against.
- `tiles`: (C, H, W) populations in spatial tiles: strips `tw` columns wide, all channels of a
  position together, so a block is a compact patch and a presynaptic neuron reaches few cores.
- `metis`: METIS (pymetis) partitions, population by population, the graph of its incoming
  synapses (weighted by source rates) into as many parts as cores it needs, and orders the
  parts after their sources upstream (`Network.metis_orders`). Tried on networks with sparse
  projections (the only connectivity whose structure index order can hide; on dense and conv
  layers it never beat the orders above in benchmarks/partition.py) up to `metis_max_synapses`.

Output axons depend on where the *destinations* go. Packing runs from the last layer back, so a
neuron's routes to populations already packed are counted exactly; routes of recurrent and
backward projections are estimated, and the pass repacks with the counted routes while any core
is over `core.max_output_axons`.

Requires: a fixed-point graph (quantized). Ensures: a placement in which every neuron of every
non-input population is in exactly one block, no core is over any limit, cores on chips in
order (`place` then optimizes chips); same graph and config, same placement.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from compiler.passes.base import PassContext
from compiler.passes.mixing import mix
from compiler.passes.packing import Candidate, Network, rounded
from ir.errors import CapacityError, InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.placement import Placement
from ir.resources import RESOURCES, Accounting, core_limits, lower_bound, resource_label
from ir.traffic import traffic, uniform_rates

__all__ = ["METHODS", "PartitionPass", "calibration_rates", "cut_populations", "placement_chips"]

METHODS: tuple[str, ...] = ("auto", "sequential", "tiles", "metis")


@dataclass(frozen=True)
class PartitionPass:
    """Split populations into blocks on cores (module docstring).

    Requires: fixed-point graph. Ensures: placement within every per-core limit.
    """

    name: ClassVar[str] = "partition"
    method: str = "auto"
    """auto: every applicable candidate, keep the best; or force sequential, tiles or metis."""
    metis_max_synapses: int = 16_000_000
    """Largest network (synapses) on which METIS is tried."""
    mix_max_synapses: int = 16_000_000
    """Largest network (synapses) on which populations are mixed on shared cores
    (`compiler.passes.mixing`) when the best packing is above the lower bound."""

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        if self.method not in METHODS:
            raise InputError(
                f"partition: unknown method {self.method!r}; choose from {', '.join(METHODS)}"
            )
        if graph.domain == "float" and graph.projections:
            raise InputError("partition: the graph is not quantized; run the quantize pass first")
        hw = ctx.hw
        net = Network(
            graph,
            hw,
            calibration_rates(graph, ctx.calibration),
            rate_source(graph, ctx.calibration),
        )
        bound, demand = lower_bound(graph, hw, net.fanins)
        candidates, orders = self._candidates(net, ctx.seed)
        if self.method == "auto":
            best = min(candidates, key=_preference)
            if best.n_cores > bound and net.n_synapses <= self.mix_max_synapses:
                mixed = mix(net, best, orders[best.method], bound, rank=len(candidates))
                if mixed is not None:
                    candidates.append(mixed)
                    best = min(candidates, key=_preference)
        else:
            best = next(c for c in candidates if c.method == self.method)
        # CapacityError when the system has too few cores, naming the resource that forced them
        placement_chips(best.n_cores, hw, binding_resource(best.acc, hw, demand))
        placement = best.placement
        naive = candidates[0]
        naive_chips = np.arange(naive.n_cores, dtype=np.int64) // hw.chip.cores_per_chip.value
        naive_traffic = traffic(
            graph, naive.acc, net.rates, naive_chips, hw.system.mesh_columns.value
        )
        # Top-level report keys (DESIGN.md: BUILD/report.json) plus this pass's details.
        ctx.reports[self.name] = {
            "cores_used": best.n_cores,
            "cores_lower_bound": bound,
            "naive_sequential": {"cores_used": naive.n_cores, "traffic": rounded(naive_traffic)},
            "partition": {
                "method": best.method,
                "demand": demand,
                "rates": net.rate_source,
                "candidates": [c.summary() for c in candidates],
                "seed": ctx.seed,
                # Kept on one core so that no projection from them needs to be made exact.
                "kept_whole": sorted(
                    n for n in net.keep_whole - cut_populations(placement) if n in net.order
                ),
            },
        }
        return graph.replace(placement=placement)

    def _candidates(
        self, net: Network, seed: int
    ) -> tuple[list[Candidate], dict[str, dict[str, np.ndarray]]]:
        """The sequential baseline first, then the other orders that apply (or the forced one);
        and each method's orders."""
        auto = self.method == "auto"
        orders = {"sequential": net.natural_orders()}
        if self.method == "tiles" or (auto and net.has_spatial()):
            orders["tiles"] = net.tile_orders()
        if self.method == "metis" or (
            auto and net.has_sparse() and net.n_synapses <= self.metis_max_synapses
        ):
            orders["metis"] = net.metis_orders(seed)
        return [net.candidate(m, o, rank=k) for k, (m, o) in enumerate(orders.items())], orders


def calibration_rates(graph: Graph, calibration: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Measured firing rates from `calibration["rates"]` ({population: per-neuron spikes per
    step}), checked; populations without rates get 1 spike per step. None without rates."""
    rates = calibration.get("rates") if calibration else None
    if rates is None:
        return None
    out = uniform_rates(graph)
    for name, given in rates.items():
        pop = graph.populations.get(name)
        if pop is None:
            raise InputError(f"calibration rates: {name!r} is not a population of the graph")
        arr = np.asarray(given, dtype=np.float64).reshape(-1)
        if arr.size != pop.size:
            raise InputError(
                f"calibration rates: population {name!r} has {arr.size} rates, expected {pop.size}"
            )
        if not np.all(np.isfinite(arr)) or arr.min(initial=0) < 0:
            raise InputError(
                f"calibration rates: population {name!r} has negative or non-finite rates"
            )
        out[name] = arr
    return out


def rate_source(graph: Graph, calibration: dict[str, Any]) -> str:
    """How traffic is weighted, for the report."""
    rates = calibration.get("rates") if calibration else None
    if rates is None:
        return "fan-out counts (1 spike per step per neuron)"
    if set(rates) >= set(graph.populations):
        return "calibration"
    return (
        f"calibration ({len(rates)} of {len(graph.populations)} populations; "
        "1 spike per step for the rest)"
    )


def cut_populations(placement: Placement) -> set[str]:
    """Populations placed as more than one block."""
    return {pop for pop, k in Counter(b.population for b in placement.blocks).items() if k > 1}


def binding_resource(acc: Accounting, hw: HardwareSpec, demand: dict[str, int]) -> str:
    """Which per-core resource forced the cores of a placement, in words.

    Where one resource's total demand alone needs more cores than the system has (its term of
    `lower_bound`: ceil(total / per-core limit)), that resource is named and the failure is
    proven for every placement. Otherwise no single total exceeds the system and the packing
    needs the cores: the resource closest to its limit on the most cores of this placement is
    named (ties: the larger mean fill), with its fill and its own lower-bound term."""
    limits = core_limits(hw)
    fill = {r: acc.usage[r] / max(limits[r].value, 1) for r in RESOURCES if r in acc.usage}
    if not fill or acc.n_cores == 0:
        return ""
    names = list(fill)
    top = np.argmax(np.stack([fill[r] for r in names]), axis=0)
    counts = dict(zip(names, np.bincount(top, minlength=len(names)).tolist(), strict=True))
    alone = {r: -(-demand.get(r, 0) // max(limits[r].value, 1)) for r in names}
    have = hw.chip.cores_per_chip.value * hw.system.max_chips.value
    forced = max(names, key=lambda r: (alone[r], counts[r]))
    if alone[forced] > have:
        return (
            f"the binding resource is {resource_label(forced)} ({limits[forced].key}): its total, "
            f"{demand[forced]}, alone needs at least {alone[forced]} cores whatever the placement"
        )
    name = max(names, key=lambda r: (counts[r], float(fill[r].mean())))
    return (
        f"the binding resource is {resource_label(name)} ({limits[name].key}: the fullest on "
        f"{counts[name]} of {acc.n_cores} cores, {100 * float(fill[name].mean()):.0f}% of the "
        f"limit on average; its total alone needs at least {alone[name]} of the {have} cores "
        f"the system has: this packing needs {acc.n_cores})"
    )


def placement_chips(n_cores: int, hw: HardwareSpec, why: str = "") -> np.ndarray:
    """Cores on chips in order, `chip.cores_per_chip` to a chip (what `place` starts from).
    `why`: what made the placement need `n_cores` (`binding_resource`), for the error."""
    per_chip = hw.chip.cores_per_chip.value
    need = math.ceil(n_cores / per_chip)
    have = hw.system.max_chips.value
    if need > have:
        total = per_chip * have
        chips = (
            f"{need} chip{'s' if need != 1 else ''} of "
            f"{per_chip} core{'s' if per_chip != 1 else ''}"
        )
        raise CapacityError(
            "network",
            "cores",
            n_cores,
            total,
            f"{hw.source_file}: chip.cores_per_chip x system.max_chips",
            hint=f"{why}; {chips} would be needed" if why else f"{chips} would be needed",
        )
    return np.arange(n_cores, dtype=np.int64) // hw.chip.cores_per_chip.value


def _preference(c: Candidate) -> tuple:
    """Fewest cores, then least inter-core traffic, then the earlier candidate."""
    return (c.n_cores, round(c.traffic["inter_core"], 6), c.rank)
