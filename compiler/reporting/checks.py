"""What `snnc report` reads from a BUILD's report.json, checked before any figure is drawn.

report.json is a file on disk like any other input: a hand edit, a damaged copy or a file from
elsewhere must fail with one line naming the field, not inside matplotlib. This checks the
fields the figures and the summary table use (`compiler.reporting.figures`, `.write`), as
`compiler.report` writes them; fields they do not read are left alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ir.errors import ModelFormatError
from ir.resources import RESOURCES

__all__ = ["check_compile_report"]


class _Checker:
    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, where: str, expected: str, value: Any) -> ModelFormatError:
        shown = repr(value)
        return ModelFormatError(
            self.label,
            where,
            f"expected {expected}, got {shown[:60]}{'...' if len(shown) > 60 else ''}",
        )

    def obj(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, "an object", value)
        return value

    def seq(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "a list", value)
        return value

    def number(self, value: Any, where: str, *, integer: bool = False) -> float:
        kinds = (int,) if integer else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or not math.isfinite(value)
            or value < 0
        ):
            raise self.fail(
                where, "a non-negative integer" if integer else "a finite number >= 0", value
            )
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "a string", value)
        return value


def check_compile_report(report: Mapping[str, Any], label: str) -> None:
    """ModelFormatError(label, field) for the first field of `report` the report figures cannot
    use."""
    c = _Checker(label)
    if "target" in report:
        c.text(report["target"], "target")
    if "cores_used" in report or report.get("per_core"):
        for key in ("cores_used", "cores_lower_bound", "chips_used"):
            c.number(report.get(key), key, integer=True)
        traffic = c.obj(report.get("traffic"), "traffic")
        for key in ("intra_core", "inter_core", "inter_chip"):
            c.number(traffic.get(key), f"traffic.{key}")
    for i, core in enumerate(c.seq(report.get("per_core", []), "per_core")):
        where = f"per_core[{i}]"
        core = c.obj(core, where)
        for key in ("core", "chip"):
            c.number(core.get(key), f"{where}.{key}", integer=True)
        for res in RESOURCES:
            use = c.obj(core.get(res), f"{where}.{res}")
            for key in ("use", "limit"):
                c.number(use.get(key), f"{where}.{res}.{key}")
    for res, info in c.obj(report.get("limits", {}), "limits").items():
        info = c.obj(info, f"limits.{res}")
        c.text(info.get("key"), f"limits.{res}.key")
    quant = c.obj(report.get("quantization") or {}, "quantization")
    c.obj(quant.get("options", {}), "quantization.options")
    for name, proj in c.obj(quant.get("projections") or {}, "quantization.projections").items():
        where = f"quantization.projections.{name}"
        proj = c.obj(proj, where)
        for key in ("rel_error", "max_error_lsb"):
            c.number(proj.get(key), f"{where}.{key}")
        if "clipped_fraction" in proj:
            c.number(proj["clipped_fraction"], f"{where}.clipped_fraction")
        for j, part in enumerate(c.seq(proj.get("parts", []), f"{where}.parts")):
            c.number(
                c.obj(part, f"{where}.parts[{j}]").get("bits_used"),
                f"{where}.parts[{j}].bits_used",
                integer=True,
            )
    calibration = c.obj(quant.get("calibration") or {}, "quantization.calibration")
    for name, pop in c.obj(
        calibration.get("populations") or {}, "quantization.calibration.populations"
    ).items():
        where = f"quantization.calibration.populations.{name}"
        pop = c.obj(pop, where)
        for key in ("rate_float", "rate_fixed"):
            c.number(pop.get(key), f"{where}.{key}")
        if pop.get("rate_rel_diff") is not None:  # None: the float model is silent there
            c.number(pop["rate_rel_diff"], f"{where}.rate_rel_diff")
        c.text(pop.get("status"), f"{where}.status")
    for i, warning in enumerate(c.seq(quant.get("warnings", []), "quantization.warnings")):
        c.text(warning, f"quantization.warnings[{i}]")
