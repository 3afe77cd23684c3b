"""numba kernels of the fast engine's connections (compiled on first use, cached in
__pycache__); the neuron models' kernels are in their `neurons` modules.

Each kernel computes, for a whole batch and every step at once, one piece of what
`reference.py` computes step by step. They are exact under the conditions `fast.py` checks
before calling them (integer sums that cannot pass 2^31); the kernels themselves do int64
arithmetic and explicit 32-bit wraps, like `kernels.py`. Binary input: events or dot products
per step (`neurons.jit_common.binary_sums`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neurons.jit_common import CONV_RUN_PAD, binary_sums, conv_input, list_active


@njit(cache=True, inline="always")
def _add_shifted(acc, rs, ls, dst):
    """dst[:] += (acc >> rs) << ls, in int32 (`fast._sum_shifts`)."""
    rs = np.int32(rs)
    ls = np.int32(ls)
    for j in range(dst.shape[0]):
        dst[j] += np.int32(np.int32(np.int32(acc[j]) >> rs) << ls)


@njit(parallel=True, cache=True)
def dense_binary(spikes, weight_t, weight, use_dot, max_abs, rs, ls, lag, out):
    """out[b, t + lag, :] += (the binary input of spikes[b, t] >> rs) << ls (see
    neurons.jit_common.binary_sums; the shifts: `fast._sum_shifts`).

    spikes: (B, T, n_src) uint8; weight_t (n_src, width) and weight (width, n_src): the
    effective weights shifted right by their common trailing zero bits (so nothing is
    lost), int8 or int16, their destinations padded with zeros to width >= n_dst; max_abs:
    max |weight|; out: (B, T, n_dst) int32. The caller guarantees that every sum fits
    int32."""
    n_batch, n_steps, n_src = spikes.shape
    width = weight_t.shape[1]  # n_dst, or padded past it (`fast._compact_weights`)
    for b in prange(n_batch):
        active = np.empty(n_src, dtype=np.int64)
        acc16 = np.empty(width, dtype=np.int16)
        # dot products: one per real destination (binary_sums computes acc32's length of them)
        acc32 = np.empty(out.shape[2] if use_dot else width, dtype=np.int32)
        for t in range(n_steps - lag):
            row = spikes[b, t]
            count = 0 if use_dot else list_active(row, active)
            if binary_sums(row, weight_t, weight, use_dot, max_abs, active, count, acc16, acc32):
                _add_shifted(acc16, rs, ls, out[b, t + lag])
            else:
                _add_shifted(acc32, rs, ls, out[b, t + lag])


@njit(parallel=True, cache=True)
def sparse_binary(spikes, indptr, rows, values, n_dst, lag, left, right, out):
    """As dense_binary for a CSC matrix (indptr over sources, destination rows, int32 values)."""
    n_batch, n_steps, n_src = spikes.shape
    for b in prange(n_batch):
        acc = np.empty(n_dst, dtype=np.int32)
        for t in range(n_steps - lag):
            acc[:] = 0
            for i in range(n_src):
                if spikes[b, t, i]:
                    for k in range(indptr[i], indptr[i + 1]):
                        acc[rows[k]] += values[k]
            dst = out[b, t + lag]
            for j in range(n_dst):
                dst[j] += (np.int64(acc[j]) << left) >> right


@njit(cache=True, inline="always")
def _float_input(row, weight_t, active, a):
    """a[:] = sum of the (float) weight rows of the sources with row[i] != 0, in ascending
    order of the sources."""
    count = list_active(row, active)
    a[:] = 0.0
    for q in range(count):
        w = weight_t[active[q]]
        for j in range(a.shape[0]):
            a[j] += w[j]


@njit(parallel=True, cache=True)
def dense_binary_float(spikes, weight_t, lag, out):
    """Float dense input from binary spikes, event-driven: out[b, t + lag] += W . spikes[b, t]."""
    n_batch, n_steps, n_src = spikes.shape
    n_dst = out.shape[2]
    for b in prange(n_batch):
        active = np.empty(n_src, dtype=np.int64)
        a = np.empty(n_dst, dtype=np.float64)
        for t in range(n_steps - lag):
            _float_input(spikes[b, t], weight_t, active, a)
            dst = out[b, t + lag]
            for j in range(n_dst):
                dst[j] += a[j]



@njit(parallel=True, cache=True)
def conv_events(spikes, binary, runs, strips, wrap, out):
    """A convolution's input, event-driven (`neurons.jit_common.conv_input`: each source that
    sent something at step t adds its weights, times its payload, to the destinations it
    reaches, exactly, in the dtype of `strips`, which the caller chose to hold every partial
    sum); cost in proportion to the sources that sent something, not to the convolution's
    dense size.

    spikes: (B, T, n_src), uint8 spikes (binary: True) or int64 payloads; runs, strips: the
    convolution's geometry and weights (`backends.cpu.conv_events.conv_runs`). wrap 0: out[b, t + 1]
    += the sum (below 2^23: Lava's int32 cast and 24-bit wrap change nothing); 1: out[b, t + 1]
    += wrap24(sum) (sums within int32: the cast is exact); 2: out[b, t + 1] = the sum (int64),
    for numpy's own float64 -> int32 cast (`kernels.conv_output_fixed`).
    """
    n_batch, n_steps, n_src = spikes.shape
    n_dst = out.shape[2]
    width = np.uint64(runs[0])
    n_out_pos = np.uint64(n_dst) // width
    for b in prange(n_batch):
        acc = np.zeros(n_dst + CONV_RUN_PAD, dtype=strips.dtype)
        active = np.empty(n_src, dtype=np.int64)
        for t in range(n_steps - 1):
            count = list_active(spikes[b, t], active)
            conv_input(spikes[b, t], binary, runs, strips, active, count, acc)
            dst = out[b, t + 1]
            for o in range(width):
                for k in range(n_out_pos):
                    v = acc[k * width + o]
                    if wrap == 0:
                        dst[o * n_out_pos + k] += v
                    elif wrap == 1:
                        dst[o * n_out_pos + k] += ((v + 8388608) & 16777215) - 8388608
                    else:
                        dst[o * n_out_pos + k] = v
