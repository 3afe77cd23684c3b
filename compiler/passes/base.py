"""What every pass shares: the `Pass` protocol and the `PassContext` it runs in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = ["Pass", "PassContext"]


@dataclass
class PassContext:
    """The hardware target, caller options, and where passes leave their reports.

    `reports[pass_name]` is JSON data a pass wants in the compile report (quantization error,
    resource use); `calibration` holds optional data (e.g. measured firing rates) a pass may use.
    """

    hw: HardwareSpec
    calibration: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


class Pass(Protocol):
    """Requires/Ensures are stated in each pass's docstring; the pipeline verifies after `run`."""

    name: ClassVar[str]

    def run(self, graph: Graph, ctx: PassContext) -> Graph: ...
