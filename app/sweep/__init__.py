"""`snnc sweep`: every point of a grid trained (if asked), compiled and evaluated, in this
process or as Ray tasks, with finished points stored as they arrive.

    spec.py     the SPEC file; sweep keys come from the commands' own parsers
    points.py   what runs on a worker: train_task, point_task (bytes and arrays in and out)
    store.py    DIR/points, DIR/models: finished work by content key (--resume)
    results.py  results.csv (deterministic), results.json (timings), accuracy.png

The driver reads every input once (the model file, the target config, each evaluation split),
hashes it for the points' keys, and hands the executor the bytes and arrays: the workers need
snnc installed, not the driver's files (a `train:` section or `compile.calibrate` loads its
dataset where it runs: digits ships with scikit-learn).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from app.sweep.spec import Point, SpecError, SweepSpec, load_spec, step_params
from app.sweep.store import Store, content_key
from ir.errors import SnncError

__all__ = ["SweepOutcome", "load_spec", "run_sweep"]


@dataclass(frozen=True)
class SweepOutcome:
    rows: list[dict[str, Any]]
    files: list[str]
    seconds: float
    ran: int
    resumed: int
    executor: str

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r["status"] != "ok")


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if isinstance(error, SnncError) else f"{type(error).__name__}: {text}"


def _array_digest(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class _Plan:
    """What the driver knows before anything runs: every point's key and inputs."""

    keys: list[str]
    models: list[str]  # per point: its model's id (file digest, or its training key)
    splits: list[tuple[str, str]]  # per point: (dataset, split) it is evaluated on
    train: dict[str, tuple[str, ...]]  # training key -> the trainer's argv


def _plan(spec: SweepSpec, points: list[Point], model_id: str | None, target_id: str,
          data_ids: dict[tuple[str, str], str]) -> _Plan:
    plan = _Plan([], [], [], {})
    for pt in points:
        if spec.trainer is not None:
            params = step_params("train", spec.trainer, pt.argv["train"])
            mid = content_key({"trainer": spec.trainer, "options": params})
            plan.train.setdefault(mid, pt.argv["train"])
        else:
            assert model_id is not None
            mid = model_id
        eparams = step_params("eval", None, pt.argv["eval"])
        split = (eparams["dataset"], eparams["split"])
        plan.models.append(mid)
        plan.splits.append(split)
        plan.keys.append(content_key({
            "model": mid,
            "target": target_id,
            "data": data_ids[split],
            "compile": step_params("compile", None, pt.argv["compile"]),
            "eval": eparams,
        }))
    return plan


def _eval_splits(points: list[Point]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for pt in points:
        e = step_params("eval", None, pt.argv["eval"])
        if (e["dataset"], e["split"]) not in out:
            out.append((e["dataset"], e["split"]))
    return out


def run_sweep(
    spec: SweepSpec,
    out: Path,
    *,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    say: Callable[[str], None] = lambda line: None,
) -> SweepOutcome:
    """Run the points not already stored, store each as it finishes, write the results."""
    from app.executors import open_executor
    from app.inputs import read_split
    from compiler.model_io import load_model
    from ir.hardware import load_hw
    from ir.serialize import graph_to_bytes

    t0 = time.perf_counter()
    store = Store(out)
    store.check(resume)
    points = spec.points()
    try:
        hw = load_hw(spec.target)
    except SnncError as e:
        raise SpecError(spec.file, "target", str(e)) from None
    hw_data = hw.to_dict()
    target_id = hashlib.sha256(yaml.safe_dump(hw_data, sort_keys=True).encode()).hexdigest()
    model_bytes: bytes | None = None
    model_id = None
    if spec.model is not None:
        try:
            model_bytes = graph_to_bytes(load_model(spec.model, dt=spec.dt))
        except SnncError as e:
            raise SpecError(spec.file, "model", str(e)) from None
        model_id = hashlib.sha256(model_bytes).hexdigest()
    label = str(spec.model) if spec.model is not None else f"model trained by {spec.trainer}"
    data = {s: read_split(*s) for s in _eval_splits(points)}
    data_ids = {s: _array_digest(*xy) for s, xy in data.items()}
    plan = _plan(spec, points, model_id, target_id, data_ids)

    records: dict[str, dict[str, Any]] = {}
    resumed: set[str] = set()
    if resume:
        for key in dict.fromkeys(plan.keys):
            rec = store.point(key)
            if rec is not None and rec.get("status") == "ok":
                records[key] = rec
                resumed.add(key)
    store.start()
    first = {}  # key -> the first point that has it (a key runs once)
    for pt, key in zip(points, plan.keys, strict=True):
        first.setdefault(key, pt)
    todo = [k for k in first if k not in records]
    where = {k: i for i, k in reversed(list(enumerate(plan.keys)))}  # key -> its first point
    total = len(first)
    counts = {"done": len(resumed), "failed": 0}

    def progress(text: str) -> None:
        left = total - counts["done"] - counts["failed"]
        say(f"[{counts['done'] + counts['failed']}/{total}] {counts['done']} done, "
            f"{counts['failed']} failed, {left} left, {time.perf_counter() - t0:.1f} s: {text}")

    description = "nothing to run"
    if todo:
        with open_executor(executor, address, workers) as ex:
            description = ex.description
            say(f"{total} points ({len(resumed)} stored, {len(todo)} to run) on {description}")
            models = _models(ex, store, spec, plan, [where[k] for k in todo], model_bytes, say)
            data_refs = {s: ex.put(xy) for s, xy in data.items()}
            calls, keys = [], []
            for key in todo:
                i = where[key]
                model = models.get(plan.models[i])
                if isinstance(model, str):  # its training failed
                    rec = {"status": "failed", "error": model, "params": first[key].argv}
                    store.put_point(key, rec)
                    records[key] = rec
                    counts["failed"] += 1
                    progress(f"{first[key].label(spec.keys)}: FAILED: {model}")
                    continue
                pt = first[key]
                calls.append((model, label, (hw_data, hw.source_file), pt.argv["compile"], pt.argv["eval"],
                              plan.splits[i], data_refs[plan.splits[i]]))
                keys.append(key)
            from app.sweep.points import point_task

            for j, result in ex.map(point_task, calls, label="point"):
                key = keys[j]
                pt = first[key]
                if isinstance(result, BaseException):
                    rec = {"status": "failed", "error": _one_line(result)}
                    counts["failed"] += 1
                    text = f"FAILED: {rec['error']}"
                else:
                    rec = {"status": "ok", **result}
                    counts["done"] += 1
                    m, s = result["metrics"], result["seconds"]
                    text = (f"accuracy {m['accuracy']:.4f}, {m['spikes_per_inference']:.0f} spikes, "
                            f"{m['cores_used']} cores ({sum(s.values()):.1f} s)")
                rec["params"] = {s: list(a) for s, a in pt.argv.items()}
                store.put_point(key, rec)
                records[key] = rec
                progress(f"{pt.label(spec.keys)}: {text}")
    else:
        say(f"{total} points, all stored: nothing to run")
    rows = []
    for pt, key in zip(points, plan.keys, strict=True):
        rec = records[key]
        rows.append({"values": pt.values, "key": key, "status": rec["status"],
                     "metrics": rec.get("metrics"), "error": rec.get("error"),
                     "seconds": rec.get("seconds"), "resumed": key in resumed})
    seconds = time.perf_counter() - t0
    info = {"spec": spec.file, "executor": description, "wall_seconds": round(seconds, 3),
            "points_run": len(todo), "points_resumed": len(resumed),
            "target": hw.name, "model": str(spec.model) if spec.model else None,
            "trainer": spec.trainer}
    from app.sweep.results import write_results

    files = write_results(out, info, spec.grid, rows)
    return SweepOutcome(rows, files, seconds, len(todo), len(resumed), description)


def _models(ex: Any, store: Store, spec: SweepSpec, plan: _Plan, todo: list[int],
            model_bytes: bytes | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Model id -> a reference to its bytes for the executor, or its training's one-line
    error. Trained models are stored as they arrive; stored ones are not trained again."""
    from app.sweep.points import train_task

    if spec.trainer is None:
        assert model_bytes is not None
        return {plan.models[0]: ex.put(model_bytes)}
    needed = list(dict.fromkeys(plan.models[i] for i in todo))
    out: dict[str, Any] = {}
    to_train = []
    for mid in needed:
        stored = store.model(mid)
        if stored is not None:
            out[mid] = ex.put(stored)
        else:
            to_train.append(mid)
    if to_train:
        say(f"training {len(to_train)} model(s) with `snnc train {spec.trainer}`")
    calls = [(spec.trainer, plan.train[mid]) for mid in to_train]
    t0 = time.perf_counter()
    for j, result in ex.map(train_task, calls, label="train"):
        mid = to_train[j]
        if isinstance(result, BaseException):
            out[mid] = f"training failed: {_one_line(result)}"
            say(f"trained model {j + 1}: FAILED: {_one_line(result)}")
            continue
        store.put_model(mid, result)
        out[mid] = ex.put(result)
        say(f"trained model {mid[:12]} ({time.perf_counter() - t0:.1f} s)")
    return out
