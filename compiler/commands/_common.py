"""Shared by the command handlers: resolving a hardware target, the executor options. What a
model's metadata says about its inputs (encoding, readout, dataset split) lives in `app.inputs`;
what an output folder may replace (only the files snnc wrote there), in `ir.atomic`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ir.errors import InputError
from ir.hardware import HardwareSpec, load_hw

__all__ = ["add_executor_arguments", "add_time_major_argument", "resolve_hw"]


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


def add_time_major_argument(parser: argparse._ActionsContainer) -> None:
    """--time-major: the layout of IN.npy (`ir.arrays_io.read_graph_inputs`)."""
    parser.add_argument(
        "--time-major",
        action="store_true",
        help="IN.npy is (T, batch, ...) (snnTorch's and Norse's layout), not (batch, T, ...)",
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
