"""`snnc report BUILD -o DIR`: figures of a compiled program and an index.html linking them.

Always: core occupancy per resource, traffic (by source population and between cores),
quantization error per layer (from BUILD/report.json). With samples to run (by default a few
samples of the dataset the model's metadata names, or `--input IN.npy`): spike rasters of every
population, traffic from measured rates and the cost table (`compiler.cost`). With `--dataset
D`: accuracy vs time steps of the program (and of the float model with `--model MODEL`) on a
split, from one run per backend; with `--steps T1,T2,...` also the cost at each T on the same
samples, a table and a cost-vs-accuracy figure.

This command is the application layer: it runs the backends (imported inside the functions)
and hands plain data to `compiler.reporting`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ir.errors import InputError, SnncError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input
from ir.progress import progress, status
from trainers.encoders import PREFIX_ENCODERS

__all__ = [
    "DEFAULT_ACTIVITY_SAMPLES",
    "PREFIX_ENCODERS",
    "accuracy_curve",
    "curve_steps",
    "record_activity",
    "register",
    "run",
]

DEFAULT_ACTIVITY_SAMPLES = 16
# Checkpoints (fractions of the largest T) for encoders without the prefix property.
_CHECKPOINT_FRACTIONS = (1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1.0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="figures of a BUILD (core occupancy, traffic, rasters, quantization, accuracy) "
        "as PNGs and index.html",
    )
    p.add_argument("build", metavar="BUILD")
    p.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="report folder (replaced atomically)"
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
    p.add_argument(
        "--time-major", action="store_true", help="IN.npy is (T, batch, ...), as snnTorch and Norse lay it out"
    )
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
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not steps or min(steps) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return steps


# --------------------------------------------------------------------------- running things


def _readout(graph: Graph) -> Mapping[str, Any] | None:
    spec = graph.metadata.get("readout")
    if isinstance(spec, Mapping) and spec.get("kind") == "spike_count":
        return spec
    return None


def record_activity(
    program: Graph,
    hw: HardwareSpec,
    inputs: np.ndarray,
    source: str,
    labels: np.ndarray | None = None,
):
    """Run `program` on the cpu backend and keep every population's spikes (inputs included);
    predictions too when the model has a spike-count readout."""
    from app.cost import population_spikes, probe_all
    from backends import get_backend
    from compiler.reporting import Activity
    from trainers.readout import classify, readout_probes

    readout = _readout(program)
    probes = probe_all(program, readout_probes(readout) if readout else ())
    trace = get_backend("cpu")(program, inputs, probes=probes, hw=hw)
    spikes = population_spikes(program, inputs, trace)
    predictions = classify(readout, trace) if readout else None
    return Activity(spikes, source, "cpu", labels, predictions)


def curve_steps(encoding: Mapping[str, Any], max_steps: int, model_steps: int | None) -> list[int]:
    """The T values of an accuracy curve: every step for prefix encoders, else checkpoints
    (including the model's T)."""
    if encoding.get("kind") in PREFIX_ENCODERS:
        return list(range(1, max_steps + 1))
    points = {max(1, round(f * max_steps)) for f in _CHECKPOINT_FRACTIONS}
    if model_steps is not None and model_steps <= max_steps:
        points.add(model_steps)
    return sorted(points)


def accuracy_curve(
    graph: Graph,
    hw: HardwareSpec | None,
    backend: str,
    x: np.ndarray,
    y: np.ndarray,
    steps: Sequence[int],
    seed: int,
    *,
    label: str,
    dataset: str,
    split: str,
    batch_size: int = 128,
):
    """Accuracy after each t in `steps` (sample i encoded with `first_index=i`, as `snnc eval`
    does): one run at max(steps) for prefix encoders, one run per t otherwise."""
    from backends import get_backend
    from backends.base import Trace
    from compiler.commands._common import model_spec
    from compiler.reporting import AccuracyCurve
    from trainers.encoders import encode
    from trainers.readout import classify, readout_probes

    encoding = model_spec(graph, label, "encoding")
    readout = _readout(graph)
    if readout is None:
        kind = (graph.metadata.get("readout") or {}).get("kind")
        raise InputError(
            f"{label}: accuracy vs time steps needs a spike_count readout, the model's is "
            f"{kind!r}; use `snnc eval` for it"
        )
    steps = sorted(set(steps))
    # run length -> the T values read from that run
    runs = (
        {max(steps): steps}
        if encoding.get("kind") in PREFIX_ENCODERS
        else {t: [t] for t in steps}
    )
    probes = readout_probes(readout)
    simulate = get_backend(backend)
    correct = dict.fromkeys(steps, 0)
    starts = range(0, len(x), batch_size)
    for lo in progress(starts, f"accuracy vs T ({backend})", total=len(starts)):
        xb, yb = x[lo : lo + batch_size], y[lo : lo + batch_size]
        for t_run, read_at in runs.items():
            spikes = encode(encoding, xb, t_run, seed, first_index=lo)
            trace = simulate(graph, spikes, steps=t_run, probes=probes, hw=hw)
            for t in read_at:
                prefix = Trace(
                    trace.backend, t, trace.batch,
                    {p: {v: a[:, :t] for v, a in d.items()} for p, d in trace.data.items()},
                )
                correct[t] += int(np.sum(classify(readout, prefix) == yb))
    n = max(len(x), 1)
    return AccuracyCurve(
        label=label,
        backend=backend,
        steps=tuple(steps),
        accuracy=tuple(correct[t] / n for t in steps),
        samples=len(x),
        dataset=dataset,
        split=split,
        seed=seed,
    )


# --------------------------------------------------------------------------- the command


def _activity_from_dataset(program: Graph, hw: HardwareSpec, dataset: str, split: str, n: int):
    from trainers.encoders import encode_split

    inputs, labels = encode_split(program.metadata, dataset, split, n)
    enc = program.metadata.get("encoding", {})
    seed = enc.get("seed", 0) if isinstance(enc, Mapping) else 0
    source = f"{dataset} {split} (input seed {seed})"
    if labels.ndim != 1:  # predictive coding: a pattern index per step, no label per sample
        labels = None
    return record_activity(program, hw, inputs, source, labels)


def _activity(args: argparse.Namespace, program: Graph, hw: HardwareSpec, notes: list[str]):
    from ir.arrays_io import read_graph_inputs

    if args.samples <= 0:
        raise InputError(f"--samples must be positive, got {args.samples}")
    if args.input:
        inputs = read_graph_inputs(args.input, program, time_major=args.time_major)
        return record_activity(program, hw, inputs[: args.samples], Path(args.input).name)
    if args.dataset:
        return _activity_from_dataset(program, hw, args.dataset, args.split, args.samples)
    task = program.metadata.get("task")
    dataset = task.get("dataset") if isinstance(task, Mapping) else None
    if not isinstance(dataset, str):
        notes.append("The model's metadata names no dataset: no rasters (pass --input IN.npy).")
        return None
    try:
        return _activity_from_dataset(program, hw, dataset, args.split, args.samples)
    except SnncError as e:  # not asked for explicitly: report without rasters, say why
        notes.append(f"No rasters from {dataset}: {e}")
        return None


def _host_curves(args: argparse.Namespace, kind: str, program: Graph, hw: HardwareSpec) -> list:
    """Accuracy of a host-read pipeline (app/readouts.py: a VIB decoder) at the model's T: its
    decoder reads the whole trained run, so there is no curve over T, one point per backend."""
    from app.readouts import HOST_READOUTS
    from compiler.commands._common import run_config
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
    from app.readouts import host_readout
    from compiler.commands._common import load_split, run_config
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
    from compiler.commands._common import load_split, run_config
    from ir.arrays_io import check_steps

    enc, _, seed = run_config(program, args.build, None, None)
    steps = [check_steps(t, "--steps") for t in args.steps]
    data = load_split(program, args.build, args.dataset, args.split, args.eval_samples)
    status(f"cost vs T: {len(data.x)} samples, T = {', '.join(map(str, sorted(set(steps))))}")
    return cost_vs_steps(program, hw, data.x, data.y, enc, _readout(program), steps, seed)


def run(args: argparse.Namespace) -> int:
    from compiler.build import read_build
    from compiler.commands._common import check_output_folder
    from compiler.reporting import ReportInputs, is_report, write_report

    build = read_build(args.build)
    if build.program.placement is None:
        raise InputError(
            f"{args.build}: the program has no placement; compile it with `snnc compile`"
        )
    check_output_folder(args.output, is_report, "a report folder")
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
