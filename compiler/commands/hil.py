"""`snnc hil BUILD --reference cpu --target lava (--input IN.npy | --dataset D --samples N |
--replay FILE)`, and `snnc hil BUILD --reference float --model MODEL (--input IN.npy | ...)`: the
deployed program against the float model it was compiled from (`app.float_reference`)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from compiler.commands._common import add_time_major_argument
from ir.atomic import atomic_outputs, atomic_write_text
from ir.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hil", help="run a compiled program on a reference and a target; pin the first divergence"
    )
    p.add_argument("build", metavar="BUILD")
    p.add_argument(
        "--reference",
        default="cpu",
        help="reference backend (default: cpu), or float: the float MODEL (--model) on the "
        "float backend, compared spike by spike with the deployed program",
    )
    p.add_argument(
        "--model",
        metavar="MODEL",
        help="with --reference float: the float model BUILD was compiled from",
    )
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds for a .nir --model"
    )
    p.add_argument("--target", default="lava", help="target backend (default: lava)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--input", metavar="IN.npy", help="input spikes (batch, T, n_inputs) or (batch, T, C, H, W)"
    )
    add_time_major_argument(p)
    src.add_argument(
        "--dataset", help="encode samples of this dataset as the model's metadata says"
    )
    src.add_argument(
        "--replay",
        metavar="FILE",
        help="compare a recorded target trace (from --record) instead of running the target",
    )
    p.add_argument("--samples", type=int, default=4, help="samples with --dataset (default 4)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--steps", type=int, default=None)
    p.add_argument(
        "--align",
        action="store_true",
        help="run L more silent steps (L: the program's latency) so the last input steps reach "
        "the outputs and are compared too",
    )
    p.add_argument(
        "--probe",
        default=None,
        help="what to compare: 'pop:spikes,u,v;pop2' (default: spikes, u, v of every population)",
    )
    p.add_argument(
        "--device", default=None, help="target device option for the lava backend (e.g. loihi2)"
    )
    p.add_argument(
        "--lava-blocks",
        action="store_true",
        help="lava target: one Lava process per placed block and per block pair (default: one "
        "per population and per projection)",
    )
    p.add_argument(
        "--record", metavar="FILE", help="save the target's trace (with its inputs) to FILE"
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        default="hil-report.json",
        help="JSON report path (default: hil-report.json)",
    )
    p.add_argument(
        "--target-build",
        metavar="BUILD2",
        help="run the target on this copy of the program (fault-injection experiments)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from backends.base import parse_probes
    from backends.hil.harness import all_probes, run_hil
    from backends.hil.trace_io import read_trace, write_trace
    from compiler.build import read_build
    from ir.arrays_io import check_steps

    if args.steps is not None:
        check_steps(args.steps, "--steps")
    if (args.reference == "float") != (args.model is not None):
        raise InputError("--reference float and --model MODEL go together")
    build = read_build(args.build)
    program = build.program
    if args.reference == "float":
        return _float_reference(args, build)
    probes = parse_probes(args.probe, program) if args.probe else all_probes(program)
    target_trace = None
    if args.replay:
        if args.align:
            raise InputError(
                "--align does not apply to --replay (the recorded trace has its own steps)"
            )
        target_trace, inputs, _ = read_trace(args.replay, program)
        source: dict = {"replay": args.replay}
    else:
        inputs, source = _inputs(args, program)
    target_program = read_build(args.target_build).program if args.target_build else None
    run_steps, lag_line = _run_steps(args, program, inputs)
    options = _target_options(args)
    result = run_hil(
        program,
        inputs,
        reference=args.reference,
        target=args.target,
        steps=run_steps,
        probes=probes,
        hw=build.hw,
        target_program=target_program,
        target_trace=target_trace,
        target_options=options or None,
    )
    report = {**result.to_json(), "inputs": source}
    with atomic_outputs() as out:  # the report and the trace it describes: both or neither
        if args.record and target_trace is None:
            write_trace(out.stage(args.record), result.target, inputs, program)
        atomic_write_text(
            out.stage(args.report), json.dumps(report, sort_keys=True, indent=2) + "\n"
        )
    cmp_ = result.comparison
    print(
        f"hil: reference {result.reference_backend} vs target {result.target_backend}: "
        f"{result.reference.batch} samples x {result.reference.steps} steps"
    )
    for pop, vars_ in cmp_.compared.items():
        cells = "  ".join(f"{v} {100 * a:8.4f}%" for v, a in vars_.items())
        print(f"  {pop:16s} {cells}")
    print(
        f"agreement: {100 * (1 - cmp_.mismatches / max(cmp_.total, 1)):.4f}% of {cmp_.total} values"
    )
    if cmp_.first is not None:
        print(cmp_.first.describe())
    print(lag_line)
    print(f"report: {args.report}")
    print(f"verdict: {'AGREE' if cmp_.agree else 'DIVERGED'}")
    if not cmp_.agree:
        print(f"snnc: hil: targets diverge ({cmp_.first.describe()})", file=sys.stderr)
        return 1
    return 0


def _inputs(args: argparse.Namespace, program) -> tuple[np.ndarray, dict]:
    """The input spikes (--input, or --dataset encoded as the program's metadata says) and what
    reproduces them, for the report."""
    from ir.arrays_io import read_graph_inputs

    if args.input:
        return read_graph_inputs(args.input, program, time_major=args.time_major), {
            "input": args.input
        }
    from trainers.encoders import encode_split

    inputs, _ = encode_split(program.metadata, args.dataset, args.split, args.samples, args.steps)
    # What reproduces these spikes: encode_split's sample range and the seed it used.
    encoding = program.metadata.get("encoding") or {}
    return inputs, {
        "dataset": args.dataset,
        "split": args.split,
        "samples": len(inputs),
        "seed": encoding.get("seed", 0) if isinstance(encoding, dict) else 0,
    }


def _run_steps(args: argparse.Namespace, program, inputs: np.ndarray) -> tuple[int | None, str]:
    """(steps to run, the latency line to print): --steps, or with --align the input's T (or
    --steps) plus the program's latency."""
    from ir.latency import latency, latency_line

    lag = latency(program)
    steps = args.steps if args.steps is not None else int(inputs.shape[1])
    return (steps + lag if args.align else args.steps), latency_line(
        lag, args.align, steps, cut=False
    )


def _target_options(args: argparse.Namespace) -> dict | None:
    if (args.device or args.lava_blocks) and args.target != "lava":
        raise InputError("--device and --lava-blocks apply to --target lava")
    options: dict = {}
    if args.device:
        options["device"] = args.device
    if args.lava_blocks:
        options["lowering"] = "blocks"
    return options or None


def _float_reference(args: argparse.Namespace, build) -> int:
    """`--reference float --model MODEL`: per-population agreement with the float model."""
    from app.float_reference import check_float_model, compare_with_float, format_comparison
    from compiler.model_io import load_model

    for flag, value in (("--replay", args.replay), ("--record", args.record),
                        ("--target-build", args.target_build), ("--probe", args.probe)):
        if value:
            raise InputError(f"{flag} does not apply to --reference float")
    program = build.program
    model = load_model(args.model, dt=args.dt)
    check_float_model(model, program, args.model)
    inputs, source = _inputs(args, program)
    run_steps, lag_line = _run_steps(args, program, inputs)
    populations = build.report.get("quantization", {}).get("populations", {})
    scales = {
        name: q["scale"] for name, q in populations.items() if not q.get("thresholds_folded")
    }
    result = compare_with_float(
        model, program, inputs, target=args.target, hw=build.hw,
        steps=run_steps,
        target_options=_target_options(args), scales=scales,
    )
    report = {**result.to_json(), "model": args.model, "inputs": source}
    atomic_write_text(args.report, json.dumps(report, sort_keys=True, indent=2) + "\n")
    print(format_comparison(result, args.model), end="")
    print(lag_line)
    print(f"report: {args.report}")
    return 0
