"""The compiled program on disk: a BUILD folder.

    BUILD/program.snnc   the fixed-point graph with its placement (ir.serialize format); its
                         metadata holds the target name and the compile options and seeds
    BUILD/hw.yaml        the hardware config it was compiled for, as used
    BUILD/report.json    the compile report (resources, traffic, quantization error)

The folder is written atomically: it appears complete or not at all.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ir.atomic import atomic_output_dir
from ir.errors import IRVerifyError, ModelFormatError
from ir.graph import Graph
from ir.hardware import MAX_CONFIG_BYTES, HardwareSpec, load_hw_dict, parse_yaml
from ir.safe_json import loads as parse_json
from ir.serialize import graph_to_bytes, load_graph
from ir.verify import verify

__all__ = ["PROGRAM", "REPORT", "HW", "Build", "is_build", "read_build", "write_build"]

PROGRAM = "program.snnc"
REPORT = "report.json"
HW = "hw.yaml"
MAX_REPORT_BYTES = 256 << 20


@dataclass(frozen=True)
class Build:
    program: Graph
    hw: HardwareSpec
    report: dict[str, Any]
    path: Path


def is_build(path: str | os.PathLike) -> bool:
    return (Path(path) / PROGRAM).is_file()


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_build(
    path: str | os.PathLike, program: Graph, hw: HardwareSpec, report: dict[str, Any]
) -> None:
    """Write a BUILD folder atomically (deterministic bytes for the same inputs)."""
    with atomic_output_dir(path) as tmp:
        (tmp / PROGRAM).write_bytes(graph_to_bytes(program))
        (tmp / HW).write_text(yaml.safe_dump(hw.to_dict(), sort_keys=False), encoding="utf-8")
        (tmp / REPORT).write_text(report_json(report), encoding="utf-8")


def read_build(path: str | os.PathLike) -> Build:
    """Read and check a BUILD folder."""
    root = Path(path)
    if not root.is_dir():
        raise ModelFormatError(str(root), None, "not a BUILD folder (no such folder)")
    if not (root / PROGRAM).is_file():
        raise ModelFormatError(
            str(root), PROGRAM, "missing; not a BUILD folder written by `snnc compile`"
        )
    program = load_graph(root / PROGRAM)
    hw_file = root / HW
    if not hw_file.is_file():
        raise ModelFormatError(str(root), HW, "missing")
    if hw_file.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelFormatError(
            str(hw_file), None, f"{hw_file.stat().st_size} bytes is too large for a hardware config"
        )
    try:
        text = hw_file.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as e:
        raise ModelFormatError(
            str(hw_file), None, f"cannot read as UTF-8 text ({type(e).__name__})"
        ) from None
    hw = load_hw_dict(parse_yaml(text, str(hw_file)), str(hw_file))
    placement = program.placement
    if placement is not None and placement.target != hw.name:
        raise ModelFormatError(
            str(root / PROGRAM),
            "placement.target",
            f"the program is placed for {placement.target!r}, but {HW} describes {hw.name!r}; "
            "compile it again for this target",
        )
    try:  # what the target holds: weights, exponents, delays, every core's limits
        verify(program, hw)
    except IRVerifyError as e:
        raise ModelFormatError(str(root / PROGRAM), None, str(e)) from None
    report: dict[str, Any] = {}
    rep_file = root / REPORT
    if rep_file.is_file():
        if rep_file.stat().st_size > MAX_REPORT_BYTES:
            raise ModelFormatError(str(rep_file), None, "too large")
        report = parse_json(rep_file.read_bytes(), str(rep_file))
        if not isinstance(report, dict):
            raise ModelFormatError(str(rep_file), None, "expected a JSON object")
    return Build(program=program, hw=hw, report=report, path=root)
