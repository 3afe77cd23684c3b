"""The linear NIR nodes (weights, scales, pooling, flatten, delays) as operators on flat signals,
and their composition into one snnc projection.

A path in a NIR graph from a population (Input or a neuron node) to a neuron node passes through
zero or more linear nodes. Every such path becomes one snnc projection:

- only elementwise nodes (Scale, Delay, Flatten, an identity Affine)  -> one-to-one `Sparse`
- one Affine/Linear plus elementwise nodes                             -> `Dense`
- one Conv/pooling plus per-channel scales, no delays                  -> `Conv2d`
- anything else (two weight nodes in a row, per-neuron scales after a
  convolution, delays on a convolution path)                          -> the path's matrix,
  computed exactly, as a `Dense` (up to `MAX_DENSE_ELEMENTS` entries)

Signals are flat in C order, as snnc's populations are, so Flatten moves no data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ir.conv import conv2d
from ir.errors import PathError
from ir.nodes import conv2d_output_hw

__all__ = ["MAX_DENSE_ELEMENTS", "Op", "PathError", "compose", "conv_output_shape"]

MAX_DENSE_ELEMENTS = 1 << 24


@dataclass(eq=False)
class Op:
    """One linear NIR node. `kind` is "elementwise", "dense" or "conv".

    elementwise: y = scale * x(t - delay) + bias   (scale, delay, bias flat, or None)
    dense:       y = weight @ x + bias
    conv:        y = conv2d(x, weight, stride, padding, dilation, groups) + bias[channel]
    """

    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    scale: np.ndarray | None = None
    delay: np.ndarray | None = None
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    is_named: bool = True  # False for Flatten / identity Affines (names no projection)

    @property
    def in_size(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_size(self) -> int:
        return math.prod(self.out_shape)

    def linear(self, x: np.ndarray) -> np.ndarray:
        """The op without bias or delay on a batch of flat signals (B, in_size)."""
        if self.kind == "elementwise":
            return x if self.scale is None else x * self.scale
        if self.kind == "dense":
            return x @ self.weight.T
        b = x.shape[0]
        out = conv2d(
            x.reshape((b, *self.in_shape)),
            np.asarray(self.weight, dtype=np.float64),  # float64 sums whatever the file's dtype
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )
        return out.reshape(b, -1)

    def bias_vector(self) -> np.ndarray | None:
        """The constant this op adds, flat over its output (None when it adds none)."""
        if self.bias is None or not np.any(self.bias):
            return None
        if self.kind == "conv":
            c, h, w = self.out_shape
            return np.repeat(self.bias, h * w)
        return np.broadcast_to(self.bias, (self.out_size,)).astype(np.float64)


def conv_output_shape(
    in_shape: tuple[int, int, int],
    c_out: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[int, int, int]:
    return (c_out, *conv2d_output_hw(in_shape[1:], kernel, stride, padding, dilation))  # type: ignore[arg-type]


@dataclass
class Composed:
    """What `compose` returns: one snnc projection's data.

    kind "sparse_diag": values (n,), delay (n,) | scalar
    kind "dense":       weight (n_dst, n_src), delay (n_dst, n_src) | scalar
    kind "conv":        weight, stride, padding, dilation, groups (no delay)
    """

    kind: str
    weight: np.ndarray
    delay: np.ndarray | int = 0
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1


def _uniform(delay: np.ndarray) -> np.ndarray | int:
    flat = np.asarray(delay).reshape(-1)
    if flat.size == 0 or np.all(flat == flat[0]):
        return int(flat[0]) if flat.size else 0
    return delay


def _channel_constant(vec: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """vec (flat over a (C, H, W) signal) as one value per channel, or None if it varies."""
    per = vec.reshape(shape[0], -1)
    if np.all(per == per[:, :1]):
        return per[:, 0].copy()
    return None


def compose(ops: list[Op], n_src: int, n_dst: int, gain: np.ndarray) -> Composed:
    """The single projection equal to applying `ops` in order, then multiplying by `gain` (n_dst).

    Raises PathError when the path cannot be one snnc projection.
    """
    cores = [i for i, op in enumerate(ops) if op.kind in ("dense", "conv")]
    first = cores[0] if cores else len(ops)
    last = cores[-1] if cores else len(ops) - 1
    pre_scale, pre_delay = np.ones(n_src), np.zeros(n_src, dtype=np.int64)
    for op in ops[:first]:
        if op.scale is not None:
            pre_scale = pre_scale * op.scale
        if op.delay is not None:
            pre_delay = pre_delay + op.delay
    post_scale = gain.astype(np.float64).copy()
    post_delay = np.zeros(n_dst, dtype=np.int64)
    for op in ops[last + 1:] if cores else []:
        if op.scale is not None:
            post_scale = post_scale * op.scale
        if op.delay is not None:
            post_delay = post_delay + op.delay
    if not cores:
        if n_src != n_dst:
            raise PathError(f"an elementwise path maps {n_src} values to {n_dst}")
        return Composed("sparse_diag", pre_scale * post_scale, _uniform(pre_delay))
    mid_delay = 0
    for op in ops[first + 1:last]:
        if op.delay is not None and op.kind == "elementwise":
            d = _uniform(op.delay)
            if not isinstance(d, int):
                raise PathError(
                    f"Delay {op.name!r} between two weight nodes has different delays per element; "
                    "snnc delays are per synapse"
                )
            mid_delay += d
    if len(cores) == 1 and ops[first].kind == "dense":
        w = ops[first].weight * post_scale[:, None] * pre_scale[None, :]
        return Composed("dense", w, _uniform(post_delay[:, None] + pre_delay[None, :]))
    if (
        len(cores) == 1
        and ops[first].kind == "conv"
        and not np.any(pre_delay)
        and not np.any(post_delay)
    ):
        conv = ops[first]
        pre_c = _channel_constant(pre_scale, conv.in_shape)
        post_c = _channel_constant(post_scale, conv.out_shape)
        if pre_c is not None and post_c is not None:
            c_out, cg = conv.weight.shape[:2]
            og = c_out // conv.groups
            # Input channel of weight[o, j] is (o // og) * cg + j.
            in_ch = (np.arange(c_out)[:, None] // og) * cg + np.arange(cg)[None, :]
            w = conv.weight * post_c[:, None, None, None] * pre_c[in_ch][:, :, None, None]
            return Composed("conv", w, 0, conv.stride, conv.padding, conv.dilation, conv.groups)
    if n_src * n_dst > MAX_DENSE_ELEMENTS:
        names = " -> ".join(op.name for op in ops)
        raise PathError(
            f"the path {names} is not one weight layer and its matrix ({n_dst} x {n_src}) "
            f"is larger than {MAX_DENSE_ELEMENTS} entries"
        )
    x = np.eye(n_src) * pre_scale[:, None]
    for op in ops:
        x = op.linear(x)
    w = (x * post_scale[None, :]).T
    return Composed("dense", w, _uniform(post_delay[:, None] + pre_delay[None, :] + mid_delay))


def apply_linear(ops: list[Op], vec: np.ndarray) -> np.ndarray:
    """A constant vector pushed through `ops` (their linear parts; delays do not change
    constants)."""
    x = vec.reshape(1, -1).astype(np.float64)
    for op in ops:
        x = op.linear(x)
    return x.reshape(-1)
