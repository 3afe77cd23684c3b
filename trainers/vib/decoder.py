"""The host-side decoder: readout spikes -> features -> a small ANN (numpy; no torch needed).

Features (`decoding`):
- "time": the window of readout spikes, flattened step-major: feature[w * n + i] is neuron i at
  the w-th step of the window (window of `window` steps ending at the decoded step);
- "rate": the spike count of each neuron over the same window.

Architecture: "linear" (one Linear layer) or "mlp" (Linear -> ReLU -> Linear), then
"log_softmax" (class log-probabilities) or "sigmoid" (pixel intensities).

The decoder file is an .npz written by `ir.arrays_io.write_npz` (no pickle): for each variant
(`deployed`: fitted to the deterministic readout that snnc deploys; `sampled`: trained with
the Bernoulli readout) the keys `<variant>.layer<k>.weight` (out, in) and `.bias` (out,), and
for reconstruction tasks `classifier.weight`/`classifier.bias` (the metric's classifier). The
encoder model's metadata names the file and holds its sha256 (`metadata["decoder"]`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ir.arrays_io import read_npz, write_npz
from ir.errors import InputError, ModelFormatError

__all__ = [
    "ARCHITECTURES",
    "DECODINGS",
    "OUTPUTS",
    "VARIANTS",
    "DecoderSpec",
    "decode",
    "decoder_features",
    "file_sha256",
    "read_decoder_file",
    "resolve_decoder_file",
    "write_decoder_file",
]

DECODINGS = ("time", "rate")
ARCHITECTURES = ("linear", "mlp")
OUTPUTS = ("log_softmax", "sigmoid")
VARIANTS = ("deployed", "sampled")
MAX_DECODER_SIZE = 1 << 20  # window steps, readout neurons, hidden units, outputs


@dataclass(frozen=True)
class DecoderSpec:
    """What `metadata["decoder"]` records (besides the file name and hash)."""

    decoding: str
    window: int
    n_readout: int
    architecture: str
    hidden: int
    n_out: int
    output: str

    def __post_init__(self) -> None:
        if self.decoding not in DECODINGS:
            raise InputError(
                f"decoder: decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}"
            )
        if self.architecture not in ARCHITECTURES:
            raise InputError(
                f"decoder: architecture must be one of {', '.join(ARCHITECTURES)}, got "
                f"{self.architecture!r}"
            )
        if self.output not in OUTPUTS:
            raise InputError(
                f"decoder: output must be one of {', '.join(OUTPUTS)}, got {self.output!r}"
            )
        for name in ("window", "n_readout", "n_out"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"decoder: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("window", "n_readout", "n_out", "hidden"):
            # checked before any array of that size exists
            if int(getattr(self, name)) > MAX_DECODER_SIZE:
                raise InputError(
                    f"decoder: {name} = {getattr(self, name)} is more than {MAX_DECODER_SIZE}"
                )
        if self.architecture == "mlp" and self.hidden < 1:
            raise InputError(
                "decoder: an mlp needs a hidden layer of >= 1 units (--decoder-hidden), got "
                f"{self.hidden}"
            )

    @property
    def n_features(self) -> int:
        return self.n_readout * (self.window if self.decoding == "time" else 1)

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each Linear layer."""
        if self.architecture == "linear":
            return [(self.n_out, self.n_features)]
        return [(self.hidden, self.n_features), (self.n_out, self.hidden)]

    def to_json(self) -> dict[str, Any]:
        return {
            "decoding": self.decoding, "window": self.window, "n_readout": self.n_readout,
            "architecture": self.architecture, "hidden": self.hidden, "n_out": self.n_out,
            "output": self.output, "layers": [list(s) for s in self.layer_shapes()],
        }

    @classmethod
    def from_json(cls, meta: Mapping[str, Any], where: str) -> DecoderSpec:
        try:
            return cls(
                decoding=str(meta["decoding"]),
                window=int(meta["window"]),
                n_readout=int(meta["n_readout"]),
                architecture=str(meta["architecture"]),
                hidden=int(meta.get("hidden", 0)),
                n_out=int(meta["n_out"]),
                output=str(meta["output"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as e:  # OverflowError: int(inf)
            raise ModelFormatError(
                where, "metadata.decoder", f"incomplete or malformed ({e!r})"
            ) from None


def decoder_features(spikes: np.ndarray, spec: DecoderSpec, ends: np.ndarray) -> np.ndarray:
    """Features (batch, len(ends), n_features) of the windows ending at readout steps `ends`."""
    spikes = np.asarray(spikes, dtype=np.float64)
    batch, steps, n = spikes.shape
    if n != spec.n_readout:
        raise InputError(f"decoder expects {spec.n_readout} readout neurons, the spikes have {n}")
    ends = np.asarray(ends, dtype=np.int64)
    if ends.size and (ends.min() < spec.window - 1 or ends.max() >= steps):
        raise InputError(
            f"decoder window {spec.window} does not fit steps {int(ends.min())}..{int(ends.max())} "
            f"of a {steps}-step run"
        )
    idx = ends[:, None] + np.arange(-spec.window + 1, 1)[None, :]  # (E, window)
    win = spikes[:, idx]  # (batch, E, window, n)
    if spec.decoding == "rate":
        return win.sum(axis=2)
    return win.reshape(batch, len(ends), spec.window * n)


def decode(
    features: np.ndarray, layers: Sequence[tuple[np.ndarray, np.ndarray]], spec: DecoderSpec
) -> np.ndarray:
    """The decoder's output (log-probabilities or intensities) for `features` (..., n_features)."""
    h = np.asarray(features, dtype=np.float64)
    for k, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    if spec.output == "sigmoid":
        return 1.0 / (1.0 + np.exp(-h))
    h = h - h.max(axis=-1, keepdims=True)
    return h - np.log(np.exp(h).sum(axis=-1, keepdims=True))


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_decoder_file(
    path: str | os.PathLike, spec: DecoderSpec,
    variants: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]],
    classifier: tuple[np.ndarray, np.ndarray] | None,
) -> str:
    """Write the decoder .npz atomically; returns its sha256."""
    arrays: dict[str, np.ndarray] = {}
    for variant in VARIANTS:
        for k, (w, b) in enumerate(variants[variant]):
            arrays[f"{variant}.layer{k}.weight"] = np.asarray(w, dtype=np.float64)
            arrays[f"{variant}.layer{k}.bias"] = np.asarray(b, dtype=np.float64)
    if classifier is not None:
        arrays["classifier.weight"] = np.asarray(classifier[0], dtype=np.float64)
        arrays["classifier.bias"] = np.asarray(classifier[1], dtype=np.float64)
    write_npz(path, arrays)
    return file_sha256(path)


def read_decoder_file(
    path: str | os.PathLike, spec: DecoderSpec, *, sha256: str | None = None,
    variant: str = "deployed", classifier: tuple[int, int] | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray] | None]:
    """Layers of `variant`, and the classifier (when `classifier` gives its (classes, pixels)).

    Checks the hash (when given) and every shape against `spec`.
    """
    label = str(path)
    if variant not in VARIANTS:
        raise InputError(f"decoder variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if sha256 is not None and file_sha256(path) != sha256:
        raise ModelFormatError(
            label,
            None,
            "sha256 differs from the one recorded in the model's metadata.decoder; "
            "it belongs to another model (retrain, or pass the matching --decoder)",
        )
    arrays = read_npz(path, label=label)

    def get(key: str, shape: tuple[int, ...]) -> np.ndarray:
        if key not in arrays:
            raise ModelFormatError(label, key, "missing")
        arr = arrays[key]
        if arr.shape != shape or arr.dtype.kind != "f" or not np.all(np.isfinite(arr)):
            raise ModelFormatError(
                label, key, f"expected finite floats of shape {shape}, got {arr.dtype} {arr.shape}"
            )
        return arr.astype(np.float64)

    layers = [
        (get(f"{variant}.layer{k}.weight", (o, i)), get(f"{variant}.layer{k}.bias", (o,)))
        for k, (o, i) in enumerate(spec.layer_shapes())
    ]
    clf = None
    if classifier is not None:
        c, p = classifier
        clf = (get("classifier.weight", (c, p)), get("classifier.bias", (c,)))
    return layers, clf


def resolve_decoder_file(
    name: str, model_path: str | os.PathLike, explicit: str | None = None
) -> Path:
    """Where the decoder file of a model is: `explicit` if given; else next to the model file;
    for a BUILD folder, inside it or next to it (where `snnc compile` was pointed at)."""
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise InputError(f"--decoder {explicit}: no such file")
        return p
    if Path(name).name != name or name in ("", ".", ".."):
        raise ModelFormatError(
            str(model_path), "metadata.decoder.file", f"must be a bare file name, got {name!r}"
        )
    model = Path(model_path)
    candidates = [model / name, model.parent / name] if model.is_dir() else [model.parent / name]
    for c in candidates:
        if c.is_file():
            return c
    raise InputError(
        f"{model}: decoder file {name!r} not found (looked in "
        f"{', '.join(str(c.parent) for c in candidates)}); keep it beside the model or BUILD "
        "folder, or pass --decoder FILE"
    )
