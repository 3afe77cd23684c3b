"""Each VIB task as the trainer consumes it (torch): `make_task(cfg)` gives a `Task` with the
task's training batches per epoch, its validation and test splits, the decoder readout steps,
the per-evaluation loss -log q and the metric. Predictive coding: the NLL of the input pattern
at each scored step, accuracy; reconstruction: the pixel-mean binary cross-entropy, the
accuracy of the task's classifier on the reconstructions. The data themselves (numpy):
`trainers.vib.tasks`; the training: `trainers.vib.train`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from trainers.vib import tasks
from trainers.vib.config import VIBConfig
from trainers.vib.decoder import DecoderSpec

__all__ = ["EPS", "Task", "encoding_spec", "make_task"]
PC_EPOCH_SEQUENCES = 1024
PC_VAL_SEQUENCES = 256
PC_REFIT_SEQUENCES = 2048
EPS = 1e-7  # probabilities are clamped to [EPS, 1 - EPS] before a log


class Task(ABC):
    """Batches of input spikes and targets, a loss and a metric for one task."""

    n_inputs: int
    run_steps: int
    spec: DecoderSpec

    @abstractmethod
    def batches(self, epoch: int, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, Any]]:
        """Training batches (input spikes (B, K, n), targets) of one epoch."""

    @abstractmethod
    def refit_set(self) -> tuple[np.ndarray, Any]:
        """Training inputs and targets for refitting the decoder to the deterministic readout."""

    @abstractmethod
    def split(self, split: str) -> tuple[np.ndarray, Any]:
        """Input spikes and targets of a validation or test split."""

    @abstractmethod
    def ends(self) -> np.ndarray:
        """Readout steps at which the decoder is evaluated."""

    @abstractmethod
    def losses(self, out: torch.Tensor, target: Any) -> torch.Tensor:
        """-log q per (sample, evaluation) (B, E)."""

    @abstractmethod
    def metric(self, out: np.ndarray, target: Any) -> float:
        """The task's score of decoder outputs (N, E, n_out)."""


class _PredictiveCoding(Task):
    def __init__(self, cfg: VIBConfig, latency: int) -> None:
        self.cfg, self.latency = cfg, latency
        self.n_inputs = tasks.PC_INPUTS
        self.run_steps = cfg.steps
        self.spec = DecoderSpec(cfg.decoding, cfg.window, cfg.n_readout, cfg.decoder,
                                cfg.decoder_hidden, tasks.n_patterns(), "log_softmax")
        x = tasks.blob_sequences(1, cfg.steps, cfg.seed)
        self._ends, _ = tasks.pc_targets(x, latency, cfg.delta, cfg.window)

    def _make(self, count: int, split: str, first: int) -> tuple[np.ndarray, np.ndarray]:
        x = tasks.blob_sequences(count, self.cfg.steps, self.cfg.seed, split, first)
        _, y = tasks.pc_targets(x, self.latency, self.cfg.delta, self.cfg.window)
        return x, y

    def batches(self, epoch, rng):
        per = PC_EPOCH_SEQUENCES
        for start in range(0, per, self.cfg.batch):
            n = min(self.cfg.batch, per - start)
            yield self._make(n, "train", epoch * per + start)

    def refit_set(self) -> tuple[np.ndarray, np.ndarray]:
        # Training-split sequences from an index no epoch reaches (epoch e uses e * 1024 ...).
        return self._make(PC_REFIT_SEQUENCES, "train", 10**9)

    def split(self, split):
        return self._make(PC_VAL_SEQUENCES, split, 0)

    def ends(self):
        return self._ends

    def losses(self, out, target):
        # out: log-probabilities (B, E, 210); target (B, E) -> per-evaluation NLL (B, E)
        return -out.gather(-1, torch.as_tensor(target)[..., None]).squeeze(-1)

    def metric(self, out, target):
        return float(np.mean(np.argmax(out, axis=-1) == target))


class _Reconstruction(Task):
    def __init__(self, cfg: VIBConfig, latency: int) -> None:
        self.cfg = cfg
        self.data = tasks.load_reconstruction_data(cfg.task)
        self.n_inputs = self.data.n_pixels
        self.run_steps = cfg.steps + latency
        self.spec = DecoderSpec(cfg.decoding, self.run_steps, cfg.n_readout, cfg.decoder,
                                cfg.decoder_hidden, self.n_inputs, "sigmoid")
        self.encoding = encoding_spec(cfg)
        weight, bias, acc = tasks.fit_classifier(self.data, cfg.seed)
        self.classifier = (weight, bias)
        self.classifier_test_accuracy = acc
        x_train = self.data.x["train"]
        if cfg.train_samples:
            x_train = x_train[: cfg.train_samples]
        self.x_train = x_train
        self.s_train = self._encode(x_train, "train")
        self.cache: dict[str, np.ndarray] = {}

    def _encode(self, x: np.ndarray, split: str) -> np.ndarray:
        # DEVELOPERS.md: sample i of a split is encode(spec, x, T, seed, first_index=i).
        return tasks.reconstruction_inputs(
            self.encoding, x, self.cfg.steps, self.run_steps, self.cfg.seed, 0
        )

    def batches(self, epoch, rng):
        order = rng.permutation(len(self.x_train))
        for start in range(0, len(order), self.cfg.batch):
            idx = np.sort(order[start : start + self.cfg.batch])
            yield self.s_train[idx], (self.x_train[idx], None)

    def refit_set(self):
        return self.s_train, (self.x_train, None)

    def split(self, split):
        if split not in self.cache:
            self.cache[split] = self._encode(self.data.x[split], split)
        return self.cache[split], (self.data.x[split], self.data.y[split])

    def ends(self):
        return np.array([self.run_steps - 1])

    def losses(self, out, target):
        x = torch.as_tensor(target[0], dtype=out.dtype)[:, None, :]
        bce = -(x * torch.log(out.clamp_min(EPS)) + (1 - x) * torch.log((1 - out).clamp_min(EPS)))
        return bce.mean(dim=-1)  # (B, 1)

    def metric(self, out, target):
        w, b = self.classifier
        pred = np.argmax(out[:, 0] @ w.T + b, axis=1)
        return float(np.mean(pred == target[1]))


def encoding_spec(cfg: VIBConfig) -> dict[str, Any]:
    """The `trainers.encoders` spec of a reconstruction task's input coding."""
    if cfg.encoding == "rate":
        return {"kind": "rate", "max_rate": cfg.max_rate}
    return {"kind": "latency"}


def make_task(cfg: VIBConfig) -> Task:
    latency = len(cfg.hidden) + 1
    return _PredictiveCoding(cfg, latency) if cfg.is_pc else _Reconstruction(cfg, latency)
