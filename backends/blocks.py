"""The block decomposition of a placed program: the graph that block-by-block execution runs.

A placed program's neurons are split into blocks (`ir.placement`). The Lava backend builds one
LIF process per block and one connection process per (source block, destination block) pair
that has synapses; the cpu backend's block mode runs exactly the same decomposition. Both get
it from here, as an ordinary `ir.Graph` (the *block graph*) whose populations are the blocks
and whose projections are the block pairs:

- a population in one block that holds all its neurons keeps its name and node; a population
  cut into several blocks becomes `name.blkK` (flat shape, per-neuron parameters sliced);
  input populations are never cut;
- a Dense/Sparse projection becomes one projection per block pair with the weights (and
  per-synapse delays) of that pair; pairs whose effective weights are all zero are dropped;
- a Conv2d between two uncut populations stays a Conv2d. A convolution touching a cut
  population becomes per-pair QSparse projections holding its taps, with a synapse format
  that Lava's Sparse model leaves unchanged (mixed sign, 9 weight bits: clip to [-256, 255],
  0 bits truncated; weight_exp 0). This equals Lava's Conv only while no 24-bit wrap can
  happen, which is checked: max |sum| < 2^23, or an IRVerifyError.

Cutting a projection's *destination* never changes results. Cutting its *source* splits each
destination's sum into per-pair sums, and Lava shifts each by weight_exp separately: with
weight_exp < 0 the floors differ unless every effective weight is a multiple of
2^-weight_exp; graded payloads whose sums can pass 2^31 wrap per pair. `split_hazards` lists
these cases so that a partitioner (or a user) can see when block execution may differ from the
unpartitioned program.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ir.errors import IRVerifyError
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

from neurons import model_of

from backends.base import Probe, Trace

__all__ = [
    "CONV_AS_SPARSE_BITS",
    "BlockGraph",
    "conv_as_sparse",
    "conv_synapses",
    "expand_blocks",
    "split_hazards",
]

# Weight bits that make Lava's truncate_weights keep every bit of a mixed-sign weight:
# 8 - num_weight_bits + is_mixed = 0 (lava utils/weightutils.py).
CONV_AS_SPARSE_BITS = 9
_CONV_WRAP_LIMIT = 1 << 23  # Lava conv output wraps to signed 24 bits


@dataclass(frozen=True)
class BlockGraph:
    """The block graph of a program.

    `parts[population]` lists (block population name, flat neuron indices) in placement order;
    `cores[block name]` is the block's core (-1 for host inputs and unplaced programs).
    """

    graph: Graph
    parts: Mapping[str, tuple[tuple[str, np.ndarray], ...]]
    cores: Mapping[str, int]

    def block_probes(self, probes: Sequence[Probe]) -> tuple[Probe, ...]:
        """The probes of the block graph that record `probes` of the original graph."""
        return tuple(
            Probe(name, p.variables) for p in probes for name, _ in self.parts[p.population]
        )

    def gather(self, trace: Trace, probes: Sequence[Probe], sizes: Mapping[str, int]) -> Trace:
        """Reassemble a block-graph trace into the original populations' (batch, T, n) arrays."""
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


def _block_population(pop: Population, idx: np.ndarray) -> Population:
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


def _payload_max(graph: Graph, name: str) -> int:
    pop = graph.populations[name]
    if isinstance(pop, Input):
        return (1 << (pop.message_bits - 1)) if pop.message_bits else 1
    # Graded neuron models send whatever their int32 state gives (Lava does not clip).
    model = model_of(pop)
    return model.payload_bound(None) if model.graded else 1


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
    """s_pos/d_pos: position of each source/destination neuron in its block, -1 outside."""
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


def conv_as_sparse(graph: Graph, name: str, proj: Conv2d | QConv2d) -> Sparse | QSparse:
    """A convolution as the equivalent sparse projection (float), or the QSparse Lava's Sparse
    model computes equally while no 24-bit wrap can happen (checked: IRVerifyError)."""
    src, dst = graph.populations[proj.src], graph.populations[proj.dst]
    if isinstance(proj, Conv2d):
        rows, cols, values = conv_synapses(proj, src.shape, dst.shape)
        return Sparse(proj.src, proj.dst, rows=rows, cols=cols, values=values)
    bound = int(np.abs(proj.weight).reshape(proj.weight.shape[0], -1).sum(axis=1).max(initial=0))
    bound *= _payload_max(graph, proj.src)
    if bound >= _CONV_WRAP_LIMIT:
        raise IRVerifyError(
            f"projection {name!r} ({proj.src} -> {proj.dst})",
            f"a convolution whose populations are cut into blocks runs as per-block sparse "
            f"connections, exact only while |sum| < 2^23 (Lava's Conv wraps at 24 bits); this one "
            f"can reach {bound}; keep {proj.src!r} and {proj.dst!r} in one block each",
        )
    rows, cols, values = conv_synapses(proj, src.shape, dst.shape)
    return QSparse(
        proj.src,
        proj.dst,
        rows=rows,
        cols=cols,
        values=values,
        weight_exp=0,
        num_weight_bits=CONV_AS_SPARSE_BITS,
        sign_mode="mixed",
    )


def expand_blocks(graph: Graph) -> BlockGraph:
    """The block graph of `graph` (itself, with trivial parts, when it has no placement)."""
    placement = graph.placement
    if placement is None:
        parts = {n: ((n, np.arange(p.size)),) for n, p in graph.populations.items()}
        return BlockGraph(graph, parts, {n: -1 for n in graph.populations})
    taken = set(graph.populations) | set(graph.projections)
    parts_l: dict[str, list[tuple[str, np.ndarray]]] = {}
    cores: dict[str, int] = {}
    pops: dict[str, Population] = {}
    for n, pop in graph.populations.items():
        blocks = placement.blocks_of(n) if not isinstance(pop, Input) else ()
        whole = (len(blocks) == 1 and blocks[0].size == pop.size) or isinstance(pop, Input)
        if whole:
            parts_l[n] = [(n, np.arange(pop.size))]
            pops[n] = pop
            cores[n] = blocks[0].core if blocks else -1
            continue
        parts_l[n] = []
        for k, b in enumerate(blocks):
            bname = _unique_name(f"{n}.blk{k}", taken)
            parts_l[n].append((bname, b.neurons))
            pops[bname] = _block_population(pop, b.neurons)
            cores[bname] = b.core
    projs: dict[str, Projection] = {}
    for pname, proj in graph.projections.items():
        src_parts, dst_parts = parts_l[proj.src], parts_l[proj.dst]
        if isinstance(proj, (Conv2d, QConv2d)):
            if (
                len(src_parts) == 1
                and len(dst_parts) == 1
                and src_parts[0][0] == proj.src
                and dst_parts[0][0] == proj.dst
            ):
                projs[pname] = proj
                continue
            proj = conv_as_sparse(graph, pname, proj)
        single = len(src_parts) == 1 and len(dst_parts) == 1
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
    block_graph = Graph(
        populations=pops, projections=projs, dt=graph.dt, outputs=outputs, metadata=graph.metadata
    )
    parts = {n: tuple(v) for n, v in parts_l.items()}
    return BlockGraph(block_graph, parts, cores)


def split_hazards(graph: Graph) -> list[str]:
    """Projections whose per-block execution may differ from the unpartitioned program (see
    the module docstring), one line each; empty when block execution is exact."""
    if graph.placement is None:
        return []
    out = []
    for name, proj in graph.projections.items():
        if not isinstance(proj, (QDense, QSparse)):
            continue
        if len(graph.placement.blocks_of(proj.src)) <= 1:
            continue
        raw = proj.weight if isinstance(proj, QDense) else proj.values
        w = effective_weights(raw, proj.num_weight_bits, proj.sign_mode)
        if proj.weight_exp < 0 and np.any(w % (1 << -proj.weight_exp)):
            out.append(
                f"projection {name!r}: source {proj.src!r} is cut into blocks and weight_exp = "
                f"{proj.weight_exp} floors each block's partial sum separately"
            )
        bound = (
            int(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
            if isinstance(proj, QDense)
            else int(np.bincount(proj.rows, np.abs(w), minlength=1).max(initial=0))
        )
        if bound * _payload_max(graph, proj.src) >= 1 << 31:
            out.append(
                f"projection {name!r}: source {proj.src!r} is cut into blocks and graded sums "
                f"can pass 2^31, where Lava wraps each block's partial sum"
            )
    return out
