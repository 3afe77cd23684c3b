"""Mixing populations that bind different resources on the same cores.

The next-fit packer (`compiler.passes.packing.Packer`) fills each population's cores in turn, so
a core holds one population (two at a boundary) and is full in that population's binding
resource only: a layer whose neurons route to many cores fills output axons with half its
synapse memory free, the next fills synapse memory with most output axons free. Such cores
waste what the other population needs. The lower bound (`ir.resources.lower_bound`) counts
totals, as if every core could be full in every resource at once.

`mix` starts from a packing and merges *groups*: a group is a set of populations and the cores
they share (at first, each population with the cores the packer gave it; populations that
already share a core form one group). Merging two groups spreads every population of both over
K shared cores: each population's order (the candidate's: index order, spatial tiles, METIS
parts) is cut into K runs of near-equal size, run j on core j, so every core holds a slice of
each. K is the fewest cores for which every core of the whole placement is within every limit
(exact accounting, `ir.resources.account`: spreading a population changes its sources' routes,
so other groups' cores are checked too), found by bisection between the merged groups' total
demand (each resource's usage summed over their cores, over the per-core limit) and one core
fewer than the two use apart. The merge that saves the most cores is applied, and merging
repeats while one saves a core or until the lower bound is reached. Every placement it returns
was accounted exactly and is within every limit; `verify` checks it again after the pass.

Populations the partition keeps whole (a cut would change results, `Network.keep_whole`) stay
one block: a layout that cuts one is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.passes.packing import PACKED, Candidate, Network, Packer, Packing, placement_of
from ir.placement import Placement
from ir.resources import Accounting, account, first_violation
from ir.traffic import traffic

__all__ = ["mix"]

# Layouts tried per partition at most (each packs two groups and accounts the whole placement):
# bounds the pass's time on large networks; the search stops with the best merges found.
_MAX_LAYOUTS = 32
# Two units on at most this many cores are also packed afresh (next-fit, either first).
_SMALL = 4


Layout = tuple[tuple[str, int, np.ndarray], ...]  # (population, core within the group, neurons)


@dataclass(frozen=True)
class _State:
    """The packer's blocks of the populations not merged (`fixed`, their cores renumbered in
    order without the ones left empty), then each merged group: (its populations, its cores,
    its layout)."""

    fixed: Layout
    groups: tuple[tuple[tuple[str, ...], int, Layout], ...]

    def units(self) -> list[tuple[str, ...]]:
        """What can merge: each population still fixed, and each merged group."""
        taken = {p for pops, _, _ in self.groups for p in pops}
        fixed = tuple(dict.fromkeys(p for p, _, _ in self.fixed if p not in taken))
        return [(p,) for p in fixed] + [pops for pops, _, _ in self.groups]

    def merged(self, a: tuple[str, ...], b: tuple[str, ...], k: int, layout: Layout) -> _State:
        """a and b on k shared cores laid out as `layout` (k = 0: both left out)."""
        kept = tuple(g for g in self.groups if g[0] not in (a, b))
        return _State(self.fixed, (*kept, (a + b, k, layout)))

    def packing(self) -> Packing:
        taken = {p for pops, _, _ in self.groups for p in pops}
        kept = [(p, c, idx) for p, c, idx in self.fixed if p not in taken]
        renumber = {c: k for k, c in enumerate(sorted({c for _, c, _ in kept}))}
        blocks = [(p, renumber[c], idx) for p, c, idx in kept]
        base = len(renumber)
        for _, k, layout in self.groups:
            blocks += [(p, base + c, idx) for p, c, idx in layout]
            base += k
        return Packing(blocks, base, {})


def _spread(pops: tuple[str, ...], k: int, orders: dict[str, np.ndarray]) -> Layout:
    """Every population of `pops` cut into k runs of its order of near-equal size, run j on
    core j."""
    out = []
    for pop in pops:
        order = orders[pop]
        cuts = (np.arange(k + 1, dtype=np.int64) * order.size) // k
        out += [
            (pop, j, np.sort(order[cuts[j] : cuts[j + 1]]))
            for j in range(k)
            if cuts[j + 1] > cuts[j]
        ]
    return tuple(out)


class _Mixer:
    def __init__(self, net: Network, orders: dict[str, np.ndarray], keep: set[str]) -> None:
        self.net = net
        self.keep = keep  # populations to keep whole (one block each)
        self.orders = orders
        self.evaluations = 0
        self.layouts = 0
        self.caps = net.caps

    def account(self, state: _State) -> tuple[Placement, Accounting]:
        self.evaluations += 1
        placement = placement_of(state.packing(), self.net.hw)
        return placement, account(self.net.graph, self.net.hw, placement, self.net.fanins)

    def layout(
        self, state: _State, acc: Accounting, units: tuple[tuple[str, ...], tuple[str, ...]],
        spread: tuple[str, ...], fill: tuple[str, ...], k: int, even: bool,
    ) -> tuple[_State, Placement, Accounting] | None:
        """`spread` cut evenly over k cores, then `fill` packed next-fit into what is left of
        them (each block the longest run that fits, exact usage: `Packer.largest_fit`), or with
        `even` both cut evenly; the state when all of `fill` fits and the whole placement is
        within every limit. `units`: the two units merged (`_State.merged`); with no `spread`,
        `fill` is packed onto the cores it needs, up to k."""
        self.layouts += 1
        first = _spread(spread + fill if even else spread, k, self.orders) if spread else ()
        packer = Packer(self.net, {})
        # Routes as counted in the placement before this merge, except that the cores of the
        # two units, laid out anew, count as one (at least one route; the final accounting
        # counts them exactly).
        moved = np.array(sorted({c for p, c, _ in state.packing().blocks if p in spread + fill}))
        for pop in spread + fill:
            size = self.net.graph.populations[pop].size
            routes = np.zeros(size, dtype=np.int64)
            if pop in acc.routes:
                neurons, cores = acc.routes[pop]
                inside = np.isin(cores, moved)
                routes += np.bincount(neurons[~inside], minlength=size)
                routes += np.bincount(neurons[inside], minlength=size) > 0
            packer.routes[pop] = routes
        used = np.zeros((k, len(PACKED)), dtype=np.int64)
        for pop, core, idx in first:
            used[core] += packer.usage(pop, idx, int(packer.routes[pop][idx].sum()))
        if (used > self.caps).any():
            return None
        blocks, core = list(first), 0
        for pop in () if even else fill:
            order = self.orders[pop]
            pre = packer.prefix(pop, order)
            a, guess = 0, None
            while a < order.size:
                if core >= k:
                    return None
                room = self.caps - used[core]
                b, u = packer.largest_fit(pop, order, a, room, guess, pre)
                b, u = _extend(packer, pop, order, pre, a, b, u, room)
                if b > a:
                    blocks.append((pop, core, np.sort(order[a:b])))
                    used[core] += u
                    guess, a = b - a, b  # the next core has about as much room
                if a < order.size:
                    core += 1
        if not spread:
            k = core + 1
        pops = [pop for pop, _, _ in blocks]
        if any(pops.count(pop) > 1 for pop in self.keep):
            return None  # a population kept whole was cut
        trial = state.merged(*units, k, tuple(blocks))
        placement, acc_trial = self.account(trial)
        if first_violation(acc_trial.usage, self.net.hw) is not None:
            return None
        return trial, placement, acc_trial

    def demand(self, state: _State, acc: Accounting, unit: tuple[str, ...]) -> np.ndarray:
        """A unit's use of each packed resource: its share of every core it is on (its neurons
        over the core's)."""
        total = np.zeros(len(PACKED), dtype=np.float64)
        usage = np.stack([acc.usage[r] for r in PACKED], axis=1)
        for pop, core, idx in state.packing().blocks:
            if pop in unit:
                total += usage[core] * idx.size / max(int(acc.usage["neurons"][core]), 1)
        return np.floor(total).astype(np.int64)

    def best_merge(
        self, state: _State, acc: Accounting, n_cores: int
    ) -> tuple[_State, int, Placement, Accounting] | None:
        units = state.units()
        pairs = []
        for i, a in enumerate(units):
            for b in units[i + 1 :]:
                rest = state.merged(a, b, 0, ()).packing().n_cores
                # A guess, not a bound (two blocks of one population on one core share rows):
                # fewer cores than the two units' summed use of some resource cannot fit.
                total = self.demand(state, acc, a) + self.demand(state, acc, b)
                lo = max(1, int((-(-total // self.caps)).max()))
                pairs.append((n_cores - rest - lo, a, b, rest, lo))
        pairs.sort(key=lambda p: -p[0])  # the most promising first (stable: same order each run)
        best = None
        for _gain, a, b, rest, lo in pairs:
            hi = n_cores - rest - 1 if best is None else best[1] - rest - 1
            apart = n_cores - rest
            if self.layouts >= _MAX_LAYOUTS or (lo > hi and apart > _SMALL):
                continue
            # a and b packed next-fit onto fresh cores (either first): a fresh start can beat
            # the packer's next-fit on few cores, where its choices matter most
            if apart <= _SMALL:
                for fill in (a + b, b + a):
                    found = self.layout(state, acc, (a, b), (), fill, hi, False)
                    if found is not None:
                        hi = found[0].packing().n_cores - rest - 1
                        best = (found[0], rest + hi + 1, *found[1:])
            if lo > hi:
                continue
            # a spread and b filled into the rest, the reverse, or both spread evenly, on as
            # few cores as fit
            for spread, fill, even in ((a, b, False), (b, a, False), (a, b, True)):
                found = self.layout(state, acc, (a, b), spread, fill, hi, even)
                if found is not None:
                    break
            if found is None:
                continue
            k = hi
            while lo < k:  # fewest cores that fit (bisection: usage shrinks with k)
                mid = (lo + k) // 2
                trial = self.layout(state, acc, (a, b), spread, fill, mid, even)
                if trial is None:
                    lo = mid + 1
                else:
                    k, found = mid, trial
            best = (found[0], rest + k, *found[1:])
        return best


def mix(
    net: Network, base: Candidate, orders: dict[str, np.ndarray], bound: int, rank: int
) -> Candidate | None:
    """Merge groups of `base` (packed in `orders`) while a merge saves cores (module docstring);
    the mixed candidate, or None when no merge saves a core."""
    mixer = _Mixer(net, orders, net.keep_whole - _cut(base.placement))
    state = _State(tuple(base.packing.blocks), ())
    placement, acc, n_cores = base.placement, base.acc, base.n_cores
    while n_cores > bound:
        step = mixer.best_merge(state, acc, n_cores)
        if step is None:
            break
        state, n_cores, placement, acc = step
    if n_cores >= base.n_cores:
        return None
    return Candidate(
        f"{base.method}+mixed",
        state.packing(),
        placement,
        acc,
        traffic(net.graph, acc, net.rates),
        rank,
        base.route_rounds,
    )


def _cut(placement: Placement) -> set[str]:
    seen: dict[str, int] = {}
    for b in placement.blocks:
        seen[b.population] = seen.get(b.population, 0) + 1
    return {p for p, k in seen.items() if k > 1}


def _extend(
    packer: Packer, pop: str, order: np.ndarray, pre: np.ndarray, a: int, b: int,
    u: np.ndarray, room: np.ndarray,
) -> tuple[int, np.ndarray]:
    """`Packer.largest_fit` stops once a block is nearly as full as the room allows; usage can
    stay flat past that (neurons that share their sources' rows), so look further: gallop
    until a block does not fit, then bisect (a few exact usage counts)."""
    n = order.size

    def fits(end: int) -> np.ndarray | None:
        usage = packer.usage(pop, order[a:end], int(pre[0, end] - pre[0, a]))
        return usage if (usage <= room).all() else None

    step, hi = 1, None
    while b < n and step <= 64:
        trial = min(n, b + step)
        got = fits(trial)
        if got is None:
            hi = trial
            break
        b, u, step = trial, got, 2 * step
    while hi is not None and hi - b > 1:
        mid = (b + hi) // 2
        got = fits(mid)
        if got is None:
            hi = mid
        else:
            b, u = mid, got
    return b, u
