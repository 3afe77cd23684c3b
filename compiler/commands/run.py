"""`snnc run MODEL|BUILD --backend {float,cpu,lava} --input IN.npy [--steps T] [--probe SPEC]
[--device cpu|loihi2] [--lava-blocks] -o OUT.npz`: run a model or compiled program on input
spikes.

A float MODEL runs on `float`; a compiled BUILD runs on `cpu` (snnc's bit-accurate simulator)
or `lava`. OUT.npz holds one (batch, T, n) array per probed population: spikes under the
population name, states under `name:u` / `name:v`; and a JSON header under `__meta__`
(`RUN_OUTPUT_FORMAT`): the backend, the steps recorded and run, the program's latency L, each
probed population's latency and whether the recordings were aligned (`--align`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from backends import BACKENDS
from compiler.commands._common import add_time_major_argument
from ir.errors import InputError

BACKEND_NAMES = tuple(BACKENDS)
RUN_OUTPUT_FORMAT = "snnc-run-output"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run a model (float) or compiled program (cpu, lava) on input spikes"
    )
    p.add_argument("model", metavar="MODEL|BUILD")
    p.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default=None,
        help="float for float models; cpu (default for programs) or lava for compiled programs",
    )
    p.add_argument(
        "--input",
        required=True,
        metavar="IN.npy",
        help="spikes (batch, T, n_inputs) or (batch, T, C, H, W): integers, bool, or float 0/1",
    )
    add_time_major_argument(p)
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="T",
        help="steps to run (default: the input's T; steps past the input get no spikes)",
    )
    p.add_argument(
        "--align",
        action="store_true",
        help="run L more steps (L: the program's latency, one step per projection on the longest "
        "input -> output path) and shift each recording so step t answers input step t",
    )
    p.add_argument(
        "--probe",
        default=None,
        metavar="SPEC",
        help="what to record: 'pop[:spikes,u,v];pop...' or 'all' (default: output spikes)",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "loihi2"),
        default="cpu",
        help="lava backend: Lava's CPU models (default) or Loihi 2 "
        "(needs the Lava extension for Loihi)",
    )
    p.add_argument(
        "--blocks",
        action="store_true",
        help="cpu backend: execute a placed program block by block (same result: compiled "
        "programs are split-exact)",
    )
    p.add_argument(
        "--lava-blocks",
        action="store_true",
        help="lava backend: one Lava process per placed block and per block pair, to check the "
        "partition's slicing (default: one per population and per projection)",
    )
    p.add_argument(
        "--engine",
        choices=("auto", "fast", "reference"),
        default="auto",
        help="cpu/float backends: the fast engine, the step-by-step reference, or auto (default: "
        "the reference for runs too small to be worth loading the fast kernels)",
    )
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds for formats without one (.nir)"
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print where the time went: load (model, input file and its checks), "
        "simulate (kernel loading included), write",
    )
    p.set_defaults(func=run)


def _load(path: str, dt: float | None):
    from compiler.build import is_build, read_build
    from compiler.model_io import load_model

    if Path(path).is_dir() and is_build(path):
        build = read_build(path)
        return build.program, build.hw
    return load_model(path, dt=dt), None


def _choose_backend(requested: str | None, domain: str, model: str) -> str:
    backend = requested or ("float" if domain == "float" else "cpu")
    if domain == "float" and backend != "float":
        raise InputError(
            f"{model}: is a float model; the {backend} backend runs compiled programs "
            f"(compile it first, or use --backend float)"
        )
    if domain == "fixed" and backend == "float":
        raise InputError(
            f"{model}: is a compiled (fixed-point) program; run it with --backend cpu or lava"
        )
    return backend


def run(args: argparse.Namespace) -> int:
    from backends import get_backend, parse_probes
    from ir.arrays_io import META_KEY, check_steps, meta_array, read_graph_inputs, write_npz
    from ir.latency import align, latency, latency_line, population_latency
    from ir.progress import status

    begin = time.perf_counter()
    graph, hw = _load(args.model, args.dt)
    backend = _choose_backend(args.backend, graph.domain, args.model)
    if args.device != "cpu" and backend != "lava":
        raise InputError(f"--device {args.device} applies to --backend lava only")
    if args.blocks and backend != "cpu":
        raise InputError("--blocks applies to --backend cpu only (lava: --lava-blocks)")
    if args.lava_blocks and backend != "lava":
        raise InputError("--lava-blocks applies to --backend lava only (cpu: --blocks)")
    if args.steps is not None:
        check_steps(args.steps, "--steps")
    spikes = read_graph_inputs(args.input, graph, time_major=args.time_major)
    if not args.time_major and spikes.shape[0] > spikes.shape[1]:
        print(
            f"snnc: note: {args.input} read as {spikes.shape[0]} samples of {spikes.shape[1]} "
            "steps (batch, T, ...); if it is (T, batch, ...), pass --time-major",
            file=sys.stderr,
        )
    probes = parse_probes(args.probe, graph)
    if not probes:
        raise InputError(
            f"{args.model}: has no output population (every population projects somewhere); "
            "say what to record with --probe"
        )
    kwargs: dict = {}
    if backend == "lava":
        kwargs["device"] = args.device
        kwargs["lowering"] = "blocks" if args.lava_blocks else "populations"
        status(f"running {spikes.shape[0]} sample(s) on Lava ({args.device})")
    else:
        kwargs["engine"] = args.engine
        if backend == "cpu":
            kwargs["blocks"] = args.blocks
    lag = latency(graph)
    steps = args.steps if args.steps is not None else spikes.shape[1]
    run_steps = steps + lag if args.align else args.steps
    start = time.perf_counter()
    trace = get_backend(backend)(graph, spikes, steps=run_steps, probes=probes, hw=hw, **kwargs)
    elapsed = time.perf_counter() - start
    arrays = trace.arrays()
    lat = population_latency(graph)
    if args.align:
        arrays = align(arrays, lat, steps)
    from app.readouts import group_means

    arrays = {**arrays, **group_means(graph, arrays)}
    probed = sorted({key.split(":", 1)[0] for key in arrays})
    meta = {
        "format": RUN_OUTPUT_FORMAT,
        "format_version": 1,
        "backend": backend,
        "steps": int(next(iter(arrays.values())).shape[1]),
        "steps_run": int(trace.steps),
        "latency": lag,
        "population_latency": {pop: lat[pop] for pop in probed if pop in lat},
        "aligned": bool(args.align),
    }
    write_npz(args.output, {**arrays, META_KEY: meta_array(meta)})
    written = time.perf_counter()
    print(
        f"{args.output}: backend {backend}, {trace.batch} sample(s) x {trace.steps} steps, "
        f"{elapsed:.2f} s"
    )
    print(f"  {latency_line(lag, args.align, steps)}")
    width = max(len(k) for k in arrays)
    for key, arr in arrays.items():
        what = f"spikes {int(arr.sum())}" if ":" not in key else f"range [{arr.min()}, {arr.max()}]"
        print(f"  {key:{width}s}  {tuple(arr.shape)}  {what}")
    if args.verbose:
        print(
            f"time: load {start - begin:.3f} s, simulate {elapsed:.3f} s, "
            f"write {written - start - elapsed:.3f} s (engine {trace.info.get('engine', backend)})"
        )
    return 0
