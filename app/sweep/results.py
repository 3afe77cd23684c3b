"""A sweep's results: results.csv (deterministic), results.json (with timings), accuracy.png.

results.csv has one row per grid point in the grid's order (the last key varies fastest): the
grid values as the spec spells them, then status (ok/failed), accuracy (6 decimals), correct,
samples, spikes_per_inference (3 decimals), cores_used, synaptic_ops_per_inference (3 decimals),
energy_uj_per_inference and time_us_per_inference (the target's cost-model estimates, 6
significant digits; empty for a float model or a target without a cost model), error. It holds
nothing measured in time, so the same spec gives the same bytes on any executor and any number
of workers; the seconds each point took are in results.json (and in the progress lines).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.sweep.spec import option_text
from ir.atomic import atomic_output_file, atomic_write_text

__all__ = ["CSV_COLUMNS", "accuracy_figure", "results_csv", "results_json", "write_results"]

CSV_COLUMNS = (
    "status", "accuracy", "correct", "samples", "spikes_per_inference", "cores_used",
    "synaptic_ops_per_inference", "energy_uj_per_inference", "time_us_per_inference", "error",
)
RESULTS_VERSION = 1
MAX_LEGEND = 12  # more lines than this get no legend (it would cover the axes)


def results_csv(keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """Each row: {"values": grid values, "status", "metrics" (ok) or "error" (failed)}."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([*keys, *CSV_COLUMNS])
    for row in rows:
        m = row.get("metrics") or {}
        ok = row["status"] == "ok"
        out.writerow([
            *(option_text(v) for v in row["values"]),
            row["status"],
            f"{m['accuracy']:.6f}" if ok else "",
            m.get("correct", "") if ok else "",
            m.get("samples", "") if ok else "",
            f"{m['spikes_per_inference']:.3f}" if ok else "",
            m.get("cores_used", "") if ok else "",
            _fixed(m.get("synaptic_ops_per_inference"), 1, ".3f"),
            _fixed(m.get("energy_j_per_inference"), 1e6, ".6g"),
            _fixed(m.get("time_s_per_inference"), 1e6, ".6g"),
            "" if ok else row.get("error", ""),
        ])
    return buf.getvalue()


def _fixed(value: float | None, unit: float, fmt: str) -> str:
    """A cost figure in the CSV's unit, or empty (a float model, or a target without a cost
    model)."""
    return "" if value is None else format(value * unit, fmt)


def results_json(
    info: Mapping[str, Any], keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> str:
    points = [
        {
            "index": i,
            "values": dict(zip(keys, row["values"], strict=True)),
            "key": row["key"],
            "status": row["status"],
            "metrics": row.get("metrics"),
            "error": row.get("error"),
            "seconds": row.get("seconds"),
            "resumed": row.get("resumed", False),
        }
        for i, row in enumerate(rows)
    ]
    data = {"format_version": RESULTS_VERSION, **info, "grid": list(keys), "points": points}
    return json.dumps(data, indent=1, sort_keys=True, allow_nan=False, default=str) + "\n"


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def accuracy_figure(grid: Mapping[str, Sequence[Any]], rows: Sequence[Mapping[str, Any]]) -> Any:
    """Accuracy (%) against the first grid key; one line per combination of the other keys
    (failed points leave a gap)."""
    from matplotlib.figure import Figure

    keys = list(grid)
    first = list(grid[keys[0]])
    xs = first if _numeric(first) else list(range(len(first)))
    series: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        rest = tuple(row["values"][1:])
        line = series.setdefault(rest, [float("nan")] * len(first))
        if row["status"] == "ok":
            line[first.index(row["values"][0])] = 100.0 * row["metrics"]["accuracy"]
    fig = Figure(figsize=(7.0, 4.2), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    for rest, ys in series.items():
        label = ", ".join(f"{k}={option_text(v)}" for k, v in zip(keys[1:], rest, strict=True))
        ax.plot(xs, ys, marker="o", label=label or None)
    if not _numeric(first):
        ax.set_xticks(xs, [option_text(v) for v in first])
    ax.set_xlabel(keys[0])
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    if 1 < len(series) <= MAX_LEGEND:
        ax.legend(fontsize="small", loc="best")
    elif len(series) > MAX_LEGEND:
        ax.set_title(f"{len(series)} lines: one per combination of {', '.join(keys[1:])}",
                     fontsize="small")
    return fig


def write_results(
    folder: Path,
    info: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    rows: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Write the three files (each atomically); returns their names."""
    from compiler.reporting.figures import save_png

    keys = list(grid)
    atomic_write_text(folder / "results.json", results_json(info, keys, rows))
    with atomic_output_file(folder / "accuracy.png") as tmp:
        save_png(accuracy_figure(grid, rows), tmp)
    # last: results.csv present means the sweep finished and wrote everything
    atomic_write_text(folder / "results.csv", results_csv(keys, rows))
    return ["results.csv", "results.json", "accuracy.png"]
