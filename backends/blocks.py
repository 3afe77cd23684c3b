"""The piece decomposition of a program: the graph that piece-by-piece execution runs.

A backend may run a population as several *pieces*, disjoint sets of its neurons
(`compiler.passes.split_exact` defines them and the one rule for when that changes a result).
The pieces are the placement's blocks for per-block execution (Lava's `--lava-blocks`, the cpu
backend's `blocks=True`), or the whole population (the default: one Lava process per population
and one per projection). Parameter groups (per-neuron registers a target takes once per
process) are not pieces: the Lava lowering runs them within each piece (`backends.lava.lower`).

`expand_pieces(graph, pieces)` gives an ordinary `ir.Graph` (the *piece graph*) whose
populations are the pieces and whose projections are the (source piece, destination piece)
pairs; the Lava lowering builds one process per node of it, and the cpu backend can run it:

- a population in one piece keeps its name and node; a population cut into several becomes
  `name.pK` (flat shape, per-neuron parameters sliced); input populations are never cut;
- a Dense/Sparse projection becomes one projection per piece pair with the weights (and
  per-synapse delays) of that pair; pairs whose effective weights are all zero are dropped;
- a Conv2d between two uncut populations stays a Conv2d. A convolution touching a cut
  population becomes per-pair QSparse projections holding its taps, with a synapse format
  that Lava's Sparse model leaves unchanged (mixed sign, 9 weight bits: clip to [-256, 255],
  0 bits truncated; weight_exp 0), equal to Lava's Conv while no 24-bit wrap can happen.

A program whose result depends on the cut (`split_hazards` not empty: never one that
`snnc compile` wrote) is refused with one line rather than run piece by piece.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from backends.base import Probe, Trace
from compiler.passes.split_exact import Pieces, placement_pieces, split_hazards
from ir.errors import InputError
from ir.fixed import effective_weights
from ir.graph import Graph
from ir.nodes import (
    Conv2d,
    Dense,
    Input,
    Population,
    Projection,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
)

__all__ = [
    "CONV_AS_SPARSE_BITS",
    "PieceGraph",
    "check_split_exact",
    "conv_as_sparse",
    "conv_synapses",
    "expand_blocks",
    "expand_pieces",
    "piece_pairs",
]

# Weight bits that make Lava's truncate_weights keep every bit of a mixed-sign weight:
# 8 - num_weight_bits + is_mixed = 0 (lava utils/weightutils.py).
CONV_AS_SPARSE_BITS = 9


@dataclass(frozen=True)
class PieceGraph:
    """The piece graph of a program: `parts[population]` lists (piece population name, flat
    neuron indices), in the order of the pieces."""

    graph: Graph
    parts: Mapping[str, tuple[tuple[str, np.ndarray], ...]]

    @property
    def n_pieces(self) -> int:
        """Neuron populations of the piece graph (inputs are never cut)."""
        return sum(1 for p in self.graph.populations.values() if not isinstance(p, Input))

    def piece_probes(self, probes: Sequence[Probe]) -> tuple[Probe, ...]:
        """The probes of the piece graph that record `probes` of the original graph."""
        return tuple(
            Probe(name, p.variables) for p in probes for name, _ in self.parts[p.population]
        )

    def gather(self, trace: Trace, probes: Sequence[Probe], sizes: Mapping[str, int]) -> Trace:
        """Reassemble a piece-graph trace into the original populations' (batch, T, n) arrays."""
        data: dict[str, dict[str, np.ndarray]] = {}
        for p in probes:
            out: dict[str, np.ndarray] = {}
            for var in p.variables:
                parts = [(trace.get(name, var), idx) for name, idx in self.parts[p.population]]
                first = parts[0][0]
                arr = np.zeros(
                    (first.shape[0], first.shape[1], sizes[p.population]), dtype=first.dtype
                )
                for block_arr, idx in parts:
                    arr[:, :, idx] = block_arr
                out[var] = arr
            data[p.population] = out
        return Trace(
            backend=trace.backend,
            steps=trace.steps,
            batch=trace.batch,
            data=data,
            info=dict(trace.info),
        )


def _unique_name(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def _piece_population(pop: Population, idx: np.ndarray) -> Population:
    changes: dict = {"shape": (int(idx.size),)}
    for fname in pop.array_fields():
        arr = np.asarray(getattr(pop, fname))
        if arr.ndim:
            changes[fname] = arr.reshape(-1)[idx]
    return pop.replace(**changes)  # type: ignore[return-value]


def conv_synapses(proj: Conv2d | QConv2d, src_shape: tuple[int, ...], dst_shape: tuple[int, ...]):
    """The synapses of a convolution as COO (rows = flat dst index, cols = flat src index,
    values), in PyTorch's cross-correlation convention; zero-weight taps are dropped."""
    c_out, cg, kh, kw = proj.weight.shape
    _, h, w = src_shape
    _, oh, ow = dst_shape
    (sh, sw), (ph, pw), (dh, dw) = proj.stride, proj.padding, proj.dilation
    og = c_out // proj.groups
    o, y, x, c, i, j = np.meshgrid(
        np.arange(c_out),
        np.arange(oh),
        np.arange(ow),
        np.arange(cg),
        np.arange(kh),
        np.arange(kw),
        indexing="ij",
    )
    ci = (o // og) * cg + c
    iy = y * sh - ph + i * dh
    ix = x * sw - pw + j * dw
    values = proj.weight[o, c, i, j]
    keep = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w) & (values != 0)
    rows = ((o * oh + y) * ow + x)[keep]
    cols = ((ci * h + iy) * w + ix)[keep]
    order = np.lexsort((cols, rows))
    return rows[order], cols[order], values[keep][order]


def _pair_dense(proj: Dense | QDense, s_idx: np.ndarray, d_idx: np.ndarray, src: str, dst: str):
    weight = proj.weight[np.ix_(d_idx, s_idx)]
    kept = (
        effective_weights(weight, proj.num_weight_bits, proj.sign_mode)
        if isinstance(proj, QDense)
        else weight
    )
    if not np.any(kept):
        return None
    delay = proj.delay[np.ix_(d_idx, s_idx)] if proj.delay.ndim else proj.delay
    return proj.replace(src=src, dst=dst, weight=weight, delay=delay)


def _pair_sparse(proj: Sparse | QSparse, s_pos: np.ndarray, d_pos: np.ndarray, src: str, dst: str):
    """s_pos/d_pos: position of each source/destination neuron in its piece, -1 outside."""
    keep = (s_pos[proj.cols] >= 0) & (d_pos[proj.rows] >= 0)
    if not keep.any():
        return None
    values = proj.values[keep]
    kept = (
        effective_weights(values, proj.num_weight_bits, proj.sign_mode)
        if isinstance(proj, QSparse)
        else values
    )
    if not np.any(kept):
        return None
    delay = proj.delay[keep] if proj.delay.ndim else proj.delay
    return proj.replace(
        src=src,
        dst=dst,
        rows=d_pos[proj.rows[keep]],
        cols=s_pos[proj.cols[keep]],
        values=values,
        delay=delay,
    )


def conv_as_sparse(graph: Graph, proj: Conv2d | QConv2d) -> Sparse | QSparse:
    """A convolution's taps as one Sparse projection, exact while |sum| < 2^23: the caller
    checks `split_hazards` (pieces) or `exactness_risks` (the Lava lowering's destination
    parameter groups)."""
    src, dst = graph.populations[proj.src], graph.populations[proj.dst]
    rows, cols, values = conv_synapses(proj, src.shape, dst.shape)
    if isinstance(proj, Conv2d):
        return Sparse(proj.src, proj.dst, rows=rows, cols=cols, values=values, port=proj.port)
    return QSparse(
        proj.src,
        proj.dst,
        port=proj.port,
        rows=rows,
        cols=cols,
        values=values,
        weight_exp=0,
        num_weight_bits=CONV_AS_SPARSE_BITS,
        sign_mode="mixed",
    )


def check_split_exact(graph: Graph, pieces: Pieces, how: str) -> None:
    """Refuse, in one line, to run `graph` as `pieces` when that would change its result."""
    hazards = split_hazards(graph, pieces)
    if hazards:
        name, reason = next(iter(hazards.items()))
        more = f" (and {len(hazards) - 1} more)" if len(hazards) > 1 else ""
        raise InputError(
            f"{how}: projection {name!r}{more}: {reason}, so this program's result depends on how "
            "it is cut; it was not compiled by this snnc, which makes every projection "
            "split-exact: compile it again"
        )


def piece_pairs(graph: Graph, pieces: Pieces, names: Sequence[str] | None = None) -> int:
    """How many projections `expand_pieces` makes of projections `names` (default: all):
    (source piece, destination piece) pairs with a nonzero weight, counted without building
    them (what a backend checks before lowering)."""
    total = 0
    for name in graph.projections if names is None else names:
        proj = graph.projections[name]
        n_src, n_dst = len(pieces[proj.src]), len(pieces[proj.dst])
        if n_src == 1 and n_dst == 1:
            total += 1
            continue
        src_id = np.zeros(graph.populations[proj.src].size, dtype=np.int64)
        dst_id = np.zeros(graph.populations[proj.dst].size, dtype=np.int64)
        for k, idx in enumerate(pieces[proj.src]):
            src_id[idx] = k
        for k, idx in enumerate(pieces[proj.dst]):
            dst_id[idx] = k
        if isinstance(proj, (Conv2d, QConv2d)):
            rows, cols, _ = conv_synapses(
                proj, graph.populations[proj.src].shape, graph.populations[proj.dst].shape
            )
        elif isinstance(proj, (Dense, QDense)):
            w = (
                effective_weights(proj.weight, proj.num_weight_bits, proj.sign_mode)
                if isinstance(proj, QDense)
                else proj.weight
            )
            # Pair (i, j) has a synapse iff some row of piece j has a nonzero in piece i.
            by_src = np.zeros((w.shape[0], n_src), dtype=bool)
            for k, idx in enumerate(pieces[proj.src]):
                by_src[:, k] = np.any(w[:, idx] != 0, axis=1)
            hit = np.zeros((n_dst, n_src), dtype=bool)
            np.logical_or.at(hit, dst_id, by_src)
            total += int(hit.sum())
            continue
        else:
            values = (
                effective_weights(proj.values, proj.num_weight_bits, proj.sign_mode)
                if isinstance(proj, QSparse)
                else proj.values
            )
            keep = values != 0
            rows, cols = proj.rows[keep], proj.cols[keep]
        total += int(np.unique(dst_id[rows] * n_src + src_id[cols]).size)
    return total


def expand_pieces(graph: Graph, pieces: Pieces) -> PieceGraph:
    """The piece graph of `graph` cut into `pieces` (itself when nothing is cut)."""
    if not any(len(pieces[n]) > 1 for n in graph.populations):
        parts = {n: ((n, np.arange(p.size)),) for n, p in graph.populations.items()}
        return PieceGraph(graph, parts)
    taken = set(graph.populations) | set(graph.projections)
    parts_l: dict[str, list[tuple[str, np.ndarray]]] = {}
    pops: dict[str, Population] = {}
    for n, pop in graph.populations.items():
        if len(pieces[n]) == 1 or isinstance(pop, Input):
            parts_l[n] = [(n, np.arange(pop.size))]
            pops[n] = pop
            continue
        parts_l[n] = []
        for k, idx in enumerate(pieces[n]):
            pname = _unique_name(f"{n}.p{k}", taken)
            parts_l[n].append((pname, np.asarray(idx, dtype=np.int64)))
            pops[pname] = _piece_population(pop, np.asarray(idx, dtype=np.int64))
    projs: dict[str, Projection] = {}
    for pname, proj in graph.projections.items():
        src_parts, dst_parts = parts_l[proj.src], parts_l[proj.dst]
        single = len(src_parts) == 1 and len(dst_parts) == 1
        if isinstance(proj, (Conv2d, QConv2d)):
            if single:
                projs[pname] = proj
                continue
            proj = conv_as_sparse(graph, proj)
        n_src, n_dst = graph.populations[proj.src].size, graph.populations[proj.dst].size
        for si, (sname, s_idx) in enumerate(src_parts):
            for di, (dname, d_idx) in enumerate(dst_parts):
                if isinstance(proj, (Dense, QDense)):
                    node = _pair_dense(proj, s_idx, d_idx, sname, dname)
                else:
                    s_pos = np.full(n_src, -1, dtype=np.int64)
                    s_pos[s_idx] = np.arange(s_idx.size)
                    d_pos = np.full(n_dst, -1, dtype=np.int64)
                    d_pos[d_idx] = np.arange(d_idx.size)
                    node = _pair_sparse(proj, s_pos, d_pos, sname, dname)  # type: ignore[arg-type]
                if node is None:
                    continue
                key = pname if single else _unique_name(f"{pname}.{si}-{di}", taken)
                projs[key] = node
    outputs = tuple(b for o in graph.output_names for b, _ in parts_l[o])
    piece_graph = Graph(
        populations=pops, projections=projs, dt=graph.dt, outputs=outputs, metadata=graph.metadata
    )
    return PieceGraph(piece_graph, {n: tuple(v) for n, v in parts_l.items()})


def expand_blocks(graph: Graph) -> PieceGraph:
    """`graph` cut into its placement's blocks (itself when unplaced), checked split-exact."""
    pieces = placement_pieces(graph)
    check_split_exact(graph, pieces, "block-by-block execution")
    return expand_pieces(graph, pieces)
