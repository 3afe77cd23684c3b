"""Write a report folder: the figures as PNGs, `summary.json`, and `index.html` linking them.

The folder is written atomically (a temporary folder renamed into place), so it appears whole
or not at all; the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compiler.reporting.data import (
    AccuracyCurve,
    Activity,
    CostPoint,
    measured_rates,
    traffic_breakdown,
)
from compiler.reporting.index import Entry, Table, render_index
from ir.atomic import atomic_output_dir
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input

__all__ = ["INDEX", "SUMMARY", "ReportInputs", "is_report", "write_report"]

INDEX = "index.html"
SUMMARY = "summary.json"
SUMMARY_VERSION = 1


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything a report shows. `activity` (a run of a few samples) gives the rasters and the
    measured rates for the traffic figure; without it, traffic uses fan-out counts. `curves`
    give the accuracy figure. `costs` (one per T) give the cost table, and with two or more T
    the cost-vs-accuracy figure; without them the cost table comes from `activity`. `extra`
    rows go into the summary table (e.g. a HIL verdict); `notes` are listed at the end."""

    label: str
    program: Graph
    hw: HardwareSpec
    report: Mapping[str, Any]
    activity: Activity | None = None
    curves: Sequence[AccuracyCurve] = ()
    costs: Sequence[CostPoint] = ()
    cost_source: str = ""
    """Where the samples of `costs` come from, in words (e.g. "digits test, input seed 0")."""
    extra: Sequence[tuple[str, str]] = ()
    notes: Sequence[str] = field(default_factory=tuple)


def program_label(inp: ReportInputs) -> str:
    return f"{Path(inp.label).name or inp.label} on {inp.hw.name}"


def is_report(path: str | os.PathLike) -> bool:
    """A folder written by `write_report` (which `snnc report` may replace)."""
    p = Path(path)
    return (p / INDEX).is_file() and (p / SUMMARY).is_file()


def _model_steps(program: Graph) -> int | None:
    enc = program.metadata.get("encoding")
    steps = enc.get("steps") if isinstance(enc, Mapping) else None
    return steps if isinstance(steps, int) and not isinstance(steps, bool) else None


def _activity_cost(inp: ReportInputs) -> list[CostPoint]:
    """The cost of the activity run (the rasters' samples), when there is one."""
    from compiler.cost import count_spikes, summarize

    act = inp.activity
    if act is None or inp.program.placement is None:
        return []
    accuracy = None
    if act.labels is not None and act.predictions is not None and act.batch:
        accuracy = float(np.mean(np.asarray(act.predictions) == np.asarray(act.labels)))
    counts = count_spikes(inp.program, inp.hw, act.spikes)
    return [CostPoint(act.steps, accuracy, act.batch, summarize(inp.program, inp.hw, counts))]


def _fmt(value: float, scale: float = 1.0) -> str:
    return f"{value * scale:.4g}"


def _cost_table(points: Sequence[CostPoint], source: str) -> Table:
    rows = []
    for p in points:
        c, est = p.cost["per_inference"], p.cost["estimate"]
        m = c["messages"]
        row = [str(p.steps), str(p.samples),
               "-" if p.accuracy is None else f"{100 * p.accuracy:.2f}%",
               _fmt(c["spikes"]), _fmt(c["synaptic_ops"]), _fmt(c["neuron_updates"]),
               _fmt(m["intra_core"]), _fmt(m["inter_core"]), _fmt(m["inter_chip"])]
        if est["available"]:
            row += [_fmt(est["energy_per_inference_j"]["total"], 1e6),
                    _fmt(est["time_per_inference_s"]["total"], 1e6),
                    _fmt(est["time_per_step_s"]["mean"], 1e6)]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
    header = ["T", "samples", "accuracy", "spikes", "synaptic ops", "neuron updates",
              "msgs in core", "msgs between cores", "of them between chips", "energy (uJ)",
              "time (us)", "per step (us)"]
    est = points[0].cost["estimate"]
    n_est = len(est["estimated_keys"]) if est["available"] else 0
    note = (f"energy and time: estimates from the target's cost model ({n_est} of its numbers "
            "are estimates themselves; snnc hw show lists every source)"
            if est["available"] else f"no energy or time: {est['reason']}")
    return Table("Cost per inference", header, rows,
                 f"Counted on {source} (cpu backend, exact); {note}. Definitions: "
                 "docs/cost.md, 'What a deployment costs'.")


def _summary_rows(inp: ReportInputs, model_steps: int | None) -> list[tuple[str, str]]:
    r = inp.report
    program = inp.program
    placed = [n for n, p in program.populations.items() if not isinstance(p, Input)]
    neurons = sum(program.populations[n].size for n in placed)
    rows = [
        ("program", f"{inp.label}: {len(placed)} populations, {neurons:,} neurons, "
                    f"{len(program.projections)} projections"),
        ("target", f"{inp.hw.name} ({inp.hw.description})"),
    ]
    if "cores_used" in r:
        rows.append(
            ("cores", f"{r['cores_used']} used, lower bound {r['cores_lower_bound']}; "
                      f"{r['chips_used']} chip{'s' * (r['chips_used'] != 1)}")
        )
        t = r["traffic"]
        rows.append(
            ("traffic (compile estimate)",
             f"within cores {t['intra_core']:.4g}, between cores {t['inter_core']:.4g}, "
             f"between chips {t['inter_chip']:.4g} (hop-weighted) spikes/step")
        )
    for c in inp.curves:
        t = model_steps if model_steps in c.steps else c.steps[-1]
        rows.append(
            (f"accuracy, {c.label}",
             f"{100 * c.at(t):.2f}% at T = {t} ({c.dataset} {c.split}, {c.samples} samples)")
        )
    rows += list(inp.extra)
    return rows


def _cost_row(points: Sequence[CostPoint], model_steps: int | None) -> tuple[str, str] | None:
    if not points:
        return None
    p = next((q for q in points if q.steps == model_steps), points[-1])
    est, c = p.cost["estimate"], p.cost["per_inference"]
    counts = f"{c['spikes']:.4g} spikes, {c['synaptic_ops']:.4g} synaptic ops"
    if not est["available"]:
        return (f"cost per inference, T = {p.steps}", f"{counts}; no cost model")
    e, t = est["energy_per_inference_j"]["total"], est["time_per_inference_s"]["total"]
    return (f"cost per inference, T = {p.steps} (estimate)",
            f"{1e6 * e:.4g} uJ, {1e6 * t:.4g} us ({counts}; {p.cost['target']})")


def write_report(path: str | os.PathLike, inp: ReportInputs) -> list[str]:
    """Write the report folder at `path` (replacing it atomically); returns the file names."""
    from compiler.reporting import figures as fg

    program, report = inp.program, inp.report
    model_steps = _model_steps(program)
    entries: list[Entry] = []
    notes = list(inp.notes)
    data: dict[str, Any] = {"format_version": SUMMARY_VERSION, "program": inp.label}
    with atomic_output_dir(path) as tmp:

        def save(fig: Any, name: str, title: str, caption: str) -> None:
            fg.save_png(fig, tmp / name)
            entries.append(Entry(name, title, caption))

        if report.get("per_core"):
            save(
                fg.occupancy_figure(report), "occupancy.png", "Core occupancy",
                "Each core's use of every per-core resource, as a percentage of the target's "
                "limit (dashed line: 100%); limits marked 'estimate' are not published.",
            )
        else:
            notes.append("report.json has no per-core resources: no occupancy figure.")
        if program.placement is not None:
            rates = label = None
            if inp.activity is not None:
                rates = measured_rates(inp.activity)
                label = (f"measured on {inp.activity.batch} samples x {inp.activity.steps} steps "
                         f"of {inp.activity.source} ({inp.activity.backend} backend)")
            breakdown = traffic_breakdown(program, inp.hw, rates, label)
            data["traffic"] = {
                "rates": breakdown.rates,
                "totals": {k: round(v, 6) for k, v in breakdown.totals.items()},
                "per_source": {
                    p: {k: round(v, 6) for k, v in t.items()}
                    for p, t in breakdown.per_source.items()
                },
            }
            save(
                fg.traffic_figure(breakdown), "traffic.png", "Inter-core traffic",
                f"Spikes per step leaving each population and between cores; rates: "
                f"{breakdown.rates}.",
            )
        if inp.activity is not None:
            order = [n for n in program.topological_order() if n in inp.activity.spikes]
            readout = program.metadata.get("readout", {})
            # Rows are classes only under a spike-count readout (a VIB readout's neurons are
            # the host decoder's features, not classes).
            readout_pop = (
                readout.get("population")
                if isinstance(readout, Mapping) and readout.get("kind") == "spike_count"
                else None
            )
            figs = fg.raster_figures(inp.activity, order, program.inputs, readout_pop)
            for i, fig in enumerate(figs, 1):
                name = "rasters.png" if len(figs) == 1 else f"rasters-{i}.png"
                part = "" if len(figs) == 1 else f" ({i} of {len(figs)})"
                save(
                    fig, name, f"Spike rasters{part}",
                    f"Spikes of every population for one sample of {inp.activity.source} "
                    f"({inp.activity.backend} backend); each projection adds one step of delay.",
                )
        else:
            notes.append("No activity recorded: pass --dataset D or --input IN.npy for rasters "
                         "and measured traffic.")
        quant = report.get("quantization") or {}
        qfig = fg.quantization_figure(quant)
        if qfig is not None:
            calibrated = bool((quant.get("calibration") or {}).get("populations"))
            save(
                qfig, "quantization.png", "Quantization error per layer",
                "Weight error of each projection (relative, and largest in LSBs)"
                + ("; float vs fixed-point firing rates per population (calibration)."
                   if calibrated else "; compile with --calibrate D to compare firing rates."),
            )
        else:
            notes.append("The model was already fixed-point: no quantization figure.")
        if inp.curves:
            data["accuracy"] = [c.to_json() for c in inp.curves]
            save(
                fg.accuracy_figure(inp.curves, model_steps), "accuracy.png",
                "Accuracy vs time steps",
                "Accuracy after t steps (the same input spikes for every curve; the dotted line "
                "is the model's T).",
            )
        else:
            notes.append("Not evaluated: pass --dataset D for accuracy vs time steps.")
        costs = list(inp.costs) or _activity_cost(inp)
        tables = []
        if costs:
            data["cost"] = [c.to_json() for c in costs]
            act = inp.activity
            source = inp.cost_source if inp.costs or act is None else act.source
            tables.append(_cost_table(costs, f"{costs[0].samples} samples of {source}"))
        if len(costs) >= 2:
            est = costs[0].cost["estimate"]["available"]
            save(
                fg.cost_figure({f"{program_label(inp)}": costs},
                               f"Cost vs accuracy over T ({costs[0].cost['target']}, "
                               f"{costs[0].samples} samples)"),
                "cost.png", "Cost vs accuracy over time steps",
                ("Accuracy against estimated energy and time per inference"
                 if est else
                 "Accuracy against synaptic ops and spikes per inference (no cost model)")
                + ", one point per T, from the same input spikes.",
            )
        summary = _summary_rows(inp, model_steps)
        row = _cost_row(costs, model_steps)
        if row is not None:
            summary.append(row)
        data["summary"] = dict(summary)
        data["figures"] = [e.file for e in entries]
        (tmp / SUMMARY).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
        html = render_index(f"snnc report: {inp.label}", summary, entries, notes, tables)
        (tmp / INDEX).write_text(html, encoding="utf-8")
    return [INDEX, SUMMARY, *(e.file for e in entries)]
