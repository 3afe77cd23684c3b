"""netx's dense weight format, re-derived by snnc (compiler/netx/weights.py), against lava-dl's
own `optimize_weight_bits` on random weight matrices of every kind netx meets: 8-bit SLAYER
weights, one sign only, powers of two, and weights too large for the synapse."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from compiler.netx.weights import lava_sign_mode, netx_dense_format
from ir.fixed import effective_weights

pytestmark = pytest.mark.lavadl


def _random_weights(rng: np.random.Generator) -> np.ndarray:
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    kind = int(rng.integers(0, 6))
    if kind == 0:
        return rng.integers(-128, 128, shape) * 2  # SLAYER's quantize_8bit: even, [-256, 254]
    if kind == 1:
        return rng.integers(0, 256, shape)
    if kind == 2:
        return -rng.integers(1, 257, shape)
    if kind == 3:
        return rng.integers(-600, 600, shape)
    if kind == 4:
        return rng.integers(-4, 5, shape) * 2 ** int(rng.integers(0, 7))
    return rng.integers(0, 3000, shape)


def test_format_is_lava_dl_optimize_weight_bits():
    from backends.lava import compat

    if not compat.lava_dl_available():
        pytest.skip("lava-dl 0.6.0 not importable (make setup-lavadl)")
    from lava.lib.dl.netx.utils import optimize_weight_bits

    rng = np.random.default_rng(25)
    checked = 0
    for _ in range(1000):
        w = _random_weights(rng)
        if not w.any():
            continue  # netx fails on all-zero weights (division by the largest weight)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want, bits, exp, _ = optimize_weight_bits(w.copy())
        got = netx_dense_format(w)
        assert (got.num_weight_bits, got.weight_exp) == (bits, exp), w
        np.testing.assert_array_equal(got.weight, want)
        checked += 1
    assert checked > 950


def test_fitting_weights_sum_exactly():
    """For weights that fit the synapse, what Lava computes from netx's format is the plain sum
    of the file's weights: the exponent removes exactly the bits the shift added."""
    rng = np.random.default_rng(7)
    for _ in range(500):
        w = rng.integers(-128, 128, (4, 6)) * 2
        if not w.any():
            continue
        fmt = netx_dense_format(w)
        eff = effective_weights(fmt.weight, fmt.num_weight_bits, lava_sign_mode(fmt.weight))
        assert fmt.weight_exp <= 0
        np.testing.assert_array_equal(eff >> -fmt.weight_exp, w)
        assert not np.any(eff % (1 << -fmt.weight_exp))
