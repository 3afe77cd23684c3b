"""Host-side spike encoders: data in [0, 1] -> integer spikes (N, T, n), seeded.

Every sample gets its own random stream, `default_rng([seed, sample_index])`, so a sample's
spikes do not depend on how the data is batched or on which backend consumes them.

Encoders are described by JSON specs, stored in model metadata (`metadata["encoding"]`):
- {"kind": "rate", "max_rate": r}: Bernoulli(r * x) spike each step;
- {"kind": "latency"}: one spike at step round((1 - x) * (T - 1)), none where x == 0;
- {"kind": "direct", "bits": b}: graded spikes carrying round(x * (2^(b-1) - 1)) every step
  (for an Input with message_bits = b).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ir.arrays_io import check_steps
from ir.errors import InputError

__all__ = ["ENCODERS", "PREFIX_ENCODERS", "encode"]

ENCODERS = ("rate", "latency", "direct")
# Encoders whose spikes for T steps are the first T steps of their spikes for any longer run:
# "rate" draws each sample's uniform numbers step-major from its own stream (the first t rows of
# rng.random((T, n)) are rng.random((t, n))), "direct" repeats one payload. A causal simulation
# of the first t steps is then the first t steps of the longer run, so one run at the largest T
# gives the results at every smaller T. "latency" places spikes relative to T: one run per T.
PREFIX_ENCODERS = ("rate", "direct")


def _number(spec: Mapping[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InputError(f"encoding.{key} must be a number, got {value!r}")
    return float(value)


def _flat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1):
        raise InputError("encoder input must be finite values in [0, 1]")
    return x


def encode(
    spec: Mapping[str, Any], x: np.ndarray, steps: int, seed: int, first_index: int = 0
) -> np.ndarray:
    """Spikes (N, steps, n) for data `x` (N, ...); `first_index` is the index of x[0] in its
    split, so that batches of one split reproduce the spikes of the whole split."""
    steps = check_steps(steps, "steps")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"input seed must be a non-negative integer, got {seed!r}")
    if not isinstance(spec, Mapping):
        raise InputError(f"encoding must be a JSON object, got {spec!r}")
    kind = spec.get("kind")
    x = _flat(x)
    n, d = x.shape
    if kind == "rate":
        rate = _number(spec, "max_rate", 1.0)
        if not 0 < rate <= 1:
            raise InputError(f"rate encoder: max_rate must be in (0, 1], got {rate}")
        out = np.empty((n, steps, d), dtype=np.uint8)
        p = x * rate
        for i in range(n):
            rng = np.random.default_rng([seed, first_index + i])
            out[i] = rng.random((steps, d)) < p[i]
        return out
    if kind == "latency":
        out = np.zeros((n, steps, d), dtype=np.uint8)
        t = np.rint((1.0 - x) * (steps - 1)).astype(np.int64)
        rows, cols = np.nonzero(x > 0)
        out[rows, t[rows, cols], cols] = 1
        return out
    if kind == "direct":
        bits = spec.get("bits", 8)
        if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 24:
            raise InputError(f"direct encoder: bits must be 2..24, got {bits}")
        payload = np.rint(x * ((1 << (bits - 1)) - 1)).astype(np.int32)
        return np.repeat(payload[:, None, :], steps, axis=1)
    raise InputError(f"unknown encoder {kind!r}; available: {', '.join(ENCODERS)}")


def encode_split(
    metadata: Mapping[str, Any], dataset: str, split: str = "test", samples: int | None = None,
    steps: int | None = None, start: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Input spikes and labels for samples [start, start + samples) of a dataset split, encoded
    as the model's metadata says (`metadata["encoding"]`, its `steps` and `seed`)."""
    from trainers.datasets import load_dataset

    trainer = metadata.get("trainer")
    if isinstance(trainer, Mapping) and trainer.get("name") == "vib":  # blobs; padded runs
        from trainers.vib.evaluate import split_inputs

        return split_inputs(metadata, dataset, split, samples, steps, start)
    spec = metadata.get("encoding")
    if not isinstance(spec, Mapping):
        raise InputError(
            "the model records no input encoding (metadata 'encoding'); give --input spikes instead"
        )
    task = metadata.get("task") or {}
    if not isinstance(task, Mapping):
        raise InputError(f"metadata.task must be a JSON object, got {task!r}")
    if task.get("dataset") not in (None, dataset):
        raise InputError(f"the model was trained on {task.get('dataset')!r}, not {dataset!r}")
    if steps is None and spec.get("steps") is None:
        raise InputError("no step count: the model's encoding records none; give --steps")
    t = check_steps(
        steps if steps is not None else spec.get("steps"),
        "--steps" if steps is not None else "metadata.encoding.steps",
    )
    x, y = load_dataset(dataset).split(split)
    stop = len(x) if samples is None else min(len(x), start + int(samples))
    if samples is not None and samples <= 0:
        raise InputError(f"--samples must be positive, got {samples}")
    seed = spec.get("seed", 0)
    return encode(spec, x[start:stop], t, seed, first_index=start), y[start:stop]
