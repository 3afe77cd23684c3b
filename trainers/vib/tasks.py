"""The two VIB tasks: their data, their input spikes, their targets and their metrics (numpy only).

**Predictive coding** (`predictive-coding`): 20 input neurons carry two superposed "drifting
blobs" (Chalk et al.; the generator of the VDIB code, `make_blob`). Each blob has an angle that
drifts with a noisy, decaying velocity; at every step it lights the input neuron whose bin is
nearest to a noisy reading of that angle, so 1 or 2 inputs are active per step (2 when the
blobs fall in different bins). The target at readout step k is the input pattern at input step
`k - latency + delta` (`latency` = projections from input to readout; delta = 0 asks for the
newest input the readout has seen, delta > 0 for a prediction), as an index into the 210
possible patterns (20 single + 190 pairs). Metric: the fraction of scored steps whose pattern
the decoder gets right.

**Reconstruction** (`digits`, `fashion-mnist`): images in [0, 1] are encoded as spikes (latency
or rate, `trainers.encoders`) over T steps; the network runs T + latency steps, so the last
input step reaches the readout. The decoder reconstructs the pixels; the metric is the accuracy
of a logistic-regression classifier, trained on the real training images, on the
reconstructions of the test images (a stand-in for the paper's pre-trained LeNet).
Fashion-MNIST is averaged 2x2 down to 14x14.

Every random draw is seeded per sample: sample i of split `s` uses `default_rng([seed, s, i])`
(`SPLIT_IDS`), so spikes do not depend on batching.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.errors import InputError

__all__ = [
    "PC_INPUTS",
    "SPLIT_IDS",
    "TASKS",
    "ReconstructionData",
    "blob_sequences",
    "fit_classifier",
    "load_reconstruction_data",
    "n_patterns",
    "pattern_index",
    "pc_targets",
    "reconstruction_inputs",
]

TASKS = ("predictive-coding", "digits", "fashion-mnist")
PC_INPUTS = 20
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}

# Drifting-blob dynamics (VDIB utils/data_utils.make_blob): angle += velocity; velocity decays
# by 0.9 per step with N(0, 0.14^2) kicks; the reading is N(angle, 0.45^2), wrapped to the
# circle. The VDIB code also multiplies the reading by a slowly varying amplitude A (0.5 at
# start); that shrinks angles toward 0 and breaks the circle's symmetry, so it is left out.
_BLOB_V0 = 1.0
_BLOB_V_DECAY = 0.9
_BLOB_V_NOISE = 0.14
_BLOB_READ_STD = 0.45


def _split_id(split: str) -> int:
    if split not in SPLIT_IDS:
        raise InputError(f"split must be one of {', '.join(SPLIT_IDS)}, got {split!r}")
    return SPLIT_IDS[split]


# --------------------------------------------------------------------------- predictive coding


def _one_blob(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    """Active input index (steps,) of one drifting blob."""
    eta = rng.standard_normal(steps)
    theta = np.empty(steps)
    vel = np.empty(steps)
    theta[0] = rng.uniform(-np.pi, np.pi)
    vel[0] = _BLOB_V0
    for t in range(1, steps):
        theta[t] = theta[t - 1] + vel[t - 1]
        vel[t] = _BLOB_V_DECAY * vel[t - 1] - _BLOB_V_NOISE * eta[t]
    reading = rng.normal(theta, _BLOB_READ_STD)
    reading = np.arctan2(np.sin(reading), np.cos(reading))
    bins = -np.pi + 2 * np.pi * np.arange(n) / n
    # Nearest bin on the line, as the VDIB code does (the two ends are not neighbours).
    return np.argmin(np.abs(reading[:, None] - bins[None, :]), axis=1)


def blob_sequences(
    count: int, steps: int, seed: int, split: str = "train", first_index: int = 0,
    n_inputs: int = PC_INPUTS, n_blobs: int = 2,
) -> np.ndarray:
    """`count` sequences (count, steps, n_inputs) uint8 of superposed drifting blobs."""
    if steps <= 0 or count <= 0:
        raise InputError(f"blob sequences need count > 0 and steps > 0, got {count}, {steps}")
    sid = _split_id(split)
    out = np.zeros((count, steps, n_inputs), dtype=np.uint8)
    rows = np.arange(steps)
    for i in range(count):
        rng = np.random.default_rng([seed, sid, first_index + i])
        for _ in range(n_blobs):
            out[i, rows, _one_blob(rng, n_inputs, steps)] = 1
    return out


def n_patterns(n_inputs: int = PC_INPUTS) -> int:
    """Patterns with one or two active inputs: n + n(n-1)/2 (210 for 20 inputs)."""
    return n_inputs * (n_inputs + 1) // 2


def pattern_index(active: np.ndarray) -> np.ndarray:
    """Index of each 1- or 2-hot pattern (..., n) in the order (i, j), i <= j, j = i for one.

    Index of (i, j) = i n - i (i - 1) / 2 + (j - i).
    """
    active = np.asarray(active)
    n = active.shape[-1]
    counts = active.sum(axis=-1)
    if np.any((counts < 1) | (counts > 2)):
        raise InputError("predictive-coding patterns must have 1 or 2 active inputs per step")
    i = np.argmax(active, axis=-1)
    j = n - 1 - np.argmax(active[..., ::-1], axis=-1)
    return (i * n - i * (i - 1) // 2 + (j - i)).astype(np.int64)


def pc_targets(
    inputs: np.ndarray, latency: int, delta: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """(steps k, target pattern indices (batch, len(k))) of the scored readout steps.

    Readout step k is scored when its whole window [k - window + 1, k] lies in the run and the
    input step k - latency + delta does.
    """
    steps = inputs.shape[1]
    k = np.arange(steps)
    src = k - latency + delta
    ok = (k >= window - 1) & (src >= 0) & (src < steps)
    ks = k[ok]
    if ks.size == 0:
        raise InputError(
            f"predictive coding: no scored steps with {steps} steps, window {window}, latency "
            f"{latency}, delta {delta}; use more steps"
        )
    return ks, pattern_index(inputs[:, ks - latency + delta])


# --------------------------------------------------------------------------- reconstruction


@dataclass(frozen=True)
class ReconstructionData:
    """Flattened images in [0, 1] per split, and labels (for the classifier metric)."""

    name: str
    image_shape: tuple[int, int]
    x: Mapping[str, np.ndarray]
    y: Mapping[str, np.ndarray]

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


def load_reconstruction_data(name: str) -> ReconstructionData:
    """Digits (8x8) or Fashion-MNIST averaged to 14x14, with snnc's fixed splits."""
    from trainers.datasets import load_dataset

    if name not in ("digits", "fashion-mnist"):
        raise InputError(f"reconstruction dataset must be digits or fashion-mnist, got {name!r}")
    ds = load_dataset(name)
    xs, ys = {}, {}
    for split in SPLIT_IDS:
        x, y = ds.split(split)
        img = x[:, 0].astype(np.float64)
        if name == "fashion-mnist":
            n, h, w = img.shape
            img = img.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
        xs[split] = np.clip(img.reshape(len(img), -1), 0.0, 1.0)
        ys[split] = y
    side = 8 if name == "digits" else 14
    return ReconstructionData(name, (side, side), xs, ys)


def reconstruction_inputs(
    encoding: Mapping[str, Any], x: np.ndarray, steps: int, run_steps: int, seed: int,
    first_index: int,
) -> np.ndarray:
    """Input spikes (N, run_steps, n): the images encoded over `steps`, then silence.

    Uses `trainers.encoders.encode(encoding, x, steps, seed, first_index)`, snnc's shared
    encoders, so the classification tooling and VIB see the same spikes for the same spec.
    """
    from trainers.encoders import encode

    spikes = encode(encoding, x, steps, seed, first_index=first_index)
    if run_steps < steps:
        raise InputError(f"run_steps ({run_steps}) must be >= encoding steps ({steps})")
    pad = np.zeros((len(x), run_steps - steps, spikes.shape[2]), dtype=spikes.dtype)
    return np.concatenate([spikes, pad], axis=1)


def fit_classifier(data: ReconstructionData, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Logistic regression on the real training images: (weight (10, n), bias (10,), test acc)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
    clf.fit(data.x["train"], data.y["train"])
    weight = clf.coef_.astype(np.float64)
    bias = clf.intercept_.astype(np.float64)
    acc = float(np.mean(np.argmax(data.x["test"] @ weight.T + bias, axis=1) == data.y["test"]))
    return weight, bias, acc
