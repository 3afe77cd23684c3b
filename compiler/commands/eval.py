"""`snnc eval MODEL|BUILD --dataset D`: classification accuracy on a dataset split.

A float model runs on the `float` backend by default, a compiled program (BUILD) on `cpu`
(bit-accurate), so `snnc eval MODEL` and `snnc eval BUILD` compare float and deployed accuracy
on the same spikes: sample i of the split is encoded with `encode(metadata.encoding, x_i, T,
seed, first_index=i)` whatever the batch size or backend. The last line printed is
`accuracy: 0.8934`; `--json` prints one JSON object instead.

A model whose readout runs on the host (a VIB encoder's decoder, `metadata.readout.kind =
"vib_decoder"`) is scored by its own pipeline (app/readouts.py): the same command, the
pipeline's metric printed as `accuracy`.

A compiled program's run also reports what it costs (`compiler.cost`: operation counts per
inference, population and core, NeuroBench's metrics, energy and time from the target's cost
model): the `cost` object of `--json`; `--no-cost` skips it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from app.readouts import HOST_READOUTS, host_readout, print_host_eval
from compiler.build import is_build, read_build
from compiler.commands._common import load_split, model_spec, run_config
from compiler.model_io import load_model
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.progress import progress

__all__ = ["evaluate", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="accuracy of a model (float simulation) or a compiled BUILD (bit-accurate)"
    )
    p.add_argument("model", metavar="MODEL|BUILD")
    p.add_argument(
        "--dataset",
        required=True,
        help="digits or fashion-mnist (a VIB model: its task, e.g. predictive-coding)",
    )
    p.add_argument(
        "--split",
        default="test",
        choices=("train", "val", "test"),
        help="dataset split (default test)",
    )
    p.add_argument(
        "--backend",
        default=None,
        help="float, cpu or lava (default: float for a float model, cpu for a BUILD)",
    )
    p.add_argument(
        "--samples", type=int, default=None, help="the first N samples of the split (default all)"
    )
    p.add_argument(
        "--steps", type=int, default=None, help="time steps T per sample (default: the model's)"
    )
    p.add_argument("--seed", type=int, default=None, help="input-spike seed (default: the model's)")
    p.add_argument(
        "--batch-size", type=int, default=128, help="samples simulated at once (default 128)"
    )
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds for formats without one (.nir)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "--no-cost",
        action="store_true",
        help="skip the cost of a compiled program (operation counts, energy and time estimates)",
    )
    p.set_defaults(func=run)


def evaluate(
    graph: Graph,
    hw: HardwareSpec | None,
    backend: str,
    x: np.ndarray,
    y: np.ndarray,
    encoding: Mapping[str, Any],
    readout: Mapping[str, Any],
    steps: int,
    seed: int,
    batch_size: int = 128,
    cost: bool = False,
) -> dict[str, Any]:
    """Simulate `graph` on the encoded samples in batches and classify by `readout`.

    Returns {"accuracy", "correct", "samples", "steps", "seed", "backend", "predictions"}, and
    "cost" (`compiler.cost.summarize`) when `cost` is set and `graph` is a placed program."""
    from backends import get_backend
    from ir.errors import InputError
    from trainers.encoders import encode
    from trainers.readout import classify, readout_probes

    if batch_size <= 0:
        raise InputError(f"--batch-size must be positive, got {batch_size}")
    run_backend = get_backend(backend)
    probes = readout_probes(readout)
    pop = probes[0].population
    if pop not in graph.populations:
        raise InputError(f"metadata.readout.population {pop!r} is not a population of the model")
    recorder = None
    if cost and graph.placement is not None and hw is not None:
        from app.cost import CostRecorder

        recorder = CostRecorder(graph, hw)
        probes = recorder.probes(probes)
    preds = np.zeros(len(x), dtype=np.int64)
    starts = range(0, len(x), batch_size)
    for lo in progress(starts, f"eval ({backend})", total=len(starts)):
        spikes = encode(encoding, x[lo : lo + batch_size], steps, seed, first_index=lo)
        trace = run_backend(graph, spikes, steps=steps, probes=probes, hw=hw)
        preds[lo : lo + batch_size] = classify(readout, trace)
        if recorder is not None:
            recorder.add(spikes, trace)
    correct = int(np.sum(preds == y))
    extra = {"cost": recorder.summary()} if recorder is not None else {}
    return {
        "accuracy": correct / len(x) if len(x) else 0.0,
        "correct": correct,
        "samples": len(x),
        "steps": steps,
        "seed": seed,
        "backend": backend,
        "predictions": preds,
        **extra,
    }


def run(args: argparse.Namespace) -> int:
    label = args.model
    hw = None
    if Path(args.model).is_dir() and is_build(args.model):
        build = read_build(args.model)
        graph, hw = build.program, build.hw
    else:
        graph = load_model(args.model, dt=args.dt)
    backend = args.backend or ("float" if graph.domain == "float" else "cpu")
    kind = host_readout(graph)
    if kind is not None:  # a pipeline with a host part (VIB's decoder): app/readouts.py
        result = HOST_READOUTS[kind][0](
            graph, label, hw, backend, dataset=args.dataset, split=args.split,
            samples=args.samples, steps=args.steps, seed=args.seed, batch=args.batch_size,
        )
        print_host_eval(kind, result, args.json)
        return 0
    encoding, steps, seed = run_config(graph, label, args.steps, args.seed)
    readout = model_spec(graph, label, "readout")
    data = load_split(graph, label, args.dataset, args.split, args.samples)
    result = evaluate(
        graph, hw, backend, data.x, data.y, encoding, readout, steps, seed, args.batch_size,
        cost=not args.no_cost,
    )
    if args.json:
        out = {k: v for k, v in result.items() if k != "predictions"}
        out.update({"dataset": data.dataset, "split": data.split, "model": label})
        print(json.dumps(out, sort_keys=True))
        return 0
    kind = "compiled program" if graph.domain == "fixed" else "float model"
    print(f"model     {label} ({kind}, backend {backend})")
    print(
        f"data      {data.dataset} {data.split}, {result['samples']} samples, T = {steps}, "
        f"input seed {seed}"
    )
    print(f"correct   {result['correct']}")
    if "cost" in result:
        from compiler.cost import format_cost

        print("\n".join(format_cost(result["cost"])))
    print(f"accuracy: {result['accuracy']:.4f}")
    return 0
