"""Shared by the command handlers: resolving a hardware target, and turning a dataset split into
the spikes a model expects, as its metadata describes (DEVELOPERS.md "Model metadata").

Trainers (datasets, encoders) are imported inside the functions, as the CLI layer may."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ir.arrays_io import check_steps
from ir.errors import InputError, ModelFormatError
from ir.graph import Graph
from ir.hardware import HardwareSpec, load_hw

__all__ = [
    "DataSplit",
    "check_output_folder",
    "load_split",
    "model_spec",
    "resolve_hw",
    "run_config",
]


def resolve_hw(target: str | None, hw_file: str | None) -> HardwareSpec:
    """`--target NAME|FILE.yaml` and/or `--hw FILE.yaml`; with both, the file must describe that
    target."""
    if hw_file is None and target is None:
        raise InputError(
            "name a target with --target NAME (see `snnc hw list`) or a config with --hw FILE.yaml"
        )
    if hw_file is None:
        return load_hw(target)  # type: ignore[arg-type]
    spec = load_hw(Path(hw_file))
    if target is not None and target != spec.name:
        raise InputError(
            f"--hw {hw_file} describes target {spec.name!r}, not --target {target!r}; "
            "drop one of them"
        )
    return spec


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


def load_split(
    graph: Graph, label: str, dataset: str, split: str, samples: int | None
) -> DataSplit:
    """The first `samples` items of a dataset split, checked against the model."""
    from trainers.datasets import DATASETS, load_dataset

    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; available: {', '.join(DATASETS)}")
    task = graph.metadata.get("task")
    if isinstance(task, Mapping) and task.get("dataset") not in (None, dataset):
        raise InputError(f"{label} was trained on {task.get('dataset')!r}, not {dataset!r}")
    data = load_dataset(dataset)
    x, y = data.split(split)
    if data.n_features != graph.n_inputs:
        raise InputError(
            f"{label} has {graph.n_inputs} inputs, {dataset} images have {data.n_features} pixels"
        )
    if samples is not None:
        if samples <= 0:
            raise InputError(f"--samples must be positive, got {samples}")
        x, y = x[:samples], y[:samples]
    return DataSplit(dataset, split, x, y)


def check_output_folder(path: str | os.PathLike, is_build, what: str = "a BUILD folder") -> None:
    """Refuse to replace anything but a previous output folder of the same kind (`is_build`
    recognises one; `what` names it): writing is atomic and replaces."""
    p = Path(path)
    if not p.exists():
        return
    if not p.is_dir():
        raise InputError(f"{p} exists and is not a folder")
    if any(p.iterdir()) and not is_build(p):
        raise InputError(
            f"{p} exists and is not {what}; refusing to replace it (choose another -o)"
        )
