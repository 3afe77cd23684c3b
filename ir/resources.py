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

A synapse is a nonzero *effective* weight (after Lava's clip and truncation, `ir.fixed`):
zero weights change no state, so no synapse is stored for them. Weight bits per synapse:
`num_weight_bits` for QDense/QSparse. Lava's `truncate_weights` keeps 2^num_weight_bits distinct
values in both sign modes (mixed: the 9-bit range [-256, 255] with 8 - num_weight_bits + 1 low
bits cleared, so the sign is one of the num_weight_bits; excitatory/inhibitory: [0, 255] with
8 - num_weight_bits bits cleared and the sign given once by the list's sign mode), so
num_weight_bits is exactly what one synapse stores. QConv2d has no format fields (Lava's Conv
model ignores them), so its bits are the fewest that hold its weights: unsigned when they share
one sign, two's complement when mixed. Float projections (unquantized) count the target's
`synapse.max_weight_bits`. Convolutions are counted expanded, one synapse per (in-bounds) tap
with a nonzero weight: snnc does not model weight sharing in synapse memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.fixed import effective_weights
from ir.graph import Graph
from ir.hardware import HardwareSpec, Limit, SynapseMemorySpec
from ir.nodes import (
    Conv2d,
    Dense,
    Input,
    Population,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
    parameter_groups,
)
from ir.placement import Placement

__all__ = [
    "RESOURCES",
    "Accounting",
    "Fanin",
    "account",
    "axon_bits",
    "chip_hops",
    "core_limits",
    "core_traffic_matrix",
    "distinct_counts",
    "fanin",
    "first_violation",
    "graph_fanins",
    "group_labels",
    "lower_bound",
    "resource_label",
    "traffic",
    "uniform_rates",
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
# Synapses produced per step of a chunked scan: bounds temporary memory to tens of MB.
_CHUNK_SYNAPSES = 1 << 21


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


def distinct_counts(src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values of `src`, how often each occurs), values ascending."""
    if src.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(src.min()), int(src.max())
    # A bincount is one linear pass over the covered range: worth it only when the sources are
    # dense in it; otherwise a sort (of 32-bit keys, twice as fast as 64-bit ones).
    if hi - lo < src.size + 1024:
        counts = np.bincount(src - lo, minlength=hi - lo + 1)
        ids = np.flatnonzero(counts)
        return ids + lo, counts[ids]
    keys = np.sort((src - lo).astype(np.int32) if hi - lo < (1 << 31) else src - lo)
    first = np.empty(keys.size, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, keys.size))
    return keys[starts].astype(np.int64) + lo, counts.astype(np.int64)


# --------------------------------------------------------------------------- connectivity


class Fanin(ABC):
    """The synapses of one projection, looked up by destination neuron.

    `synapses(dst)` returns (synapses per destination neuron, source index of every synapse in
    destination order); `dst` is any array of destination flat indices.
    """

    n_src: int
    n_dst: int
    weight_bits: int

    @abstractmethod
    def synapses(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(dst indices, counts, sources) over every destination neuron, in bounded chunks."""
        per_row = max(1, self.row_width())
        step = max(1, _CHUNK_SYNAPSES // per_row)
        for lo in range(0, self.n_dst, step):
            dst = np.arange(lo, min(self.n_dst, lo + step), dtype=np.int64)
            counts, src = self.synapses(dst)
            yield dst, counts, src

    def row_width(self) -> int:
        """An upper bound on synapses per destination neuron (sizes chunks)."""
        return self.n_src

    def degrees(self) -> tuple[np.ndarray, np.ndarray]:
        """(synapses onto each destination neuron, synapses from each source neuron); cached."""
        cached = getattr(self, "_degrees", None)
        if cached is None:
            fan_in = np.zeros(self.n_dst, dtype=np.int64)
            fan_out = np.zeros(self.n_src, dtype=np.int64)
            for dst, counts, src in self.chunks():
                fan_in[dst] = counts
                fan_out += np.bincount(src, minlength=self.n_src)
            cached = (fan_in, fan_out)
            self._degrees = cached
        return cached

    def source_counts(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distinct sources of destination neurons `dst`, synapses from each onto them)."""
        step = max(1, _CHUNK_SYNAPSES // max(1, self.row_width()))
        if dst.size <= step:
            return distinct_counts(self.synapses(dst)[1])
        ids_parts, count_parts = [], []
        for lo in range(0, dst.size, step):
            ids, counts = distinct_counts(self.synapses(dst[lo : lo + step])[1])
            ids_parts.append(ids)
            count_parts.append(counts)
        ids = np.concatenate(ids_parts)
        counts = np.concatenate(count_parts)
        merged, inverse = np.unique(ids, return_inverse=True)
        return merged, np.bincount(inverse, weights=counts, minlength=merged.size).astype(np.int64)


class _DenseFanin(Fanin):
    def __init__(self, mask: np.ndarray, weight_bits: int) -> None:
        self.mask = mask
        self.n_dst, self.n_src = mask.shape
        self.weight_bits = weight_bits

    def synapses(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = self.mask[dst]
        return rows.sum(axis=1, dtype=np.int64), np.nonzero(rows)[1].astype(np.int64)

    def source_counts(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Column sums of the mask rows: no per-synapse index arrays for dense layers.
        counts = np.zeros(self.n_src, dtype=np.int64)
        step = max(1, _CHUNK_SYNAPSES // max(1, self.n_src))
        for lo in range(0, dst.size, step):
            counts += self.mask[dst[lo : lo + step]].sum(axis=0, dtype=np.int64)
        ids = np.flatnonzero(counts)
        return ids, counts[ids]


class _CsrFanin(Fanin):
    def __init__(self, indptr: np.ndarray, cols: np.ndarray, n_src: int, weight_bits: int) -> None:
        self.indptr, self.cols = indptr, cols
        self.n_dst, self.n_src = indptr.size - 1, n_src
        self.weight_bits = weight_bits
        self._width = int(np.diff(indptr).max(initial=0))

    def row_width(self) -> int:
        return self._width

    def synapses(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts = self.indptr[dst]
        lens = self.indptr[dst + 1] - starts
        if dst.size and int(dst[-1]) - int(dst[0]) + 1 == dst.size and np.all(np.diff(dst) == 1):
            return lens, self.cols[starts[0] : starts[0] + int(lens.sum())]
        total = int(lens.sum())
        offsets = np.cumsum(lens) - lens
        pos = np.repeat(starts - offsets, lens) + np.arange(total, dtype=np.int64)
        return lens, self.cols[pos]


class _ConvFanin(Fanin):
    """Convolution taps as per-output-channel tables; synapses are generated, never stored.

    Source of tap t of output (co, oy, ox):
    ci*IH*IW + (oy*sH - pH + ky*dH)*IW + (ox*sW - pW + kx*dW),
    i.e. a per-(co, t) offset plus a per-position base; only positions whose receptive field
    crosses the border need the bounds test.
    """

    def __init__(
        self,
        proj: Conv2d | QConv2d,
        src_shape: tuple[int, ...],
        dst_shape: tuple[int, ...],
        weight_bits: int,
    ) -> None:
        c_out, cin_g, kh, kw = proj.weight.shape
        co, ci, ky, kx = np.nonzero(proj.weight != 0)
        per_co = np.bincount(co, minlength=c_out)
        width = int(per_co.max(initial=0))
        slot = np.arange(co.size) - (np.cumsum(per_co) - per_co)[co]
        cout_g = c_out // proj.groups
        _, ih, iw = src_shape
        (sh, sw), (ph, pw), (dh, dw) = proj.stride, proj.padding, proj.dilation
        self.dy = np.zeros((c_out, width), dtype=np.int64)
        self.dx = np.zeros((c_out, width), dtype=np.int64)
        self.offset = np.zeros((c_out, width), dtype=np.int64)
        self.valid = np.zeros((c_out, width), dtype=bool)
        self.dy[co, slot] = ky * dh
        self.dx[co, slot] = kx * dw
        self.offset[co, slot] = ((co // cout_g) * cin_g + ci) * ih * iw + ky * dh * iw + kx * dw
        self.valid[co, slot] = True
        self.full = bool(self.valid.all())
        self.in_hw = (ih, iw)
        self.out_hw = dst_shape[1:]
        self.stride, self.padding = (sh, sw), (ph, pw)
        self.reach = ((kh - 1) * dh, (kw - 1) * dw)
        self.n_src = int(np.prod(src_shape))
        self.n_dst = int(np.prod(dst_shape))
        self.weight_bits = weight_bits
        self._width = width

    def row_width(self) -> int:
        return self._width

    def synapses(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ih, iw = self.in_hw
        oh, ow = self.out_hw
        co, pos = np.divmod(dst, oh * ow)
        oy, ox = np.divmod(pos, ow)
        y0 = oy * self.stride[0] - self.padding[0]
        x0 = ox * self.stride[1] - self.padding[1]
        src = self.offset[co] + (y0 * iw + x0)[:, None]
        inside = (y0 >= 0) & (x0 >= 0) & (y0 + self.reach[0] < ih) & (x0 + self.reach[1] < iw)
        if self.full and inside.all():
            return np.full(dst.size, self._width, dtype=np.int64), src.reshape(-1)
        ok = (
            np.broadcast_to(self.valid[co], src.shape).copy()
            if not self.full
            else np.ones(src.shape, dtype=bool)
        )
        edge = np.flatnonzero(~inside)
        if edge.size:
            iy = y0[edge, None] + self.dy[co[edge]]
            ix = x0[edge, None] + self.dx[co[edge]]
            ok[edge] &= (iy >= 0) & (iy < ih) & (ix >= 0) & (ix < iw)
        return ok.sum(axis=1, dtype=np.int64), src[ok]


def _bits_for(values: np.ndarray) -> int:
    """Fewest bits holding `values`: unsigned when they share one sign, else two's complement."""
    if values.size == 0:
        return 1
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 or hi <= 0:
        return max(1, max(abs(lo), abs(hi)).bit_length())
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


def fanin(graph: Graph, name: str, hw: HardwareSpec | None = None) -> Fanin:
    """The connectivity of projection `name` of `graph`."""
    proj = graph.projections[name]
    src, dst = graph.populations[proj.src], graph.populations[proj.dst]
    float_bits = hw.synapse.max_weight_bits.value if hw is not None else 8
    if isinstance(proj, (Dense, QDense)):
        mask = np.zeros(proj.weight.shape, dtype=bool)
        step = max(1, _CHUNK_SYNAPSES // max(1, src.size))
        for lo in range(0, dst.size, step):
            block = proj.weight[lo : lo + step]
            if isinstance(proj, QDense):
                block = effective_weights(block, proj.num_weight_bits, proj.sign_mode)
            mask[lo : lo + step] = block != 0
        bits = proj.num_weight_bits if isinstance(proj, QDense) else float_bits
        return _DenseFanin(mask, bits)
    if isinstance(proj, (Sparse, QSparse)):
        values = proj.values
        if isinstance(proj, QSparse):
            values = effective_weights(values, proj.num_weight_bits, proj.sign_mode)
        keep = values != 0
        rows, cols = proj.rows[keep], proj.cols[keep]
        indptr = np.searchsorted(rows, np.arange(dst.size + 1, dtype=np.int64)).astype(np.int64)
        bits = proj.num_weight_bits if isinstance(proj, QSparse) else float_bits
        return _CsrFanin(indptr, cols.astype(np.int64), src.size, bits)
    if isinstance(proj, (Conv2d, QConv2d)):
        bits = _bits_for(proj.weight) if isinstance(proj, QConv2d) else float_bits
        return _ConvFanin(proj, src.shape, dst.shape, bits)
    raise TypeError(f"projection {name!r}: no connectivity rule for {type(proj).__name__}")


def graph_fanins(graph: Graph, hw: HardwareSpec | None = None) -> dict[str, Fanin]:
    return {name: fanin(graph, name, hw) for name in graph.projections}


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


# --------------------------------------------------------------------------- bounds, traffic


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


def chip_position(chip: np.ndarray, mesh_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of chips laid out row-major on a mesh `mesh_columns` wide."""
    return np.divmod(np.asarray(chip, dtype=np.int64), mesh_columns)


def chip_hops(a: np.ndarray, b: np.ndarray, mesh_columns: int) -> np.ndarray:
    """Mesh hops (Manhattan distance) between chips `a` and `b`."""
    ra, ca = chip_position(a, mesh_columns)
    rb, cb = chip_position(b, mesh_columns)
    return np.abs(ra - rb) + np.abs(ca - cb)


def traffic(
    graph: Graph,
    acc: Accounting,
    rates: Mapping[str, np.ndarray],
    core_chip: np.ndarray | None = None,
    mesh_columns: int = 1,
) -> dict[str, float]:
    """Estimated spikes per step on each kind of link.

    Each route (source neuron, destination core) carries the source's rate (spikes per step).
    `intra_core`: routes to the source's own core; `inter_core`: to another core;
    `inter_chip`: routes whose destination core is on another chip, each weighted by the mesh
    hops between the two chips (spike-hops per step); `host_input`: routes from input
    populations (the host) to cores. With `core_chip` None, inter_chip is 0.
    """
    out = {"intra_core": 0.0, "inter_core": 0.0, "inter_chip": 0.0, "host_input": 0.0}
    for src_pop, (neurons, cores) in acc.routes.items():
        rate = np.asarray(rates[src_pop], dtype=np.float64)[neurons]
        if src_pop not in acc.core_of:
            out["host_input"] += float(rate.sum())
            continue
        home = acc.core_of[src_pop][neurons]
        same = home == cores
        out["intra_core"] += float(rate[same].sum())
        out["inter_core"] += float(rate[~same].sum())
        if core_chip is not None:
            # Sum rates per (chip, chip) pair first: a few thousand pairs instead of every route.
            chip_from, chip_to = core_chip[home], core_chip[cores]
            n_chips = int(core_chip.max(initial=0)) + 1
            per_pair = np.bincount(
                chip_from * n_chips + chip_to, weights=rate, minlength=n_chips * n_chips
            )
            pair = np.flatnonzero(per_pair)
            hops = chip_hops(pair // n_chips, pair % n_chips, mesh_columns)
            out["inter_chip"] += float((per_pair[pair] * hops).sum())
    return out


def core_traffic_matrix(
    acc: Accounting, rates: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core-to-core spike rates as COO (src core, dst core, spikes per step), src != dst."""
    n = acc.n_cores
    keys, weights = [], []
    for src_pop, (neurons, cores) in acc.routes.items():
        if src_pop not in acc.core_of:
            continue
        home = acc.core_of[src_pop][neurons]
        other = home != cores
        keys.append(home[other] * n + cores[other])
        weights.append(np.asarray(rates[src_pop], dtype=np.float64)[neurons][other])
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    key = np.concatenate(keys)
    uniq, inverse = np.unique(key, return_inverse=True)
    w = np.bincount(inverse, weights=np.concatenate(weights), minlength=uniq.size)
    return uniq // n, uniq % n, w


def uniform_rates(graph: Graph) -> dict[str, np.ndarray]:
    """One spike per step for every neuron: traffic then counts routes (fan-out counts)."""
    return {n: np.ones(p.size) for n, p in graph.populations.items()}
