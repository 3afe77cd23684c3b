"""Compiling a model as `snnc compile` does, from the command's options (an argparse Namespace
of `compiler/commands/compile.py`'s parser): the options, the calibration data and simulator,
then `compiler.compile.compile_model`. `snnc compile` and `snnc sweep` both call this."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler.compile import Calibration, CompileOptions, compile_model, compile_passes
from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = ["calibration_from_args", "compile_from_args", "options_from_args", "simulator"]


def simulator(hw: HardwareSpec) -> Callable[[Graph, np.ndarray, tuple[str, ...]], dict[str, Any]]:
    """The simulator calibration runs: the float backend for a float graph, cpu for a program."""
    from backends import get_backend
    from backends.base import Probe
    from ir.nodes import Input

    def simulate(graph: Graph, inputs: np.ndarray, variables: tuple[str, ...]) -> dict[str, Any]:
        probes = [
            Probe(n, variables) for n, p in graph.populations.items() if not isinstance(p, Input)
        ]
        if graph.domain == "float":
            return get_backend("float")(graph, inputs, probes=probes).data
        return get_backend("cpu")(graph, inputs, probes=probes, hw=hw).data

    return simulate


def options_from_args(args: argparse.Namespace) -> CompileOptions:
    return CompileOptions(
        weight_bits=args.weight_bits,
        granularity=args.granularity,
        clip_percentile=args.clip_percentile,
        v_range=args.v_range,
        split_signs=args.split_signs,
        bias_correction=args.bias_correction,
        seed=args.seed,
    )


def calibration_from_args(
    args: argparse.Namespace, graph: Graph, label: str, hw: HardwareSpec
) -> Calibration | None:
    """`--calibrate DATASET` (with --split, --samples, --steps, --input-seed), or None."""
    from app.inputs import load_split, run_config
    from trainers.encoders import encode

    if not args.calibrate:
        return None
    if args.samples <= 0:
        raise InputError(f"--samples must be positive, got {args.samples}")
    encoding, steps, seed = run_config(graph, label, args.steps, args.input_seed)
    data = load_split(graph, label, args.calibrate, args.split, args.samples)
    inputs = encode(encoding, data.x, steps, seed, first_index=0)
    desc = {
        "dataset": data.dataset,
        "split": data.split,
        "samples": len(data.x),
        "steps": steps,
        "seed": seed,
    }
    return Calibration(inputs=inputs, simulate=simulator(hw), description=desc)


def compile_from_args(
    args: argparse.Namespace,
    graph: Graph,
    label: str,
    hw: HardwareSpec,
    *,
    print_after: Sequence[str] = (),
    on_pass: Callable[[str], None] | None = None,
) -> tuple[Graph, dict[str, Any]]:
    """(program, report) for `graph` compiled with the command's options."""
    options = options_from_args(args)
    known = [p.name for p in compile_passes(options)]
    for name in print_after:
        if name != "all" and name not in known:
            raise InputError(
                f"--print-ir-after {name!r}: the passes are {', '.join(known)} (or 'all')"
            )
    return compile_model(
        graph,
        hw,
        options,
        calibration=calibration_from_args(args, graph, label, hw),
        print_after=print_after,
        on_pass=on_pass,
    )
