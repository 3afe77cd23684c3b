"""Shared by the command handlers: resolving a hardware target, refusing to replace a folder that
is not a previous output. What a model's metadata says about its inputs (encoding, readout,
dataset split) lives in `app.inputs`, re-exported here for the commands."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.inputs import DataSplit, load_split, model_spec, run_config
from ir.errors import InputError
from ir.hardware import HardwareSpec, load_hw

__all__ = [
    "DataSplit",
    "add_executor_arguments",
    "check_output_folder",
    "load_split",
    "model_spec",
    "resolve_hw",
    "run_config",
]


def add_executor_arguments(group: argparse._ActionsContainer, what: str) -> None:
    """--executor, --address, --workers: where `what` (points, shards) run (app/executors.py)."""
    from app.executors import EXECUTORS

    group.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help=f"run the {what} in this process, one at a time, or as Ray tasks (default local)",
    )
    group.add_argument(
        "--address",
        default=None,
        help="Ray cluster to use (default: RAY_ADDRESS, else a local cluster just for this run)",
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"{what} at once on Ray (and CPUs of a local cluster; default: every CPU)",
    )


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
