"""Per-projection connectivity: the synapses of every projection, looked up by destination
neuron (`Fanin`), as `ir.resources` counts them and the partition and place passes split them.

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
from collections.abc import Iterator

import numpy as np

from ir.fixed import effective_weights
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Conv2d, Dense, QConv2d, QDense, QSparse, Sparse

__all__ = ["Fanin", "distinct_counts", "fanin", "graph_fanins"]

# Synapses produced per step of a chunked scan: bounds temporary memory to tens of MB.
_CHUNK_SYNAPSES = 1 << 21


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
