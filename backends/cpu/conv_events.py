"""The fast engine's event-driven fixed-point convolutions: when they are exact
(`exact_as_events`), the geometry and weights their kernels walk (`conv_taps`, `conv_runs`,
`event_args`: for each source that sent something, runs of kernel taps feeding consecutive
outputs, channels last), and the convolutions that can run as one (`merge`). The kernels are
`neurons.jit_common.conv_input`, `backends.cpu._jit.conv_events` and the neuron models' fused
kernels."""

from __future__ import annotations

import hashlib

import numpy as np

from backends.cpu.network import Synapses

__all__ = [
    "CONV_WRAP",
    "FLOAT64_EXACT",
    "conv_runs",
    "conv_taps",
    "event_args",
    "exact_as_events",
    "merge",
]

CONV_WRAP = 1 << 23  # PyConvModelFixed wraps its output to 24 bits
FLOAT64_EXACT = 1 << 53  # integers up to this add exactly in float64
_INT32_MAX = (1 << 31) - 1


def exact_as_events(syn: Synapses, src: np.ndarray) -> bool:
    """Integer events compute the reference's numbers for a fixed-point convolution whose
    sums are exact in float64 (below 2^53): then Lava's float64 sum is the integer sum."""
    return syn.fixed and syn.sum_bound() < FLOAT64_EXACT and src.dtype in (np.uint8, np.int64)


def conv_taps(syn: Synapses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each input position (iy, ix) of a convolution: the kernel taps i kW + j that read it
    and the output position y oW + x each one feeds (y sh - ph + i dh = iy, x sw - pw + j dw =
    ix), as CSR (ptr over positions, taps, output positions)."""
    node = syn.conv
    _, h, w = syn.src_shape
    _, oh, ow = syn.dst_shape
    kh, kw = node.weight.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = node.stride, node.padding, node.dilation
    iy, ix, i, j = np.meshgrid(
        np.arange(h), np.arange(w), np.arange(kh), np.arange(kw), indexing="ij"
    )
    ny, nx = iy + ph - i * dh, ix + pw - j * dw
    ok = (ny >= 0) & (nx >= 0) & (ny % sh == 0) & (nx % sw == 0)
    ok &= (ny // sh < oh) & (nx // sw < ow)
    pos = (iy * w + ix)[ok]  # meshgrid order: already sorted by position
    ptr = np.searchsorted(pos, np.arange(h * w + 1)).astype(np.int64)
    return ptr, (i * kw + j)[ok].astype(np.int64), ((ny // sh) * ow + nx // sw)[ok].astype(np.int64)


def conv_runs(syn: Synapses, wt: np.ndarray) -> tuple[tuple, np.ndarray]:
    """The geometry and weights of `neurons.jit_common.conv_input`: the taps of each input
    position (`conv_taps`) grouped into runs that feed consecutive output positions (with one
    group, a run is one contiguous stretch of the channels-last sums: several taps in one
    loop), each run's taps a *pattern* (interior positions share them), and per input channel
    and pattern the weights of the run in the sums' order (`strips`). wt: the weight (C_out,
    C_in/groups, kH, kW) as (C_in/groups kH kW, C_out), in the accumulator's dtype."""
    from neurons.jit_common import CONV_RUN_PAD

    node = syn.conv
    c_in, h, w = syn.src_shape
    c_out, groups = wt.shape[1], node.groups
    cg, og = c_in // groups, c_out // groups
    n_taps = wt.shape[0] // cg
    ptr, taps, outs = conv_taps(syn)
    pos = np.repeat(np.arange(h * w, dtype=np.int64), np.diff(ptr))
    order = np.lexsort((outs, pos))
    pos, taps, outs = pos[order], taps[order], outs[order]
    # a run breaks at a new input position, a gap in output positions, or (groups > 1) always
    brk = np.ones(pos.size, dtype=bool)
    if groups == 1 and pos.size:
        brk[1:] = (pos[1:] != pos[:-1]) | (outs[1:] != outs[:-1] + 1)
    run = np.cumsum(brk) - 1
    n_runs = int(run[-1]) + 1 if run.size else 0
    starts = np.flatnonzero(brk)
    lengths = np.diff(np.append(starts, pos.size))
    table = np.full((n_runs, int(lengths.max(initial=1))), -1, dtype=np.int64)
    table[run, np.arange(pos.size) - starts[run]] = taps
    patterns, pattern = np.unique(table, axis=0, return_inverse=True)
    pattern = pattern.reshape(-1).astype(np.int64)
    run_ptr = np.searchsorted(pos[starts], np.arange(h * w + 1)).astype(np.int64)
    sizes = (patterns >= 0).sum(axis=1) * og
    # Each run's loop is padded to a multiple of CONV_RUN_PAD elements with zero weights: the
    # loop LLVM vectorizes then ends without a scalar remainder (measured for int16 runs of
    # 60: 9.0 -> 5.5 ns). The padding adds zeros to the sums that follow the run (other output
    # positions or channels, or the kernels' CONV_RUN_PAD elements of slack at the end).
    padded = -(-sizes // CONV_RUN_PAD) * CONV_RUN_PAD
    # One input channel's weights as (taps, its group's og output channels), flat, and a zero
    # after them for the padding; the strip of pattern p indexes it with picks[p].
    per_channel = np.zeros((c_in, n_taps * og + 1), dtype=wt.dtype)
    for ci in range(c_in):
        g, cl = divmod(ci, cg)
        per_channel[ci, :-1] = wt[cl * n_taps : (cl + 1) * n_taps, g * og : (g + 1) * og].ravel()
    picks = []
    for tap_row, size, pad in zip(patterns, sizes, padded, strict=True):
        taps_p = tap_row[tap_row >= 0]
        pick = np.full(int(pad), n_taps * og, dtype=np.int64)
        pick[:size] = (taps_p[:, None] * og + np.arange(og)).ravel()
        picks.append(pick)
    pick = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    starts_p = (np.cumsum(padded) - padded).astype(np.int64)
    offset = (np.arange(c_in, dtype=np.int64)[:, None] * pick.size + starts_p).ravel()
    strips = per_channel[:, pick].ravel()
    runs = (
        c_out, h * w, cg, og, len(patterns), run_ptr, outs[starts].astype(np.int64), pattern,
        padded[pattern].astype(np.int64), offset,
    )
    return runs, np.ascontiguousarray(strips, dtype=wt.dtype)


def event_args(
    syn: Synapses, src: np.ndarray, merged: tuple[np.ndarray, int] | None
) -> tuple[tuple, int]:
    """The arguments of the event-driven convolution kernels (source trains, binary, runs,
    strips: `conv_runs`) and the bound of its sums. `merged`: the summed weight of
    convolutions none of which wraps, and the sum of their bounds (`merge`), replaces
    the node's."""
    node = syn.conv
    weight, bound = (np.asarray(node.weight), syn.sum_bound()) if merged is None else merged
    # the narrowest accumulator that holds every partial sum (int16: twice the SIMD lanes)
    dtype = np.int16 if bound < 1 << 15 else np.int32 if bound <= _INT32_MAX else np.int64
    key = f"conv runs {merged is not None} {np.dtype(dtype).name}"  # once per run, not chunk
    if key not in syn.memo:
        wt = weight.transpose(1, 2, 3, 0).reshape(-1, weight.shape[0]).astype(dtype)
        syn.memo[key] = _cached_runs(syn, np.ascontiguousarray(wt))
    return (src, src.dtype == np.uint8, *syn.memo[key]), bound


# conv_runs of the last few convolutions this process ran (a few ms each, in Python: a
# 64-sample run of the conversion CNN spends 10% of its time there), for the next run of the
# same program in this process (`snnc eval`'s batches, sweeps, benchmarks). Keyed by what
# conv_runs reads: the geometry and the weights' bytes.
_RUNS_CACHE: dict[tuple, tuple[tuple, np.ndarray]] = {}
_RUNS_CACHE_SIZE = 16


def _cached_runs(syn: Synapses, wt: np.ndarray) -> tuple[tuple, np.ndarray]:
    node = syn.conv
    key = (
        syn.src_shape, syn.dst_shape, node.weight.shape, node.stride, node.padding,
        node.dilation, node.groups, wt.dtype.str, wt.shape, hashlib.sha256(wt.data).digest(),
    )
    if key not in _RUNS_CACHE:
        if len(_RUNS_CACHE) >= _RUNS_CACHE_SIZE:
            del _RUNS_CACHE[next(iter(_RUNS_CACHE))]  # the oldest
        _RUNS_CACHE[key] = conv_runs(syn, wt)
    return _RUNS_CACHE[key]


def merge(
    syns: list[Synapses], sources: dict[str, np.ndarray]
) -> list[tuple[Synapses, tuple[np.ndarray, int] | None]]:
    """Event-driven convolutions from the same source with the same geometry (the excitatory
    and inhibitory halves of --split-signs, for one) whose sums each stay below 2^23, as one
    convolution with the summed weight: no 24-bit wrap acts on any of them, so the neurons
    receive the same sum; one pass over the events instead of several. Returns (synapses,
    (summed weight, sum of the parts' bounds) or None when alone) in the order of `syns`."""
    out: list[tuple[Synapses, tuple[np.ndarray, int] | None]] = []
    merged: dict[tuple, int] = {}
    for syn in syns:
        node = syn.conv
        src = sources[syn.src]
        if syn.kind != "conv" or syn.sum_bound() >= CONV_WRAP or not exact_as_events(syn, src):
            out.append((syn, None))
            continue
        key = (syn.src, syn.port, node.weight.shape, node.stride, node.padding, node.dilation,
               node.groups)
        if key not in merged:
            merged[key] = len(out)
            out.append((syn, None))
            continue
        first, acc = out[merged[key]]
        total, bound = acc or (np.asarray(first.conv.weight, dtype=np.int64), first.sum_bound())
        total = total + np.asarray(node.weight, dtype=np.int64)
        out[merged[key]] = (first, (total, bound + syn.sum_bound()))
    return out
