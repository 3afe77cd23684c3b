"""The non-spiking networks that are converted, and their (deterministic) training in PyTorch.

- `mlp`: flatten -> [Linear(bias=False) -> ReLU -> Dropout] per hidden layer -> Linear(bias=False).
- `cnn`: [Conv2d(bias=False, 'same' padding) -> ReLU -> AvgPool2d(2)] per conv layer -> flatten
  -> Linear(bias=False).

Bias-free, because a converted neuron's bias is a constant input current per step, which the
conversion keeps free for its own use (the L4 bias-shift variant; see `convert.py`). Average
pooling, not max pooling, because an average of spike rates is a linear map of spikes
(`chain.fold_avgpool`).

Training is deterministic: torch.manual_seed(seed), a seeded shuffling generator, and a fixed
number of intra-op threads (recorded in the model). The CPU kernels used (linear, conv2d,
average pooling, dropout, Adam) have no nondeterministic implementations, so torch's global
deterministic-algorithms switch is not needed (it would also import torch's compiler stack,
seconds per run). Same data, settings and thread count give the same weights, bit for bit, on
one machine; tests/trainers/test_conversion_cli.py holds the model bytes to that.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.progress import progress
from trainers.conversion.chain import Chain, LinearMap

__all__ = [
    "ARCHS",
    "AnnSpec",
    "TrainSettings",
    "TrainedAnn",
    "default_spec",
    "torch_threads",
    "train_ann",
]

ARCHS = ("mlp", "cnn")


@dataclass(frozen=True)
class AnnSpec:
    """Architecture: `hidden` sizes (mlp) or `channels` per conv layer with `kernel` sizes (cnn)."""

    arch: str
    input_shape: tuple[int, ...]
    n_classes: int
    hidden: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    kernels: tuple[int, ...] = ()
    pool: int = 2

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise InputError(f"--arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.arch == "cnn":
            if len(self.input_shape) != 3:
                raise InputError(f"cnn needs image inputs (C, H, W), got shape {self.input_shape}")
            if not self.channels or len(self.channels) != len(self.kernels):
                raise InputError("cnn: give one kernel size per conv layer")
            _, h, w = self.input_shape
            k = self.pool ** len(self.channels)
            if h % k or w % k:
                raise InputError(
                    f"cnn: {len(self.channels)} poolings of {self.pool} need an image size "
                    f"that is a multiple of {k}, got {h}x{w}"
                )
            if any(k_ % 2 == 0 for k_ in self.kernels):
                raise InputError(
                    f"cnn: kernel sizes must be odd ('same' padding), got {self.kernels}"
                )


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    dropout: float = 0.1
    seed: int = 0
    threads: int = 1
    """Intra-op threads for training: fixed, so that the weights do not depend on the machine's
    core count (float sums are reordered by the thread split)."""


@dataclass(frozen=True, eq=False)
class TrainedAnn:
    spec: AnnSpec
    settings: TrainSettings
    chain: Chain
    history: list[dict[str, float]] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "spec": _jsonable(asdict(self.spec)),
            "training": _jsonable(asdict(self.settings)),
            "history": self.history,
        }


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def default_spec(arch: str, dataset: str, input_shape: tuple[int, ...], n_classes: int) -> AnnSpec:
    """The architectures the benchmarks use (MLP 784-512-256-10 on Fashion-MNIST)."""
    if arch == "mlp":
        hidden = (512, 256) if dataset == "fashion-mnist" else (128, 64)
        return AnnSpec("mlp", input_shape, n_classes, hidden=hidden)
    if dataset == "fashion-mnist":
        # 20 channels in the last conv layer: the classifier reads the unpooled 14x14 maps (the
        # last pool is folded into it), so each output neuron has 20 * 14 * 14 = 3920 inputs,
        # within Loihi 2's 4096 input axons per core (hw_configs/loihi2.yaml, an estimate);
        # 32 channels (6272 inputs) do not fit one core.
        return AnnSpec("cnn", input_shape, n_classes, channels=(16, 20), kernels=(5, 3))
    # 8x8 digits: one pooling keeps a 4x4 map.
    return AnnSpec("cnn", input_shape, n_classes, channels=(16,), kernels=(3,))


def _build(spec: AnnSpec, dropout: float):
    from torch import nn

    layers: list[nn.Module] = []
    if spec.arch == "mlp":
        n = math.prod(spec.input_shape)
        layers.append(nn.Flatten())
        for h in spec.hidden:
            layers += [nn.Linear(n, h, bias=False), nn.ReLU(), nn.Dropout(dropout)]
            n = h
        layers.append(nn.Linear(n, spec.n_classes, bias=False))
        return nn.Sequential(*layers)
    c, h, w = spec.input_shape
    for ch, k in zip(spec.channels, spec.kernels, strict=True):
        layers += [
            nn.Conv2d(c, ch, k, padding=k // 2, bias=False),
            nn.ReLU(),
            nn.AvgPool2d(spec.pool),
        ]
        c, h, w = ch, h // spec.pool, w // spec.pool
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * h * w, spec.n_classes, bias=False)]
    return nn.Sequential(*layers)


def to_chain(spec: AnnSpec, model: Any) -> Chain:
    """Read the trained torch model into a Chain; an average pool becomes the `pool` of the next
    map (folded into it in the SNN graph)."""
    from torch import nn

    maps: list[LinearMap] = []
    shape: tuple[int, ...] = spec.input_shape
    unpooled: tuple[int, int, int] | None = None  # the map's shape before a pending pool
    for mod in model:
        if isinstance(mod, nn.AvgPool2d):
            c, h, w = shape
            unpooled, shape = (c, h, w), (c, h // spec.pool, w // spec.pool)
            continue
        if isinstance(mod, nn.Conv2d):
            weight = mod.weight.detach().double().numpy()
            out: tuple[int, ...] = (weight.shape[0], *shape[1:])  # 'same' padding, stride 1
            m = LinearMap("conv", weight, shape, out, padding=(mod.padding[0], mod.padding[1]))
        elif isinstance(mod, nn.Linear):
            weight = mod.weight.detach().double().numpy()
            out = (weight.shape[0],)
            m = LinearMap("dense", weight, (math.prod(shape),), out)
        else:
            continue
        if unpooled is not None:
            m = replace(m, in_shape=unpooled, pool=spec.pool)
            unpooled = None
        maps.append(m)
        shape = out
    return Chain(tuple(maps))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with `n` torch intra-op threads (restored afterwards). Float sums are split
    by thread, so results are reproducible for a given `n`; on a loaded machine one thread also
    avoids the spin-waiting of oversubscribed OpenMP workers."""
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def train_ann(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    spec: AnnSpec,
    settings: TrainSettings,
) -> TrainedAnn:
    """Train with Adam and cosine learning-rate decay; cross-entropy on the logits."""
    import torch

    torch.manual_seed(settings.seed)
    with torch_threads(settings.threads):
        return _train(x_train, y_train, x_val, y_val, spec, settings)


def _train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    spec: AnnSpec,
    settings: TrainSettings,
) -> TrainedAnn:
    import torch
    from torch import nn

    model = _build(spec, settings.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / settings.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.as_tensor(x_train, dtype=torch.float32)
    yt = torch.as_tensor(y_train, dtype=torch.int64)
    xv = torch.as_tensor(x_val, dtype=torch.float32)
    gen = torch.Generator().manual_seed(settings.seed)
    history: list[dict[str, float]] = []
    for epoch in progress(range(settings.epochs), desc="train ANN", total=settings.epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for lo in range(0, len(xt), settings.batch_size):
            idx = order[lo : lo + settings.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            val_acc = float((model(xv).argmax(1).numpy() == y_val).mean())
        history.append(
            {
                "epoch": epoch + 1,
                "loss": round(total / len(xt), 6),
                "val_accuracy": round(val_acc, 6),
            }
        )
    model.eval()
    chain = to_chain(spec, model)
    return TrainedAnn(spec, settings, chain, history)
