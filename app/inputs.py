"""What a model's metadata says about its inputs and outputs (DEVELOPERS.md "Model metadata"):
the input encoding and its T and seed, the readout, and the dataset split it is evaluated on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.arrays_io import check_steps
from ir.errors import InputError, ModelFormatError
from ir.graph import Graph

__all__ = ["DataSplit", "check_split", "load_split", "model_spec", "read_split", "run_config"]


def model_spec(graph: Graph, label: str, key: str) -> Mapping[str, Any]:
    """metadata[key] (e.g. "encoding", "readout"), or a one-line error naming the model and key."""
    spec = graph.metadata.get(key)
    if not isinstance(spec, Mapping):
        # What a user can do about it (models from `snnc train` record both keys; imported
        # ones record neither): give spikes instead, or score the recorded outputs yourself.
        advice = (
            "so snnc cannot turn dataset images into its input spikes; pass your own spikes "
            "instead (compile --calibrate IN.npy, run/hil/report --input IN.npy)"
            if key == "encoding"
            else "so snnc cannot score it; record its outputs with `snnc run MODEL|BUILD --input "
            "IN.npy -o OUT.npz` and score them yourself"
        )
        raise ModelFormatError(
            label,
            f"metadata.{key}",
            "missing: the model does not say how its "
            f"{'inputs are encoded' if key == 'encoding' else 'output is read'}, {advice}",
        )
    return spec


def run_config(
    graph: Graph, label: str, steps: int | None, seed: int | None
) -> tuple[Mapping[str, Any], int, int]:
    """(encoding spec, T, input seed): options override the model's metadata."""
    enc = model_spec(graph, label, "encoding")
    if steps is not None:
        t = check_steps(steps, "--steps")
    else:
        t = check_steps(enc.get("steps"), f"{label}: metadata.encoding.steps (or give --steps T)")
    s = seed if seed is not None else enc.get("seed", 0)
    if not isinstance(s, int) or isinstance(s, bool) or s < 0:
        raise InputError(f"{label}: input seed must be a non-negative integer, got {s!r}")
    return enc, t, s


@dataclass(frozen=True)
class DataSplit:
    dataset: str
    split: str
    x: np.ndarray
    y: np.ndarray


def read_split(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The whole split (x, y) of a dataset, loaded where this runs."""
    from trainers.datasets import DATASETS, load_dataset

    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; available: {', '.join(DATASETS)}")
    return load_dataset(dataset).split(split)


def _check_task(graph: Graph, label: str, dataset: str) -> None:
    task = graph.metadata.get("task")
    if isinstance(task, Mapping) and task.get("dataset") not in (None, dataset):
        raise InputError(f"{label} was trained on {task.get('dataset')!r}, not {dataset!r}")


def check_split(
    graph: Graph,
    label: str,
    dataset: str,
    split: str,
    x: np.ndarray,
    y: np.ndarray,
    samples: int | None,
) -> DataSplit:
    """The first `samples` items of a split already in memory, checked against the model (its
    task's dataset, its number of inputs)."""
    _check_task(graph, label, dataset)
    n_features = int(np.prod(x.shape[1:]))
    if n_features != graph.n_inputs:
        raise InputError(
            f"{label} has {graph.n_inputs} inputs, {dataset} images have {n_features} pixels"
        )
    if samples is not None:
        if samples <= 0:
            raise InputError(f"--samples must be positive, got {samples}")
        x, y = x[:samples], y[:samples]
    return DataSplit(dataset, split, x, y)


def load_split(
    graph: Graph, label: str, dataset: str, split: str, samples: int | None
) -> DataSplit:
    """The first `samples` items of a dataset split, checked against the model."""
    from trainers.datasets import DATASETS

    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; available: {', '.join(DATASETS)}")
    _check_task(graph, label, dataset)  # before loading: a missing dataset is the lesser news
    x, y = read_split(dataset, split)
    return check_split(graph, label, dataset, split, x, y, samples)
