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

`--shards N` cuts the split into N contiguous parts evaluated independently, one after the other
(`--executor local`, the default) or as Ray tasks (`--executor ray`, on a local cluster or the
one at `--address`): the same accuracy to the last digit (app/evaluation.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from app.evaluation import evaluate, evaluate_sharded
from app.executors import open_executor
from app.inputs import load_split, model_spec, run_config
from app.readouts import HOST_READOUTS, host_readout, print_host_eval
from compiler.build import is_build, read_build
from compiler.commands._common import add_executor_arguments
from compiler.model_io import load_model
from ir.errors import InputError
from ir.latency import latency, latency_line

__all__ = ["register", "run"]


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
        "--align",
        action="store_true",
        help="run L more steps on silent input (L: the program's latency) and classify from the "
        "readout's T steps that answer the T input steps",
    )
    p.add_argument(
        "--batch-size", type=int, default=128, help="samples simulated at once (default 128)"
    )
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds for formats without one (.nir)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print where the time went: load (model and dataset), encode, simulate, "
        "classify (readout and cost counts)",
    )
    p.add_argument(
        "--no-cost",
        action="store_true",
        help="skip the cost of a compiled program (operation counts, energy and time estimates)",
    )
    x = p.add_argument_group("sharding (same accuracy, to the last digit)")
    x.add_argument(
        "--shards",
        type=int,
        default=None,
        help="cut the split into N parts (default: 1 local, the workers' count on Ray)",
    )
    add_executor_arguments(x, "shards")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.shards is not None and args.shards <= 0:
        raise InputError(f"--shards must be positive, got {args.shards}")
    label = args.model
    begin = time.perf_counter()
    hw = None
    if Path(args.model).is_dir() and is_build(args.model):
        build = read_build(args.model)
        graph, hw = build.program, build.hw
    else:
        graph = load_model(args.model, dt=args.dt)
    backend = args.backend or ("float" if graph.domain == "float" else "cpu")
    kind = host_readout(graph)
    if kind is not None:  # a pipeline with a host part (VIB's decoder): app/readouts.py
        if args.shards is not None or args.executor != "local" or args.align:
            raise InputError(f"{label}: --shards, --executor and --align apply to spike-count "
                             f"readouts, not a {kind!r} readout")
        result = HOST_READOUTS[kind][0](
            graph, label, hw, backend, dataset=args.dataset, split=args.split,
            samples=args.samples, steps=args.steps, seed=args.seed, batch=args.batch_size,
        )
        print_host_eval(kind, result, args.json)
        return 0
    encoding, steps, seed = run_config(graph, label, args.steps, args.seed)
    readout = model_spec(graph, label, "readout")
    data = load_split(graph, label, args.dataset, args.split, args.samples)
    loaded = time.perf_counter() - begin
    run_args = (graph, hw, backend, data.x, data.y, encoding, readout, steps, seed, args.batch_size)
    with open_executor(args.executor, args.address, args.workers) as executor:
        if args.shards is None and executor.name == "local":
            result = evaluate(*run_args, cost=not args.no_cost, align=args.align)
        else:
            shards = args.shards if args.shards is not None else executor.workers
            result = evaluate_sharded(
                *run_args, shards=shards, executor=executor, cost=not args.no_cost,
                align=args.align,
            )
    evaluated = time.perf_counter() - begin - loaded
    lag = latency(graph)
    spent = result.pop("time_s", None)
    if args.json:
        out = {k: v for k, v in result.items() if k not in ("predictions", "shards", "cost_counts")}
        out.update({"dataset": data.dataset, "split": data.split, "model": label,
                    "latency": lag, "aligned": args.align})
        print(json.dumps(out, sort_keys=True))
        return 0
    kind = "compiled program" if graph.domain == "fixed" else "float model"
    print(f"model     {label} ({kind}, backend {backend})")
    print(
        f"data      {data.dataset} {data.split}, {result['samples']} samples, T = {steps}, "
        f"input seed {seed}"
    )
    if "shards" in result:
        print(f"shards    {result['shards']} ({args.executor})")
    if args.align:
        print(latency_line(lag, True, steps))
    print(f"correct   {result['correct']}")
    if "cost" in result:
        from compiler.cost import format_cost

        print("\n".join(format_cost(result["cost"])))
    if args.verbose:
        split = (
            f"encode {spent['encode']:.3f} s, simulate {spent['simulate']:.3f} s (kernel loading "
            f"included), classify {spent['classify']:.3f} s"
            if spent is not None
            else f"evaluate {evaluated:.3f} s ({result.get('shards')} shards)"
        )
        print(f"time      load {loaded:.3f} s, {split}")
    print(f"accuracy: {result['accuracy']:.4f}")
    return 0
