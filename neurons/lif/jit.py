"""numba kernels of the LIF model for the cpu backend's fast engine (compiled on first use,
cached in __pycache__): `neurons.lif.fixed_step` transcribed into loops over a whole batch and
every step. Neuron state is kept in int32 arrays (Lava's own u, v dtype): the decay products
are int32 x int32 -> int64, which vectorizes. Registers are per neuron (keep_u = 4096 - du - 1,
keep_v = 4096 - dv, vth_eff = vth << 6).

Each step goes through one of two neuron updates with the same results:
- `lif_row` / `if_row`: the arithmetic as written, in int64 with its 32-bit wraps (any input);
- `lif_row_narrow` / `if_row_narrow`: the same in int32 lanes (eight per AVX2 vector where
  int64 gets four, and no 64-bit multiply: the decay products are taken in float64), which
  is exact whenever none of lif_row's wraps can change a value. That holds when
  |a| <= 2^17 (a << 6 is within 24 bits), |u| <= 2^23 on entry, |bias| < 2^29, keep_u in
  [0, 4095] and keep_v in [0, 4096] (Lava's 12-bit decays): then |trunc12(u keep_u)| < 2^23,
  |d| < 2^24, so that the one 24-bit wrap brings u back within 2^23, and
  |trunc12(v keep_v) + d + bias| < 2^23 + 2^23 + 2^29 < 2^31. vth_eff is clamped into int32:
  the clamped v is within +-(2^23 - 1), so no comparison changes. |u keep_u| < 2^35 is exact
  in float64, so is the product by 2^-12, and the conversion to int32 truncates toward zero
  as trunc12 does. `neuron_step` checks |a| each step (|u| is kept within 2^23 by every
  narrow step; after a wide one it is checked) and picks the narrow update when it may:
  measured 2.3 -> 0.8 ns per LIF neuron and 1.4 -> 0.3 ns per IF neuron on one core.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neurons.jit_common import CONV_RUN_PAD, binary_input, conv_input, trunc12, wrap32

_MAX_UV = np.int64(1 << 23)

# The narrow update's bounds (module docstring).
A_NARROW = np.int64(1 << 17)
BIAS_NARROW = 1 << 29
_I32 = np.int32
_MAX32 = _I32(1 << 23)
_WRAP24 = _I32(1 << 24)
_LOW32 = _I32(1 - (1 << 23))
_HIGH32 = _I32((1 << 23) - 1)
_INV4096 = 1.0 / 4096.0


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


@njit(cache=True, inline="always")
def lif_row_narrow(a, u, v, keep_u, keep_v, vth_eff, bias, s):
    """lif_row in int32 lanes, under the module docstring's bounds (int32 registers). Every
    operation is cast back to int32: numba widens int32 arithmetic to int64 otherwise."""
    for i in range(u.shape[0]):
        decayed_u = _I32(np.float64(u[i]) * np.float64(keep_u[i]) * _INV4096)
        d = _I32(decayed_u + _I32(_I32(a[i]) << _I32(6)))
        d = _I32(d - _I32(d > _MAX32) * _WRAP24 + _I32(d <= -_MAX32) * _WRAP24)
        u[i] = d
        decayed_v = _I32(np.float64(v[i]) * np.float64(keep_v[i]) * _INV4096)
        w = _I32(decayed_v + d + bias[i])
        w = _I32(min(max(w, _LOW32), _HIGH32))
        fired = w > vth_eff[i]
        s[i] = fired
        v[i] = _I32(0) if fired else w


@njit(cache=True, inline="always")
def if_row_narrow(a, u, v, vth_eff, bias, s):
    """if_row in int32 lanes, under the module docstring's bounds (int32 registers)."""
    for i in range(u.shape[0]):
        d = _I32(_I32(a[i]) << _I32(6))
        d = _I32(d - _I32(d > _MAX32) * _WRAP24 + _I32(d <= -_MAX32) * _WRAP24)
        u[i] = d
        w = _I32(v[i] + d + bias[i])
        w = _I32(min(max(w, _LOW32), _HIGH32))
        fired = w > vth_eff[i]
        s[i] = fired
        v[i] = _I32(0) if fired else w


@njit(cache=True, inline="always")
def _max_abs(x):
    m = np.int64(0)
    for i in range(x.shape[0]):
        m = max(m, abs(np.int64(x[i])))
    return m


@njit(cache=True, inline="always")
def neuron_step(a, u, v, keep_u, keep_v, vth_eff, bias, narrow, integrate, u_small, s):
    """One step of the population (if_row when `integrate`: keep_u = 0, keep_v = 4096),
    through the narrow update when `narrow` holds its int32 registers (`narrow_registers`;
    size 0: never) and this step's input and u allow it. Returns whether |u| <= 2^23 after
    the step (the narrow update's bound on entry; an integrate-and-fire neuron's u is not
    read by its next step)."""
    keep_u32, keep_v32, vth32, bias32 = narrow
    if bias32.size and (integrate or u_small) and _max_abs(a) <= A_NARROW:
        if integrate:
            if_row_narrow(a, u, v, vth32, bias32, s)
        else:
            lif_row_narrow(a, u, v, keep_u32, keep_v32, vth32, bias32, s)
        return True
    if integrate:
        if_row(a, u, v, vth_eff, bias, s)
        return True
    lif_row(a, u, v, keep_u, keep_v, vth_eff, bias, s)
    return _max_abs(u) <= _MAX_UV


def narrow_registers(n, keep_u, keep_v, vth_eff, bias):
    """The narrow update's int32 registers for n neurons (keep_u, keep_v, vth_eff clamped
    into int32, bias), or four empty arrays when one is outside its bounds (module
    docstring)."""
    if (
        np.all((keep_u >= 0) & (keep_u <= 4095))
        and np.all((keep_v >= 0) & (keep_v <= 4096))
        and np.all(np.abs(bias) < BIAS_NARROW)
    ):
        info = np.iinfo(np.int32)
        vth32 = np.clip(vth_eff, info.min, info.max)
        return tuple(
            np.ascontiguousarray(np.broadcast_to(r, (n,)), dtype=np.int32)
            for r in (keep_u, keep_v, vth32, bias)
        )
    return tuple(np.zeros(0, dtype=np.int32) for _ in range(4))


@njit(parallel=True, cache=True)
def lif_fixed(
    a_in, keep_u, keep_v, vth_eff, bias, narrow, interval, offset, spikes, u_rec, v_rec
):
    """Lava PyLifModelBitAcc / PyLifResetModelBitAcc over all steps.

    a_in: (B, T, n) int32 received input; keep_u, keep_v, vth_eff, bias: (n,) int64; narrow:
    `narrow_registers`; spikes: (B, T, n) uint8 out; u_rec / v_rec: (B, T, n) int64 out, or
    size-0 arrays when not recorded."""
    n_batch, n_steps, n = a_in.shape
    integrate = np.all(keep_u == 0) and np.all(keep_v == 4096)
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        u_small = True
        for t in range(n_steps):
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
                u_small = True
            u_small = neuron_step(a_in[b, t], u, v, keep_u, keep_v, vth_eff, bias, narrow,
                                  integrate, u_small, spikes[b, t])
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
    narrow,
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
    integrate = np.all(keep_u == 0) and np.all(keep_v == 4096)
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        u_small = True
        active = np.empty(n_src, dtype=np.int64)
        acc16 = np.empty(n, dtype=np.int16)
        acc32 = np.empty(n, dtype=np.int32)
        a = np.zeros(n, dtype=np.int32)
        for t in range(n_steps):
            if t >= 1:  # a projection delivers at step t what its source emitted at t - 1
                binary_input(spikes_in[b, t - 1], weight_t, weight, use_dot, max_abs, scale, left,
                             right, active, acc16, acc32, a)
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
                u_small = True
            u_small = neuron_step(a, u, v, keep_u, keep_v, vth_eff, bias, narrow, integrate,
                                  u_small, spikes[b, t])
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
    narrow,
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
        acc = np.zeros(n + CONV_RUN_PAD, dtype=strips.dtype)
        active = np.empty(n_src, dtype=np.int64)
        s = np.zeros(n, dtype=np.uint8)
        u_small = True
        for t in range(n_steps):
            if t >= 1:  # a projection delivers at step t what its source emitted at t - 1
                conv_input(spikes_in[b, t - 1], binary, runs, strips, active, acc)
                if wrap == 1:
                    for i in range(n):
                        acc[i] = ((acc[i] + 8388608) & 16777215) - 8388608
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
                u_small = True
            u_small = neuron_step(acc, u, v, keep_u, keep_v, vth_eff, bias, narrow, integrate,
                                  u_small, s)
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
