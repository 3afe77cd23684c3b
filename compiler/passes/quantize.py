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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any, ClassVar

import numpy as np

from compiler.nir.ops import conv2d
from compiler.passes.base import PassContext
from compiler.quantization import formats
from ir.errors import QuantizationError
from ir.fixed import weight_lsb_shift
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import (
    SIGN_MODES,
    Conv2d,
    Dense,
    Input,
    Population,
    Projection,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
)
from neurons import model_of
from neurons.base import QuantContext, QuantRule

__all__ = ["GRANULARITIES", "QuantizationError", "QuantizePass"]

GRANULARITIES = ("per-layer", "per-channel")
# Sign modes as small integers per scale row; parts are emitted in this order.
_SIGN_CODE = {s: i for i, s in enumerate(SIGN_MODES)}
# Weights sampled per projection when comparing candidate scales (the final quantization always
# uses every weight); a deterministic stride, so the choice is reproducible.
_SAMPLE = 1 << 16
# Candidate scales spread over one octave besides those that fill some projection's range.
_GRID = 16
_HEADROOM = "headroom: worst-case u within 24 bits"
# A bias correction beyond this many thresholds per step means the weights lost much of their
# mean drive to rounding (e.g. 1-bit mixed weights); the compile report warns.
BIAS_CORRECTION_WARN = 0.05
# Slack for floating-point noise in log2 arithmetic: a ratio that is an exact power of two in
# real numbers must not round to the next exponent.
_TOL = 1e-9


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
        plans: dict[str, _PopulationPlan] = {}
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
            plans[name] = plan = _PopulationPlan(
                graph, name, pop, model.quant_rule, ctx.hw, bits, self, rates, graded
            )
            if model.graded:
                # Float value of a fixed payload step, and the largest payload.
                graded[name] = plan.rule.payload(
                    plan.scale, plan.input_peak(), plan.bias_float
                )
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


# --------------------------------------------------------------------------- one projection


@dataclass
class _Incoming:
    """One incoming projection of the population being planned, in folded float units.

    Scales are chosen per "scale row": one for the whole projection (per-layer, and always for
    convolutions), or one per destination neuron (per-channel). Arrays named *_row have one
    entry per scale row; they are derived from the weights and the target in __post_init__."""

    name: str
    proj: Projection
    kind: str  # "dense", "sparse", "conv"
    w: np.ndarray  # folded float weights: (n_dst, n_src), (nnz,) or (C_out, C_in/g, kH, kW)
    unfold_row: (
        np.ndarray
    )  # per destination neuron (per output channel for conv): back to model units
    payload: float  # largest |spike payload| of the source (1 for binary spikes)
    n_dst: int
    per_row: bool
    hw: InitVar[HardwareSpec]
    bits: InitVar[int]
    clip_percentile: InitVar[float]
    split_exact: bool = False  # E >= 0: whole activation units per synapse (split_exact.py)
    sign_row: np.ndarray = field(init=False)  # index into SIGN_MODES
    lo_row: np.ndarray = field(init=False)  # mantissa range
    hi_row: np.ndarray = field(init=False)
    k_row: np.ndarray = field(init=False)  # lsb_shift
    l_row: np.ndarray = field(init=False)  # log2 of the largest factor at which nothing clips
    e_lo: int = field(init=False)  # weight_exp range
    e_hi: int = field(init=False)
    exp_lo_row: np.ndarray = field(init=False)  # smallest E = lsb_shift + weight_exp per row

    def __post_init__(self, hw: HardwareSpec, bits: int, clip_percentile: float) -> None:
        pos, neg = _row_extremes(self)
        # Lava's determine_sign_mode per scale row: all >= 0 excitatory, all <= 0 inhibitory,
        # else mixed.
        self.sign_row = np.where(
            neg <= 0,
            _SIGN_CODE["excitatory"],
            np.where(pos <= 0, _SIGN_CODE["inhibitory"], _SIGN_CODE["mixed"]),
        )
        table = [formats.WeightFormat(sign, bits, 0, 0) for sign in SIGN_MODES]
        self.lo_row = np.array([f.mant_min for f in table], dtype=np.int64)[self.sign_row]
        self.hi_row = np.array([f.mant_max for f in table], dtype=np.int64)[self.sign_row]
        self.k_row = np.array([f.lsb_shift for f in table], dtype=np.int64)[self.sign_row]
        if self.kind == "conv":
            self.e_lo = self.e_hi = 0  # Lava's PyConvModelFixed applies no weight exponent
        else:
            self.e_lo, self.e_hi = hw.synapse.weight_exp_min.value, hw.synapse.weight_exp_max.value
        self.exp_lo_row = self.e_lo + self.k_row
        if self.split_exact:
            self.exp_lo_row = np.maximum(self.exp_lo_row, 0)
        if clip_percentile < 100.0:
            cap = _row_percentile(self, np.abs(self.w), clip_percentile)
            pos, neg = np.minimum(pos, cap), np.minimum(neg, cap)
        with np.errstate(divide="ignore"):
            self.l_row = np.log2(formats.full_scale(pos, neg, self.hi_row, self.lo_row))

    @property
    def rows(self) -> np.ndarray:
        return self.proj.rows  # type: ignore[attr-defined]

    def expand(self, per_row: np.ndarray) -> np.ndarray:
        """A per-scale-row array broadcast to the weights' shape."""
        return self.by_row(per_row) if self.per_row else per_row[0]

    def by_row(self, x: np.ndarray) -> np.ndarray:
        """A per-row array (destination neuron; conv: output channel) broadcast to the weights."""
        if self.kind == "dense":
            return x[:, None]
        if self.kind == "sparse":
            return x[self.rows]
        return x[:, None, None, None]

    def row_sums(self, x: np.ndarray) -> np.ndarray:
        """Sums of `x` (weights' shape) per row (destination neuron; output channel for conv)."""
        if self.kind == "dense":
            return x.sum(axis=1)
        if self.kind == "sparse":
            return np.bincount(self.rows, weights=x, minlength=self.n_dst)
        return x.reshape(len(x), -1).sum(axis=1)

    def row_sq_sums(self, x: np.ndarray) -> np.ndarray:
        """Sums of x**2 per row, without a temporary of the weights' size where possible."""
        if self.kind == "sparse":
            return np.bincount(self.rows, weights=x * x, minlength=self.n_dst)
        flat = x.reshape(len(x), -1)
        return np.einsum("ij,ij->i", flat, flat)

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """(weights, their scale-row index): every weight, or an evenly strided subset."""
        flat = self.w.reshape(-1)
        idx = (
            np.arange(flat.size)
            if flat.size <= _SAMPLE
            else np.linspace(0, flat.size - 1, _SAMPLE).astype(np.int64)
        )
        if not self.per_row:
            row = np.zeros(idx.size, dtype=np.int64)
        elif self.kind == "dense":
            row = idx // self.w.shape[1]
        else:
            row = self.rows[idx]
        return flat[idx], row

    def exponents(self, level: float) -> np.ndarray:
        """E per scale row at population level L: the smallest E at which the row does not clip,
        within the format's exponent range (E = lsb_shift + weight_exp)."""
        with np.errstate(invalid="ignore"):
            e = np.ceil(level - self.l_row - _TOL)
        e = np.where(np.isfinite(e), e, -np.inf)
        return np.clip(e, self.exp_lo_row, self.e_hi + self.k_row).astype(np.int64)

    def level_limit(self) -> float:
        """Largest L at which no row needs an exponent above the format's range."""
        finite = self.l_row[np.isfinite(self.l_row)]
        return (
            float(np.min(self.e_hi + self.k_row[np.isfinite(self.l_row)] + finite))
            if finite.size
            else math.inf
        )


def _incoming(
    graph: Graph,
    name: str,
    proj: Projection,
    fold: np.ndarray,
    hw: HardwareSpec,
    bits: int,
    opts: QuantizePass,
    graded: Mapping[str, tuple[float, float]],
) -> _Incoming:
    src = graph.populations[proj.src]
    payload = (
        float(1 << (src.message_bits - 1)) if isinstance(src, Input) and src.message_bits else 1.0
    )
    if not isinstance(src, Input) and model_of(src).graded:
        if proj.src not in graded:
            raise QuantizationError(
                f"projection {name!r} ({proj.src} -> {proj.dst}): its source sends graded payloads "
                "whose scale is set when the source is quantized, after its destination here "
                "(a loop through graded neurons); snnc cannot quantize it"
            )
        # The source's fixed payloads are its scale times the float ones: weights per payload step.
        unit, payload = graded[proj.src]
        fold = fold * unit
    per_channel = opts.granularity == "per-channel"
    n_dst = graph.populations[proj.dst].size
    target = (hw, bits, float(opts.clip_percentile), proj.src in opts.exact_sources)
    folded = bool(np.any(fold != 1.0))
    if isinstance(proj, Dense):
        w = proj.weight * fold[:, None] if folded else proj.weight
        return _Incoming(name, proj, "dense", w, 1.0 / fold, payload, n_dst, per_channel, *target)
    if isinstance(proj, Sparse):
        w = proj.values * fold[proj.rows] if folded else proj.values
        return _Incoming(name, proj, "sparse", w, 1.0 / fold, payload, n_dst, per_channel, *target)
    if isinstance(proj, Conv2d):
        # Folding into a shared kernel needs one threshold per output channel (caller checks).
        chan = fold.reshape(proj.weight.shape[0], -1)[:, 0]
        w = proj.weight * chan[:, None, None, None] if folded else proj.weight
        return _Incoming(name, proj, "conv", w, 1.0 / chan, payload, n_dst, False, *target)
    raise QuantizationError(f"projection {name!r}: cannot quantize a {type(proj).__name__}")


def _row_extremes(inc: _Incoming) -> tuple[np.ndarray, np.ndarray]:
    """Per scale row: (largest positive weight, largest |negative weight|), 0 where none."""
    w = inc.w
    if not inc.per_row:
        return np.array([max(float(w.max(initial=0.0)), 0.0)]), np.array(
            [max(-float(w.min(initial=0.0)), 0.0)]
        )
    if inc.kind == "dense":
        return w.max(axis=1, initial=0.0), -w.min(axis=1, initial=0.0)
    pos, neg = np.zeros(inc.n_dst), np.zeros(inc.n_dst)
    if w.size:
        starts = np.flatnonzero(np.r_[True, np.diff(inc.rows) != 0])
        rows = inc.rows[starts]
        pos[rows] = np.maximum(np.maximum.reduceat(w, starts), 0.0)
        neg[rows] = np.maximum(-np.minimum.reduceat(w, starts), 0.0)
    return pos, neg


def _row_percentile(inc: _Incoming, magnitude: np.ndarray, q: float) -> np.ndarray:
    """Per-scale-row q-th percentile of |w| (linear interpolation, numpy's default)."""
    if not inc.per_row:
        return np.array([np.percentile(magnitude, q)]) if magnitude.size else np.zeros(1)
    if inc.kind == "dense":
        return np.percentile(magnitude, q, axis=1)
    out = np.zeros(inc.n_dst)
    order = np.lexsort((magnitude, inc.rows))
    srt, rows = magnitude[order], inc.rows[order]
    starts = (
        np.flatnonzero(np.r_[True, np.diff(rows) != 0])
        if rows.size
        else np.zeros(0, dtype=np.int64)
    )
    counts = np.diff(np.r_[starts, rows.size])
    pos = starts + (counts - 1) * q / 100.0
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, starts + counts - 1)
    frac = pos - lo
    if rows.size:
        out[rows[starts]] = srt[lo] * (1 - frac) + srt[hi] * frac
    return out


def _quantize(
    inc: _Incoming, level: float, w: np.ndarray | None = None, row: np.ndarray | None = None
):
    """Mantissas at population level L: (M, c, E per row, clipped mask, error in mantissa steps),
    M as float64 holding integers.

    With `w`/`row` given, quantizes that sample instead of the whole projection."""
    e_row = inc.exponents(level)
    c_row = np.exp2(level - e_row)
    if w is None:
        w, c, lo, hi = inc.w, inc.expand(c_row), inc.expand(inc.lo_row), inc.expand(inc.hi_row)
    else:
        c, lo, hi = c_row[row], inc.lo_row[row], inc.hi_row[row]
    ideal = w * c
    m = np.rint(ideal)
    np.clip(m, lo, hi, out=m)
    clipped = (ideal < lo - 0.5) | (ideal > hi + 0.5)
    err = np.subtract(m, ideal, out=ideal)  # in mantissa steps
    return m, c, e_row, clipped, err  # m holds integers as float64 until the nodes are built


# --------------------------------------------------------------------------- one population


class _PopulationPlan:
    """Quantizes one population and every projection into it (see the module docstring): the
    scale search here, the model's registers in its rule (`neurons.base.QuantRule`)."""

    def __init__(
        self,
        graph: Graph,
        name: str,
        pop: Population,
        rule_cls: type[QuantRule],
        hw: HardwareSpec,
        bits: int,
        opts: QuantizePass,
        rates: Mapping[str, np.ndarray] | None = None,
        graded: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self.name, self.pop, self.hw, self.prof = name, pop, hw, hw.profile
        self.bits, self.clip_percentile = bits, float(opts.clip_percentile)
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.rule = rule_cls(
            QuantContext(
                name,
                pop,
                graph.dt,
                hw,
                float(opts.v_range),
                opts.decay_levels,
                self.warnings,
                self.notes,
            )
        )
        self.act = self.rule.input_shift
        incoming = graph.incoming(name)
        has_conv = any(isinstance(p, Conv2d) for _, p in incoming)
        theta, fold, folded = self.rule.threshold(has_conv)
        decay_report = self.rule.decays()
        bias = self.rule.float_bias() * fold
        self.bias_float = bias
        self.inc = [
            _incoming(graph, pname, proj, fold, hw, bits, opts, graded or {})
            for pname, proj in incoming
        ]
        limit_u = (1 << (self.prof.state_bits - 1)) - 1
        scale, vth, quantized, u_peak, limited_by = self._choose_scale(theta, bias, limit_u)
        self.scale = scale
        self.report_limit = limited_by
        self.parts: dict[str, list[tuple[str, Projection]]] = {}
        self.projection_reports: dict[str, Any] = {}
        for inc, q in zip(self.inc, quantized, strict=True):
            self.parts[inc.name], self.projection_reports[inc.name] = self._emit(inc, q, scale)
        correction_max = None  # in thresholds per step (model units if non-spiking)
        if rates is not None:
            # Bias is added to v once per step; weighted input passes through u, whose steady
            # state is the current gain times the input.
            correction = -self.rule.current_gain() * self._expected_drift(graph, quantized, rates)
            bias = bias + correction
            correction_max = float(np.abs(correction).max(initial=0.0)) / (
                theta if 0 < theta < math.inf else 1.0
            )
            if correction_max > BIAS_CORRECTION_WARN and 0 < theta < math.inf:
                self.warnings.append(
                    f"population {name!r}: bias correction reaches {correction_max:.3g} "
                    "thresholds per step: the rounded weights lose that much mean drive, and a "
                    "constant bias restores the mean but not the information (use more weight "
                    "bits or --split-signs)"
                )
        self.fixed, registers, bias_err, n_clipped = self.rule.build(scale, vth, bias)
        thr_fixed = vth * (1 << self.rule.threshold_shift) / scale
        self.report = {
            "scale": scale,
            **registers,
            "threshold": theta if math.isfinite(theta) else None,  # None: non-spiking
            "thresholds_folded": folded,
            "threshold_rel_error": (
                abs(thr_fixed - theta) / theta
                if 0 < theta < math.inf
                else float(theta == 0 and vth != 0)
            ),
            "non_spiking": math.isinf(theta),
            **decay_report,
            "bias_max_error": bias_err,
            "bias_correction_max": correction_max,
            "bias_clipped": n_clipped,
            "u_worst_case": int(u_peak),
            "u_limit": limit_u,
            "headroom_bits": math.log2(limit_u / u_peak) if u_peak > 0 else None,
            "limited_by": limited_by,
        }
        groups = self.fixed.per_process and len(model_of(self.fixed).parameter_groups(self.fixed))
        if groups and groups > 1:
            self.report["parameter_groups"] = groups
        if n_clipped:
            self.warnings.append(
                f"population {name!r}: {n_clipped} biases exceed bias_mant << bias_exp "
                "and were clipped"
            )

    def _choose_scale(
        self, theta: float, bias: np.ndarray, limit_u: int
    ) -> tuple[float, int, list, int, str]:
        """(S, vth, quantized projections, worst-case |u|, the limit that set S): the largest
        level the limits allow, the best level within its octave, vth made exact, then lowered
        while the integers' worst case could wrap u (never below the headroom floor)."""
        level, limited_by = self._level_limit(theta, bias, limit_u)
        floor = self.rule.headroom_floor(theta)
        for _ in range(8):
            level = self._best_level(level, floor)
            scale, vth = self.rule.exact_threshold(level, theta)
            level = math.log2(scale / (1 << self.act))
            quantized = [_quantize(inc, level) for inc in self.inc]
            u_peak = self._u_worst_case(quantized)
            if u_peak <= limit_u or level <= floor + _TOL:
                break
            level = max(level - math.log2(u_peak / limit_u) - _TOL, floor)
            limited_by = _HEADROOM
        if u_peak > limit_u:
            self.warnings.append(
                f"population {self.name!r}: the worst-case input drives u to {u_peak}, beyond the "
                f"{self.prof.state_bits}-bit state; the scale stops at vth = {vth} to keep "
                "threshold resolution, "
                "so u wraps if inputs come that close to the worst case"
            )
        return scale, vth, quantized, u_peak, limited_by

    def _level_limit(self, theta: float, bias: np.ndarray, limit_u: int) -> tuple[float, str]:
        """The largest L = log2(S / 2^act) every hard limit allows, and which limit it is."""
        prof, act = self.prof, self.act
        limits = [(float(prof.state_bits - 1 - act), "state range")]
        limits += self.rule.level_limits(theta, bias, self._float_input_peak)
        for inc in self.inc:
            limits.append((inc.level_limit(), f"weight range of {inc.name!r}"))
        peak = float(self._float_input_peak()) * self.rule.current_gain()
        if peak > 0:
            limits.append(
                (max(math.log2(limit_u / peak) - act, self.rule.headroom_floor(theta)), _HEADROOM)
            )
        level, why = min(limits, key=lambda t: t[0])
        return level, why

    def input_peak(self) -> float:
        """The largest one-step float input any neuron can receive (|sum| bound)."""
        return self._float_input_peak()

    def _float_input_peak(self) -> float:
        pos = np.zeros(self.pop.size)
        neg = np.zeros(self.pop.size)
        for inc in self.inc:
            p, n = _per_neuron_sums(inc, inc.w, 1.0)
            if inc.payload > 1:  # graded payloads may take either sign
                p = n = (p + n) * inc.payload
            pos += p
            neg += n
        return float(np.maximum(pos, neg).max(initial=0.0))

    def _best_level(self, level_max: float, level_min: float) -> float:
        """L in (level_max - 1, level_max], not below level_min, with the least squared weight
        error (sampled). Candidates: level_max, the integer level, every level at which one
        projection exactly fills its range, and an even grid; ties go to the larger L (finer bias
        and decay arithmetic)."""
        if not self.inc:
            return level_max
        # The integer level in the window makes every c a power of two, so dyadic float weights
        # (integers, as `snnc train tem` writes) quantize without error.
        offsets = {0.0, float(level_max % 1.0), *(i / _GRID for i in range(1, _GRID))}
        for inc in self.inc:
            finite = inc.l_row[np.isfinite(inc.l_row)]
            if finite.size:
                offsets.add(float((level_max - finite.min()) % 1.0))
        samples = [inc.sample() for inc in self.inc]
        best = (math.inf, 0.0)
        for off in sorted(offsets):
            level = level_max - off
            if off > 0 and level < level_min:
                continue
            sse = 0.0
            for inc, (w, row) in zip(self.inc, samples, strict=True):
                m, c, _, _, _ = _quantize(inc, level, w, row)
                err = m / c - w
                sse += float(err @ err) * (inc.w.size / max(w.size, 1))
            if sse < best[0] * (1 - 1e-12):
                best = (sse, off)
        return level_max - best[1]

    def _expected_drift(
        self, graph: Graph, quantized: list, rates: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """Per neuron (folded units): the mean input per step that rounding adds,
        sum_i (w_q - w)_ji r_i over every incoming projection whose source has calibration
        rates. A graded source is left out: its rate counts nonzero payloads, not their mean."""
        drift = np.zeros(self.pop.size)
        for inc, (_, c, _, _, err_steps) in zip(self.inc, quantized, strict=True):
            r = rates.get(inc.proj.src)
            if r is None or inc.payload > 1:
                continue
            err = err_steps / c  # mantissa steps -> folded weight units
            r = np.asarray(r, dtype=np.float64).reshape(-1)
            if inc.kind == "dense":
                drift += err @ r
            elif inc.kind == "sparse":
                drift += np.bincount(
                    inc.rows, weights=err * r[inc.proj.cols], minlength=self.pop.size
                )
            else:
                conv: Conv2d = inc.proj  # type: ignore[assignment]
                src_shape = graph.populations[conv.src].shape
                drift += conv2d(
                    r.reshape(1, *src_shape),
                    err,
                    conv.stride,
                    conv.padding,
                    conv.dilation,
                    conv.groups,
                ).reshape(-1)
        return drift

    def _u_worst_case(self, quantized: list) -> int:
        """Largest |u| any input can produce, in fixed units: 64 * max_i |a_i| / (1 - decay)."""
        pos = np.zeros(self.pop.size)
        neg = np.zeros(self.pop.size)
        for inc, (m, _, e_row, _, _) in zip(self.inc, quantized, strict=True):
            # E is constant along a row, so 2^E factors out of each row's sums.
            p, n = _per_neuron_sums(
                inc, m, np.exp2(e_row.astype(np.float64)) if inc.per_row else 2.0 ** int(e_row[0])
            )
            if inc.payload > 1:
                p = n = (p + n) * inc.payload
            # A negative exponent floors the shifted sum: at most one unit beyond the exact value.
            floor_slack = float(np.any(e_row - inc.k_row < 0))
            pos += p + floor_slack
            neg += n + floor_slack
        a_peak = float(np.maximum(pos, neg).max(initial=0.0))
        return math.ceil(a_peak * (1 << self.act) * self.rule.current_gain())

    # -- projections

    def _emit(
        self, inc: _Incoming, q, scale: float
    ) -> tuple[list[tuple[str, Projection]], dict[str, Any]]:
        m, c, e_row, clipped, err_steps = q
        e_reg = e_row - inc.k_row  # weight_exp per scale row
        # Lava's 8-bit weight: the mantissa at its bit position (exact: |M << k| < 2^9)
        v = (m * inc.expand(np.exp2(inc.k_row))).astype(np.int64)
        # Rows without a nonzero weight take any exponent; they join the largest group rather
        # than forming one of their own.
        live = np.isfinite(inc.l_row)
        key_row = inc.sign_row * 1024 - e_reg  # sorts by sign mode, then larger exponent first
        keys, counts = np.unique(key_row[live], return_counts=True)
        if keys.size == 0:
            keys, counts = key_row[:1], np.ones(1, dtype=np.int64)
        key_row = np.where(live, key_row, keys[int(np.argmax(counts))])
        parts: list[tuple[str, Projection]] = []
        part_reports = []
        for j, key in enumerate(keys.tolist()):
            sel = np.flatnonzero(key_row == key)
            code = round(key / 1024)  # |weight_exp| < 512, so the key decodes uniquely
            sign, exp = SIGN_MODES[code], code * 1024 - int(key)
            part_name = inc.name if len(keys) == 1 else f"{inc.name}.g{j}"
            node, mant = _build(inc, v, m, sel, sign, exp, len(keys) == 1, self.bits)
            weight_scale = scale / (1 << self.act) / 2.0**exp
            part_reports.append(
                {
                    "name": part_name,
                    "type": type(node).__name__,
                    "sign_mode": sign,
                    "weight_exp": exp,
                    "num_weight_bits": self.bits,
                    "bits_used": formats.bits_used(mant, sign),
                    "scale": weight_scale,
                    "lsb": float(1 << weight_lsb_shift(self.bits, sign)) / weight_scale,
                    "rows": int(sel.size) if inc.per_row else self.pop.size,
                }
            )
            parts.append((part_name, node))
        # Errors in the model's units: w = w_folded * unfold_row,
        # error = err_steps / c * unfold_row,
        # with c and unfold constant along a row.
        c_row = c if np.ndim(c) == 0 else np.exp2(math.log2(scale / (1 << self.act)) - e_row)
        err_sq = float(np.sum(inc.row_sq_sums(err_steps) * (inc.unfold_row / c_row) ** 2))
        norm_sq = float(np.sum(inc.row_sq_sums(inc.w) * inc.unfold_row**2))
        report = {
            "src": inc.proj.src,
            "dst": inc.proj.dst,
            "type": type(inc.proj).__name__,
            "granularity": "per-channel" if inc.per_row else "per-layer",
            "parts": part_reports,
            "clipped_fraction": float(clipped.mean()) if clipped.size else 0.0,
            "rel_error": math.sqrt(err_sq / norm_sq) if norm_sq > 0 else 0.0,
            "max_error_lsb": float(np.max(np.abs(err_steps), where=~clipped, initial=0.0)),
            "n_weights": int(inc.w.size),
            "split_exact": inc.split_exact,
        }
        if report["clipped_fraction"] > 0 and self.clip_percentile >= 100.0:
            if self.bits == 1 and np.any(inc.sign_row == _SIGN_CODE["mixed"]):
                why = (
                    "1-bit mixed-sign weights hold only -1 and 0 (Lava clears 8 of 9 bits), "
                    "so positive weights become 0"
                )
            else:
                why = f"the scale of {self.name!r} is limited by {self.report_limit}"
            self.warnings.append(
                f"projection {inc.name!r}: {report['clipped_fraction']:.2%} of weights "
                f"clipped ({why})"
            )
        return parts, report


def _per_neuron_sums(
    inc: _Incoming, values: np.ndarray, row_factor
) -> tuple[np.ndarray, np.ndarray]:
    """(sum of positive values, sum of |negative values|) per destination neuron (flat), each row's
    sums multiplied by `row_factor` (scalar, or per destination neuron). A convolution's are a
    bound per output channel (every tap inside the image), repeated over its positions."""
    total = inc.row_sums(values)
    pos = inc.row_sums(np.maximum(values, 0))
    neg = pos - total
    if inc.kind == "conv":
        per = inc.n_dst // len(pos)
        pos, neg = np.repeat(pos, per), np.repeat(neg, per)
    return pos * row_factor, neg * row_factor


def _build(
    inc: _Incoming,
    v: np.ndarray,
    m: np.ndarray,
    sel: np.ndarray,
    sign: str,
    exp: int,
    whole: bool,
    bits: int,
) -> tuple[Projection, np.ndarray]:
    """The fixed-point node for scale rows `sel` (all of them when `whole`), and its mantissas."""
    proj = inc.proj
    if inc.kind == "conv":
        conv: Conv2d = proj  # type: ignore[assignment]
        return QConv2d(
            proj.src,
            proj.dst,
            port=proj.port,
            weight=v,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
        ), m
    fmt = dict(weight_exp=exp, num_weight_bits=bits, sign_mode=sign)
    if inc.kind == "dense":
        dense: Dense = proj  # type: ignore[assignment]
        if whole:
            return QDense(proj.src, proj.dst, weight=v, delay=dense.delay, port=proj.port, **fmt), m
        n_src = v.shape[1]
        delay = dense.delay[sel].reshape(-1) if dense.delay.ndim else dense.delay
        return QSparse(
            proj.src,
            proj.dst,
            port=proj.port,
            rows=np.repeat(sel, n_src),
            cols=np.tile(np.arange(n_src), sel.size),
            values=v[sel].reshape(-1),
            delay=delay,
            **fmt,
        ), m[sel]
    sparse: Sparse = proj  # type: ignore[assignment]
    if whole:
        return QSparse(
            proj.src,
            proj.dst,
            port=proj.port,
            rows=sparse.rows,
            cols=sparse.cols,
            values=v,
            delay=sparse.delay,
            **fmt,
        ), m
    keep = np.isin(sparse.rows, sel)
    delay = sparse.delay[keep] if sparse.delay.ndim else sparse.delay
    return QSparse(
        proj.src,
        proj.dst,
        port=proj.port,
        rows=sparse.rows[keep],
        cols=sparse.cols[keep],
        values=v[keep],
        delay=delay,
        **fmt,
    ), m[keep]
