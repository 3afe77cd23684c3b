"""The convolution of `Conv2d` and `QConv2d` nodes (PyTorch's cross-correlation), for every
layer that computes one outside the simulator's event-driven kernels: the reference engine,
the fast engine's dense fallback, the quantizer's drift estimate, tests."""

from __future__ import annotations

import numpy as np

from ir.nodes import conv2d_output_hw

__all__ = ["conv2d"]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """Cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in/groups, kH, kW) as
    PyTorch computes it (`Conv2d`, `QConv2d`):

        out[n, o, y, x] = sum_{c, i, j} weight[o, c, i, j]
                          * x_pad[n, g C_in/groups + c, y sH + i dH, x sW + j dW]

    with g = o // (C_out/groups) and x zero-padded by (pH, pW); accumulated in float64 (exact
    for integers while |sums| < 2^53), or in float32 when `weight` is float32 (exact while
    |sums| < 2^24)."""
    dtype = np.float32 if np.asarray(weight).dtype == np.float32 else np.float64
    n, c_in, h, w = x.shape
    c_out, cg, kh, kw = weight.shape
    oh, ow = conv2d_output_hw((h, w), (kh, kw), stride, padding, dilation)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    # Channels first, so that every tap gathered below is (C_in, N, oH, oW) and the whole batch
    # is one matrix product per group: (C_out/g, cg kH kW) @ (cg kH kW, N oH oW).
    xp = np.pad(
        np.asarray(x, dtype=dtype).transpose(1, 0, 2, 3), ((0, 0), (0, 0), (ph, ph), (pw, pw))
    )
    og = c_out // groups
    wf = np.asarray(weight, dtype=dtype)
    cols = np.empty((c_in, kh, kw, n, oh, ow), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[
                :,
                :,
                i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                j * dw : j * dw + sw * (ow - 1) + 1 : sw,
            ]
    out = np.empty((n, c_out, oh * ow), dtype=dtype)
    for g in range(groups):
        src = cols[g * cg : (g + 1) * cg].reshape(cg * kh * kw, n * oh * ow)
        tap = wf[g * og : (g + 1) * og].reshape(og, cg * kh * kw)
        out[:, g * og : (g + 1) * og] = (tap @ src).reshape(og, n, oh * ow).transpose(1, 0, 2)
    return out.reshape(n, c_out, oh, ow)
