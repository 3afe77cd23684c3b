"""The next-fit packer of the partition pass (`compiler.passes.partition`): what packing needs
of a graph (`Network`: connectivity, per-neuron estimates, rates, the candidate orders), and the
packing itself (`Packer`: each block the longest run of a population's neurons, in a given
order, that still fits what is left of the core, populations from the last back). One
population's blocks fill cores in turn; `compiler.passes.mixing` mixes populations that bind
different resources on the same cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.passes.split_exact import exactness_risks
from ir.connectivity import Fanin, graph_fanins
from ir.errors import CapacityError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input, QSparse
from ir.placement import Block, Placement
from ir.resources import Accounting, account, axon_bits, core_limits, group_labels, resource_label
from ir.traffic import traffic, uniform_rates

__all__ = ["PACKED", "Candidate", "Network", "Packer", "Packing", "placement_of", "rounded"]

# Packed resources, in this order, in the usage vectors below.
PACKED = ("neurons", "input_axons", "output_axons", "synapse_memory_bits")
_MAX_ROUTE_ROUNDS = 8
# Stop refining a block once it is within this fraction of the largest size that fits.
_FILL_TOLERANCE = 1 / 128


def rounded(t: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in t.items()}


# --------------------------------------------------------------------------- the network


@dataclass
class Packing:
    blocks: list[tuple[str, int, np.ndarray]]
    n_cores: int
    sources: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class Candidate:
    method: str
    packing: Packing
    placement: Placement
    acc: Accounting
    traffic: dict[str, float]
    rank: int
    route_rounds: int

    @property
    def n_cores(self) -> int:
        return self.packing.n_cores

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "cores_used": self.n_cores,
            "traffic": rounded(self.traffic),
            "route_rounds": self.route_rounds,
        }


@dataclass
class Network:
    """What packing needs of a graph: connectivity, per-neuron estimates, rates."""

    graph: Graph
    hw: HardwareSpec
    measured: dict[str, np.ndarray] | None
    rate_source: str = "fan-out counts (1 spike per step per neuron)"
    fanins: dict[str, Fanin] = field(init=False)

    def __post_init__(self) -> None:
        g = self.graph
        self.fanins = graph_fanins(g, self.hw)
        self.rates = self.measured if self.measured is not None else uniform_rates(g)
        self.order = [n for n in g.topological_order() if not isinstance(g.populations[n], Input)]
        self.incoming = {
            n: [(p, self.fanins[p]) for p, proj in g.projections.items() if proj.dst == n]
            for n in self.order
        }
        limits = core_limits(self.hw)
        self.caps = np.array([limits[r].value for r in PACKED], dtype=np.int64)
        self.max_pops = limits["populations"].value
        # Parameter groups count as neuron configurations of the core (ir.resources).
        self.group_label = {n: group_labels(g.populations[n]) for n in self.order}
        smem = self.hw.synapse_memory
        self.n_synapses = 0
        # Per-neuron estimates for first guesses: fan-in as axons (no sharing) and its bits.
        self.est_axons = {n: np.zeros(g.populations[n].size, dtype=np.int64) for n in self.order}
        self.est_bits = {n: np.zeros(g.populations[n].size, dtype=np.int64) for n in self.order}
        reach = {n: np.zeros(p.size, dtype=np.int64) for n, p in g.populations.items()}
        for name, proj in g.projections.items():
            fan_in, fan_out = self.fanins[name].degrees()
            self.n_synapses += int(fan_in.sum())
            self.est_axons[proj.dst] += fan_in
            self.est_bits[proj.dst] += axon_bits(
                np.ones_like(fan_in), self.fanins[name].weight_bits, smem
            ) * (fan_in > 0) + fan_in * (
                self.fanins[name].weight_bits + smem.synapse_overhead_bits.value
            )
            reach[proj.src] += fan_out > 0
        # Populations not to cut where one core can hold them: the sources of projections that a
        # cut would change (for convolutions the destinations too), which split-exact would
        # otherwise have to round (compiler/passes/split_exact.py).
        self.keep_whole = set()
        for name, risk in exactness_risks(g).items():
            proj = g.projections[name]
            self.keep_whole.add(proj.src)
            if risk.on_destination:
                self.keep_whole.add(proj.dst)
        # Lower bound on each neuron's routes: one if it feeds anything (its destinations might
        # all share one core).
        self.route_floor = {n: np.minimum(reach[n], 1) for n in self.order}

    # ---------------------------------------------------------------- orders

    def sizes(self) -> list[int]:
        return [self.graph.populations[n].size for n in self.order]

    def natural_orders(self) -> dict[str, np.ndarray]:
        return {n: np.arange(self.graph.populations[n].size, dtype=np.int64) for n in self.order}

    def has_sparse(self) -> bool:
        """Any sparse projection: the only connectivity whose structure the index order hides
        (a dense layer reaches every core of its destination whatever the order; convolutions
        are local in the tile order)."""
        return any(isinstance(p, QSparse) for p in self.graph.projections.values())

    def has_spatial(self) -> bool:
        return any(len(self.graph.populations[n].shape) == 3 for n in self.order)

    def tile_orders(self) -> dict[str, np.ndarray]:
        orders = self.natural_orders()
        for n in self.order:
            shape = self.graph.populations[n].shape
            if len(shape) != 3:
                continue
            c, h, w = shape
            # Neurons per core if cores held nothing else: sizes the tile to about one core.
            probe = _position_major(c, h, w, w)
            packer = Packer(self, {})
            packer.routes[n] = self.route_floor[n]
            size, _ = packer.largest_fit(n, probe, 0, self.caps, None)
            positions = max(1, size // c)
            tw = int(min(w, max(1, round(math.sqrt(positions)))))
            orders[n] = _position_major(c, h, w, tw)
        return orders

    def metis_orders(self, seed: int) -> dict[str, np.ndarray]:
        """Each population ordered by METIS parts of the graph of its incoming synapses.

        Population by population in topological order: the vertices are its neurons and their
        presynaptic neurons, the edges its incoming synapses weighted by source rates, the
        neurons weighted by their share of the scarcest core resource (sources weigh 0); as
        many parts as cores the population needs alone. Parts are then ordered by where their
        sources sit in the already ordered upstream populations, so consecutive blocks of a
        layer draw on consecutive blocks of the one before. One METIS call per population keeps
        the cost linear in depth.
        """
        g = self.graph
        orders = self.natural_orders()
        position = {n: np.arange(p.size) / p.size for n, p in g.populations.items()}
        for pop in self.order:
            n = g.populations[pop].size
            share = max(n / self.caps[0], float(self.est_bits[pop].sum()) / self.caps[3])
            parts = min(n, math.ceil(share))
            if parts > 1:
                part, score = self._metis_parts(pop, parts, position, seed)
                rank = np.empty(parts, dtype=np.int64)
                rank[np.lexsort((np.arange(parts), score))] = np.arange(parts)
                orders[pop] = np.lexsort((np.arange(n), rank[part])).astype(np.int64)
            where = np.empty(n)
            where[orders[pop]] = np.arange(n) / n
            position[pop] = where
        return orders

    def _metis_parts(
        self, pop: str, parts: int, position: dict[str, np.ndarray], seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(part of each neuron of `pop`, mean upstream position of each part's sources)."""
        import pymetis
        import scipy.sparse as sp

        g = self.graph
        n = g.populations[pop].size
        src_ids, dst_ids, weights, where = [], [], [], []
        offset = n  # source vertices follow the population's own neurons
        for name, fan in self.incoming[pop]:
            src_pop = g.projections[name].src
            base = 0 if src_pop == pop else offset
            rate = self.rates[src_pop]
            for dst, counts, src in fan.chunks():
                src_ids.append(base + src)
                dst_ids.append(np.repeat(dst, counts))
                weights.append(rate[src])
                where.append(position[src_pop][src])
            if src_pop != pop:
                offset += fan.n_src
        r = np.concatenate(src_ids) if src_ids else np.zeros(0, dtype=np.int64)
        c = np.concatenate(dst_ids) if dst_ids else np.zeros(0, dtype=np.int64)
        w = np.concatenate(weights) if weights else np.zeros(0)
        pos = np.concatenate(where) if where else np.zeros(0)
        keep = r != c  # METIS takes no self-loops; the graph is undirected (both directions)
        r, c, w, pos = r[keep], c[keep], w[keep], pos[keep]
        adj = sp.csr_matrix(
            (np.concatenate([w, w]), (np.concatenate([r, c]), np.concatenate([c, r]))),
            shape=(offset, offset),
        )
        adj.sum_duplicates()
        if adj.nnz == 0:  # no synapses: nothing to keep together
            return np.arange(n) * parts // n, np.arange(parts, dtype=np.float64)
        scale = 1000.0 / max(float(adj.data.max()), 1e-12)
        eweights = np.maximum(1, np.rint(adj.data * scale)).astype(np.int64)
        vweights = np.zeros(offset, dtype=np.int64)
        share = np.maximum.reduce(
            [
                np.full(n, 1.0 / self.caps[0]),
                self.est_axons[pop] / self.caps[1],
                self.est_bits[pop] / self.caps[3],
            ]
        )
        vweights[:n] = np.maximum(1, np.rint(share * 10000))
        result = pymetis.part_graph(
            parts,
            adjacency=pymetis.CSRAdjacency(
                adj.indptr.astype(np.int64), adj.indices.astype(np.int64)
            ),
            vweights=vweights,
            eweights=eweights,
            options=pymetis.Options(seed=int(seed)),
            recursive=False,
        )
        part = np.asarray(result.vertex_part, dtype=np.int64)[:n]
        sums = np.bincount(part[c], weights=pos, minlength=parts)
        counts = np.bincount(part[c], minlength=parts)
        score = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
        return part, score

    # ---------------------------------------------------------------- packing

    def candidate(self, method: str, orders: dict[str, np.ndarray], rank: int) -> Candidate:
        """Pack in `orders`; repack with exact route counts while output axons overflow."""
        hint = {n: np.zeros(self.graph.populations[n].size, dtype=np.int64) for n in self.order}
        limit = self.caps[2]
        lim = core_limits(self.hw)["output_axons"]
        for rounds in range(1, _MAX_ROUTE_ROUNDS + 1):
            packing = Packer(self, hint).pack(orders)
            placement = placement_of(packing, self.hw)
            acc = account(self.graph, self.hw, placement, self.fanins, packing.sources)
            if acc.usage["output_axons"].max(initial=0) <= limit:
                return Candidate(
                    method,
                    packing,
                    placement,
                    acc,
                    traffic(self.graph, acc, self.rates),
                    rank,
                    rounds,
                )
            for n in self.order:
                exact = (
                    np.bincount(acc.routes[n][0], minlength=self.graph.populations[n].size)
                    if n in acc.routes
                    else hint[n]
                )
                if int(exact.max(initial=0)) > limit:
                    i = int(np.argmax(exact))
                    raise CapacityError(
                        f"population {n!r} neuron {i}",
                        "output axons (destination cores)",
                        int(exact[i]),
                        lim.value,
                        f"{self.hw.source_file}: {lim.key}",
                        hint="its synapses reach more cores than one core can route to",
                    )
                hint[n] = np.maximum(hint[n], exact)
        core = int(np.argmax(acc.usage["output_axons"]))
        raise CapacityError(
            f"partition core {core}",
            "output axons",
            int(acc.usage["output_axons"][core]),
            lim.value,
            f"{self.hw.source_file}: {lim.key}",
            hint=f"no packing within {_MAX_ROUTE_ROUNDS} rounds of route estimates",
        )

    def known_routes(
        self,
        pop: str,
        core_of: dict[str, list[tuple[int, np.ndarray]]],
        sources: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]],
    ) -> np.ndarray:
        """Routes of each neuron of `pop`: exact to populations already packed (`core_of`), plus
        one for each neuron that also feeds a population not packed yet."""
        size = self.graph.populations[pop].size
        keys, projections, pending = [], set(), np.zeros(size, dtype=bool)
        for name, proj in self.graph.projections.items():
            if proj.src != pop:
                continue
            if proj.dst not in core_of:
                pending |= self.fanins[name].degrees()[1] > 0
                continue
            for core, idx in core_of[proj.dst]:
                known = sources.get((name, core))
                ids = known[0] if known is not None else self.fanins[name].source_counts(idx)[0]
                keys.append((ids, core))
                projections.add(name)
        routes = pending.astype(np.int64)
        if len(projections) > 1:
            # Several projections may reach one core through the same neuron: one route.
            neurons = (
                np.unique(np.concatenate([ids * (1 << 31) + core for ids, core in keys])) >> 31
            )
            routes += np.bincount(neurons, minlength=size)
        elif keys:
            routes += np.bincount(np.concatenate([ids for ids, _ in keys]), minlength=size)
        return routes


def placement_of(packing: Packing, hw: HardwareSpec) -> Placement:
    """The packing as a placement, cores on chips in order (chip limits checked by the caller)."""
    blocks = tuple(Block(pop, idx, core) for pop, core, idx in packing.blocks)
    return Placement(
        blocks, np.arange(packing.n_cores, dtype=np.int64) // hw.chip.cores_per_chip.value, hw.name
    )


def _position_major(c: int, h: int, w: int, tw: int) -> np.ndarray:
    """Flat (C, H, W) indices in strips `tw` columns wide, rows top to bottom within a strip,
    and all channels of a position together."""
    y, x = np.divmod(np.arange(h * w, dtype=np.int64), w)
    pos = np.lexsort((x % tw, y, x // tw))
    return (pos[:, None] + np.arange(c, dtype=np.int64)[None, :] * (h * w)).reshape(-1)


class Packer:
    """Next-fit packing of populations onto cores, last population first.

    Packing from the outputs back means every population's destinations are placed before it,
    so its neurons' output-axon routes are counted exactly (`Network.known_routes`); only
    recurrent and backward projections are estimated (`hint`: exact counts of a previous
    round). Cores are numbered back to front at the end, so core 0 holds the first layer.
    """

    def __init__(self, net: Network, hint: dict[str, np.ndarray]) -> None:
        self.net = net
        self.hint = hint
        self.routes: dict[str, np.ndarray] = {}
        self.sources: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}

    def usage(self, pop: str, idx: np.ndarray, routes: int) -> np.ndarray:
        """Exact neurons, input axons, output-axon routes and synapse bits of block `idx`.

        The sources of each incoming projection are kept in `last_sources` (the accounting and
        the route counts of upstream populations reuse those of the blocks that are kept)."""
        axons = bits = 0
        smem = self.net.hw.synapse_memory
        self.last_sources = []
        for name, fan in self.net.incoming[pop]:
            ids, counts = fan.source_counts(idx)
            self.last_sources.append((name, ids, counts))
            axons += ids.size
            bits += int(axon_bits(counts, fan.weight_bits, smem).sum())
        return np.array([idx.size, axons, routes, bits], dtype=np.int64)

    def prefix(self, pop: str, order: np.ndarray) -> np.ndarray:
        """Prefix sums along `order` of: routes, estimated axons, estimated bits (3, n + 1)."""
        net = self.net
        rows = [
            self.routes.get(pop, np.zeros(order.size, dtype=np.int64)),
            net.est_axons[pop],
            net.est_bits[pop],
        ]
        out = np.zeros((3, order.size + 1), dtype=np.int64)
        for k, per_neuron in enumerate(rows):
            np.cumsum(per_neuron[order], out=out[k, 1:])
        return out

    def largest_fit(
        self,
        pop: str,
        order: np.ndarray,
        a: int,
        rem: np.ndarray,
        guess: int | None,
        pre: np.ndarray | None = None,
        limit: int | None = None,
    ) -> tuple[int, np.ndarray]:
        """Largest b <= `limit` such that block order[a:b] fits in `rem`, and its usage (b == a:
        none fits). `guess` is a block size to try first (the previous block's, on a fresh core).

        Usage only grows with b, so the answer is bracketed by [lo fits, hi does not] and found by
        interpolating on the scarcest resource (usage is close to linear in the block size),
        bisecting when interpolation stalls. `pre` is `prefix(pop, order)`.
        """
        n = order.size if limit is None else limit
        pre = self.prefix(pop, order) if pre is None else pre
        if guess is None:
            guess = self._estimate(a, n, rem, pre) - a
        lo, lo_u, hi = a, np.zeros(4, dtype=np.int64), n + 1
        self.fit_sources: list[tuple[str, np.ndarray, np.ndarray]] = []
        b = min(max(a + guess, a + 1), n)
        step = 0
        while True:
            u = self.usage(pop, order[a:b], int(pre[0, b] - pre[0, a]))
            r = _ratio(u, rem)
            if r <= 1:
                lo, lo_u, self.fit_sources = b, u, self.last_sources
                if b == n or r >= 1 - _FILL_TOLERANCE:
                    break
            else:
                hi = b
            if hi - lo <= max(1, int((lo - a) * _FILL_TOLERANCE)):
                break
            step += 1
            size = b - a
            target = a + int(size / r) if r > 0 else 2 * b - a
            if step % 3 == 0 and hi <= n:
                target = (lo + hi) // 2
            b = min(max(target, lo + 1), hi - 1, n)
        return lo, lo_u

    @staticmethod
    def _estimate(a: int, n: int, rem: np.ndarray, pre: np.ndarray) -> int:
        """A first guess from per-neuron estimates (fan-in as axons: an overestimate)."""
        room = min(n, a + int(rem[0]))
        for k, cap in ((0, rem[2]), (1, rem[1]), (2, rem[3])):
            room = min(room, int(np.searchsorted(pre[k], pre[k, a] + cap, side="right")) - 1)
        return max(room, a + 1)

    def pack(self, orders: dict[str, np.ndarray]) -> Packing:
        net = self.net
        caps = net.caps
        reversed_blocks: list[tuple[str, int, np.ndarray]] = []
        core_of: dict[str, list[tuple[int, np.ndarray]]] = {}
        core, used, pops_on_core = 0, np.zeros(4, dtype=np.int64), 0
        for pop in reversed(net.order):
            self.routes[pop] = np.maximum(
                net.known_routes(pop, core_of, self.sources), self.hint[pop]
            )
            order = orders[pop][::-1]
            n = order.size
            pre = self.prefix(pop, order)
            a, guess = 0, (n if pop in net.keep_whole else None)
            while a < n:
                if pops_on_core >= net.max_pops:
                    core, used, pops_on_core, guess = core + 1, np.zeros(4, dtype=np.int64), 0, None
                fresh = pops_on_core == 0
                limit = _group_limit(net.group_label[pop], order, a, net.max_pops - pops_on_core)
                b, u = self.largest_fit(
                    pop, order, a, caps - used, guess if fresh else None, pre, limit
                )
                if a == 0 and b < n and pop in net.keep_whole and not fresh:
                    # Not all of it fits beside what the core holds: try a core of its own.
                    core, used, pops_on_core, guess = core + 1, np.zeros(4, dtype=np.int64), 0, n
                    continue
                if b == a:
                    if fresh:
                        self._raise_single(pop, int(order[a]))
                    core, used, pops_on_core, guess = core + 1, np.zeros(4, dtype=np.int64), 0, None
                    continue
                idx = np.sort(order[a:b])
                reversed_blocks.append((pop, core, idx))
                core_of.setdefault(pop, []).append((core, idx))
                for name, ids, counts in self.fit_sources:
                    self.sources[(name, core)] = (ids, counts)
                used = used + u
                label = net.group_label[pop]
                pops_on_core += 1 if label is None else int(np.unique(label[idx]).size)
                guess = (b - a) if fresh else None
                a = b
                if a < n:
                    core, used, pops_on_core = core + 1, np.zeros(4, dtype=np.int64), 0
        if not reversed_blocks:
            return Packing([], 0, {})
        last = core
        sources = {(name, last - c): v for (name, c), v in self.sources.items()}
        return Packing(
            [(pop, last - c, idx) for pop, c, idx in reversed(reversed_blocks)], last + 1, sources
        )

    def _raise_single(self, pop: str, neuron: int) -> None:
        """One neuron alone is over a per-core limit: say which, by how much, and where."""
        u = self.usage(pop, np.array([neuron], dtype=np.int64), int(self.routes[pop][neuron]))
        limits = core_limits(self.net.hw)
        for k, r in enumerate(PACKED):
            if u[k] > limits[r].value:
                raise CapacityError(
                    f"population {pop!r} neuron {neuron}",
                    resource_label(r),
                    int(u[k]),
                    limits[r].value,
                    f"{self.net.hw.source_file}: {limits[r].key}",
                    hint="a single neuron needs more than one core has",
                )
        raise AssertionError("a neuron that fits an empty core was rejected")


def _group_limit(label: np.ndarray | None, order: np.ndarray, a: int, room: int) -> int | None:
    """The largest b such that order[a:b] holds at most `room` parameter groups (None: the
    population is one group, any b)."""
    if label is None:
        return None
    _, first = np.unique(label[order[a:]], return_index=True)
    first.sort()
    return int(a + first[room]) if room < first.size else int(order.size)


def _ratio(u: np.ndarray, rem: np.ndarray) -> float:
    """Largest use / room over resources (inf when a resource with no room is used)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(rem > 0, u / np.maximum(rem, 1), np.where(u > 0, np.inf, 0.0))
    return float(r.max())
