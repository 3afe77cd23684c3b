"""The plan of one population's quantization (`compiler.passes.quantize`): the scale S chosen
for it and every projection into it (the limits, the octave search, the threshold nudge), the
model's registers from its rule (`neurons.base.QuantRule`), and the report of what it cost."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from compiler.quantization import formats
from compiler.quantization.incoming import (
    LOG2_TOL,
    SIGN_CODE,
    IncomingProjection,
    build_projection,
    incoming_projection,
    per_neuron_sums,
    quantize_rows,
)
from ir.conv import conv2d
from ir.fixed import weight_lsb_shift
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import SIGN_MODES, Conv2d, Population, Projection
from neurons import model_of
from neurons.base import QuantContext, QuantRule

if TYPE_CHECKING:
    from compiler.passes.quantize import QuantizePass

__all__ = ["BIAS_CORRECTION_WARN", "PopulationPlan"]

# Candidate scales spread over one octave besides those that fill some projection's range.
GRID = 16
HEADROOM = "headroom: worst-case u within 24 bits"
# A bias correction beyond this many thresholds per step means the weights lost much of their
# mean drive to rounding (e.g. 1-bit mixed weights); the compile report warns.
BIAS_CORRECTION_WARN = 0.05


class PopulationPlan:
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
            incoming_projection(graph, pname, proj, fold, hw, bits, opts, graded or {})
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
            quantized = [quantize_rows(inc, level) for inc in self.inc]
            u_peak = self._u_worst_case(quantized)
            if u_peak <= limit_u or level <= floor + LOG2_TOL:
                break
            level = max(level - math.log2(u_peak / limit_u) - LOG2_TOL, floor)
            limited_by = HEADROOM
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
                (max(math.log2(limit_u / peak) - act, self.rule.headroom_floor(theta)), HEADROOM)
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
            p, n = per_neuron_sums(inc, inc.w, 1.0)
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
        offsets = {0.0, float(level_max % 1.0), *(i / GRID for i in range(1, GRID))}
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
                m, c, _, _, _ = quantize_rows(inc, level, w, row)
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
            err = np.asarray(err_steps / c, dtype=np.float64)  # mantissa steps -> weight units
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
            p, n = per_neuron_sums(
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
        self, inc: IncomingProjection, q, scale: float
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
            node, mant = build_projection(inc, v, m, sel, sign, exp, len(keys) == 1, self.bits)
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
            if self.bits == 1 and np.any(inc.sign_row == SIGN_CODE["mixed"]):
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
