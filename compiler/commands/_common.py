"""Shared by the command handlers: resolving a hardware target, the executor options. What a
model's metadata says about its inputs (encoding, readout, dataset split) lives in `app.inputs`;
refusing to replace a folder that is not a previous output, in `app.outputs`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ir.errors import InputError
from ir.hardware import HardwareSpec, load_hw

__all__ = ["add_executor_arguments", "resolve_hw"]


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
