"""What runs where the executor puts it: training one model, and one point (compile -> eval).

Both take and return plain data: the model as its snnc file bytes, the target as its config
data, the evaluation split as arrays; nothing here reads the driver's files. Each step calls the
function its command calls (app.training, app.compiling, app.evaluation) with the options its
command's parser made of the point's argument list.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["point_task", "train_task"]


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """A point's own progress bars (evaluation batches) would interleave with the sweep's lines
    on the terminal; the sweep reports per point instead."""
    before = os.environ.get("SNNC_PROGRESS")
    os.environ["SNNC_PROGRESS"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SNNC_PROGRESS", None)
        else:
            os.environ["SNNC_PROGRESS"] = before


def train_task(trainer: str, argv: Sequence[str]) -> bytes:
    """`snnc train TRAINER ARGV`, returning the model file's bytes instead of writing it."""
    from app.sweep.spec import parse_step
    from app.training import train_from_args
    from ir.serialize import graph_to_bytes

    args = parse_step("train", trainer, argv)
    with _no_progress_bars():
        return graph_to_bytes(train_from_args(trainer, args))


def point_task(
    model: bytes,
    label: str,
    hw: tuple[dict[str, Any], str],
    compile_argv: Sequence[str],
    eval_argv: Sequence[str],
    split: tuple[str, str],
    data: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """`snnc compile MODEL COMPILE_ARGV` then `snnc eval BUILD EVAL_ARGV` (the float model
    itself when eval.backend is float), in memory; `hw` is the target's config data and where
    it came from. Returns the metrics and the seconds each step took; raises the step's
    error."""
    from app.compiling import compile_from_args
    from app.evaluation import evaluate
    from app.inputs import check_split, model_spec, run_config
    from app.sweep.spec import parse_step
    from ir.hardware import load_hw_dict
    from ir.serialize import graph_from_bytes

    t0, c0 = time.perf_counter(), time.process_time()
    with _no_progress_bars():
        graph = graph_from_bytes(model, label)
        target = load_hw_dict(*hw)
        cargs = parse_step("compile", None, compile_argv)
        program, report = compile_from_args(cargs, graph, label, target)
        t1 = time.perf_counter()
        eargs = parse_step("eval", None, eval_argv)
        if eargs.backend == "float":
            run_graph, run_hw = graph, None
        else:
            run_graph, run_hw = program, target
        backend = eargs.backend or "cpu"
        encoding, steps, seed = run_config(run_graph, label, eargs.steps, eargs.seed)
        readout = model_spec(run_graph, label, "readout")
        x, y = data
        chosen = check_split(run_graph, label, split[0], split[1], x, y, eargs.samples)
        result = evaluate(
            run_graph, run_hw, backend, chosen.x, chosen.y, encoding, readout, steps, seed,
            eargs.batch_size, count_spikes=True, cost=run_graph.placement is not None,
        )
        t2 = time.perf_counter()
    return {
        "metrics": {
            "accuracy": result["accuracy"],
            "correct": result["correct"],
            "samples": result["samples"],
            "spikes_per_inference": result["spikes_per_inference"],
            "cores_used": report.get("cores_used"),
            "steps": steps,
            "seed": seed,
            **_cost_metrics(result.get("cost")),
        },
        # wall time of each step; CPU time of the whole point (all threads of this process)
        "seconds": {"compile": t1 - t0, "eval": t2 - t1, "cpu": time.process_time() - c0},
    }


def _cost_metrics(cost: dict[str, Any] | None) -> dict[str, Any]:
    """What a point's deployed run costs per inference (`compiler.cost`; `snnc eval --json`'s
    `cost` object): synaptic ops, and the target's energy and time estimates when its hardware
    config has a cost model."""
    if cost is None:
        return {}
    out: dict[str, Any] = {"synaptic_ops_per_inference": cost["per_inference"]["synaptic_ops"]}
    est = cost["estimate"]
    if est.get("available"):
        out["energy_j_per_inference"] = est["energy_per_inference_j"]["total"]
        out["time_s_per_inference"] = est["time_per_inference_s"]["total"]
    return out
