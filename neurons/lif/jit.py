"""numba kernels of the LIF model for the cpu backend's fast engine (compiled on first use,
cached in __pycache__): `neurons.lif.fixed_step` transcribed into loops over a whole batch and
every step. Registers are per neuron (keep_u = 4096 - du - 1, keep_v = 4096 - dv,
vth_eff = vth << 6).

The neuron update runs in int32 lanes (eight per AVX2 vector; int64 gets four, and AVX2 has
no 64-bit multiply or arithmetic right shift), every operation cast back to int32 (numba
widens int32 arithmetic to int64 otherwise), and it is exact for every input: fixed_step's
wrap32 of a sum is arithmetic modulo 2^32, which int32 lanes do natively (so a << 6, the sum
into u and the sum into v wrap there exactly as wrap32 wraps them, the bias taken modulo
2^32); the 24-bit wrap of u and the clamp of v stay within int32; the decay products are the
only values beyond 32 bits, and `_trunc12` takes them exactly from u's and v's high and low
bits (any int32 times a keep in [0, 4096]: du in [-1, 4095], dv in [0, 4096]); vth_eff is
clamped into int32, which changes no comparison with the clamped v. Measured on one core:
2.3 -> 0.66 ns per LIF neuron and 1.4 -> 0.27 ns per integrate-and-fire neuron against the
same update in int64 (tests/backends/cpu/test_narrow_neurons.py checks it against
fixed_step).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ir.errors import IRVerifyError
from neurons.jit_common import CONV_RUN_PAD, binary_sums, conv_input, list_active

_I32 = np.int32
_MAX_UV = _I32(1 << 23)
_WRAP24 = _I32(1 << 24)
_V_LOW = _I32(1 - (1 << 23))
_V_HIGH = _I32((1 << 23) - 1)
# Lava's LIF adds its input current shifted left by 6 bits into u (`neurons.lif.fixed_step`).
CURRENT_SHIFT = 6


@njit(cache=True, inline="always")
def _trunc12(x, k):
    """trunc(x k / 4096), exactly, in int32, for any int32 x and 0 <= k <= 4096: with
    x = hi 4096 + lo (lo in [0, 4096), |hi| <= 2^19), floor(x k / 4096) = hi k + (lo k >> 12),
    hi k in [-2^31, 2^31 - 2^12] and lo k < 2^24, the sum within int32; truncation toward
    zero adds 1 where x k < 0 and 4096 does not divide it."""
    hi = _I32(x >> _I32(12))
    lo = _I32(x & _I32(4095))
    lo_k = _I32(lo * k)
    floor = _I32(_I32(hi * k) + _I32(lo_k >> _I32(12)))
    inexact = _I32(_I32(_I32(x < 0) & _I32(k != 0)) & _I32((lo_k & _I32(4095)) != 0))
    return _I32(floor + inexact)


@njit(cache=True, inline="always")
def _wrap24(d):
    """u's one 24-bit wrap (Lava applies it once: a value beyond 3 * 2^23 stays outside)."""
    return _I32(d - _I32(d > _MAX_UV) * _WRAP24 + _I32(d <= -_MAX_UV) * _WRAP24)


@njit(cache=True, inline="always")
def _fire(w, vth_eff, v, s, i):
    """Neuron i's voltage sum w clamped to 24 bits, compared with its threshold: s[i] the
    spike, v[i] the clamped voltage or 0 where it fired."""
    w = _I32(min(max(w, _V_LOW), _V_HIGH))
    fired = w > vth_eff[i]
    s[i] = fired
    v[i] = _I32(0) if fired else w


@njit(cache=True, inline="always")
def _into_u(a, rs, ls):
    """What the input a adds into u: (a >> rs) << ls, in int32 (see neuron_row)."""
    return _I32(_I32(_I32(a) >> rs) << ls)


@njit(cache=True, inline="always")
def lif_row(a, rs, ls, u, v, keep_u, keep_v, vth_eff, bias, s):
    """One PyLifModelBitAcc step for one sample (neurons.lif.fixed_step), in place, in int32
    (module docstring; registers from `registers32`; a, rs, ls: see neuron_row)."""
    for i in range(u.shape[0]):
        d = _wrap24(_I32(_trunc12(u[i], keep_u[i]) + _into_u(a[i], rs, ls)))
        u[i] = d
        _fire(_I32(_I32(_trunc12(v[i], keep_v[i]) + d) + bias[i]), vth_eff, v, s, i)


@njit(cache=True, inline="always")
def if_row(a, rs, ls, u, v, vth_eff, bias, s):
    """lif_row for du = 4095 and dv = 0 (keep_u = 0, keep_v = 4096: the integrate-and-fire
    neurons of converted networks): trunc12(u * 0) = 0 and trunc12(v * 4096) = v exactly, so
    the same arithmetic without the decay products."""
    for i in range(u.shape[0]):
        d = _wrap24(_into_u(a[i], rs, ls))
        u[i] = d
        _fire(_I32(_I32(v[i] + d) + bias[i]), vth_eff, v, s, i)


@njit(cache=True, inline="always")
def neuron_row(a, rs, ls, u, v, regs, integrate, s):
    """One step of the population: if_row when `integrate` (keep_u = 0, keep_v = 4096
    everywhere), else lif_row. The input current of neuron i is (a[i] >> rs) << (ls - 6), of
    any integer dtype a holds it in: ls includes Lava's shift by 6 into u (CURRENT_SHIFT), so
    a connection's sums and their shifts (`backends.cpu.fast._sum_shifts`) are applied in the
    same pass; (a >> rs) << (ls - 6) fits int32 (the callers checked), and the last 6 bits
    of the shift wrap modulo 2^32 as Lava's does. A current already in int32: rs = 0, ls = 6."""
    keep_u, keep_v, vth_eff, bias = regs
    rs = _I32(rs)
    ls = _I32(ls)
    if integrate:
        if_row(a, rs, ls, u, v, vth_eff, bias, s)
    else:
        lif_row(a, rs, ls, u, v, keep_u, keep_v, vth_eff, bias, s)


@njit(cache=True, inline="always")
def _advance(a, rs, ls, u, v, regs, integrate, interval, offset, b, t, spikes, u_rec, v_rec):
    """Step t of sample b: LIFReset's reset (every `interval` steps, at `offset`), the update
    (spikes into spikes[b, t]; a, rs, ls: see neuron_row), u and v into u_rec, v_rec where
    they are recorded."""
    if interval > 0 and (t + 1) % interval == offset:
        u[:] = 0
        v[:] = 0
    neuron_row(a, rs, ls, u, v, regs, integrate, spikes[b, t])
    if u_rec.size:
        u_rec[b, t] = u
    if v_rec.size:
        v_rec[b, t] = v


def pad_registers(regs, n):
    """Registers for n >= their length neurons, the extra ones copies of the first neuron's
    (the fast engine runs a few neurons as a whole vector's worth: they receive zero sums and
    their spikes are dropped, `backends.cpu.fast._run_dense_layer`)."""
    return tuple(np.concatenate([r, np.repeat(r[:1], n - r.shape[0])]) for r in regs)


def registers32(n, keep_u, keep_v, vth_eff, bias):
    """The kernels' int32 registers for n neurons: keep_u, keep_v, vth_eff clamped into
    int32, bias modulo 2^32 (module docstring). keep_u and keep_v are within [0, 4096] for
    every QLIF that passed `ir.verify` (du in [-1, 4095], dv in [0, 4096]); the backends verify
    a graph before they run it."""
    for name, keep in (("4095 - du", keep_u), ("4096 - dv", keep_v)):
        if not np.all((keep >= 0) & (keep <= 4096)):  # what _trunc12's exactness needs
            raise IRVerifyError("QLIF", f"{name} outside [0, 4096]: du must lie in [-1, 4095], "
                                "dv in [0, 4096] (run ir.verify on the graph first)")
    info = np.iinfo(np.int32)
    vth32 = np.clip(vth_eff, info.min, info.max)
    bias32 = (np.asarray(bias, dtype=np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)
    return tuple(
        np.ascontiguousarray(np.broadcast_to(r, (n,)), dtype=np.int32)
        for r in (keep_u, keep_v, vth32, bias32)
    )


@njit(parallel=True, cache=True)
def lif_fixed(a_in, regs, integrate, interval, offset, spikes, u_rec, v_rec):
    """Lava PyLifModelBitAcc / PyLifResetModelBitAcc over all steps.

    a_in: (B, T, n) int32 received input; regs: `registers32`; integrate: keep_u = 0 and
    keep_v = 4096 everywhere; spikes: (B, T, n) uint8 out; u_rec / v_rec: (B, T, n) int64
    out, or size-0 arrays when not recorded."""
    n_batch, n_steps, n = a_in.shape
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        for t in range(n_steps):
            _advance(a_in[b, t], 0, CURRENT_SHIFT, u, v, regs, integrate, interval, offset, b,
                     t, spikes, u_rec, v_rec)


@njit(parallel=True, cache=True)
def dense_lif(
    spikes_in,
    weight_t,
    weight,
    use_dot,
    max_abs,
    rs,
    ls,
    listed,
    regs,
    integrate,
    interval,
    offset,
    spikes,
    u_rec,
    v_rec,
):
    """A LIF population fed by one binary Dense projection without delay, fused: at each step
    the input current is computed from the source's previous step and used at once (no
    (B, T, n) current buffer, and the sums' shift applied in the neuron update). Weight
    arguments as the cpu backend's dense_binary kernel (`neurons.jit_common.binary_sums`);
    rs, ls: the sums' shifts (`backends.cpu.fast._sum_shifts`, ls plus CURRENT_SHIFT, see
    neuron_row); listed: the source's spikes as lists (`conv_lif`'s `emit`), or size-0
    arrays (then they are listed here); the rest as lif_fixed."""
    n_batch, n_steps, n_src = spikes_in.shape
    n = spikes.shape[2]
    listed_idx, listed_count = listed
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        scratch = np.empty(n_src, dtype=np.int32)
        acc16 = np.empty(n, dtype=np.int16)
        acc32 = np.zeros(n, dtype=np.int32)  # step 0 receives nothing
        for t in range(n_steps):
            narrow = False
            if t >= 1:  # a projection delivers at step t what its source emitted at t - 1
                row = spikes_in[b, t - 1]
                active = scratch
                if use_dot:
                    count = 0
                elif listed_count.size:
                    active, count = listed_idx[b, t - 1], listed_count[b, t - 1]
                else:
                    count = list_active(row, scratch)
                narrow = binary_sums(row, weight_t, weight, use_dot, max_abs, active, count,
                                     acc16, acc32)
            if narrow:
                _advance(acc16, rs, ls, u, v, regs, integrate, interval, offset, b, t, spikes,
                         u_rec, v_rec)
            else:
                _advance(acc32, rs, ls, u, v, regs, integrate, interval, offset, b, t, spikes,
                         u_rec, v_rec)


@njit(parallel=True, cache=True)
def conv_lif(
    spikes_in,
    binary,
    runs,
    strips,
    wrap,
    listed,
    regs,
    integrate,
    interval,
    offset,
    spikes,
    emit,
    u_rec,
    v_rec,
):
    """A LIF population fed by one fixed-point convolution, fused: at each step the
    convolution's sums are computed event-driven from the source's previous step
    (`neurons.jit_common.conv_input`, channels last) and the neurons updated at once, with no
    (B, T, n) current buffer and no transposition of the sums. The neurons are updated in the
    sums' channels-last order (state and the registers in that order: the caller permutes
    them); spikes (zeros on entry) and records are written in the
    population's own C order.
    wrap 1 applies Lava's 24-bit output wrap to the sums (they are within int32: the caller
    checked), 0 skips it (sums below 2^23). listed: the source's spikes as lists (another
    conv_lif's `emit`), or size-0 arrays (then they are listed here). emit: (B, T, n) int32
    and (B, T) int32 arrays that receive, for every step, the indices of the neurons that
    fired (in no particular order) and their count, for a next layer (their consumer need not
    list them again); or size-0 arrays. Other arguments as `backends.cpu._jit.conv_events` and
    lif_fixed."""
    n_batch, n_steps, n_src = spikes_in.shape
    n = spikes.shape[2]
    width = np.uint64(runs[0])
    n_out_pos = np.uint64(n) // width
    listed_idx, listed_count = listed
    emit_idx, emit_count = emit
    for b in prange(n_batch):
        u = np.zeros(n, dtype=np.int32)
        v = np.zeros(n, dtype=np.int32)
        acc = np.zeros(n + CONV_RUN_PAD, dtype=strips.dtype)
        scratch = np.empty(n_src, dtype=np.int32)
        s = np.zeros(n, dtype=np.uint8)
        fired = np.empty(n, dtype=np.int32)
        for t in range(n_steps):
            if t >= 1:  # a projection delivers at step t what its source emitted at t - 1
                row = spikes_in[b, t - 1]
                if listed_count.size:
                    active, count = listed_idx[b, t - 1], listed_count[b, t - 1]
                else:
                    active, count = scratch, list_active(row, scratch)
                conv_input(row, binary, runs, strips, active, count, acc)
                if wrap == 1:
                    for i in range(n):
                        acc[i] = ((acc[i] + 8388608) & 16777215) - 8388608
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            neuron_row(acc, 0, CURRENT_SHIFT, u, v, regs, integrate, s)
            # spikes are zeros on entry (the caller's fresh array): write the ones, found by
            # listing s, which is sparse (measured: 8.0 -> 5.9 us for 12,544 neurons firing
            # 5% of the time, against transposing all of s)
            out = spikes[b, t]
            n_fired = list_active(s, fired)
            for e in range(n_fired):
                i = np.uint64(fired[e])
                k = (i % width) * n_out_pos + i // width
                out[k] = 1
                fired[e] = k
            if emit_count.size:
                emit_idx[b, t, :n_fired] = fired[:n_fired]
                emit_count[b, t] = n_fired
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
