"""Per-core resource accounting: what a placed program uses of every per-core limit.

A pure function of (graph, placement, hardware spec), shared by `ir.verify`, the partition and
place passes and the compile report, so that all three count the same thing. What each resource
counts (cores hold blocks; input populations are fed by the host and sit on no core):

- **neurons**: neurons of the blocks on the core (`core.max_neurons`).
- **input axons**: distinct (projection, presynaptic neuron) pairs with at least one synapse onto
  a neuron of the core; presynaptic neurons of any population count, inputs included
  (`core.max_input_axons`). An axon belongs to one projection because each projection has its
  own synapse format (num_weight_bits, sign mode, weight_exp, delays), and a core stores one
  format per synapse list; the same neuron feeding a core through two projections uses two axons.
- **output axons**: distinct (source neuron on the core, destination core) routes, the
  destination being any core (its own included: on Loihi a spike reaches even neurons of its
  own core through the axon table) holding a neuron the source has a synapse onto
  (`core.max_output_axons`). The receiving core fans one route out to the input axons of every
  projection it serves. Spikes leaving to the host (output probes) use no output axon.
- **synapse memory**: the sum over the core's input axons of
  `SynapseMemorySpec.axon_bits(synapses of that axon onto the core, weight bits of its
  projection)` (`core.synapse_memory_bits`).
- **populations**: neuron configurations on the core (`core.max_populations`): one per
  parameter group (`ir.nodes.parameter_groups`: neurons whose per-process registers agree, e.g.
  LIF du, dv, vth) of each population with neurons on the core. A population whose neurons
  share their registers counts one.

Which synapses each projection has, and how many bits each stores: `ir.connectivity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.connectivity import Fanin, graph_fanins
from ir.graph import Graph
from ir.hardware import HardwareSpec, Limit, SynapseMemorySpec
from ir.nodes import Input, Population, parameter_groups
from ir.placement import Placement

__all__ = [
    "RESOURCES",
    "Accounting",
    "account",
    "axon_bits",
    "core_limits",
    "first_violation",
    "group_labels",
    "lower_bound",
    "resource_label",
]

RESOURCES: tuple[str, ...] = (
    "neurons",
    "input_axons",
    "output_axons",
    "synapse_memory_bits",
    "populations",
)
_LABEL = {
    "neurons": "neurons",
    "input_axons": "input axons",
    "output_axons": "output axons",
    "synapse_memory_bits": "synapse memory bits",
    "populations": "populations",
}


def core_limits(hw: HardwareSpec) -> dict[str, Limit]:
    """The per-core limit of every resource, with its YAML key."""
    return {
        "neurons": hw.core.max_neurons,
        "input_axons": hw.core.max_input_axons,
        "output_axons": hw.core.max_output_axons,
        "synapse_memory_bits": hw.core.synapse_memory_bits,
        "populations": hw.core.max_populations,
    }


def resource_label(resource: str) -> str:
    return _LABEL[resource]


def axon_bits(counts: np.ndarray, weight_bits: int, smem: SynapseMemorySpec) -> np.ndarray:
    """`SynapseMemorySpec.axon_bits` over an array of per-axon synapse counts."""
    counts = np.asarray(counts, dtype=np.int64)
    raw = counts * (weight_bits + smem.synapse_overhead_bits.value) + smem.axon_overhead_bits.value
    word = smem.word_bits.value
    return word * -(-raw // word)


# --------------------------------------------------------------------------- accounting


@dataclass
class Accounting:
    """Use of every resource per core, and the spike routes of the placement.

    `usage[resource]` is an (n_cores,) int64 array. `routes[src_pop]` is (source neuron, core)
    pairs, distinct: every core each neuron of `src_pop` must send its spikes to.
    `core_of[pop]` is the core of every neuron of each placed population.
    """

    usage: dict[str, np.ndarray]
    routes: dict[str, tuple[np.ndarray, np.ndarray]]
    core_of: dict[str, np.ndarray]
    n_cores: int


def group_labels(pop: Population) -> np.ndarray | None:
    """Per neuron, the index of its parameter group; None when the population is one group."""
    groups = parameter_groups(pop)
    if len(groups) == 1:
        return None
    label = np.empty(pop.size, dtype=np.int64)
    for k, idx in enumerate(groups):
        label[idx] = k
    return label


def _groups(placement: Placement) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Per population: (core, sorted neuron indices of all its blocks on that core)."""
    by_key: dict[tuple[str, int], list[np.ndarray]] = {}
    for b in placement.blocks:
        by_key.setdefault((b.population, b.core), []).append(b.neurons)
    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    for (pop, core), parts in sorted(by_key.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        idx = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))
        out.setdefault(pop, []).append((core, idx))
    return out


# The last accounting, keyed by the identity of its (immutable) inputs: the partition pass, the
# verifier after it and the place pass count the same placement of the same nodes.
_MEMO: list[tuple[tuple[Any, ...], tuple[Any, ...], Accounting]] = []


def account(
    graph: Graph,
    hw: HardwareSpec,
    placement: Placement | None = None,
    fanins: Mapping[str, Fanin] | None = None,
    sources: Mapping[tuple[str, int], tuple[np.ndarray, np.ndarray]] | None = None,
) -> Accounting:
    """Count every resource of every core of `placement` (default: the graph's).

    `sources[(projection, core)]`, when given, is `Fanin.source_counts` of the projection's
    destination neurons on that core, already computed by the caller (the partitioner has them).
    """
    placement = placement if placement is not None else graph.placement
    if placement is None:
        raise ValueError("account() needs a placed graph")
    nodes = (*graph.populations.items(), *graph.projections.items())
    key = (nodes, hw, placement.n_cores)
    for memo_key, blocks, result in _MEMO:
        if blocks is placement.blocks and _same(memo_key, key):
            return result
    result = _account(graph, hw, placement, fanins, sources or {})
    for arr in result.usage.values():
        arr.setflags(write=False)
    _MEMO[:] = [(key, placement.blocks, result)]
    return result


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    (nodes_a, hw_a, n_a), (nodes_b, hw_b, n_b) = a, b
    return (
        hw_a is hw_b
        and n_a == n_b
        and len(nodes_a) == len(nodes_b)
        and all(x[0] == y[0] and x[1] is y[1] for x, y in zip(nodes_a, nodes_b, strict=True))
    )


def _account(
    graph: Graph,
    hw: HardwareSpec,
    placement: Placement,
    fanins: Mapping[str, Fanin] | None,
    sources: Mapping[tuple[str, int], tuple[np.ndarray, np.ndarray]],
) -> Accounting:
    n_cores = placement.n_cores
    usage = {r: np.zeros(n_cores, dtype=np.int64) for r in RESOURCES}
    groups = _groups(placement)
    core_of: dict[str, np.ndarray] = {}
    for pop, items in groups.items():
        cores = np.full(graph.populations[pop].size, -1, dtype=np.int64)
        label = group_labels(graph.populations[pop])
        for core, idx in items:
            cores[idx] = core
            usage["neurons"][core] += idx.size
            usage["populations"][core] += 1 if label is None else int(np.unique(label[idx]).size)
        core_of[pop] = cores
    fanins = fanins if fanins is not None else graph_fanins(graph, hw)
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    feeds: dict[str, int] = {}
    for name, proj in graph.projections.items():
        fan = fanins[name]
        feeds[proj.src] = feeds.get(proj.src, 0) + 1
        for core, idx in groups.get(proj.dst, ()):
            known = sources.get((name, core))
            ids, counts = known if known is not None else fan.source_counts(idx)
            usage["input_axons"][core] += ids.size
            usage["synapse_memory_bits"][core] += int(
                axon_bits(counts, fan.weight_bits, hw.synapse_memory).sum()
            )
            pairs.setdefault(proj.src, []).append((ids, np.full(ids.size, core, dtype=np.int64)))
    routes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for src_pop, items in pairs.items():
        neurons = np.concatenate([a for a, _ in items])
        cores = np.concatenate([c for _, c in items])
        if feeds[src_pop] > 1:
            # Two projections from one population may reach the same core: one route.
            key = np.unique(neurons * n_cores + cores)
            neurons, cores = key // n_cores, key % n_cores
        routes[src_pop] = (neurons, cores)
        if src_pop in core_of:
            home = core_of[src_pop][routes[src_pop][0]]
            usage["output_axons"] += np.bincount(home, minlength=n_cores)
    return Accounting(usage=usage, routes=routes, core_of=core_of, n_cores=n_cores)


def first_violation(
    usage: Mapping[str, np.ndarray], hw: HardwareSpec
) -> tuple[int, str, int, Limit] | None:
    """(core, resource, need, limit) of the first core over a limit, in core order; or None."""
    limits = core_limits(hw)
    n_cores = next(iter(usage.values())).size if usage else 0
    over = np.zeros(n_cores, dtype=bool)
    for r in RESOURCES:
        over |= usage[r] > limits[r].value
    if not over.any():
        return None
    core = int(np.argmax(over))
    for r in RESOURCES:
        if usage[r][core] > limits[r].value:
            return core, r, int(usage[r][core]), limits[r]
    return None


# --------------------------------------------------------------------------- bounds


def lower_bound(
    graph: Graph, hw: HardwareSpec, fanins: Mapping[str, Fanin] | None = None
) -> tuple[int, dict[str, int]]:
    """Fewest cores any placement can use: max over resources of ceil(total demand / capacity).

    Demands that no placement can go below. A core holds at most N_d neurons of population d:
    N_d = min(max_neurons, floor(synapse_memory_bits / m_d)), where m_d is the fewest synapse
    bits a neuron of d needs (its incoming synapses times their bits each; axon overheads only
    add to that). A source neuron i whose projection p reaches f_pi distinct destination
    neurons of d reaches them on at least c_pi = ceil(f_pi / N_d) cores. Then, over every
    placement:
    - input axons: each (projection, destination core) needs one per source neuron with a
      synapse there: at least sum over p, i of c_pi;
    - output axons: a non-input neuron needs one per distinct destination core of all its
      projections: at least max over destination populations d of ceil(f_id / N_d) (f_id: its
      largest fan-out into d), and at least ceil(F_i / max_neurons) with F_i the sum of the
      f_id (neurons of different populations are different neurons; populations may share
      cores, so the per-population counts do not add up);
    - synapse memory: the f_pi synapses split over c >= c_pi cores cost, per part of n_k
      synapses, word * ceil((n_k s + a) / word) (`axon_bits`: s bits per synapse, a per axon),
      so at least max(c word, word * ceil((f s + c a) / word)), which grows with c: the value
      at c_pi bounds every placement;
    - every neuron; one population slot per parameter group (`parameter_groups`).
    Returns (bound, demand per resource). `tests/ir/test_lower_bound.py` checks the bound
    against exhaustive search over every placement of small random networks.
    """
    fanins = fanins if fanins is not None else graph_fanins(graph, hw)
    demand = dict.fromkeys(RESOURCES, 0)
    placed = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
    demand["neurons"] = sum(graph.populations[n].size for n in placed)
    demand["populations"] = sum(len(parameter_groups(graph.populations[n])) for n in placed)
    limits = core_limits(hw)
    smem = hw.synapse_memory
    word = smem.word_bits.value
    per_synapse = {n: f.weight_bits + smem.synapse_overhead_bits.value for n, f in fanins.items()}
    need: dict[str, np.ndarray] = {}  # synapse bits each destination neuron needs
    for name, proj in graph.projections.items():
        need[proj.dst] = need.get(proj.dst, 0) + fanins[name].degrees()[0] * per_synapse[name]
    per_core = {
        d: max(
            1,
            min(
                limits["neurons"].value,
                limits["synapse_memory_bits"].value // max(int(bits.min()), 1),
            ),
        )
        for d, bits in need.items()
    }
    reach: dict[tuple[str, str], np.ndarray] = {}  # (src, dst population) -> max fan-out
    for name, proj in graph.projections.items():
        fan = fanins[name]
        fanout = fan.degrees()[1]
        used = fanout > 0
        cores = -(-fanout[used] // per_core[proj.dst])
        demand["input_axons"] += int(cores.sum())
        raw = fanout[used] * per_synapse[name] + cores * smem.axon_overhead_bits.value
        bits = np.maximum(cores * word, word * -(-raw // word))
        demand["synapse_memory_bits"] += int(bits.sum())
        if not isinstance(graph.populations[proj.src], Input):
            key = (proj.src, proj.dst)
            reach[key] = np.maximum(reach.get(key, 0), fanout)
    spread: dict[str, np.ndarray] = {}  # per source neuron: fewest destination cores
    total: dict[str, np.ndarray] = {}  # per source neuron: destination neurons reached
    for (src, dst), fanout in reach.items():
        spread[src] = np.maximum(spread.get(src, 0), -(-fanout // per_core[dst]))
        total[src] = total.get(src, 0) + fanout
    demand["output_axons"] = int(
        sum(
            int(np.maximum(c, -(-total[s] // limits["neurons"].value)).sum())
            for s, c in spread.items()
        )
    )
    bound = max((-(-demand[r] // limits[r].value) for r in RESOURCES), default=0)
    return int(bound), demand
