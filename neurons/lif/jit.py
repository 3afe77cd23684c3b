"""numba kernels of the LIF model for the cpu backend's fast engine (compiled on first use,
cached in __pycache__): `neurons.lif.fixed_step` transcribed into loops over a whole batch and
every step. Neuron state is kept in int32 arrays (Lava's own u, v dtype): the decay products
are int32 x int32 -> int64, which vectorizes. Registers are per neuron (keep_u = 4096 - du - 1,
keep_v = 4096 - dv, vth_eff = vth << 6)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neurons.jit_common import binary_input, conv_input, trunc12, wrap32

_MAX_UV = np.int64(1 << 23)


@njit(cache=True, inline="always")
def lif_row(a, u, v, keep_u, keep_v, vth_eff, bias, s):
    """One PyLifModelBitAcc step for one sample (neurons.lif.fixed_step), in place."""
    for i in range(u.shape[0]):
        act = wrap32(np.int64(a[i]) << 6)
        d = wrap32(trunc12(np.int64(u[i]) * keep_u[i]) + act)
        if d > _MAX_UV:
            d -= 2 * _MAX_UV
        elif d <= -_MAX_UV:
            d += 2 * _MAX_UV
        u[i] = d
        w = wrap32(trunc12(np.int64(v[i]) * keep_v[i]) + d + bias[i])
        w = min(max(w, 1 - _MAX_UV), _MAX_UV - 1)
        fired = w > vth_eff[i]
        s[i] = fired
        v[i] = 0 if fired else w


@njit(cache=True, inline="always")
def if_row(a, u, v, vth_eff, bias, s):
    """lif_row for du = 4095 and dv = 0 (keep_u = 0, keep_v = 4096: the integrate-and-fire
    neurons of converted networks): trunc12(u * 0) = 0 and trunc12(v * 4096) = v exactly, so
    the same arithmetic without the decay products."""
    for i in range(u.shape[0]):
        d = wrap32(np.int64(a[i]) << 6)
        if d > _MAX_UV:
            d -= 2 * _MAX_UV
        elif d <= -_MAX_UV:
            d += 2 * _MAX_UV
        u[i] = d
        w = wrap32(np.int64(v[i]) + d + bias[i])
        w = min(max(w, 1 - _MAX_UV), _MAX_UV - 1)
        fired = w > vth_eff[i]
        s[i] = fired
        v[i] = 0 if fired else w


@njit(parallel=True, cache=True)
def lif_fixed(a_in, keep_u, keep_v, vth_eff, bias, interval, offset, spikes, u_rec, v_rec):
    """Lava PyLifModelBitAcc / PyLifResetModelBitAcc over all steps.

    a_in: (B, T, n) int32 received input; keep_u, keep_v, vth_eff, bias: (n,) int64; spikes:
    (B, T, n) uint8 out; u_rec / v_rec: (B, T, n) int64 out, or size-0 arrays when not
    recorded."""
    n_batch, n_steps, n = a_in.shape
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        for t in range(n_steps):
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            lif_row(a_in[b, t], u, v, keep_u, keep_v, vth_eff, bias, spikes[b, t])
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
    keep_u,
    keep_v,
    vth_eff,
    bias,
    interval,
    offset,
    spikes,
    u_rec,
    v_rec,
):
    """A LIF population fed by one binary Dense projection without delay, fused: at each step
    the input current is computed from the source's previous step and used at once (no
    (B, T, n) current buffer). Weight arguments as the cpu backend's dense_binary kernel
    (`neurons.jit_common.binary_input`), the rest as lif_fixed."""
    n_batch, n_steps, n_src = spikes_in.shape
    n = spikes.shape[2]
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        active = np.empty(n_src, dtype=np.int64)
        acc16 = np.empty(n, dtype=np.int16)
        acc32 = np.empty(n, dtype=np.int32)
        a = np.zeros(n, dtype=np.int64)
        for t in range(n_steps):
            if t >= 1:  # a projection delivers at step t what its source emitted at t - 1
                binary_input(spikes_in[b, t - 1], weight_t, weight, use_dot, max_abs, scale, left,
                             right, active, acc16, acc32, a)
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            lif_row(a, u, v, keep_u, keep_v, vth_eff, bias, spikes[b, t])
            if u_rec.size:
                u_rec[b, t] = u
            if v_rec.size:
                v_rec[b, t] = v


@njit(parallel=True, cache=True)
def conv_lif(
    spikes_in,
    binary,
    runs,
    strips,
    wrap,
    keep_u,
    keep_v,
    vth_eff,
    bias,
    interval,
    offset,
    spikes,
    u_rec,
    v_rec,
):
    """A LIF population fed by one fixed-point convolution, fused: at each step the
    convolution's sums are computed event-driven from the source's previous step
    (`neurons.jit_common.conv_input`, channels last) and the neurons updated at once, with no
    (B, T, n) current buffer and no transposition of the sums. The neurons are updated in the
    sums' channels-last order (state and keep_u, keep_v, vth_eff, bias in that order: the
    caller permutes them); spikes and records are written in the population's own C order.
    wrap 1 applies Lava's 24-bit output wrap to the sums (they are within int32: the caller
    checked), 0 skips it (sums below 2^23). Other arguments as `backends.cpu._jit.conv_events`
    and lif_fixed."""
    n_batch, n_steps, n_src = spikes_in.shape
    n = spikes.shape[2]
    integrate = np.all(keep_u == 0) and np.all(keep_v == 4096)
    width = np.uint64(runs[0])
    n_out_pos = np.uint64(n) // width
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        acc = np.zeros(n, dtype=strips.dtype)
        active = np.empty(n_src, dtype=np.int64)
        s = np.zeros(n, dtype=np.uint8)
        for t in range(n_steps):
            if t >= 1:  # a projection delivers at step t what its source emitted at t - 1
                conv_input(spikes_in[b, t - 1], binary, runs, strips, active, acc)
                if wrap == 1:
                    for i in range(n):
                        acc[i] = ((acc[i] + 8388608) & 16777215) - 8388608
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            if integrate:
                if_row(acc, u, v, vth_eff, bias, s)
            else:
                lif_row(acc, u, v, keep_u, keep_v, vth_eff, bias, s)
            out = spikes[b, t]
            for o in range(width):
                for k in range(n_out_pos):
                    out[o * n_out_pos + k] = s[k * width + o]
            if u_rec.size:
                rec = u_rec[b, t]
                for o in range(width):
                    for k in range(n_out_pos):
                        rec[o * n_out_pos + k] = u[k * width + o]
            if v_rec.size:
                rec = v_rec[b, t]
                for o in range(width):
                    for k in range(n_out_pos):
                        rec[o * n_out_pos + k] = v[k * width + o]


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
