"""The quantize pass: a float graph becomes a fixed-point program in the target's formats.

Per population the pass picks one scale S (fixed-point state units per float unit), since every
incoming projection adds into the same state. With S fixed, the float and fixed dynamics line
up term by term; for LIF (neurons.lif.LIFQuantRule):

    u_fix = S u        a_fix << 6 = S a   (integer weights w S / 64 / 2^weight_exp)
    vth << 6 = S v_th  bias_mant << bias_exp = S b
    (4096 - du - 1) / 4096 = alpha_syn     (4096 - dv) / 4096 = alpha_mem   (per neuron)

What is model-specific (how thresholds fold, decays and biases become registers, the model's
limits on S, the fixed node) is the model's quantization rule in its `neurons` module; this
pass holds what every model shares: S is chosen as large as the limits allow (the model's,
the weight exponent range, and a worst-case bound that keeps the state from wrapping), then,
within a factor of two, where the weights lose least to rounding, and finally nudged so that
the threshold is exact. docs/quantization.md, "How snnc quantizes, formula by formula",
writes out every formula.

The pass drives, per population in dependency order, its plan (`compiler.quantization.plan`),
which quantizes each incoming projection (`compiler.quantization.incoming`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from compiler.passes.base import PassContext
from compiler.quantization.plan import PopulationPlan
from ir.errors import QuantizationError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import (
    Input,
    Population,
    Projection,
)
from neurons import model_of

__all__ = ["GRANULARITIES", "QuantizationError", "QuantizePass"]

GRANULARITIES = ("per-layer", "per-channel")


@dataclass(frozen=True)
class QuantizePass:
    """Float graph -> fixed-point graph in the target's formats (ctx.hw).

    Requires: a verified float graph (an already fixed graph is returned unchanged).
    Ensures: every population is its model's fixed-point node or Input (populations quantized
    in dependency order); every projection QDense, QSparse or QConv2d with
    integers inside the target's bit widths; ctx.reports["quantize"] holds the error report.
    """

    name: ClassVar[str] = "quantize"
    weight_bits: int | None = None
    """Mantissa bits per weight, 1..synapse.max_weight_bits (None: the target's maximum)."""
    granularity: str = "per-layer"
    """per-layer: one weight_exp per projection. per-channel: each destination neuron gets its own
    best exponent and sign mode; rows sharing one become one projection (`NAME.gK`)."""
    clip_percentile: float = 100.0
    """Size the weight range by this percentile of |w| (per projection, or per row when
    per-channel) instead of the largest |w|, so larger weights clip; 100 clips nothing. Per layer,
    the octave search may still take a smaller scale where that lowers the squared error."""
    v_range: float = 64.0
    """Room kept for v below zero, in thresholds: Lava saturates v at -(2^23 - 1), a float
    integrate-and-fire neuron does not. Larger values give coarser threshold arithmetic."""
    bias_correction: bool = True
    """With calibration rates (`snnc compile --calibrate`), subtract from each neuron's bias the
    drift its rounded weights add on average per step, sum_i (w_q - w)_ji r_i, r_i the source's
    float firing rate on the calibration data (binary sources only)."""
    exact_sources: frozenset[str] = frozenset()
    """Populations whose outgoing Dense/Sparse projections must be split-exact: every synapse
    adds a whole number of activation units (E = lsb_shift + weight_exp >= 0), so partial sums
    over any pieces of the source add up to the whole sum (`compiler.passes.split_exact`)."""
    decay_levels: int | None = None
    """At most this many values per decay register in each population (per-neuron decays are
    clustered; the added error is in the report). None: every neuron's own value (exact)."""

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        if graph.domain == "fixed":
            ctx.reports[self.name] = {"skipped": "the model is already fixed-point"}
            return graph
        bits = self._check_options(ctx.hw)
        pops: dict[str, Population] = {}
        parts: dict[str, list[tuple[str, Projection]]] = {}
        report: dict[str, Any] = {
            "options": {
                "weight_bits": bits,
                "granularity": self.granularity,
                "clip_percentile": self.clip_percentile,
                "v_range": self.v_range,
                **({} if self.decay_levels is None else {"decay_levels": self.decay_levels}),
            },
            "populations": {},
            "projections": {},
            "warnings": [],
            "notes": [],
        }
        rates = ctx.calibration.get("rates") if self.bias_correction else None
        report["options"]["bias_correction"] = rates is not None
        # Populations in dependency order: a projection from a graded population (whose fixed
        # payloads are its own scale times the float ones) needs that scale first.
        plans: dict[str, PopulationPlan] = {}
        graded: dict[str, tuple[float, float]] = {}
        for name in graph.topological_order():
            pop = graph.populations[name]
            if isinstance(pop, Input):
                continue
            model = model_of(pop, f"population {name!r}", "the quantize pass")
            if model.quant_rule is None or pop.domain != "float":
                raise QuantizationError(
                    f"population {name!r}: cannot quantize a {type(pop).__name__}"
                )
            plans[name] = plan = PopulationPlan(
                graph, name, pop, model.quant_rule, ctx.hw, bits, self, rates, graded
            )
            if model.graded:
                # Float value of a fixed payload step, and the largest payload.
                graded[name] = plan.rule.payload(plan.scale, plan.input_peak(), plan.bias_float)
        for name, pop in graph.populations.items():
            if isinstance(pop, Input):
                pops[name] = pop
                continue
            plan = plans[name]
            pops[name] = plan.fixed
            parts.update(plan.parts)
            report["populations"][name] = plan.report
            report["projections"].update(plan.projection_reports)
            report["warnings"].extend(plan.warnings)
            report["notes"].extend(plan.notes)
        projs = {new: node for old in graph.projections for new, node in parts[old]}
        ctx.reports[self.name] = report
        return graph.replace(populations=pops, projections=projs)

    def _check_options(self, hw: HardwareSpec) -> int:
        max_bits = hw.synapse.max_weight_bits.value
        bits = max_bits if self.weight_bits is None else self.weight_bits
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= max_bits:
            raise QuantizationError(
                f"quantize: weight_bits = {bits!r} is outside 1..{max_bits} "
                f"({hw.source_file}: {hw.synapse.max_weight_bits.key})"
            )
        if self.granularity not in GRANULARITIES:
            raise QuantizationError(
                f"quantize: granularity {self.granularity!r}; choose {' or '.join(GRANULARITIES)}"
            )
        if not 50.0 <= float(self.clip_percentile) <= 100.0:
            raise QuantizationError(
                f"quantize: clip_percentile = {self.clip_percentile} is outside 50..100"
            )
        if not 1.0 <= float(self.v_range) <= 2.0**16:
            raise QuantizationError(
                f"quantize: v_range = {self.v_range} is outside 1..65536 thresholds"
            )
        levels = self.decay_levels
        if levels is not None and (
            isinstance(levels, bool) or not isinstance(levels, int) or levels < 1
        ):
            raise QuantizationError(f"quantize: decay_levels = {levels!r} must be an integer >= 1")
        return bits
