"""`snnc report BUILD -o DIR`: figures of a compiled program and an index.html linking them.

Always: core occupancy per resource, traffic (by source population and between cores),
quantization error per layer (from BUILD/report.json). With samples to run (by default a few
samples of the dataset the model's metadata names, or `--input IN.npy`): spike rasters of every
population, traffic from measured rates and the cost table (`compiler.cost`). With `--dataset
D`: accuracy vs time steps of the program (and of the float model with `--model MODEL`) on a
split, from one run per backend; with `--steps T1,T2,...` also the cost at each T on the same
samples, a table and a cost-vs-accuracy figure.

The measurements are `app.activity`'s (and `app.cost`'s); this module parses the options, hands
the results to `compiler.reporting` and prints where they went.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from app.activity import (
    DEFAULT_ACTIVITY_SAMPLES,
    accuracy_curve,
    activity_from_dataset,
    curve_steps,
    readout_spec,
    record_activity,
)
from compiler.commands._common import add_time_major_argument
from ir.errors import InputError, SnncError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.progress import status

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="figures of a BUILD (core occupancy, traffic, rasters, quantization, accuracy) "
        "as PNGs and index.html",
    )
    p.add_argument("build", metavar="BUILD")
    p.add_argument(
        "-o", "--output", required=True, metavar="DIR",
        help="report folder (snnc replaces only the files it wrote there; others are kept)"
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="evaluate accuracy vs time steps on this dataset (digits, fashion-mnist); "
        "rasters come from it too",
    )
    p.add_argument(
        "--split", default="test", choices=("train", "val", "test"), help="default test"
    )
    p.add_argument(
        "--input", default=None, metavar="IN.npy", help="rasters from these spikes (batch, T, n)"
    )
    add_time_major_argument(p)
    p.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_ACTIVITY_SAMPLES,
        help=f"samples run for rasters and measured traffic (default "
        f"{DEFAULT_ACTIVITY_SAMPLES}; the raster shows the first)",
    )
    p.add_argument(
        "--eval-samples",
        type=int,
        default=None,
        help="samples for accuracy vs time steps (default: the whole split)",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        metavar="T",
        help="accuracy vs time steps up to T (default: twice the model's T)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="MODEL",
        help="the float model the BUILD was compiled from: adds its accuracy curve",
    )
    p.add_argument(
        "--steps",
        type=_steps_list,
        default=None,
        metavar="T1,T2,...",
        help="with --dataset: cost and accuracy at each of these T (a table, and a "
        "cost-vs-accuracy figure for two or more)",
    )
    p.set_defaults(func=run)


def _steps_list(text: str) -> list[int]:
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not steps or min(steps) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return steps


def _activity(args: argparse.Namespace, program: Graph, hw: HardwareSpec, notes: list[str]):
    from ir.arrays_io import read_graph_inputs

    if args.samples <= 0:
        raise InputError(f"--samples must be positive, got {args.samples}")
    if args.input:
        inputs = read_graph_inputs(args.input, program, time_major=args.time_major)
        return record_activity(program, hw, inputs[: args.samples], Path(args.input).name)
    if args.dataset:
        return activity_from_dataset(program, hw, args.dataset, args.split, args.samples)
    task = program.metadata.get("task")
    dataset = task.get("dataset") if isinstance(task, Mapping) else None
    if not isinstance(dataset, str):
        notes.append("The model's metadata names no dataset: no rasters (pass --input IN.npy).")
        return None
    try:
        return activity_from_dataset(program, hw, dataset, args.split, args.samples)
    except SnncError as e:  # not asked for explicitly: report without rasters, say why
        notes.append(f"No rasters from {dataset}: {e}")
        return None


def _host_curves(args: argparse.Namespace, kind: str, program: Graph, hw: HardwareSpec) -> list:
    """Accuracy of a host-read pipeline (app/readouts.py: a VIB decoder) at the model's T: its
    decoder reads the whole trained run, so there is no curve over T, one point per backend."""
    from app.inputs import run_config
    from app.readouts import HOST_READOUTS
    from compiler.model_io import load_model
    from compiler.reporting import AccuracyCurve

    _, steps, seed = run_config(program, args.build, None, None)
    evaluate = HOST_READOUTS[kind][0]
    runs = []
    if args.model:
        model = load_model(args.model)
        if model.domain != "float":
            raise InputError(f"--model {args.model}: expected the float model, got a program")
        runs.append(("float model", model, args.model, None, "float"))
    runs.append(("deployed (cpu, bit-accurate)", program, args.build, hw, "cpu"))
    curves = []
    for label, graph, path, target, backend in runs:
        status(f"accuracy at T = {steps}: {label}")
        r = evaluate(graph, path, target, backend, dataset=args.dataset, split=args.split,
                     samples=args.eval_samples, steps=None, seed=None, batch=128)
        curves.append(AccuracyCurve(label=f"{label}, {r['metric']}", backend=backend,
                                    steps=(steps,), accuracy=(r["accuracy"],),
                                    samples=r["samples"], dataset=args.dataset,
                                    split=args.split, seed=seed))
    return curves


def _curves(args: argparse.Namespace, program: Graph, hw: HardwareSpec) -> list:
    from app.inputs import load_split, run_config
    from app.readouts import host_readout
    from compiler.model_io import load_model

    kind = host_readout(program)
    if kind is not None:
        return _host_curves(args, kind, program, hw)
    enc, model_steps, seed = run_config(program, args.build, None, None)
    max_steps = args.max_steps if args.max_steps is not None else 2 * model_steps
    if max_steps <= 0:
        raise InputError(f"--max-steps must be positive, got {max_steps}")
    steps = curve_steps(enc, max_steps, model_steps)
    data = load_split(program, args.build, args.dataset, args.split, args.eval_samples)
    kw = {"dataset": data.dataset, "split": data.split}
    curves = []
    if args.model:
        model = load_model(args.model)
        if model.domain != "float":
            raise InputError(f"--model {args.model}: expected the float model, got a program")
        if model.n_inputs != program.n_inputs:
            raise InputError(
                f"--model {args.model} has {model.n_inputs} inputs, the program "
                f"{program.n_inputs}"
            )
        status(f"accuracy vs T: float model, {len(data.x)} samples, T up to {max_steps}")
        curves.append(
            accuracy_curve(
                model, None, "float", data.x, data.y, steps, seed, label="float model", **kw
            )
        )
    status(f"accuracy vs T: deployed program, {len(data.x)} samples, T up to {max_steps}")
    curves.append(
        accuracy_curve(
            program, hw, "cpu", data.x, data.y, steps, seed, label="deployed (cpu, bit-accurate)",
            **kw,
        )
    )
    return curves


def _costs(args: argparse.Namespace, program: Graph, hw: HardwareSpec) -> list:
    """Accuracy and cost at each T of --steps on the --dataset split (app.cost)."""
    from app.cost import cost_vs_steps
    from app.inputs import load_split, run_config
    from ir.arrays_io import check_steps

    enc, _, seed = run_config(program, args.build, None, None)
    steps = [check_steps(t, "--steps") for t in args.steps]
    data = load_split(program, args.build, args.dataset, args.split, args.eval_samples)
    status(f"cost vs T: {len(data.x)} samples, T = {', '.join(map(str, sorted(set(steps))))}")
    return cost_vs_steps(program, hw, data.x, data.y, enc, readout_spec(program), steps, seed)


def run(args: argparse.Namespace) -> int:
    from compiler.build import REPORT, read_build
    from compiler.reporting import INDEX, SUMMARY, ReportInputs, write_report
    from compiler.reporting.checks import check_compile_report
    from ir.atomic import check_output_dir

    build = read_build(args.build)
    check_compile_report(build.report, str(build.path / REPORT))
    if build.program.placement is None:
        raise InputError(
            f"{args.build}: the program has no placement; compile it with `snnc compile`"
        )
    check_output_dir(args.output, (INDEX, SUMMARY))
    if args.steps and not args.dataset:
        raise InputError("--steps needs --dataset D (the samples to measure cost and accuracy on)")
    notes: list[str] = []
    activity = _activity(args, build.program, build.hw, notes)
    curves = _curves(args, build.program, build.hw) if args.dataset else []
    costs = _costs(args, build.program, build.hw) if args.steps else []
    inputs = ReportInputs(
        label=str(args.build),
        program=build.program,
        hw=build.hw,
        report=build.report,
        activity=activity,
        curves=curves,
        costs=costs,
        cost_source=f"{args.dataset} {args.split}" if costs else "",
        notes=notes,
    )
    files = write_report(args.output, inputs)
    for note in notes:
        print(f"snnc: note: {note}", file=sys.stderr)
    print(f"wrote {args.output}/ ({', '.join(files)})")
    print(f"open {Path(args.output) / 'index.html'}")
    return 0
