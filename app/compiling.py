"""Compiling a model as `snnc compile` does, from the command's options (an argparse Namespace
of `compiler/commands/compile.py`'s parser): the options, the calibration data and simulator,
then `compiler.compile.compile_model`. `snnc compile` and `snnc sweep` both call this."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from compiler.compile import Calibration, CompileOptions, compile_model, compile_passes
from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = ["calibration_from_args", "compile_from_args", "options_from_args"]


def options_from_args(args: argparse.Namespace) -> CompileOptions:
    return CompileOptions(
        weight_bits=args.weight_bits,
        granularity=args.granularity,
        clip_percentile=args.clip_percentile,
        v_range=args.v_range,
        split_signs=args.split_signs,
        bias_correction=args.bias_correction,
        seed=args.seed,
        decay_levels=getattr(args, "decay_levels", None),
    )


def calibration_from_args(
    args: argparse.Namespace, graph: Graph, label: str, hw: HardwareSpec
) -> Calibration | None:
    """`--calibrate DATASET` (with --split, --samples, --steps, --input-seed) or `--calibrate
    IN.npy` (the user's own input spikes, --samples of them), or None."""
    from app.calibration import dataset_calibration, is_spike_file, spike_calibration

    if not args.calibrate:
        return None
    if is_spike_file(args.calibrate):
        if args.steps is not None or args.input_seed is not None:
            raise InputError(
                "--steps and --input-seed apply to --calibrate DATASET; the spikes in "
                f"{args.calibrate} are used as they are"
            )
        return spike_calibration(graph, args.calibrate, args.samples, hw)
    return dataset_calibration(
        graph, label, args.calibrate, args.split, args.samples, args.steps, args.input_seed, hw
    )


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
