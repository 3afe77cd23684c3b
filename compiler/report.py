"""The resource part of the compile report: what `snnc compile` writes to BUILD/report.json and
prints as a table.

`placement_report(ctx.reports)` gathers what the partition and place passes left in
`PassContext.reports` into the report keys of DESIGN.md: `cores_used`, `cores_lower_bound`,
`chips_used`, `per_core` (each resource's use and limit), `traffic` (`intra_core`, `inter_core`,
`inter_chip`, `host_input`, in estimated spikes per step; inter_chip in spike-hops per step) and
`naive_sequential` (`cores_used`, `traffic`). `format_report` renders it for a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ir.resources import RESOURCES

__all__ = ["format_report", "placement_report"]

_SHORT = {
    "neurons": "neurons",
    "input_axons": "in-axons",
    "output_axons": "out-axons",
    "synapse_memory_bits": "syn-bits",
    "populations": "pops",
}
# Cores listed one per line before the table is summarised (the JSON has them all).
MAX_CORE_ROWS = 16


def placement_report(reports: Mapping[str, Any]) -> dict[str, Any]:
    """The DESIGN.md report keys from the partition and place passes' reports (each pass's
    report is a dict of top-level keys, so a compile report may also just merge them)."""
    out: dict[str, Any] = {}
    for name in ("partition", "place"):
        out.update(reports[name])
    return out


def _cell(use: int, limit: int) -> str:
    pct = f"{100.0 * use / limit:6.1f}%" if limit else "      -"
    return f"{use:>8}/{limit:<8}{pct}"


def format_report(report: Mapping[str, Any], max_rows: int = MAX_CORE_ROWS) -> str:
    """The report as text: summary lines, then per-core use against each limit."""
    lines = []
    cores, bound = report["cores_used"], report["cores_lower_bound"]
    ratio = f" ({cores / bound:.3f}x)" if bound else ""
    part = report.get("partition", {})
    lines.append(
        f"cores       {cores} used, lower bound {bound}{ratio}; "
        f"partition: {part.get('method', '?')}"
    )
    lines.append(
        f"chips       {report['chips_used']} used; "
        f"place: {report.get('place', {}).get('method', '?')}"
    )
    t, naive = report["traffic"], report["naive_sequential"]
    nt = naive["traffic"]
    rel = f" ({t['inter_core'] / nt['inter_core']:.3f}x)" if nt.get("inter_core") else ""
    lines.append(
        f"traffic     intra-core {t['intra_core']:.4g}, inter-core {t['inter_core']:.4g}, "
        f"inter-chip {t['inter_chip']:.4g} hop-weighted, from host {t.get('host_input', 0):.4g} "
        f"(spikes/step; rates: {part.get('rates', '?')})"
    )
    lines.append(
        f"naive split {naive['cores_used']} cores, inter-core {nt['inter_core']:.4g}{rel}, "
        f"inter-chip {nt['inter_chip']:.4g}"
    )
    lines += _split_exact_lines(report.get("split_exact"))
    limits = report.get("limits", {})
    estimates = [r for r in RESOURCES if limits.get(r, {}).get("estimate")]
    if estimates:
        lines.append(
            "estimated   limits that are estimates: "
            + ", ".join(limits[r]["key"] for r in estimates)
        )
    per_core = report["per_core"]
    header = (
        f"{'core':>5} {'chip':>4} " + " ".join(f"{_SHORT[r]:>24}" for r in RESOURCES) + "  holds"
    )
    lines.append("")
    lines.append(header)
    for row in per_core[:max_rows]:
        cells = " ".join(_cell(row[r]["use"], row[r]["limit"]) for r in RESOURCES)
        lines.append(f"{row['core']:>5} {row['chip']:>4} {cells}  {','.join(row['holds'])}")
    if len(per_core) > max_rows:
        lines.append(f"  ... {len(per_core) - max_rows} more cores (all in report.json)")
    if per_core:
        peak = " ".join(
            _cell(max(c[r]["use"] for c in per_core), per_core[0][r]["limit"]) for r in RESOURCES
        )
        lines.append(f"{'max':>5} {'':>4} {peak}")
    return "\n".join(lines) + "\n"


def _split_exact_lines(summary: Mapping[str, Any] | None) -> list[str]:
    """What compile did so that the program means the same cut into blocks
    (`compiler.passes.split_exact`), one line per projection it changed."""
    if summary is None:
        return []
    made = summary.get("projections", [])
    if not made:
        return ["split-exact no projection needed changing (none from a cut population floors)"]
    out = []
    for m in made:
        cut = (
            f"{m['source']} cut into {m['pieces']} blocks"
            if m["pieces"] > 1
            else f"{m['source']} whole after all"
        )
        what = f"{m['projection']} ({cut}): {m['how']}"
        if "rel_error" in m:
            what += f", rel.err {m['rel_error_unconstrained']:.2%} -> {m['rel_error']:.2%}"
        else:
            what += (
                f", weights changed by {m['rel_change']:.2%} "
                f"(weight_exp {m['weight_exp'][0]} -> {m['weight_exp'][1]})"
            )
        out.append(f"split-exact {what}")
    return out
