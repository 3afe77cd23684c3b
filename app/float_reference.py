"""The deployed program against its float model, on the user's input spikes
(`snnc hil BUILD --reference float --model MODEL`).

The float model runs on the float backend and the compiled program on a target (cpu or lava),
from the same spikes and with the same time-step structure (every projection adds one step), so
their spikes can be compared step by step. Quantization makes them differ; this measures by how
much, per neuron population:

- `spike_agreement`: share of (sample, step, neuron) where both spike or both do not;
- `count_correlation`: Pearson correlation, over the population's neurons, of each neuron's spike
  count (all samples and steps) in float and deployed (None when either is constant);
- `rate_float`, `rate_deployed`: spikes per neuron per step; `rate_drift`: their relative
  difference (rate_deployed - rate_float) / rate_float (None when float is silent);
- `v_rel_error` (when the population's quantization scale S is known and its thresholds were
  not folded into the weights): ||v_deployed / S - v_float|| / ||v_float|| over every sample,
  step and neuron, how far the membrane potentials drift apart (spikes that differ reset v
  differently, so this also grows after the first divergence);
- the first divergence: the earliest (step, sample) where any population's spikes differ,
  populations in topological order (`backends.hil.compare`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = [
    "FloatComparison",
    "PopulationDrift",
    "check_float_model",
    "compare_with_float",
    "format_comparison",
]


@dataclass(frozen=True)
class PopulationDrift:
    population: str
    spike_agreement: float
    count_correlation: float | None
    rate_float: float
    rate_deployed: float
    rate_drift: float | None
    v_rel_error: float | None = None


@dataclass
class FloatComparison:
    target: str
    samples: int
    steps: int
    populations: list[PopulationDrift] = field(default_factory=list)
    first_divergence: Any = None  # backends.hil.compare.Divergence, or None

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": "float",
            "target": self.target,
            "samples": self.samples,
            "steps": self.steps,
            "populations": [asdict(p) for p in self.populations],
            "first_divergence": None
            if self.first_divergence is None
            else asdict(self.first_divergence),
        }


def check_float_model(model: Graph, program: Graph, label: str) -> None:
    """The float model must be the one the program was compiled from: float, with the
    program's populations (names and shapes; compile keeps them)."""
    if model.domain != "float":
        raise InputError(f"{label}: is a compiled (fixed-point) program, not a float model")
    if list(model.populations) != list(program.populations):
        raise InputError(
            f"{label}: its populations ({', '.join(model.populations)}) are not the program's "
            f"({', '.join(program.populations)}); give the model the program was compiled from"
        )
    for name, pop in program.populations.items():
        if model.populations[name].shape != pop.shape:
            raise InputError(
                f"{label}: population {name!r} has shape {model.populations[name].shape}, "
                f"the program's {pop.shape}"
            )


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def compare_with_float(
    model: Graph,
    program: Graph,
    inputs: np.ndarray,
    *,
    target: str = "cpu",
    hw: HardwareSpec | None = None,
    steps: int | None = None,
    target_options: dict[str, Any] | None = None,
    scales: Mapping[str, float] | None = None,
) -> FloatComparison:
    """Run `model` (float) and `program` on `target` from `inputs`; compare their spikes (and v
    of the populations in `scales`: population -> S, as the compile report gives it)."""
    from backends import get_backend
    from backends.base import Probe
    from backends.hil.compare import compare_traces
    from neurons import variables_of

    if target == "float":
        raise InputError("--target float: the target runs the compiled program (cpu or lava)")
    scales = dict(scales or {})
    probes = [
        Probe(n, ("spikes", "v") if n in scales and "v" in variables_of(p) else ("spikes",))
        for n, p in program.populations.items()
        if n not in program.inputs
    ]
    ref = get_backend("float")(model, inputs, steps=steps, probes=probes)
    tgt = get_backend(target)(
        program, inputs, steps=steps, probes=probes, hw=hw, **(target_options or {})
    )
    spikes_only = compare_traces(program, _spikes(ref), _spikes(tgt))
    result = FloatComparison(target, ref.batch, ref.steps, first_divergence=spikes_only.first)
    for p in probes:
        f = ref.get(p.population).astype(np.int64)
        d = tgt.get(p.population).astype(np.int64)
        cells = max(f.shape[0] * f.shape[1], 1)
        rate_f = float(f.sum()) / (cells * max(f.shape[2], 1))
        rate_d = float(d.sum()) / (cells * max(d.shape[2], 1))
        result.populations.append(
            PopulationDrift(
                population=p.population,
                spike_agreement=spikes_only.compared[p.population]["spikes"],
                count_correlation=_correlation(f.sum(axis=(0, 1)), d.sum(axis=(0, 1))),
                rate_float=rate_f,
                rate_deployed=rate_d,
                rate_drift=(rate_d - rate_f) / rate_f if rate_f > 0 else None,
                v_rel_error=_v_error(ref, tgt, p.population, scales.get(p.population)),
            )
        )
    return result


def _spikes(trace):
    """The trace with spikes only (v of float and fixed runs are in different units)."""
    from backends.base import Trace

    data = {pop: {"spikes": vars_["spikes"]} for pop, vars_ in trace.data.items()}
    return Trace(trace.backend, trace.steps, trace.batch, data)


def _v_error(ref, tgt, population: str, scale: float | None) -> float | None:
    if scale is None:
        return None
    v_float = ref.get(population, "v")
    v_fixed = tgt.get(population, "v") / scale
    norm = float(np.sqrt(np.sum(v_float * v_float)))
    return float(np.sqrt(np.sum((v_fixed - v_float) ** 2))) / norm if norm > 0 else None


def format_comparison(result: FloatComparison, model_label: str) -> str:
    """The table `snnc hil --reference float` prints."""

    def cell(x: float | None, fmt: str) -> str:
        return "-" if x is None or math.isnan(x) else format(x, fmt)

    lines = [
        f"hil: reference float ({model_label}) vs target {result.target}: "
        f"{result.samples} samples x {result.steps} steps",
        f"  {'population':16s} {'spikes agree':>12s} {'count corr':>10s} {'rate float':>10s} "
        f"{'rate deployed':>13s} {'drift':>8s} {'v rel.err':>9s}",
    ]
    for p in result.populations:
        drift = "-" if p.rate_drift is None else f"{100 * p.rate_drift:+.2f}%"
        lines.append(
            f"  {p.population:16s} {100 * p.spike_agreement:11.4f}% "
            f"{cell(p.count_correlation, '.4f'):>10s} {p.rate_float:10.4f} "
            f"{p.rate_deployed:13.4f} {drift:>8s} "
            f"{cell(None if p.v_rel_error is None else 100 * p.v_rel_error, '.2f') + '%':>9s}"
        )
    if result.first_divergence is None:
        lines.append("first divergence: none (the deployed spikes equal the float model's)")
    else:
        lines.append(result.first_divergence.describe())
    return "\n".join(lines) + "\n"
