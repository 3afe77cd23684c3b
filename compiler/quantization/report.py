"""The quantization part of the compile report as text tables (what `snnc compile` prints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compiler.quantization.calibrate import NEURON_DRIFT_BOUND, RATE_DRIFT_BOUND

__all__ = ["format_quantization"]


def _table(header: Sequence[str], rows: list[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return out


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def format_quantization(q: Mapping[str, Any], warnings: bool = True) -> str:
    """Projection and population tables, calibration table when present, then notes (and the
    warnings unless `warnings` is False: `snnc compile` prints those on stderr)."""
    if "skipped" in q:
        lines = [f"quantization: skipped ({q['skipped']})"]
        lines += _calibration_lines(q.get("calibration"))
        return "\n".join(lines) + "\n"
    opts = q.get("options", {})
    lines = [
        f"quantization ({opts.get('granularity')}, {opts.get('weight_bits')}-bit weights, "
        f"clip percentile {opts.get('clip_percentile')}, v range {opts.get('v_range')} thresholds"
        + (", bias correction" if opts.get("bias_correction") else "")
        + ")",
        "",
    ]
    rows = []
    for p in q.get("projections", {}).values():
        for part in p["parts"]:
            rows.append(
                [
                    part["name"],
                    f"{p['src']} -> {p['dst']}",
                    part["type"],
                    part["sign_mode"],
                    str(part["weight_exp"]),
                    f"{part['bits_used']}/{part['num_weight_bits']}",
                    f"{part['scale']:.4g}",
                    str(part["rows"]),
                    _pct(p["clipped_fraction"], 3),
                    _pct(p["rel_error"]),
                    f"{p['max_error_lsb']:.3f}",
                ]
            )
    lines += _table(
        [
            "projection",
            "src -> dst",
            "type",
            "sign",
            "exp",
            "bits",
            "scale",
            "rows",
            "clipped",
            "rel.err",
            "max.err/lsb",
        ],
        rows,
        {4, 5, 6, 7, 8, 9, 10},
    )
    lines.append("")
    rows = []
    for name, p in q.get("populations", {}).items():
        head = p["headroom_bits"]
        rows.append(
            [
                name,
                f"{p['scale']:.6g}",
                str(p.get("vth", p.get("theta_0", "-"))),
                "non-spiking" if p.get("non_spiking") else _pct(p["threshold_rel_error"], 3),
                "yes" if p["thresholds_folded"] else "no",
                _decay(p, "du"),
                _decay(p, "dv"),
                f"{p['bias_max_error']:.2g}",
                "-" if p.get("bias_correction_max") is None else f"{p['bias_correction_max']:.2g}",
                "-" if head is None else f"{head:.1f}",
                p["limited_by"],
            ]
        )
    lines += _table(
        [
            "population",
            "scale",
            "vth",
            "thr.err",
            "folded",
            "du (err/4096)",
            "dv (err/4096)",
            "bias.err/thr",
            "bias.corr/thr",
            "headroom.bits",
            "scale limited by",
        ],
        rows,
        {1, 2, 3, 5, 6, 7, 8, 9},
    )
    # Models other than LIF: their own registers, one line each.
    for name, p in q.get("populations", {}).items():
        regs = p.get("registers")
        if regs:
            shown = ", ".join(f"{k} {_register(v)}" for k, v in regs.items())
            lines.append(f"{name} ({p['model']}): {shown}")
    lines += _calibration_lines(q.get("calibration"))
    for w in q.get("warnings", []) if warnings else []:
        lines.append(f"WARNING: {w}")
    for n in q.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines) + "\n"


def _decay(p: Mapping[str, Any], reg: str) -> str:
    """A decay register and its largest error in 1/4096: `512 (0.31)`, or for per-neuron
    decays the range and the number of values, `200..390/2 (0.49)`; `+0.50` is the part
    `--decay-levels` clustering added."""
    if reg not in p:
        return "-"
    value = p[reg]
    if isinstance(value, dict):
        text = f"{value['min']}..{value['max']}/{value['distinct']}"
    else:
        text = str(value)
    text += f" ({p[f'{reg}_error_units']:.2f})"
    added = p.get(f"{reg}_added_error_units")
    return text + (f" +{added:.2f}" if added else "")


def _register(value: Any) -> str:
    return (
        f"{value['min']}..{value['max']}/{value['distinct']}"
        if isinstance(value, dict)
        else str(value)
    )


def _calibration_lines(cal: Mapping[str, Any] | None) -> list[str]:
    if not cal:
        return []
    source = (
        f"{cal.get('input')} (your spikes)"
        if "input" in cal
        else f"{cal.get('dataset')} {cal.get('split')}"
    )
    seed = "" if "input" in cal else f", input seed {cal.get('seed')}"
    lines = [
        "",
        f"calibration: {source}, {cal.get('samples')} samples, T = {cal.get('steps')}{seed} "
        "(rates in spikes/neuron/step)",
    ]
    rows = []
    for name, p in cal["populations"].items():
        rows.append(
            [
                name,
                f"{p['rate_float']:.4f}" if "rate_float" in p else "-",
                f"{p['rate_fixed']:.4f}",
                f"{p['rate_abs_diff']:.4f}" if "rate_abs_diff" in p else "-",
                _pct(p.get("rate_rel_diff")),
                _signed_pct(p.get("rate_drift")),
                _pct(p["v_floor_fraction"]),
                p["status"].upper() if p["status"] != "ok" else "ok",
            ]
        )
    lines += _table(
        ["population", "float rate", "fixed rate", "|diff|", "rel.diff", "drift", "v at floor",
         "status"],
        rows,
        {1, 2, 3, 4, 5, 6},
    )
    lines.append(
        f"drift: total fixed rate vs float; DRIFT beyond +-{RATE_DRIFT_BOUND:.0%}, or rel.diff "
        f"beyond {NEURON_DRIFT_BOUND:.0%} (compiler/quantization/calibrate.py)"
    )
    return lines


def _signed_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"
