"""The network being converted: a chain of linear maps, each followed by a ReLU in the ANN and by
a population of integrate-and-fire neurons in the SNN.

    A_0 = x,    A_l = ReLU(W_l A_{l-1})  (l < L),    logits = W_L A_{L-1}

`W_l` is a bias-free dense map (weight (n_out, n_in)) or a 2-D convolution (weight
(C_out, C_in, kH, kW), PyTorch layout, stride and padding). Average pooling is linear, so a pool
that follows a ReLU belongs to the next map (`LinearMap.pool`) and the SNN graph folds it into
that projection (`fold_avgpool`): the SNN has no pooling neurons, which would each add one step
of latency (every projection delays by one step, as Lava's connection processes do) and one
more spike-rate quantization.

A "channel" is what shares one weight vector: a neuron of a dense map, a feature map of a
convolution. Per-neuron adjustments of a convolution are per channel, because a convolution
shares one kernel across positions (and Lava's Conv holds one kernel per output channel).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ir.atomic import atomic_write_bytes

__all__ = [
    "Chain",
    "LinearMap",
    "chain_activations",
    "chain_logits",
    "fold_avgpool",
    "load_chain",
    "save_chain",
]


@dataclass(frozen=True, eq=False)
class LinearMap:
    """One bias-free linear map of the chain.

    `kind` "dense": out = W in, W (n_out, n_in). `kind` "conv": out = W * in (cross-correlation,
    PyTorch's `conv2d`), W (C_out, C_in, kH, kW). `in_shape`/`out_shape` are (n,) or (C, H, W).
    With `pool` = k > 1 the map reads its (C, H, W) input through a k x k average pooling
    (stride k) and `weight` acts on the pooled map, as in the ANN; `folded()` is the same map
    as one projection from the unpooled input, which is what the SNN graph holds. Simulating
    the pooled form is k^2 times cheaper for a convolution and computes the same values.
    """

    kind: str
    weight: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    pool: int = 1

    def __post_init__(self) -> None:
        w = np.array(self.weight, dtype=np.float64, copy=True)
        w.setflags(write=False)
        object.__setattr__(self, "weight", w)

    @property
    def n_in(self) -> int:
        return math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        return math.prod(self.out_shape)

    @property
    def channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def fan_in(self) -> int:
        """Inputs seen by one neuron of the folded map (kernel taps, ignoring padding)."""
        return int(np.prod(self.folded().weight.shape[1:]))

    def folded(self) -> LinearMap:
        """The map as one projection from the unpooled input (`fold_avgpool`)."""
        if self.pool == 1:
            return self
        return fold_avgpool(self.pool, self.in_shape, replace(self, pool=1))  # type: ignore[arg-type]

    def channel_of_neuron(self) -> np.ndarray:
        """Channel index of every output neuron, in C-order flat neuron order."""
        if self.kind == "dense":
            return np.arange(self.n_out)
        return np.repeat(np.arange(self.channels), self.n_out // self.channels)

    def channel_norms(self, p: float) -> np.ndarray:
        """||w_j||_p of every channel's weight vector as the SNN sees it (folded), (channels,)."""
        w = self.folded().weight
        flat = np.abs(w.reshape(self.channels, -1))
        return (flat**p).sum(axis=1) ** (1.0 / p)

    def scale_outputs(self, factor: np.ndarray | float) -> LinearMap:
        """The map with output channel j multiplied by factor[j] (or one factor)."""
        f = np.broadcast_to(np.asarray(factor, dtype=np.float64), (self.channels,))
        return replace(self, weight=self.weight * f.reshape((-1,) + (1,) * (self.weight.ndim - 1)))

    def scale_inputs(self, factor: np.ndarray, in_channels: int) -> LinearMap:
        """The map with input channel c (of `in_channels`) multiplied by factor[c]."""
        f = np.asarray(factor, dtype=np.float64)
        if self.kind == "conv":
            return replace(self, weight=self.weight * f.reshape(1, -1, 1, 1))
        per_input = np.repeat(f, self.weight.shape[1] // in_channels)
        return replace(self, weight=self.weight * per_input[None, :])

    def apply(self, x: Any) -> Any:
        """The map on a torch tensor (N, *in_shape) or (N, n_in); returns (N, n_out) flat."""
        import torch.nn.functional as F

        w = self._torch_weight(x)
        if self.pool > 1:
            x = F.avg_pool2d(x.reshape((len(x), *self.in_shape)), self.pool)
        elif self.kind == "conv":
            x = x.reshape((len(x), *self.in_shape))
        if self.kind == "dense":
            return F.linear(x.reshape(len(x), -1), w)
        return F.conv2d(x, w, stride=self.stride, padding=self.padding).reshape(len(x), -1)

    def _torch_weight(self, x: Any) -> Any:
        import torch

        # The weight as a tensor of x's dtype, converted once per dtype (the dataclass is frozen,
        # so the cache lives in the instance dict).
        cache = self.__dict__.setdefault("_torch_cache", {})
        key = (x.dtype, x.device)
        if key not in cache:
            cache[key] = torch.tensor(self.weight, dtype=x.dtype, device=x.device)
        return cache[key]


@dataclass(frozen=True, eq=False)
class Chain:
    """The maps W_1..W_L (ReLU after every one but the last) and the input shape."""

    maps: tuple[LinearMap, ...]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.maps[0].in_shape

    @property
    def depth(self) -> int:
        return len(self.maps)

    def with_map(self, index: int, new: LinearMap) -> Chain:
        maps = list(self.maps)
        maps[index] = new
        return Chain(tuple(maps))


def chain_logits(chain: Chain, x: np.ndarray, batch: int = 2048) -> np.ndarray:
    """The ANN's logits (N, n_classes) for inputs x (N, ...), in float64."""
    return _forward(chain, x, batch, record=False)[-1]


def chain_activations(chain: Chain, x: np.ndarray, batch: int = 2048) -> list[np.ndarray]:
    """[A_1, ..., A_{L-1}, logits] for inputs x, each (N, n_l) float32 (memory: the caller's
    subset size times the widest layer)."""
    return _forward(chain, x, batch, record=True)


def _forward(chain: Chain, x: np.ndarray, batch: int, record: bool) -> list[np.ndarray]:
    import torch

    outs: list[list[np.ndarray]] = [[] for _ in chain.maps]
    with torch.no_grad():
        for lo in range(0, len(x), batch):
            h = torch.as_tensor(np.asarray(x[lo : lo + batch], dtype=np.float64))
            for i, m in enumerate(chain.maps):
                h = m.apply(h)
                if i < chain.depth - 1:
                    h = torch.relu(h)
                if record or i == chain.depth - 1:
                    outs[i].append(h.numpy().astype(np.float32 if record else np.float64))
    cat = [np.concatenate(o) if o else np.zeros((0,)) for o in outs]
    return cat if record else [cat[-1]]


def fold_avgpool(pool: int, in_shape: tuple[int, ...], nxt: LinearMap) -> LinearMap:
    """Fold an average pool (kernel = stride = `pool`, on a (C, H, W) map) into the next map
    `nxt` (which acts on the pooled map).

    Dense after pool (through a flatten): W'[:, c, y, x] = W[:, c, y // k, x // k] / k^2.
    Conv after pool: a kernel tap (i, j) of the pooled map covers the k x k block (k i + a,
    k j + b) of the unpooled one, so W'[o, c, k i + a, k j + b] = W[o, c, i, j] / k^2 with stride
    k * s and padding k * p (zero padding pools to zero, so padding scales exactly).
    """
    c, h, w = in_shape
    k = pool
    if h % k or w % k:
        raise ValueError(f"pool {k} does not divide the map {h}x{w}")
    if nxt.kind == "dense":
        wt = nxt.weight.reshape(nxt.n_out, c, h // k, w // k)
        folded = np.repeat(np.repeat(wt, k, axis=2), k, axis=3) / (k * k)
        return LinearMap("dense", folded.reshape(nxt.n_out, -1), in_shape, nxt.out_shape)
    folded = np.repeat(np.repeat(nxt.weight, k, axis=2), k, axis=3) / (k * k)
    return LinearMap(
        "conv",
        folded,
        in_shape,
        nxt.out_shape,
        stride=(nxt.stride[0] * k, nxt.stride[1] * k),
        padding=(nxt.padding[0] * k, nxt.padding[1] * k),
    )


def save_chain(chain: Chain, path: str | os.PathLike) -> None:
    """Write the chain's weights and geometry to an .npz (atomic; read with `load_chain`)."""
    arrays: dict[str, np.ndarray] = {}
    for i, m in enumerate(chain.maps):
        arrays[f"weight{i}"] = m.weight
        arrays[f"geometry{i}"] = np.array(
            [m.kind == "conv", *m.stride, *m.padding, m.pool], dtype=np.int64
        )
        arrays[f"in_shape{i}"] = np.array(m.in_shape, dtype=np.int64)
        arrays[f"out_shape{i}"] = np.array(m.out_shape, dtype=np.int64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_chain(path: str | os.PathLike) -> Chain:
    with np.load(path, allow_pickle=False) as z:
        maps = []
        for i in range(len([k for k in z.files if k.startswith("weight")])):
            kind, sh, sw, ph, pw, pool = (int(v) for v in z[f"geometry{i}"])
            maps.append(
                LinearMap(
                    "conv" if kind else "dense",
                    z[f"weight{i}"],
                    tuple(int(v) for v in z[f"in_shape{i}"]),
                    tuple(int(v) for v in z[f"out_shape{i}"]),
                    stride=(sh, sw),
                    padding=(ph, pw),
                    pool=pool,
                )
            )
    return Chain(tuple(maps))
