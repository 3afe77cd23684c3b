"""The LIF kernels' int32 neuron update (`neurons.lif.jit`: lif_row, if_row, _trunc12) equals
`neurons.lif.fixed_step` (Lava's PyLifModelBitAcc, in int64 with explicit 32-bit wraps) bit for
bit on inputs chosen to reach every wrap: currents up to the int32 limits (a << 6 wraps, u
leaves 24 bits and stays there), biases beyond int32, thresholds beyond int32, every decay
(du from -1, no decay, to 4095; dv to 4096), integrate-and-fire populations, resets."""

from __future__ import annotations

import numpy as np
import pytest

from neurons.lif import fixed_step, jit


def _kernel(a_in, du, dv, vth, bias, interval, offset):
    n_batch, n_steps, n = a_in.shape
    keep_u, keep_v = 4095 - du, 4096 - dv
    regs = jit.registers32(n, keep_u, keep_v, vth << 6, bias)
    integrate = bool(np.all(keep_u == 0) and np.all(keep_v == 4096))
    spikes = np.zeros((n_batch, n_steps, n), dtype=np.uint8)
    u_rec = np.zeros((n_batch, n_steps, n), dtype=np.int64)
    v_rec = np.zeros((n_batch, n_steps, n), dtype=np.int64)
    jit.lif_fixed(a_in, regs, integrate, interval, offset, spikes, u_rec, v_rec)
    return spikes, u_rec, v_rec


def _reference(a_in, du, dv, vth, bias, interval, offset):
    n_batch, n_steps, n = a_in.shape
    out = [np.zeros((n_batch, n_steps, n), dtype=np.int64) for _ in range(3)]
    for b in range(n_batch):
        u = np.zeros(n, dtype=np.int64)
        v = np.zeros(n, dtype=np.int64)
        for t in range(n_steps):
            if interval > 0 and (t + 1) % interval == offset:
                u[:] = 0
                v[:] = 0
            s = fixed_step(u, v, a_in[b, t].astype(np.int64), du=du, dv=dv, vth=vth, bias=bias)
            out[0][b, t], out[1][b, t], out[2][b, t] = s, u, v
    return out


def _currents(rng, shape, regime: str) -> np.ndarray:
    small = rng.integers(-3000, 3001, shape)
    if regime == "small":
        return small.astype(np.int32)
    big_steps = rng.random(shape[:2]) < 0.2  # whole steps of them, among small ones
    if regime == "int32":
        big = rng.integers(-(1 << 31), 1 << 31, shape)
    else:  # around the 24-bit wrap of u: a << 6 near +-2^23, 3 2^23, 2^31
        edges = np.array([1 << 17, (1 << 17) + 1, 3 << 17, (3 << 17) + 1, 1 << 25, (1 << 25) - 1])
        big = rng.choice(np.concatenate([edges, -edges]), shape)
    return np.where(big_steps[..., None], big, small).astype(np.int32)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("regime", ["small", "int32", "edges"])
def test_int32_update_equals_fixed_step(seed, regime):
    rng = np.random.default_rng([seed, len(regime)])
    n = int(rng.integers(1, 40))
    if seed == 0:  # integrate-and-fire: the kernels' if_row
        du, dv = np.full(n, 4095), np.zeros(n, dtype=np.int64)
    else:
        du, dv = rng.integers(-1, 4096, n), rng.integers(0, 4097, n)
        du[0], dv[0] = -1, 0  # no decay at all (keep_u = keep_v = 4096: netx's CUBA)
    vth = rng.integers(0, 1 << 12, n)
    if seed % 2:
        vth[: n // 2] = rng.integers(1 << 26, 1 << 34, n // 2)  # vth << 6 beyond int32
    bias = rng.integers(-(1 << 20), 1 << 20, n)
    if seed == 3:
        bias[: n // 2] = rng.integers(1 << 31, 1 << 40, n // 2)  # beyond int32: mod 2^32
    a_in = _currents(rng, (2, 30, n), regime)
    interval, offset = (int(rng.integers(2, 9)), int(rng.integers(0, 2))) if seed % 2 else (0, 0)
    got = _kernel(a_in, du, dv, vth, bias, interval, offset)
    want = _reference(a_in, du, dv, vth, bias, interval, offset)
    for name, x, y in zip(("spikes", "u", "v"), got, want, strict=True):
        assert np.array_equal(x, y), name
    assert want[0].any()  # something fired: the comparison compares
    if regime == "int32":
        assert np.abs(want[1]).max() > 1 << 23  # u left 24 bits


def test_trunc12_is_exact_at_the_int32_limits():
    from numba import njit

    @njit
    def all_trunc(x, k, out):
        for i in range(x.shape[0]):
            out[i] = jit._trunc12(x[i], k[i])

    x = np.array([-(1 << 31), (1 << 31) - 1, -1, 1, -4096, -4097, 4095, 0, -(1 << 23), 1 << 23],
                 dtype=np.int32)
    for k_value in (0, 1, 2048, 4095, 4096):
        k = np.full(x.shape, k_value, dtype=np.int32)
        out = np.zeros(x.shape, dtype=np.int32)
        all_trunc(x, k, out)
        product = x.astype(np.int64) * k_value
        assert np.array_equal(out, np.sign(product) * (np.abs(product) >> 12)), k_value
    v = np.array([-(1 << 23) + 1, (1 << 23) - 1, -4097, -1], dtype=np.int32)
    out = np.zeros(v.shape, dtype=np.int32)
    all_trunc(v, np.full(v.shape, 4096, dtype=np.int32), out)
    assert np.array_equal(out, v)  # keep_v = 4096 (dv = 0): v unchanged


def test_registers_outside_the_exact_range_are_refused_not_asserted():
    """registers32 checks the decay range _trunc12 is exact for with snnc's own error (an
    assert would vanish under python -O)."""
    from ir.errors import IRVerifyError
    from neurons.lif.jit import registers32

    ok = np.array([0, 4096])
    registers32(2, ok, ok, np.zeros(2), np.zeros(2))
    for keep_u, keep_v in ((np.array([4097, 0]), ok), (ok, np.array([-1, 0]))):
        with pytest.raises(IRVerifyError, match="outside"):
            registers32(2, keep_u, keep_v, np.zeros(2), np.zeros(2))
