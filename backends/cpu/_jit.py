"""numba kernels of the fast engine's connections (compiled on first use, cached in
__pycache__); the neuron models' kernels are in their `neurons` modules.

Each kernel computes, for a whole batch and every step at once, one piece of what
`reference.py` computes step by step. They are exact under the conditions `fast.py` checks
before calling them (integer sums that cannot pass 2^31); the kernels themselves do int64
arithmetic and explicit 32-bit wraps, like `kernels.py`. Binary input: events or dot products
per step (`neurons.jit_common.binary_input`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neurons.jit_common import binary_input


@njit(parallel=True, cache=True)
def dense_binary(spikes, weight_t, weight, use_dot, max_abs, scale, lag, left, right, out):
    """out[b, t + lag, :] += the binary input of spikes[b, t] (see neurons.jit_common.binary_input).

    spikes: (B, T, n_src) uint8; weight_t (n_src, n_dst) and weight (n_dst, n_src): the
    effective weights shifted right by `scale` (their common trailing zero bits, so nothing is
    lost), int8 or int16; max_abs: max |weight|; out: (B, T, n_dst) int32. The caller
    guarantees that every sum fits int32."""
    n_batch, n_steps, n_src = spikes.shape
    n_dst = out.shape[2]
    for b in prange(n_batch):
        active = np.empty(n_src, dtype=np.int64)
        acc16 = np.empty(n_dst, dtype=np.int16)
        acc32 = np.empty(n_dst, dtype=np.int32)
        a = np.empty(n_dst, dtype=np.int64)
        for t in range(n_steps - lag):
            binary_input(
                spikes[b, t],
                weight_t,
                weight,
                use_dot,
                max_abs,
                scale,
                left,
                right,
                active,
                acc16,
                acc32,
                a,
            )
            dst = out[b, t + lag]
            for j in range(n_dst):
                dst[j] += a[j]


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
    """a[:] = sum of the (float) weight rows of the sources with row[i] != 0."""
    count = 0
    for i in range(row.shape[0]):
        active[count] = i
        count += row[i] != 0
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
