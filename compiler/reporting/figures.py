"""The figures of `snnc report`, drawn with matplotlib's object API (no pyplot, no global
state, the Agg renderer) and saved as PNGs with deterministic bytes.

Each `*_figure` function is a pure function of report data returning a `Figure`; `save_png`
writes one. matplotlib is imported inside the functions (a heavy, optional dependency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compiler.reporting.data import AccuracyCurve, Activity, CostPoint, TrafficBreakdown
from ir.resources import RESOURCES, resource_label

__all__ = [
    "MAX_HEATMAP_CELLS",
    "MAX_RASTER_ROWS",
    "RASTER_PANELS_PER_FIGURE",
    "accuracy_figure",
    "cost_comparison_figure",
    "cost_figure",
    "occupancy_figure",
    "quantization_figure",
    "raster_figures",
    "save_png",
    "traffic_figure",
]

# Above this many cores per axis the core-to-core heatmap is aggregated (per chip, or into
# equal ranges of cores): a cell per core would be thinner than a pixel.
MAX_HEATMAP_CELLS = 64
# Rows of a raster panel: larger populations show every k-th neuron.
MAX_RASTER_ROWS = 256
RASTER_PANELS_PER_FIGURE = 6
# Bars of the quantization figure carry their numbers up to this many projections.
MAX_ANNOTATED_BARS = 12
# Up to this many cores, occupancy is one chart with a labelled bar per (resource, core).
FEW_CORES = 4
DPI = 110
_CHIP_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save_png(fig: Any, path: str | Path) -> None:
    """Write `fig` as PNG. No 'Software' text chunk and no timestamp, so the same figure gives
    the same bytes."""
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})


def _percent_axis(ax: Any, top: float) -> None:
    ax.set_ylim(0, max(105.0, top * 1.12))
    ax.axhline(100.0, color="#c44e52", linestyle="--", linewidth=1)
    ax.set_ylabel("% of limit")
    ax.grid(axis="y", alpha=0.3)


def _occupancy_title(report: Mapping[str, Any]) -> str:
    cores, chips = report["cores_used"], report["chips_used"]
    return (
        f"Core occupancy on {report.get('target', '?')}: {cores} core{'s' * (cores != 1)} used "
        f"(lower bound {report.get('cores_lower_bound')}), {chips} chip{'s' * (chips != 1)}"
    )


def _limit_text(res: str, limit: int, limits: Mapping[str, Any]) -> str:
    info = limits.get(res, {})
    tag = f" ({info['key']}{', estimate' if info.get('estimate') else ''})" if info else ""
    return f"{resource_label(res)}: limit {limit:,} per core{tag}"


def occupancy_figure(report: Mapping[str, Any]) -> Any:
    """Each core's use of each resource as a percentage of the core limit: grouped bars per
    resource for a few cores, one panel per resource (bars coloured by chip) for more."""
    if len(report["per_core"]) <= FEW_CORES:
        return _occupancy_few(report)
    return _occupancy_many(report)


def _occupancy_few(report: Mapping[str, Any]) -> Any:
    per_core = report["per_core"]
    limits = report.get("limits", {})
    n = len(per_core)
    fig = _figure(10.0, 1.2 + len(RESOURCES) * (0.35 + 0.3 * n))
    ax = fig.subplots()
    fig.suptitle(_occupancy_title(report), fontsize=12)
    height = 0.8 / max(n, 1)
    ylabels = []
    for i, res in enumerate(RESOURCES):
        limit = per_core[0][res]["limit"]
        ylabels.append(_limit_text(res, limit, limits).replace(": ", "\n", 1))
        for j, c in enumerate(per_core):
            use = c[res]["use"]
            pct = 100.0 * use / limit if limit else 0.0
            y = i + (j - (n - 1) / 2) * height
            colour = _CHIP_COLOURS[int(c["chip"]) % len(_CHIP_COLOURS)]
            ax.barh(y, pct, height=height * 0.9, color=colour)
            core = f"core {c['core']}: " if n > 1 else ""
            ax.annotate(
                f"{core}{use:,} of {limit:,} ({pct:.1f}%)", (pct, y), xytext=(3, 0),
                textcoords="offset points", va="center", fontsize=8,
            )
    ax.set_yticks(np.arange(len(RESOURCES)), ylabels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 130)
    ax.axvline(100.0, color="#c44e52", linestyle="--", linewidth=1)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("% of the per-core limit (dashed line: the limit)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _occupancy_many(report: Mapping[str, Any]) -> Any:
    per_core = report["per_core"]
    limits = report.get("limits", {})
    n = len(per_core)
    cores = np.array([c["core"] for c in per_core])
    chips = np.array([c["chip"] for c in per_core])
    n_chips = int(np.unique(chips).size)
    colours = None
    chip_edges: np.ndarray = np.zeros(0)
    if n_chips > 1 and n <= MAX_HEATMAP_CELLS:
        colours = [_CHIP_COLOURS[int(c) % len(_CHIP_COLOURS)] for c in chips]
    elif 1 < n_chips <= MAX_HEATMAP_CELLS:
        chip_edges = cores[1:][np.diff(chips) != 0] - 0.5
    fig = _figure(max(8.0, min(14.0, 6.0 + 0.2 * n)), 1.9 * len(RESOURCES) + 0.8)
    axes = fig.subplots(len(RESOURCES), 1, sharex=True)
    fig.suptitle(_occupancy_title(report), fontsize=12)
    for ax, res in zip(axes, RESOURCES, strict=True):
        use = np.array([c[res]["use"] for c in per_core], dtype=np.float64)
        limit = per_core[0][res]["limit"]
        pct = 100.0 * use / limit if limit else np.zeros_like(use)
        if n <= MAX_HEATMAP_CELLS:
            ax.bar(cores, pct, width=0.8, color=colours or "#4c72b0", linewidth=0)
        else:  # one filled outline: a Rectangle per core would be slow and sub-pixel
            ax.stairs(pct, np.append(cores, cores[-1] + 1) - 0.5, fill=True, color="#4c72b0")
            for edge in chip_edges:
                ax.axvline(edge, color="#888888", linewidth=0.4, alpha=0.6)
        _percent_axis(ax, float(pct.max(initial=0.0)))
        ax.set_title(
            f"{_limit_text(res, limit, limits)}; peak {pct.max(initial=0.0):.1f}%, "
            f"mean {pct.mean():.1f}%",
            fontsize=9, loc="left",
        )
    axes[-1].set_xlabel(
        "core"
        + (" (colour: chip)" if colours is not None else "")
        + (" (grey lines: chip boundaries)" if chip_edges.size else "")
    )
    if n <= 32:
        axes[-1].set_xticks(cores)
    axes[-1].set_xlim(cores.min() - 0.7, cores.max() + 0.7)
    if colours is not None and n_chips <= 12:
        from matplotlib.patches import Patch

        handles = [
            Patch(color=_CHIP_COLOURS[int(c) % len(_CHIP_COLOURS)], label=f"chip {int(c)}")
            for c in np.unique(chips)
        ]
        axes[0].legend(handles=handles, fontsize=7, ncols=min(6, len(handles)), loc="upper right")
    return fig


def _traffic_groups(t: TrafficBreakdown) -> tuple[np.ndarray, list[str], str]:
    """Map every core to a heatmap row/column: cores themselves when few, else chips (when
    there are at most MAX_HEATMAP_CELLS), else equal ranges of cores."""
    n = t.n_cores
    if n <= MAX_HEATMAP_CELLS:
        return np.arange(n), [str(c) for c in range(n)], "core"
    chips = np.unique(t.core_chip)
    if 1 < chips.size <= MAX_HEATMAP_CELLS:
        index = np.searchsorted(chips, t.core_chip)
        return index, [str(int(c)) for c in chips], "chip"
    size = -(-n // MAX_HEATMAP_CELLS)
    index = np.arange(n) // size
    labels = [f"{lo}-{min(n, lo + size) - 1}" for lo in range(0, n, size)]
    return index, labels, f"cores, in groups of {size}"


def traffic_figure(t: TrafficBreakdown) -> Any:
    """Left: spikes per step leaving each population, within a core vs to other cores (from
    the host for inputs). Right: core-to-core spikes per step as a heatmap."""
    from matplotlib.colors import LogNorm

    if t.n_cores < 2:
        fig = _figure(8.0, 1.6 + 0.45 * len(t.per_source))
        left, right = fig.subplots(), None
    else:
        fig = _figure(13.0, max(5.2, 1.6 + 0.45 * len(t.per_source)))
        left, right = fig.subplots(1, 2, width_ratios=(1.0, 1.1))
    pops = list(t.per_source)
    y = np.arange(len(pops))
    intra = np.array([t.per_source[p]["intra_core"] for p in pops])
    inter = np.array([t.per_source[p]["inter_core"] for p in pops])
    host = np.array([t.per_source[p]["host_input"] for p in pops])
    left.barh(y, host, color="#8c8c8c", label="host -> core (inputs)")
    left.barh(y, intra, left=host, color="#4c72b0", label="within a core")
    left.barh(y, inter, left=host + intra, color="#dd8452", label="to another core")
    left.set_yticks(y, pops)
    left.invert_yaxis()
    left.set_xlabel("estimated spikes per step (routes x source rate)")
    left.set_ylabel("source population")
    left.set_title("Traffic by source population", fontsize=11, loc="left")
    left.legend(fontsize=8, loc="lower right")
    left.grid(axis="x", alpha=0.3)
    totals = t.totals
    fig.suptitle(
        f"Spike traffic: within cores {totals.get('intra_core', 0):.4g}, between cores "
        f"{totals.get('inter_core', 0):.4g}, between chips {totals.get('inter_chip', 0):.4g} "
        f"(hop-weighted), from host {totals.get('host_input', 0):.4g} spikes/step\n"
        f"rates: {t.rates}",
        fontsize=10,
    )
    if right is None:
        left.set_title("Traffic by source population (one core: no traffic between cores)",
                       fontsize=11, loc="left")
        return fig
    src, dst, w = t.pairs
    index, labels, unit = _traffic_groups(t)
    k = len(labels)
    matrix = np.zeros((k, k))
    np.add.at(matrix, (index[src], index[dst]), w)
    shown = np.ma.masked_less_equal(matrix, 0.0)
    if shown.count():
        image = right.imshow(
            shown, cmap="viridis", norm=LogNorm(vmin=shown.min(), vmax=shown.max()),
            interpolation="nearest", origin="upper",
        )
        fig.colorbar(image, ax=right, label="spikes per step")
    else:
        right.imshow(np.zeros((k, k)), cmap="Greys", vmin=0, vmax=1)
    step = max(1, k // 16)
    ticks = np.arange(0, k, step)
    right.set_xticks(ticks, [labels[i] for i in ticks], rotation=90 if unit != "core" else 0)
    right.set_yticks(ticks, [labels[i] for i in ticks])
    right.set_xlabel(f"destination ({unit})")
    right.set_ylabel(f"source ({unit})")
    right.set_title(f"Between cores, by {unit} (blank: none)", fontsize=11, loc="left")
    return fig


def _raster_panel(ax: Any, name: str, spikes: np.ndarray, note: str, ylabel: str) -> None:
    """One population's spikes of one sample, (T, n), as a black-on-white image."""
    steps, n = spikes.shape
    every = max(1, -(-n // MAX_RASTER_ROWS))
    shown = (spikes[:, ::every] != 0).T
    ax.imshow(
        shown, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1,
        extent=(-0.5, steps - 0.5, n - 0.5, -0.5),
    )
    count = int((spikes != 0).sum())
    rate = count / spikes.size if spikes.size else 0.0
    rows = f"{n} neurons" + (f", every {every}th shown" if every > 1 else "")
    ax.set_title(
        f"{name} ({rows}): {count} spikes, {rate:.3f} per neuron per step{note}",
        fontsize=9, loc="left",
    )
    ax.set_ylabel(ylabel)


def raster_figures(
    activity: Activity,
    order: Sequence[str],
    inputs: Sequence[str] = (),
    readout: str | None = None,
    sample: int = 0,
) -> list[Any]:
    """Spike rasters of one sample, one panel per population in `order`, at most
    RASTER_PANELS_PER_FIGURE panels per figure. `inputs` are marked as such; the readout
    population's rows are the classes, and the true label's row is marked."""
    figures = []
    label = None if activity.labels is None else int(activity.labels[sample])
    pred = None if activity.predictions is None else int(activity.predictions[sample])
    head = f"sample {sample} of {activity.source}"
    if label is not None:
        head += f": label {label}" + (f", predicted {pred}" if pred is not None else "")
    chunks = [
        order[i : i + RASTER_PANELS_PER_FIGURE]
        for i in range(0, len(order), RASTER_PANELS_PER_FIGURE)
    ]
    for part, names in enumerate(chunks, 1):
        rows = [min(activity.spikes[p].shape[2], MAX_RASTER_ROWS) for p in names]
        heights = [max(1.0 if p != readout else 1.7, 2.6 * r / MAX_RASTER_ROWS + 0.6)
                   for p, r in zip(names, rows, strict=True)]
        fig = _figure(10.0, sum(heights) + 1.0)
        axes = fig.subplots(len(names), 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0]
        more = f" (part {part} of {len(chunks)})" if len(chunks) > 1 else ""
        fig.suptitle(f"Spike rasters, {activity.backend} backend{more}\n{head}", fontsize=11)
        for ax, name in zip(axes, names, strict=True):
            spikes = activity.spikes[name][sample]
            note = " (input, from the host)" if name in inputs else ""
            classes = name == readout and spikes.shape[1] <= 32
            if classes and label is not None:
                note += "; shaded row: the true label"
            _raster_panel(ax, name, spikes, note, "class" if classes else "neuron")
            if classes:
                ax.set_yticks(np.arange(spikes.shape[1]))
                ax.tick_params(axis="y", labelsize=7)
                if label is not None and label < spikes.shape[1]:
                    ax.get_yticklabels()[label].set_color("#c44e52")
                    ax.get_yticklabels()[label].set_fontweight("bold")
                    ax.axhspan(label - 0.5, label + 0.5, color="#c44e52", alpha=0.15)
        axes[-1].set_xlabel("time step")
        figures.append(fig)
    return figures


def _name_ticks(ax: Any, x: np.ndarray, names: Sequence[str]) -> None:
    slanted = len(names) > 4
    ax.set_xticks(x, names, rotation=30 if slanted else 0, ha="right" if slanted else "center")


def quantization_figure(quant: Mapping[str, Any]) -> Any | None:
    """Per projection: relative weight error and the largest error in LSBs; per population,
    when the compile was calibrated: float vs fixed-point firing rates. None when the report
    has no quantization (an already fixed-point model)."""
    projections = quant.get("projections") or {}
    if not projections:
        return None
    calibration = (quant.get("calibration") or {}).get("populations") or {}
    n_panels = 3 if calibration else 2
    names = list(projections)
    fig = _figure(max(9.0, min(18.0, 3.0 + 0.9 * len(names) * n_panels)), 4.8)
    axes = fig.subplots(1, n_panels)
    opts = quant.get("options", {})
    fig.suptitle(
        f"Quantization error per layer ({opts.get('weight_bits', '?')}-bit weights, "
        f"{opts.get('granularity', '?')})",
        fontsize=12,
    )
    x = np.arange(len(names))
    rel = np.array([100.0 * projections[n]["rel_error"] for n in names])
    ax = axes[0]
    ax.bar(x, rel, color="#4c72b0")
    for i, name in enumerate(names if len(names) <= MAX_ANNOTATED_BARS else ()):
        p = projections[name]
        clipped = p.get("clipped_fraction", 0.0)
        bits = "/".join(sorted({str(part["bits_used"]) for part in p.get("parts", [])}))
        text = f"{rel[i]:.2f}%\n{bits} bits used"
        if clipped:
            text += f"\nclipped {100 * clipped:.2g}%"
        ax.annotate(text, (i, rel[i]), xytext=(0, 2), textcoords="offset points",
                    ha="center", va="bottom", fontsize=7)
    _name_ticks(ax, x, names)
    ax.set_ylim(0, max(rel.max(initial=0.0) * 1.35, 0.1))
    ax.set_ylabel("||w_q - w|| / ||w||  (%)")
    ax.set_title("weights: relative error", fontsize=10, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax = axes[1]
    lsb = np.array([projections[n]["max_error_lsb"] for n in names])
    ax.bar(x, lsb, color="#55a868")
    ax.axhline(0.5, color="#c44e52", linestyle="--", linewidth=1, label="rounding bound (0.5)")
    _name_ticks(ax, x, names)
    ax.set_ylim(0, max(0.6, lsb.max(initial=0.0) * 1.15))
    ax.set_ylabel("largest |w_q - w| in weight LSBs")
    ax.set_title("weights: largest error", fontsize=10, loc="left")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    if calibration:
        ax = axes[2]
        pops = list(calibration)
        xp = np.arange(len(pops))
        fl = np.array([calibration[p]["rate_float"] for p in pops])
        fx = np.array([calibration[p]["rate_fixed"] for p in pops])
        ax.bar(xp - 0.2, fl, width=0.4, color="#8c8c8c", label="float model")
        ax.bar(xp + 0.2, fx, width=0.4, color="#4c72b0", label="fixed-point program")
        for i, p in enumerate(pops):
            c = calibration[p]
            rel = c["rate_rel_diff"]  # None: the float model is silent where the program fires
            ax.annotate(
                f"{'n/a' if rel is None else f'{100 * rel:.2f}%'}\n{c['status']}",
                (i, max(fl[i], fx[i])),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax.set_xticks(xp, pops)
        ax.set_ylim(0, max(fl.max(initial=0.0), fx.max(initial=0.0)) * 1.35 or 1.0)
        ax.set_ylabel("spikes per neuron per step")
        cal = quant["calibration"]
        ax.set_title(
            f"firing rates ({cal.get('dataset')} {cal.get('split')}, {cal.get('samples')} samples)",
            fontsize=10, loc="left",
        )
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(axis="y", alpha=0.3)
    return fig


def accuracy_figure(curves: Sequence[AccuracyCurve], model_steps: int | None) -> Any:
    """Accuracy after t steps for each curve, the model's own T marked; the right panel zooms
    in on the plateau (from a quarter of the range on), where float and deployed differ."""
    fig = _figure(12.0, 4.8)
    full, zoom = fig.subplots(1, 2)
    styles = ("-", "--", ":", "-.")
    t_max = max(max(c.steps) for c in curves)
    t_from = max(1, t_max // 4)
    tail = [a for c in curves for t, a in zip(c.steps, c.accuracy, strict=True) if t >= t_from]
    low = 100.0 * min(tail, default=0.0)
    for i, c in enumerate(curves):
        at = c.at(model_steps) if model_steps is not None else None
        label = c.label + (f": {100 * at:.2f}% at T = {model_steps}" if at is not None else "")
        marker = "o" if len(c.steps) <= 16 else None
        for ax in (full, zoom):
            ax.plot(c.steps, 100.0 * np.asarray(c.accuracy), styles[i % len(styles)],
                    marker=marker, markersize=4, linewidth=1.6, label=label)
    for ax in (full, zoom):
        if model_steps is not None:
            ax.axvline(model_steps, color="#8c8c8c", linestyle=":", linewidth=1)
        ax.set_xlabel("time steps per sample")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    full.set_ylim(0, 100)
    full.set_xlim(0, t_max + 1)
    full.legend(fontsize=9, loc="lower right")
    zoom.set_xlim(t_from, t_max + 1)
    zoom.set_ylim(max(0.0, low - 1.0), min(100.0, 100.0 * max(tail, default=1.0) + 1.0))
    zoom.set_title(f"zoom: T >= {t_from} (dotted line: the model's T)", fontsize=10, loc="left")
    first = curves[0]
    full.set_title("all T", fontsize=10, loc="left")
    fig.suptitle(
        f"Accuracy vs time steps: {first.dataset} {first.split}, {first.samples} samples, "
        f"input seed {first.seed} (same input spikes for every curve)",
        fontsize=11,
    )
    return fig


def _cost_axis(points: Sequence[CostPoint], what: str) -> tuple[np.ndarray, str]:
    """Per point: energy (uJ) or time (us) per inference from the estimate, or, without a cost
    model, synaptic ops or spikes per inference."""
    if all(p.cost["estimate"]["available"] for p in points):
        if what == "energy":
            return np.array([1e6 * p.cost["estimate"]["energy_per_inference_j"]["total"]
                             for p in points]), "estimated energy per inference (uJ)"
        return np.array([1e6 * p.cost["estimate"]["time_per_inference_s"]["total"]
                         for p in points]), "estimated time per inference (us)"
    key = "synaptic_ops" if what == "energy" else "spikes"
    return np.array([p.cost["per_inference"][key] for p in points]), \
        f"{key.replace('_', ' ')} per inference (no cost model)"


_STYLES = ("-", "--", ":", "-.")


def _cost_panel(ax: Any, series: Mapping[str, Sequence[CostPoint]], what: str,
                colours: Sequence[str], styles: Sequence[str]) -> None:
    """Accuracy against `what` ("energy" or "time") per inference, one line per series and a
    labelled marker per T; without accuracies, `what` against T."""
    labelled = all(p.accuracy is not None for pts in series.values() for p in pts)
    for i, (name, points) in enumerate(series.items()):
        points = sorted(points, key=lambda p: p.steps)
        x, xlabel = _cost_axis(points, what)
        t = np.array([p.steps for p in points])
        colour, style = colours[i % len(colours)], styles[i % len(styles)]
        if labelled:
            acc = np.array([100.0 * p.accuracy for p in points])  # type: ignore[operator]
            ax.plot(x, acc, style, marker="o", color=colour, markersize=5, linewidth=1.5,
                    label=name)
            for xi, yi, ti in zip(x, acc, t, strict=True):
                ax.annotate(f"T={ti}", (xi, yi), textcoords="offset points", xytext=(4, -11),
                            fontsize=8, color=colour)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("accuracy (%)")
        else:
            ax.plot(t, x, style, marker="o", color=colour, markersize=5, linewidth=1.5, label=name)
            ax.set_xlabel("time steps per sample")
            ax.set_ylabel(xlabel)
    if labelled:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right" if labelled else "upper left")


def cost_figure(series: Mapping[str, Sequence[CostPoint]], title: str) -> Any:
    """Accuracy against energy (left) and against time (right) per inference, one marker per
    T (labelled), one line per series; without accuracies, energy and time against T."""
    fig = _figure(12.0, 4.8)
    for ax, what in zip(fig.subplots(1, 2), ("energy", "time"), strict=True):
        _cost_panel(ax, series, what, _CHIP_COLOURS, ("-",))
    fig.suptitle(title, fontsize=11)
    return fig


def cost_comparison_figure(groups: Mapping[str, Mapping[str, Sequence[CostPoint]]],
                           title: str) -> Any:
    """One panel per group (a network): accuracy against estimated energy per inference, one
    line per series (e.g. a target and weight width), a labelled marker per T."""
    fig = _figure(6.0 * len(groups), 4.8)
    axes = np.atleast_1d(fig.subplots(1, len(groups)))
    for ax, (name, series) in zip(axes, groups.items(), strict=True):
        _cost_panel(ax, series, "energy", _CHIP_COLOURS, _STYLES)
        ax.set_title(name, fontsize=10, loc="left")
    fig.suptitle(title, fontsize=11)
    return fig
