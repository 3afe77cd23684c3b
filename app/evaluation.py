"""Classification accuracy of a model or compiled program on a dataset split, whole or in shards.

Sample i of a split is encoded with `encode(encoding, x_i, T, seed, first_index=i)` (its own
random stream, trainers/encoders.py), and a backend simulates the samples of a batch
independently, so the predictions do not depend on the batch size or on how the split is cut
into shards: a sharded evaluation gives the unsharded accuracy to the last digit.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec, load_hw_dict
from ir.progress import progress

__all__ = ["evaluate", "evaluate_sharded", "shard_bounds"]


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
    *,
    first_index: int = 0,
    count_spikes: bool = False,
    cost: bool = False,
    align: bool = False,
) -> dict[str, Any]:
    """Simulate `graph` on the encoded samples in batches and classify by `readout`.

    `align` (`snnc eval --align`): run L more steps on silent input (L: the program's latency,
    `ir.latency`) and classify from the readout population's T steps that answer the T input
    steps (steps d .. d + T - 1, d its own latency), not from the first T steps it ran, whose
    first d steps precede any input and whose last input steps are never answered. The cost
    counts every step run.

    `first_index` is the index of x[0] in its split (a shard's offset). Returns {"accuracy",
    "correct", "samples", "steps", "seed", "backend", "predictions"}, with `count_spikes`
    "spikes" (all spikes of all neuron populations, summed over the samples) and
    "spikes_per_inference", and with `cost`, for a placed program, "cost" (`compiler.cost`
    summary) and "cost_counts" (the integer counts it summarizes, which shards add up); and
    "time_s", the seconds spent encoding, simulating and classifying (`snnc eval -v`)."""
    from backends import get_backend
    from backends.base import Probe, Trace, run_bytes_per_sample
    from ir.budget import max_load_bytes
    from ir.latency import align as align_recordings
    from ir.latency import latency, population_latency
    from ir.nodes import Input
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
    counted: list[str] = []
    if count_spikes:
        counted = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
        probes = (*probes, *(Probe(n, ("spikes",)) for n in counted if n != pop))
    lat = population_latency(graph) if align else {}
    extra = latency(graph) if align else 0
    # Predictions do not depend on the batch (module docstring): a batch is cut to what fits the
    # memory budget (`backends.base.check_run_budget`), so --batch-size is an upper bound.
    fits = max_load_bytes() // max(run_bytes_per_sample(graph, steps + extra, probes), 1)
    batch_size = max(1, min(batch_size, fits))
    preds = np.zeros(len(x), dtype=np.int64)
    spikes = 0
    spent = {"encode": 0.0, "simulate": 0.0, "classify": 0.0}
    starts = range(0, len(x), batch_size)
    for lo in progress(starts, f"eval ({backend})", total=len(starts)):
        t0 = time.perf_counter()
        batch = encode(encoding, x[lo : lo + batch_size], steps, seed, first_index=first_index + lo)
        if extra:
            fill = np.zeros((batch.shape[0], extra, *batch.shape[2:]), dtype=batch.dtype)
            batch = np.concatenate([batch, fill], axis=1)
        t1 = time.perf_counter()
        trace = run_backend(graph, batch, steps=steps + extra, probes=probes, hw=hw)
        t2 = time.perf_counter()
        answered = trace
        if extra:
            cut = align_recordings(trace.arrays(), lat, steps)
            answered = Trace.from_arrays(cut, trace.backend)
        preds[lo : lo + batch_size] = classify(readout, answered)
        spikes += sum(int(trace.get(n, "spikes").sum()) for n in counted)
        if recorder is not None:
            recorder.add(batch, trace)
        spent["encode"] += t1 - t0
        spent["simulate"] += t2 - t1
        spent["classify"] += time.perf_counter() - t2
    out = _summary(preds, int(np.sum(preds == y)), steps, seed, backend,
                   spikes if count_spikes else None)
    out["time_s"] = spent
    if recorder is not None:
        out["cost_counts"] = recorder.counter.result()
        out["cost"] = recorder.summary()
    return out


def _summary(
    preds: np.ndarray, correct: int, steps: int, seed: int, backend: str, spikes: int | None
) -> dict[str, Any]:
    n = len(preds)
    out: dict[str, Any] = {
        "accuracy": correct / n if n else 0.0,
        "correct": correct,
        "samples": n,
        "steps": steps,
        "seed": seed,
        "backend": backend,
        "predictions": preds,
    }
    if spikes is not None:
        out["spikes"] = spikes
        out["spikes_per_inference"] = spikes / n if n else 0.0
    return out


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """[lo, hi) of `shards` contiguous, near-equal parts of range(n) (no empty part)."""
    if shards <= 0:
        raise InputError(f"--shards must be positive, got {shards}")
    shards = min(shards, max(n, 1))
    cuts = [n * k // shards for k in range(shards + 1)]
    return list(itertools.pairwise(cuts))


def _eval_shard(
    program: bytes,
    hw: dict[str, Any] | None,
    backend: str,
    x: np.ndarray,
    y: np.ndarray,
    run: tuple[Any, ...],
    first_index: int,
    count_spikes: bool,
    cost: bool = False,
    align: bool = False,
) -> dict[str, Any]:
    """One shard, where an executor runs it: the graph travels as its file bytes, the target
    as its config data (no shared paths); `run` is evaluate's (encoding, readout, steps, seed,
    batch_size)."""
    from ir.serialize import graph_from_bytes

    graph = graph_from_bytes(program, "<shard program>")
    spec = load_hw_dict(hw, "<shard target>") if hw is not None else None
    return evaluate(graph, spec, backend, x, y, *run, first_index=first_index,
                    count_spikes=count_spikes, cost=cost, align=align)


def evaluate_sharded(
    graph: Graph,
    hw: HardwareSpec | None,
    backend: str,
    x: np.ndarray,
    y: np.ndarray,
    *run: Any,
    shards: int,
    executor: Any,
    count_spikes: bool = False,
    cost: bool = False,
    align: bool = False,
) -> dict[str, Any]:
    """`evaluate(graph, hw, backend, x, y, encoding, readout, steps, seed, batch_size)` with the
    split cut into `shards` contiguous parts run by `executor` (app.executors); the same result
    as unsharded (each sample keeps its own index, hence its own spikes), plus "shards"."""
    from ir.serialize import graph_to_bytes

    encoding, readout, steps, seed, batch_size = run
    bounds = shard_bounds(len(x), shards)
    program = executor.put(graph_to_bytes(graph))
    target = executor.put(hw.to_dict()) if hw is not None else None
    shared = (dict(encoding), dict(readout), steps, seed, batch_size)
    calls = [(program, target, backend, x[lo:hi], y[lo:hi], shared, lo, count_spikes, cost, align)
             for lo, hi in bounds]
    parts: dict[int, dict[str, Any]] = {}
    for i, part in executor.map(_eval_shard, calls, label="shard"):
        if isinstance(part, BaseException):
            raise part
        parts[i] = part
    ordered = [parts[i] for i in range(len(bounds))]
    preds = np.concatenate([p["predictions"] for p in ordered]) if ordered else np.zeros(0, int)
    spikes = sum(p["spikes"] for p in ordered) if count_spikes else None
    out = _summary(preds, sum(p["correct"] for p in ordered), steps, seed, backend, spikes)
    counts = [p["cost_counts"] for p in ordered if "cost_counts" in p]
    if counts and hw is not None:
        from compiler.cost import summarize

        total = functools.reduce(lambda a, b: a.merged(b), counts)
        out["cost_counts"] = total
        out["cost"] = summarize(graph, hw, total)
    out["shards"] = len(bounds)
    return out
