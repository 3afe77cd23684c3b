"""Place: put the partitioned cores on chips of the system's chip mesh.

Objective, in order: fewest chips (ceil(cores / chip.cores_per_chip)); least inter-chip
traffic, where each spike route (source neuron, destination core) between two chips is
weighted by the mesh hops between them (chips sit row-major on a mesh `system.mesh_columns`
wide; a route within a chip costs nothing here). Chips are taken along a snake through the mesh
rows (left to right, then right to left), so consecutive chips are neighbours.

Two groupings of cores into chips are tried and the cheaper kept:
- `sequential`: cores in partition order fill chips one after another (NengoLoihi's Greedy
  allocator; partition order already follows the layers);
- `metis`: METIS (pymetis) cuts the core-to-core traffic graph into as many balanced parts as
  chips, then moves the cores of over-full parts to the part they talk to most.
Either grouping is then laid on the snake and improved by swapping whole chips while that lowers
the hop-weighted traffic.

Requires: a partitioned graph (`partition`). Ensures: the same blocks and cores, each core on a
chip, within chip.cores_per_chip and system.max_chips; deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from compiler.passes.base import PassContext
from compiler.passes.partition import calibration_rates, placement_chips
from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.placement import Placement
from ir.resources import RESOURCES, Accounting, account, core_limits
from ir.traffic import chip_hops, core_traffic_matrix, traffic, uniform_rates

__all__ = ["PlacePass", "per_core_report", "snake_chips"]

METHODS: tuple[str, ...] = ("auto", "sequential", "metis")
# Chip swaps are tried exhaustively up to this many chips (cost grows as chips^4).
_MAX_SWAP_CHIPS = 64
# METIS over cores only up to this many cores (the balancing step keeps a dense matrix).
_MAX_METIS_CORES = 4096


@dataclass(frozen=True)
class PlacePass:
    """Assign cores to chips (module docstring).

    Requires: partitioned graph. Ensures: fewest chips, hop-weighted inter-chip traffic reduced.
    """

    name: ClassVar[str] = "place"
    method: str = "auto"
    """auto: try sequential and metis, keep the cheaper; or force one."""

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        if self.method not in METHODS:
            raise InputError(
                f"place: unknown method {self.method!r}; choose from {', '.join(METHODS)}"
            )
        if graph.placement is None:
            raise InputError("place: the graph has no partition; run the partition pass first")
        hw = ctx.hw
        pl = graph.placement
        acc = account(graph, hw, pl)
        rates = calibration_rates(graph, ctx.calibration) or uniform_rates(graph)
        n_cores = pl.n_cores
        n_chips = math.ceil(n_cores / hw.chip.cores_per_chip.value)
        placement_chips(n_cores, hw)  # CapacityError when the system has too few chips
        slots = snake_chips(hw.system.max_chips.value, hw.system.mesh_columns.value, n_chips)
        src, dst, weight = core_traffic_matrix(acc, rates)
        mesh = hw.system.mesh_columns.value
        groupings = {
            "sequential": np.arange(n_cores, dtype=np.int64) // hw.chip.cores_per_chip.value
        }
        if self.method in ("auto", "metis") and n_chips > 1 and n_cores <= _MAX_METIS_CORES:
            groupings["metis"] = _metis_groups(
                n_cores, n_chips, hw.chip.cores_per_chip.value, src, dst, weight, ctx.seed
            )
        results = []
        for method, groups in groupings.items():
            if self.method not in ("auto", method):
                continue
            core_chip = _arrange(groups, n_chips, slots, src, dst, weight, mesh)
            cost = float((weight * chip_hops(core_chip[src], core_chip[dst], mesh)).sum())
            results.append((round(cost, 6), len(results), method, core_chip))
        cost, _, method, core_chip = min(results, key=lambda r: (r[0], r[1]))
        placed = Placement(pl.blocks, core_chip, pl.target)
        ctx.reports[self.name] = {
            "chips_used": n_chips,
            "per_core": per_core_report(graph, placed, acc, hw),
            "traffic": {
                k: round(v, 6) for k, v in traffic(graph, acc, rates, core_chip, mesh).items()
            },
            "limits": limits_report(hw),
            "place": {
                "method": method,
                "candidates": [{"method": m, "inter_chip": c} for c, _, m, _ in results],
            },
        }
        return graph.replace(placement=placed)


def snake_chips(max_chips: int, mesh_columns: int, count: int | None = None) -> np.ndarray:
    """Chip ids along a snake through the mesh rows; consecutive chips are mesh neighbours.

    The first `count` chips (all `max_chips` when None), computed per chip, never per mesh cell:
    a config may declare up to 2^40 chips or columns (ir.hardware). Rows run left to right and
    right to left in turn; a partial last row holds chips 0..k-1 of its columns.
    """
    n = max_chips if count is None else min(count, max_chips)
    row, col = np.divmod(np.arange(n, dtype=np.int64), mesh_columns)
    in_row = np.minimum(mesh_columns, max_chips - row * mesh_columns)
    return row * mesh_columns + np.where(row % 2 == 0, col, in_row - 1 - col)


def _metis_groups(
    n_cores: int,
    n_chips: int,
    per_chip: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    seed: int,
) -> np.ndarray:
    import pymetis
    import scipy.sparse as sp

    adj = sp.coo_matrix((weight, (src, dst)), shape=(n_cores, n_cores)).tocsr()
    adj = (adj + adj.T).tocsr()
    adj.setdiag(0)
    adj.eliminate_zeros()
    adj.sort_indices()
    if adj.nnz == 0:
        return np.arange(n_cores, dtype=np.int64) // per_chip
    scale = 1000.0 / float(adj.data.max())
    eweights = np.maximum(1, np.rint(adj.data * scale)).astype(np.int64)
    result = pymetis.part_graph(
        n_chips,
        adjacency=pymetis.CSRAdjacency(adj.indptr.astype(np.int64), adj.indices.astype(np.int64)),
        eweights=eweights,
        options=pymetis.Options(seed=int(seed)),
    )
    groups = np.asarray(result.vertex_part, dtype=np.int64)
    return _balance(groups, n_chips, per_chip, adj.toarray())


def _balance(groups: np.ndarray, n_chips: int, per_chip: int, dense: np.ndarray) -> np.ndarray:
    """Move cores out of over-full chips, each time the core that loses least by moving."""
    groups = groups.copy()
    onehot = np.zeros((groups.size, n_chips))
    onehot[np.arange(groups.size), groups] = 1.0
    to_chip = dense @ onehot  # traffic between each core and each chip, kept up to date
    size = np.bincount(groups, minlength=n_chips)
    while True:
        over = np.flatnonzero(size > per_chip)
        if over.size == 0:
            return groups
        open_chips = np.flatnonzero(size < per_chip)
        members = np.flatnonzero(groups == over[0])
        home = to_chip[members, over[0]]
        gain = to_chip[np.ix_(members, open_chips)]
        best_open = np.argmax(gain, axis=1)
        loss = home - gain[np.arange(members.size), best_open]
        k = int(np.lexsort((members, loss))[0])
        core, target = int(members[k]), int(open_chips[best_open[k]])
        to_chip[:, groups[core]] -= dense[:, core]
        to_chip[:, target] += dense[:, core]
        size[groups[core]] -= 1
        size[target] += 1
        groups[core] = target


def _arrange(
    groups: np.ndarray,
    n_chips: int,
    slots: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    mesh: int,
) -> np.ndarray:
    """Chip id of every core: groups laid on `slots`, then improved by swapping whole groups."""
    between = np.zeros((n_chips, n_chips))
    np.add.at(between, (groups[src], groups[dst]), weight)
    between = between + between.T
    hops = chip_hops(slots[:, None], slots[None, :], mesh).astype(np.float64)
    where = np.arange(n_chips)  # group g sits on slot where[g]
    if 2 < n_chips <= _MAX_SWAP_CHIPS:
        cost = float((between * hops[np.ix_(where, where)]).sum())
        improved = True
        while improved:
            improved = False
            for p in range(n_chips):
                for q in range(p + 1, n_chips):
                    trial = where.copy()
                    trial[p], trial[q] = where[q], where[p]
                    c = float((between * hops[np.ix_(trial, trial)]).sum())
                    if c < cost - 1e-9:
                        where, cost, improved = trial, c, True
    return slots[where[groups]]


def per_core_report(
    graph: Graph, placement: Placement, acc: Accounting, hw: HardwareSpec
) -> list[dict[str, Any]]:
    """Per core: chip, the populations it holds blocks of, each resource's use and limit."""
    limits = core_limits(hw)
    pops: dict[int, list[str]] = {}
    for b in placement.blocks:
        names = pops.setdefault(b.core, [])
        if b.population not in names:
            names.append(b.population)
    out = []
    for core in range(placement.n_cores):
        row: dict[str, Any] = {
            "core": core,
            "chip": int(placement.core_chip[core]),
            "holds": pops.get(core, []),  # populations with a block on this core
        }
        for r in RESOURCES:
            row[r] = {"use": int(acc.usage[r][core]), "limit": limits[r].value}
        out.append(row)
    return out


def limits_report(hw: HardwareSpec) -> dict[str, dict[str, Any]]:
    """Each per-core limit with its YAML key and whether the number is an estimate."""
    return {
        r: {"value": lim.value, "key": lim.key, "estimate": lim.estimate, "source": lim.source}
        for r, lim in core_limits(hw).items()
    }
