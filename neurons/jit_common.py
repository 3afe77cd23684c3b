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
