"""numba primitives shared by the models' fast kernels and the cpu backend's fast engine
(compiled on first use, cached in __pycache__): the 32-bit wrap, Lava's truncating 12-bit
decay, and the binary synaptic input of one step.

Binary synaptic input is computed one of two ways per step, both exact:
- events: list the sources that spiked, add their weight rows (int8/int16 weights; int16
  accumulators while active-count * max|w| < 2^15, else int32);
- dot: for few destinations, one dot product of the spike vector with each weight row.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_HALF32 = np.int64(1 << 31)
_MASK32 = np.int64((1 << 32) - 1)


@njit(cache=True, inline="always")
def wrap32(x):
    return ((x + _HALF32) & _MASK32) - _HALF32


@njit(cache=True, inline="always")
def trunc12(x):
    # sign(x) * (|x| >> 12): adding 4095 to negative values before the arithmetic shift
    # rounds toward zero instead of toward -inf.
    return (x + ((x >> 63) & 4095)) >> 12


@njit(cache=True, inline="always")
def binary_input(
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
def conv_input(row, binary, wt, cg, og, n_taps, positions, taps_ptr, taps, taps_out, active, acc):
    """acc[:] = a convolution's sums for one step, event-driven: each source that sent
    something adds its kernel taps (times its payload) to the outputs it reaches, so the cost
    is proportional to the sources that sent something. acc: (output positions y oW + x, C_out),
    channels last, in the dtype the caller chose to hold every partial sum.

    row: (c_in H W,) uint8 spikes (binary: True) or int64 payloads; wt: the weight
    (C_out, C_in/groups, kH, kW) as (C_in/groups kH kW, C_out) (one tap reaches its group's og
    output channels in one contiguous run); cg: input channels per group; og: output channels
    per group; n_taps: kH kW; positions: H W; taps_ptr, taps, taps_out: for each input
    position, the kernel taps i kW + j that read it and the output position each feeds (CSR;
    `backends.cpu.fast._conv_taps`); active: int64 scratch of row's size."""
    # The sources that sent something, listed without branches, then their taps: about a
    # third faster than testing each source in the tap loop (mispredicted branches).
    count = 0
    for s in range(row.shape[0]):
        active[count] = s
        count += row[s] != 0
    acc[:] = 0
    whole = og == acc.shape[1]  # one group: whole rows, no slicing
    for e in range(count):
        s = active[e]
        ci = s // positions
        pos = s - ci * positions
        g = ci // cg
        o0 = g * og
        first = (ci - g * cg) * n_taps
        for k in range(taps_ptr[pos], taps_ptr[pos + 1]):
            # Row views with a loop to their own length: LLVM vectorizes these runs (about 5x
            # faster here than flat indexing, whose stores it cannot prove apart from the loads).
            if whole:
                dst = acc[taps_out[k]]
                w = wt[first + taps[k]]
            else:
                dst = acc[taps_out[k], o0 : o0 + og]
                w = wt[first + taps[k], o0 : o0 + og]
            if binary:
                for q in range(dst.shape[0]):
                    dst[q] += w[q]
            else:
                p = row[s]
                for q in range(dst.shape[0]):
                    dst[q] += w[q] * p
