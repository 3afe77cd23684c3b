"""numba kernels of the fast engine (compiled on first use, cached in __pycache__).

Each kernel computes, for a whole batch and every step at once, one piece of what
`reference.py` computes step by step. They are exact under the conditions `fast.py` checks
before calling them (integer sums that cannot pass 2^31); the kernels themselves do int64
arithmetic and explicit 32-bit wraps, like `kernels.py`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_HALF32 = np.int64(1 << 31)
_MASK32 = np.int64((1 << 32) - 1)
_MAX_UV = np.int64(1 << 23)


@njit(cache=True, inline="always")
def _wrap32(x):
    return ((x + _HALF32) & _MASK32) - _HALF32


@njit(cache=True, inline="always")
def _trunc12(x):
    # sign(x) * (|x| >> 12): adding 4095 to negative values before the arithmetic shift
    # rounds toward zero instead of toward -inf.
    return (x + ((x >> 63) & 4095)) >> 12


@njit(parallel=True, cache=True)
def dense_binary(spikes, weight_t, max_abs, scale, lag, left, right, out):
    """out[b, t + lag, :] += (((sum_i spikes[b, t, i] * weight_t[i, :]) << scale) << left) >> right.

    spikes: (B, T, n_src) uint8; weight_t: (n_src, n_dst) int8 or int16, the effective weights
    shifted right by `scale` (their common trailing zero bits, so nothing is lost); max_abs:
    max |weight_t|; out: (B, T, n_dst) int32. The caller guarantees that every sum fits int32.
    Event-driven: the rows of the sources that spiked are added; a step whose
    active-count * max_abs stays below 2^15 accumulates in int16 lanes (exact), others in int32.
    """
    n_batch, n_steps, n_src = spikes.shape
    n_dst = weight_t.shape[1]
    for b in prange(n_batch):
        active = np.empty(n_src, dtype=np.int64)
        acc16 = np.empty(n_dst, dtype=np.int16)
        acc32 = np.empty(n_dst, dtype=np.int32)
        for t in range(n_steps - lag):
            count = 0
            row_spikes = spikes[b, t]
            for i in range(n_src):
                active[count] = i
                count += row_spikes[i] != 0
            dst = out[b, t + lag]
            if count * max_abs < 32768:
                acc16[:] = 0
                for q in range(count):
                    row = weight_t[active[q]]
                    for j in range(n_dst):
                        acc16[j] += row[j]
                for j in range(n_dst):
                    dst[j] += ((np.int64(acc16[j]) << scale) << left) >> right
            else:
                acc32[:] = 0
                for q in range(count):
                    row = weight_t[active[q]]
                    for j in range(n_dst):
                        acc32[j] += row[j]
                for j in range(n_dst):
                    dst[j] += ((np.int64(acc32[j]) << scale) << left) >> right


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


@njit(parallel=True, cache=True)
def lif_fixed(a_in, du, dv, vth, bias, interval, offset, spikes, u_rec, v_rec):
    """Lava PyLifModelBitAcc / PyLifResetModelBitAcc over all steps (see kernels.fixed_lif_step).

    a_in: (B, T, n) int32 received input; bias: (n,) int64 effective bias; spikes: (B, T, n)
    uint8 out; u_rec / v_rec: (B, T, n) int64 out, or size-0 arrays when not recorded."""
    n_batch, n_steps, n = a_in.shape
    keep_u = 4096 - (du + 1)
    keep_v = 4096 - dv
    vth_eff = np.int64(vth) << 6
    rec_u = u_rec.size > 0
    rec_v = v_rec.size > 0
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int64)
        v = np.zeros(n, dtype=np.int64)
        for t in range(n_steps):
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            a = a_in[b, t]
            s = spikes[b, t]
            for i in range(n):
                act = _wrap32(np.int64(a[i]) << 6)
                d = _wrap32(_trunc12(u[i] * keep_u) + act)
                if d > _MAX_UV:
                    d -= 2 * _MAX_UV
                elif d <= -_MAX_UV:
                    d += 2 * _MAX_UV
                u[i] = d
                w = _wrap32(_trunc12(v[i] * keep_v) + d + bias[i])
                w = min(max(w, 1 - _MAX_UV), _MAX_UV - 1)
                fired = w > vth_eff
                s[i] = fired
                v[i] = 0 if fired else w
            if rec_u:
                u_rec[b, t] = u
            if rec_v:
                v_rec[b, t] = v


@njit(parallel=True, cache=True)
def lif_float(a_in, alpha_syn, alpha_mem, v_th, bias, interval, offset, spikes, u_rec, v_rec):
    """The float LIF (ir.nodes.LIF) over all steps; same layout as lif_fixed, float64."""
    n_batch, n_steps, n = a_in.shape
    rec_u = u_rec.size > 0
    rec_v = v_rec.size > 0
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.float64)
        v = np.zeros(n, dtype=np.float64)
        for t in range(n_steps):
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0.0
                v[:] = 0.0
            a = a_in[b, t]
            s = spikes[b, t]
            for i in range(n):
                ui = u[i] * alpha_syn[i] + a[i]
                vi = v[i] * alpha_mem[i] + ui + bias[i]
                u[i] = ui
                fired = vi > v_th[i]
                s[i] = fired
                v[i] = 0.0 if fired else vi
            if rec_u:
                u_rec[b, t] = u
            if rec_v:
                v_rec[b, t] = v
