"""Hardware in the loop: run one program on a reference and a target, compare, localize.

The reference is normally snnc's bit-accurate cpu backend; the target is Lava (its CPU models,
or Loihi through Lava's extension) or a trace recorded elsewhere (`replay`). Every probed
variable (spikes and the model's state variables) of every population is compared at every
step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends import get_backend
from backends.base import Probe, Trace
from backends.hil.compare import Comparison, compare_traces
from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.progress import status
from neurons import variables_of

__all__ = ["HilResult", "all_probes", "check_same_structure", "run_hil"]


@dataclass
class HilResult:
    comparison: Comparison
    reference: Trace
    target: Trace
    reference_backend: str
    target_backend: str

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference_backend,
            "target": self.target_backend,
            "samples": self.reference.batch,
            "steps": self.reference.steps,
            **self.comparison.to_json(),
        }


def all_probes(program: Graph) -> tuple[Probe, ...]:
    """Spikes and every state variable of every neuron population: what localization needs."""
    return tuple(
        Probe(n, variables_of(p)) for n, p in program.populations.items() if n not in program.inputs
    )


def check_same_structure(program: Graph, other: Graph, label: str) -> None:
    """A target's copy of a program must have the same populations and projections."""
    for kind in ("populations", "projections"):
        a, b = getattr(program, kind), getattr(other, kind)
        if list(a) != list(b):
            raise InputError(
                f"{label}: its {kind} differ from the program's ({', '.join(b)} vs {', '.join(a)})"
            )
    for name, pop in program.populations.items():
        if other.populations[name].shape != pop.shape:
            raise InputError(
                f"{label}: population {name!r} has shape {other.populations[name].shape}, the "
                f"program {pop.shape}"
            )


def run_hil(
    program: Graph,
    inputs: np.ndarray,
    *,
    reference: str = "cpu",
    target: str = "lava",
    steps: int | None = None,
    probes: Sequence[Probe] | None = None,
    hw: HardwareSpec | None = None,
    target_program: Graph | None = None,
    target_trace: Trace | None = None,
    target_options: dict[str, Any] | None = None,
) -> HilResult:
    """Run `program` on `reference` and on `target` (or take `target_trace`), and compare.

    `target_program` is the target's copy of the program when it differs (fault injection);
    it must have the same structure.
    """
    probes = tuple(probes) if probes else all_probes(program)
    # The target first: it is what fails when a target cannot run the program (e.g. Lava's
    # process limit), so that costs no reference run.
    if target_trace is None:
        tgt_program = program
        if target_program is not None:
            check_same_structure(program, target_program, "target program")
            tgt_program = target_program
        status(f"hil: running the target ({target})")
        tgt_trace = get_backend(target)(
            tgt_program, inputs, steps=steps, probes=probes, hw=hw, **(target_options or {})
        )
    else:
        tgt_trace = target_trace
    status(f"hil: running the reference ({reference})")
    ref_trace = get_backend(reference)(program, inputs, steps=steps, probes=probes, hw=hw)
    comparison = compare_traces(program, ref_trace, tgt_trace)
    return HilResult(
        comparison,
        ref_trace,
        tgt_trace,
        reference,
        target if target_trace is None else f"replay:{target_trace.backend}",
    )
