"""Lava's weight rules (golden vectors of reference/lava_fixed_point.md section 1.4)."""

import numpy as np
import pytest

from ir.fixed import effective_weights, saturate, wrap


@pytest.mark.parametrize(
    ("weights", "bits", "mode", "expected"),
    [
        ([0, 255, 40], 8, "excitatory", [0, 255, 40]),
        ([254, -256, 38], 8, "mixed", [254, -256, 38]),
        ([300, -300, 39, -0.4], 8, "mixed", [254, -256, 38, 0]),
        ([254, -256, 38], 7, "mixed", [252, -256, 36]),
        ([-3, -255, -300], 8, "inhibitory", [-3, -255, -255]),
        ([-3], 7, "mixed", [-4]),
    ],
)
def test_effective_weights(weights, bits, mode, expected):
    w = np.trunc(np.array(weights, dtype=float)).astype(np.int64)  # Lava: int32(W) truncates first
    assert effective_weights(w, bits, mode).tolist() == expected


def test_wrap_and_saturate():
    assert wrap(np.array([2**23, -(2**23) - 1, 5]), 24).tolist() == [-(2**23), 2**23 - 1, 5]
    assert saturate(np.array([2**23, -(2**23), 7]), 24).tolist() == [2**23 - 1, -(2**23 - 1), 7]
