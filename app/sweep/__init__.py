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
class _Inputs:
    """What the driver reads before anything runs, and every point's key."""

    hw: Any  # HardwareSpec
    label: str  # how errors name the model
    model: bytes | None  # the model file's bytes (a spec with `model:`)
    splits: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  # (dataset, split) -> (x, y)
    keys: list[str]  # per point
    models: list[str]  # per point: its model's id (file digest, or its training's key)
    point_splits: list[tuple[str, str]]  # per point
    train: dict[str, tuple[str, ...]]  # training key -> the trainer's argv

    def target(self) -> tuple[dict[str, Any], str]:
        return self.hw.to_dict(), self.hw.source_file


def _read_inputs(spec: SweepSpec, points: list[Point]) -> _Inputs:
    from app.inputs import read_split
    from compiler.model_io import load_model
    from ir.hardware import load_hw
    from ir.serialize import graph_to_bytes

    try:
        hw = load_hw(spec.target)
    except SnncError as e:
        raise SpecError(spec.file, "target", str(e)) from None
    target_id = hashlib.sha256(yaml.safe_dump(hw.to_dict(), sort_keys=True).encode()).hexdigest()
    model = None
    if spec.model is not None:
        try:
            model = graph_to_bytes(load_model(spec.model, dt=spec.dt))
        except SnncError as e:
            raise SpecError(spec.file, "model", str(e)) from None
    label = str(spec.model) if spec.model is not None else f"model trained by {spec.trainer}"
    evals = [step_params("eval", None, pt.argv["eval"]) for pt in points]
    wanted = dict.fromkeys((e["dataset"], e["split"]) for e in evals)
    splits = {s: read_split(*s) for s in wanted}
    data_ids = {s: _array_digest(*xy) for s, xy in splits.items()}
    out = _Inputs(hw, label, model, splits, [], [], [], {})
    for pt, eparams in zip(points, evals, strict=True):
        if spec.trainer is not None:
            params = step_params("train", spec.trainer, pt.argv["train"])
            mid = content_key({"trainer": spec.trainer, "options": params})
            out.train.setdefault(mid, pt.argv["train"])
        else:
            assert model is not None
            mid = hashlib.sha256(model).hexdigest()
        split = (eparams["dataset"], eparams["split"])
        out.models.append(mid)
        out.point_splits.append(split)
        out.keys.append(content_key({
            "model": mid,
            "target": target_id,
            "data": data_ids[split],
            "compile": step_params("compile", None, pt.argv["compile"]),
            "eval": eparams,
        }))
    return out


class _Progress:
    """The sweep's lines on stderr: points done, failed, left, time since the start."""

    def __init__(self, total: int, done: int, say: Callable[[str], None]) -> None:
        self.total, self.done, self.failed, self.say = total, done, 0, say
        self.t0 = time.perf_counter()

    def point(self, label: str, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            self.done += 1
            m, sec = record["metrics"], record["seconds"]
            text = (f"accuracy {m['accuracy']:.4f}, {m['spikes_per_inference']:.0f} spikes, "
                    f"{m['cores_used']} cores ({sec['compile'] + sec['eval']:.1f} s)")
        else:
            self.failed += 1
            text = f"FAILED: {record['error']}"
        left = self.total - self.done - self.failed
        self.say(f"[{self.done + self.failed}/{self.total}] {self.done} done, {self.failed} "
                 f"failed, {left} left, {time.perf_counter() - self.t0:.1f} s: {label}: {text}")


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
    from app.sweep.results import write_results

    t0 = time.perf_counter()
    store = Store(out)
    store.check(resume)
    points = spec.points()
    inputs = _read_inputs(spec, points)
    first: dict[str, int] = {}  # key -> its first point (a key runs once)
    for i, key in enumerate(inputs.keys):
        first.setdefault(key, i)
    records: dict[str, dict[str, Any]] = {}
    if resume:
        for key in first:
            rec = store.point(key)
            if rec is not None and rec.get("status") == "ok":
                records[key] = rec
    resumed = set(records)
    store.start()
    todo = [k for k in first if k not in records]
    description = "nothing to run"
    if todo:
        with open_executor(executor, address, workers) as ex:
            description = ex.description
            say(f"{len(first)} points ({len(resumed)} stored, {len(todo)} to run) on "
                f"{description}")
            progress = _Progress(len(first), len(resumed), say)
            _run_points(ex, store, spec, inputs, points, [first[k] for k in todo], records,
                        progress)
    else:
        say(f"{len(first)} points, all stored: nothing to run")
    rows = []
    for pt, key in zip(points, inputs.keys, strict=True):
        rec = records[key]
        rows.append({"values": pt.values, "key": key, "status": rec["status"],
                     "metrics": rec.get("metrics"), "error": rec.get("error"),
                     "seconds": rec.get("seconds"), "resumed": key in resumed})
    seconds = time.perf_counter() - t0
    info = {"spec": spec.file, "executor": description, "wall_seconds": round(seconds, 3),
            "points_run": len(todo), "points_resumed": len(resumed), "target": inputs.hw.name,
            "model": str(spec.model) if spec.model else None, "trainer": spec.trainer}
    files = write_results(out, info, spec.grid, rows)
    return SweepOutcome(rows, files, seconds, len(todo), len(resumed), description)


def _run_points(ex: Any, store: Store, spec: SweepSpec, inputs: _Inputs, points: list[Point],
                todo: list[int], records: dict[str, dict[str, Any]], progress: _Progress) -> None:
    """Run the points `todo` (indices); store and record each result as it arrives."""
    from app.sweep.points import point_task

    models = _models(ex, store, spec, inputs, todo, progress.say)
    data = {s: ex.put(xy) for s, xy in inputs.splits.items()}
    target = ex.put(inputs.target())
    calls, indices = [], []
    for i in todo:
        pt, key, model = points[i], inputs.keys[i], models[inputs.models[i]]
        if isinstance(model, str):  # its training failed
            rec = {"status": "failed", "error": model}
        else:
            split = inputs.point_splits[i]
            calls.append((model, inputs.label, target, pt.argv["compile"], pt.argv["eval"], split,
                          data[split]))
            indices.append(i)
            continue
        _store(store, records, key, pt, rec)
        progress.point(pt.label(spec.keys), rec)
    for j, result in ex.map(point_task, calls, label="point"):
        i = indices[j]
        if isinstance(result, BaseException):
            rec = {"status": "failed", "error": _one_line(result)}
        else:
            rec = {"status": "ok", **result}
        _store(store, records, inputs.keys[i], points[i], rec)
        progress.point(points[i].label(spec.keys), rec)


def _store(store: Store, records: dict[str, dict[str, Any]], key: str, pt: Point,
           rec: dict[str, Any]) -> None:
    rec["argv"] = {step: list(argv) for step, argv in pt.argv.items()}
    store.put_point(key, rec)
    records[key] = rec


def _models(ex: Any, store: Store, spec: SweepSpec, inputs: _Inputs, todo: list[int],
            say: Callable[[str], None]) -> dict[str, Any]:
    """Model id -> a reference to its bytes for the executor, or its training's one-line
    error. Trained models are stored as they arrive; stored ones are not trained again."""
    from app.sweep.points import train_task

    if spec.trainer is None:
        assert inputs.model is not None
        return {inputs.models[0]: ex.put(inputs.model)}
    out: dict[str, Any] = {}
    to_train = []
    for mid in dict.fromkeys(inputs.models[i] for i in todo):
        stored = store.model(mid)
        if stored is not None:
            out[mid] = ex.put(stored)
        else:
            to_train.append(mid)
    if to_train:
        say(f"training {len(to_train)} model(s) with `snnc train {spec.trainer}`")
    t0 = time.perf_counter()
    calls = [(spec.trainer, inputs.train[mid]) for mid in to_train]
    for n, (j, result) in enumerate(ex.map(train_task, calls, label="train"), start=1):
        mid = to_train[j]
        argv = " ".join(inputs.train[mid])
        if isinstance(result, BaseException):
            out[mid] = f"training failed: {_one_line(result)}"
            say(f"trained {n}/{len(to_train)} ({argv}): FAILED: {_one_line(result)}")
            continue
        store.put_model(mid, result)
        out[mid] = ex.put(result)
        say(f"trained {n}/{len(to_train)} ({argv}), {time.perf_counter() - t0:.1f} s")
    return out
