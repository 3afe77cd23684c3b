"""numba kernels of the fast engine (compiled on first use, cached in __pycache__).

Each kernel computes, for a whole batch and every step at once, one piece of what
`reference.py` computes step by step. They are exact under the conditions `fast.py` checks
before calling them (integer sums that cannot pass 2^31); the kernels themselves do int64
arithmetic and explicit 32-bit wraps, like `kernels.py`. Neuron state is kept in int32 arrays
(Lava's own u, v dtype): the decay products are int32 x int32 -> int64, which vectorizes.

Binary synaptic input is computed one of two ways per step, both exact:
- events: list the sources that spiked, add their weight rows (int8/int16 weights; int16
  accumulators while active-count * max|w| < 2^15, else int32);
- dot: for few destinations, one dot product of the spike vector with each weight row.
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


@njit(cache=True, inline="always")
def _binary_input(
    row, weight_t, weight, use_dot, max_abs, scale, left, right, active, acc16, acc32, a
):
    """a[:] = ((sum of the weight rows of the sources that spiked) << scale << left) >> right."""
    n_src = row.shape[0]
    n_dst = a.shape[0]
    if use_dot:
        for j in range(n_dst):
            w = weight[j]
            total = np.int32(0)
            for i in range(n_src):
                total += np.int32(row[i] != 0) * np.int32(w[i])
            a[j] = ((np.int64(total) << scale) << left) >> right
        return
    count = 0
    for i in range(n_src):
        active[count] = i
        count += row[i] != 0
    if count * max_abs < 32768:
        acc16[:] = 0
        for q in range(count):
            w = weight_t[active[q]]
            for j in range(n_dst):
                acc16[j] += w[j]
        for j in range(n_dst):
            a[j] = ((np.int64(acc16[j]) << scale) << left) >> right
    else:
        acc32[:] = 0
        for q in range(count):
            w = weight_t[active[q]]
            for j in range(n_dst):
                acc32[j] += w[j]
        for j in range(n_dst):
            a[j] = ((np.int64(acc32[j]) << scale) << left) >> right


@njit(cache=True, inline="always")
def _lif_row(a, u, v, keep_u, keep_v, vth_eff, bias, s):
    """One PyLifModelBitAcc step for one sample (kernels.fixed_lif_step), in place."""
    for i in range(u.shape[0]):
        act = _wrap32(np.int64(a[i]) << 6)
        d = _wrap32(_trunc12(np.int64(u[i]) * keep_u) + act)
        if d > _MAX_UV:
            d -= 2 * _MAX_UV
        elif d <= -_MAX_UV:
            d += 2 * _MAX_UV
        u[i] = d
        w = _wrap32(_trunc12(np.int64(v[i]) * keep_v) + d + bias[i])
        w = min(max(w, 1 - _MAX_UV), _MAX_UV - 1)
        fired = w > vth_eff
        s[i] = fired
        v[i] = 0 if fired else w


@njit(parallel=True, cache=True)
def dense_binary(spikes, weight_t, weight, use_dot, max_abs, scale, lag, left, right, out):
    """out[b, t + lag, :] += the binary input of spikes[b, t] (see _binary_input).

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
            _binary_input(
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


@njit(parallel=True, cache=True)
def lif_fixed(a_in, du, dv, vth, bias, interval, offset, spikes, u_rec, v_rec):
    """Lava PyLifModelBitAcc / PyLifResetModelBitAcc over all steps (kernels.fixed_lif_step).

    a_in: (B, T, n) int32 received input; bias: (n,) int64 effective bias; spikes: (B, T, n)
    uint8 out; u_rec / v_rec: (B, T, n) int64 out, or size-0 arrays when not recorded."""
    n_batch, n_steps, n = a_in.shape
    keep_u = np.int64(4096 - (du + 1))
    keep_v = np.int64(4096 - dv)
    vth_eff = np.int64(vth) << 6
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        for t in range(n_steps):
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            _lif_row(a_in[b, t], u, v, keep_u, keep_v, vth_eff, bias, spikes[b, t])
            if u_rec.size:
                u_rec[b, t] = u
            if v_rec.size:
                v_rec[b, t] = v


@njit(parallel=True, cache=True)
def dense_lif(
    spikes_in,
    weight_t,
    weight,
    use_dot,
    max_abs,
    scale,
    left,
    right,
    du,
    dv,
    vth,
    bias,
    interval,
    offset,
    spikes,
    u_rec,
    v_rec,
):
    """A LIF population fed by one binary Dense projection without delay, fused: at each step
    the input current is computed from the source's previous step and used at once (no
    (B, T, n) current buffer). Same arguments as dense_binary and lif_fixed."""
    n_batch, n_steps, n_src = spikes_in.shape
    n = spikes.shape[2]
    keep_u = np.int64(4096 - (du + 1))
    keep_v = np.int64(4096 - dv)
    vth_eff = np.int64(vth) << 6
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        active = np.empty(n_src, dtype=np.int64)
        acc16 = np.empty(n, dtype=np.int16)
        acc32 = np.empty(n, dtype=np.int32)
        a = np.zeros(n, dtype=np.int64)
        for t in range(n_steps):
            if t >= 1:  # a projection delivers at step t what its source emitted at t - 1
                _binary_input(
                    spikes_in[b, t - 1],
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
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            _lif_row(a, u, v, keep_u, keep_v, vth_eff, bias, spikes[b, t])
            if u_rec.size:
                u_rec[b, t] = u
            if v_rec.size:
                v_rec[b, t] = v


@njit(parallel=True, cache=True)
def lif_float(a_in, alpha_syn, alpha_mem, v_th, bias, interval, offset, spikes, u_rec, v_rec):
    """The float LIF (ir.nodes.LIF) over all steps; same layout as lif_fixed, float64."""
    n_batch, n_steps, n = a_in.shape
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
            if u_rec.size:
                u_rec[b, t] = u
            if v_rec.size:
                v_rec[b, t] = v


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
