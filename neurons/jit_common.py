"""numba primitives shared by the models' fast kernels and the cpu backend's fast engine
(compiled on first use, cached in __pycache__ under a digest of every kernel source:
KERNEL_MODULES): the 32-bit wrap, Lava's truncating 12-bit decay, and the binary synaptic
input of one step.

Binary synaptic input is computed one of two ways per step, both exact (`binary_sums`):
- events: list the sources that spiked, add their weight rows (int8/int16 weights; int16
  accumulators while active-count * max|w| < 2^15, else int32);
- dot: for few destinations, one dot product of the spike vector with each weight row.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
from numba import njit

# numba keys a cached kernel by the contents of the file that defines it, not by those of the
# functions it inlines from other files: after an edit of this module alone (a checkout, a
# partial upgrade), the cpu backend's and the models' kernels would load stale machine code
# that inlines the old primitives (seen here: a change to add_rows had no effect until the
# caches were removed). Their cache entries therefore also carry a digest of every module
# whose kernels numba caches (KERNEL_MODULES; tests/backends/cpu/test_kernel_cache.py checks
# the list against the sources).
KERNEL_MODULES = ("neurons.jit_common", "neurons.lif.jit", "backends.cpu._jit")
_ROOT = Path(__file__).resolve().parents[1]


def kernel_files() -> tuple[Path, ...]:
    return tuple(_ROOT.joinpath(*m.split(".")).with_suffix(".py") for m in KERNEL_MODULES)


@functools.cache
def kernel_digest() -> bytes:
    """sha256 over the sources of KERNEL_MODULES, once per process."""
    h = hashlib.sha256()
    for path in kernel_files():
        h.update(path.read_bytes())
    return h.digest()


def _stamped(locator: type) -> type:
    """`locator` for the kernel modules' functions only, its source stamp extended with
    kernel_digest (a cache entry written under another digest is stale: numba recompiles it
    and overwrites the entry)."""
    files = {str(p) for p in kernel_files()}

    class Stamped(locator):  # type: ignore[misc, valid-type]
        @classmethod
        def from_function(cls, py_func, py_file):
            if str(Path(py_file).resolve()) not in files:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return super().get_source_stamp(), kernel_digest()

    Stamped.__name__ = Stamped.__qualname__ = f"SnncKernel{locator.__name__}"
    return Stamped


def _stamp_kernel_caches() -> None:
    """Put stamped versions of numba's file-backed locators first (numba picks the first
    locator that accepts a function; these accept only the kernel modules'). Where numba's
    internals differ from 0.68's, numba's own locators stay in charge (the tests notice)."""
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # public since 0.61
        bases = [caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                 caching.UserWideCacheLocator]
    except (ImportError, AttributeError):
        return
    if any(c.__name__.startswith("SnncKernel") for c in impl._locator_classes):
        return
    impl._locator_classes = [_stamped(b) for b in bases] + list(impl._locator_classes)


_stamp_kernel_caches()


# The event-driven convolution's runs are padded to a multiple of this many elements with
# zero weights (`backends.cpu.conv_events.conv_runs`): accumulators get as many of slack at the end.
CONV_RUN_PAD = 16

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
def list_active(row, active):
    """active[:count] = the indices i with row[i] != 0, ascending; returns count. Branch-free,
    in four independent quarters joined at the end: one running count is a chain of
    dependent stores (about 2 cycles a source); four run side by side (measured on one core:
    784 sources 0.52 -> 0.38 us, 12,544 sparse ones 8.3 -> 5.5 us). active: row's size."""
    n = row.shape[0]
    h = n // 4
    c0 = 0
    c1 = h
    c2 = 2 * h
    c3 = 3 * h
    for i in range(h):
        active[c0] = i
        c0 += row[i] != 0
        active[c1] = i + h
        c1 += row[i + h] != 0
        active[c2] = i + 2 * h
        c2 += row[i + 2 * h] != 0
        active[c3] = i + 3 * h
        c3 += row[i + 3 * h] != 0
    for i in range(4 * h, n):
        active[c3] = i
        c3 += row[i] != 0
    count = c0
    for j in range(h, c1):
        active[count] = active[j]
        count += 1
    for j in range(2 * h, c2):
        active[count] = active[j]
        count += 1
    for j in range(3 * h, c3):
        active[count] = active[j]
        count += 1
    return count


@njit(cache=True, inline="always")
def add_rows(weight_t, active, count, acc):
    """acc[:] = the sum of the rows active[:count] of weight_t (int8/int16), modulo acc's
    range (int16/int32): four rows a pass, their int32 sum added at once, so each pass
    loads and stores acc once for four rows (four int16 weights cannot leave int32, and
    integer sums modulo 2^16 or 2^32 do not depend on the order; LLVM narrows the int32 sum
    to acc's int16 lanes). Measured on one core, 78 rows of 256 int8 weights into int16:
    0.70 -> 0.45 us (two rows a pass: 0.53; eight: 0.57)."""
    n = acc.shape[0]
    acc[:] = 0
    q = 0
    while q + 4 <= count:
        w0 = weight_t[active[q]]
        w1 = weight_t[active[q + 1]]
        w2 = weight_t[active[q + 2]]
        w3 = weight_t[active[q + 3]]
        for j in range(n):
            acc[j] += (np.int32(w0[j]) + np.int32(w1[j])) + (np.int32(w2[j]) + np.int32(w3[j]))
        q += 4
    while q < count:
        w = weight_t[active[q]]
        for j in range(n):
            acc[j] += w[j]
        q += 1


@njit(cache=True, inline="always")
def binary_sums(row, weight_t, weight, use_dot, max_abs, active, count, acc16, acc32):
    """The sums of the weights of the sources that spiked, one per destination, exactly:
    in acc16 (returns True) when count * max_abs < 2^15, else in acc32 (returns False; the
    callers guarantee that every sum fits int32). Cast after every operation: numba widens
    int32 arithmetic to int64 otherwise. active[:count]: the sources that spiked, in any
    order (`list_active`, or the list their population's kernel emitted; unused by the dot
    products)."""
    if use_dot:
        n_src = row.shape[0]
        for j in range(acc32.shape[0]):
            w = weight[j]
            total = np.int32(0)
            for i in range(n_src):
                total = np.int32(total + np.int32(np.int32(row[i] != 0) * np.int32(w[i])))
            acc32[j] = total
        return False
    if count * max_abs < 32768:
        add_rows(weight_t, active, count, acc16)
        return True
    add_rows(weight_t, active, count, acc32)
    return False


@njit(cache=True, inline="always")
def conv_input(row, binary, runs, strips, active, count, acc):
    """acc[:] = a convolution's sums for one step, event-driven: each source that sent
    something adds its kernel's weights (times its payload) to the outputs it reaches, so the
    cost is proportional to the sources that sent something. acc: the sums channels last
    (output position y oW + x times C_out plus channel), flat, in the dtype the caller chose to
    hold every partial sum.

    row: (C_in H W,) uint8 spikes (binary: True) or int64 payloads. `runs` (int64 arrays, from
    `backends.cpu.conv_events.conv_runs`): (c_out, positions H W, input channels per group, output
    channels per group, patterns, ptr, out, pattern, length, offset): for each input
    position, CSR over its *runs*, the kernel taps that read it and feed consecutive output
    positions (with one group: a contiguous stretch of acc, length values long), starting at
    output position out;
    `strips` holds, for each input channel and tap pattern, the weights of a run in the order
    of acc (at `offset[channel * patterns + pattern]`), padded with zeros to a multiple of
    CONV_RUN_PAD (acc: the sums and CONV_RUN_PAD elements of slack). active[:count]: the
    sources that sent something, in any order (`list_active`, or the list their population's
    kernel emitted): integer sums within the accumulator's dtype do not depend on it."""
    c_out, positions, cg, og, n_patterns, ptr, out, pattern, length, offset = runs
    acc[:] = 0
    for e in range(count):
        s = active[e]
        ci = s // positions
        pos = s - ci * positions
        o0 = (ci // cg) * og
        base = ci * n_patterns
        for r in range(ptr[pos], ptr[pos + 1]):
            # Slice views with a loop to their own length: LLVM vectorizes these (several
            # times faster here than flat indexing, whose stores it cannot prove apart from
            # the loads); a run of several taps is one longer loop.
            a0 = out[r] * c_out + o0
            w0 = offset[base + pattern[r]]
            dst = acc[a0 : a0 + length[r]]
            w = strips[w0 : w0 + length[r]]
            if binary:
                for q in range(dst.shape[0]):
                    dst[q] += w[q]
            else:
                p = row[s]
                for q in range(dst.shape[0]):
                    dst[q] += w[q] * p
