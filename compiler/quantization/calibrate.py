"""Float vs fixed-point activity on calibration inputs: spike rates, their divergence, and the
populations that went silent or saturated after quantization.

The compiler does not import backends; the caller passes a `Simulator` (the CLI builds one from
`backends.get_backend`). Statistics are accumulated batch by batch, so memory stays at one batch
of probed states.

Definitions (per population; rates are spikes per neuron per step over all samples and steps):
- `rate_abs_diff` = mean over neurons of |rate_fixed_i - rate_float_i|;
  `rate_rel_diff` = sum_i |rate_fixed_i - rate_float_i| / sum_i rate_float_i.
- **silent**: it spiked in float and, after quantization, not once or at less than 5% of the
  float rate (`SILENT_FRACTION`).
- **saturated**: after quantization it fires at >= 90% of the maximum rate (one spike per neuron
  per step) while float stays below that, or its state left the 24-bit range: u would wrap
  (scale x the float run's largest |u| reaches 2^23) or v hit +(2^23 - 1).
- **drift**: neither, but its total rate moved by more than 25% of the float rate
  (`RATE_DRIFT_BOUND`; `rate_drift` = (sum_i rate_fixed_i - sum_i rate_float_i) / sum_i
  rate_float_i), or its neurons' rates moved by more than 50% of the float total
  (`NEURON_DRIFT_BOUND` on `rate_rel_diff`: the same total, shuffled among neurons). A
  spike-count readout reads rates, so this is where accuracy goes (issue 24: at 2-bit weights
  an output fired 89.7% less and accuracy fell from 0.97 to 0.58; tests/tiny_models' digits MLP
  at 2 bits without bias correction keeps its output's total rate (+0.7%) but moves 76% of it
  between neurons, and its accuracy falls from 0.92 to 0.63). Within both bounds: `ok`.
- `v_floor_fraction`: share of (sample, step, neuron) where the fixed v sat at -(2^23 - 1),
  where a float integrate-and-fire neuron keeps falling (informational).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.fixed import LAVA_FIXED_PT
from ir.graph import Graph
from ir.nodes import Input
from ir.progress import progress
from neurons import model_of

__all__ = [
    "NEURON_DRIFT_BOUND", "RATE_DRIFT_BOUND", "SATURATION_RATE", "SILENT_FRACTION",
    "ActivityStats", "Simulator", "collect", "compare",
]

SATURATION_RATE = 0.9
SILENT_FRACTION = 0.05
RATE_DRIFT_BOUND = 0.25
NEURON_DRIFT_BOUND = 0.5
# simulate(graph, inputs (B, T, n_in), variables) -> {population: {variable: (B, T, n)}}
Simulator = Callable[[Graph, np.ndarray, tuple[str, ...]], Mapping[str, Mapping[str, np.ndarray]]]


@dataclass
class ActivityStats:
    """What one run over the calibration inputs leaves behind, per neuron population."""

    domain: str
    samples: int = 0
    steps: int = 0
    spike_counts: dict[str, np.ndarray] = field(default_factory=dict)  # per neuron, over the run
    u_abs_max: dict[str, float] = field(default_factory=dict)
    v_floor_hits: dict[str, int] = field(default_factory=dict)  # fixed: v at -(2^23 - 1)
    v_ceiling_hits: dict[str, int] = field(default_factory=dict)  # fixed: v at +(2^23 - 1)

    def rates(self, population: str) -> np.ndarray:
        return self.spike_counts[population] / max(self.samples * self.steps, 1)


def collect(
    graph: Graph, inputs: np.ndarray, simulate: Simulator, batch_size: int = 32
) -> ActivityStats:
    """Run `graph` on `inputs` in batches and accumulate ActivityStats."""
    names = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
    stats = ActivityStats(domain=graph.domain, steps=int(inputs.shape[1]))
    for n in names:
        stats.spike_counts[n] = np.zeros(graph.populations[n].size, dtype=np.int64)
        stats.u_abs_max[n] = 0.0
        stats.v_floor_hits[n] = stats.v_ceiling_hits[n] = 0
    limit = LAVA_FIXED_PT.state_max
    # Each model names the state that wraps (LIF: u) and the one that saturates (LIF: v).
    wraps = {n: model_of(graph.populations[n]).wrapping_state for n in names}
    saturates = {n: model_of(graph.populations[n]).saturating_state for n in names}
    wanted = ("spikes", *sorted({v for v in (*wraps.values(), *saturates.values()) if v}))
    starts = range(0, len(inputs), batch_size)
    for lo in progress(starts, f"calibrate ({graph.domain})", total=len(starts)):
        batch = inputs[lo : lo + batch_size]
        data = simulate(graph, batch, wanted)
        stats.samples += len(batch)
        for n in names:
            # A spike is any nonzero emission (graded models send payloads).
            stats.spike_counts[n] += np.count_nonzero(data[n]["spikes"], axis=(0, 1))
            if wraps[n]:
                u = data[n][wraps[n]]
                stats.u_abs_max[n] = max(stats.u_abs_max[n], float(np.abs(u).max(initial=0)))
            if graph.domain == "fixed" and saturates[n]:
                v = data[n][saturates[n]]
                stats.v_floor_hits[n] += int(np.count_nonzero(v <= -limit))
                stats.v_ceiling_hits[n] += int(np.count_nonzero(v >= limit))
    return stats


def compare(
    float_stats: ActivityStats | None, fixed_stats: ActivityStats, scales: Mapping[str, float]
) -> tuple[dict[str, Any], list[str]]:
    """(per-population report, warnings). `scales` maps a population to its quantization scale S
    (fixed units per float unit), used to predict u overflow from the float run."""
    report: dict[str, Any] = {}
    warnings: list[str] = []
    limit = LAVA_FIXED_PT.state_max
    for name, counts in fixed_stats.spike_counts.items():
        fixed_rate = fixed_stats.rates(name)
        cells = max(fixed_stats.samples * fixed_stats.steps * counts.size, 1)
        entry: dict[str, Any] = {
            "rate_fixed": float(fixed_rate.mean()) if counts.size else 0.0,
            "v_floor_fraction": fixed_stats.v_floor_hits[name] / cells,
            "v_ceiling_fraction": fixed_stats.v_ceiling_hits[name] / cells,
            "u_peak_fraction": fixed_stats.u_abs_max[name] / limit,
        }
        saturated = entry["v_ceiling_fraction"] > 0
        silent = False
        if float_stats is not None and name in float_stats.spike_counts:
            float_rate = float_stats.rates(name)
            diff = np.abs(fixed_rate - float_rate)
            total = float(float_rate.sum())
            entry.update(
                {
                    "rate_float": float(float_rate.mean()) if counts.size else 0.0,
                    "rate_abs_diff": float(diff.mean()) if counts.size else 0.0,
                    "rate_rel_diff": float(diff.sum()) / total
                    if total > 0
                    else (0.0 if diff.sum() == 0 else None),
                    "rate_drift": (float(fixed_rate.sum()) - total) / total if total > 0 else None,
                }
            )
            scale = scales.get(name)
            if scale is not None:
                entry["u_float_peak_fraction"] = scale * float_stats.u_abs_max[name] / limit
                saturated |= entry["u_float_peak_fraction"] >= 1.0
            float_total = int(float_stats.spike_counts[name].sum())
            silent = float_total > 0 and counts.sum() < SILENT_FRACTION * float_total
            saturated |= entry["rate_fixed"] >= SATURATION_RATE > entry["rate_float"]
        else:
            saturated |= entry["rate_fixed"] >= SATURATION_RATE
        drift, moved = entry.get("rate_drift"), entry.get("rate_rel_diff")
        drifted = (drift is not None and abs(drift) > RATE_DRIFT_BOUND) or (
            moved is not None and moved > NEURON_DRIFT_BOUND
        )
        entry["status"] = (
            "silent" if silent else "saturated" if saturated else "drift" if drifted else "ok"
        )
        if silent:
            fixed = "never" if counts.sum() == 0 else f"at rate {entry['rate_fixed']:.4g}"
            warnings.append(
                f"population {name!r} is SILENT after quantization: it spiked in float "
                f"(rate {entry['rate_float']:.4g}), in fixed point {fixed}"
            )
        elif saturated:
            why = []
            if entry["rate_fixed"] >= SATURATION_RATE:
                why.append(f"fires at rate {entry['rate_fixed']:.3f}")
            if entry["v_ceiling_fraction"] > 0:
                why.append("v hit +(2^23 - 1)")
            if entry.get("u_float_peak_fraction", 0) >= 1.0:
                why.append(f"u would reach {entry['u_float_peak_fraction']:.2f} x 2^23 and wrap")
            warnings.append(f"population {name!r} SATURATES after quantization: {', '.join(why)}")
        elif drifted:
            total_drift = drift is not None and abs(drift) > RATE_DRIFT_BOUND
            what = (
                f"it fires {abs(drift):.1%} {'less' if drift < 0 else 'more'} than in float (rate "
                f"{entry['rate_fixed']:.4g} vs {entry['rate_float']:.4g}; bound "
                f"{RATE_DRIFT_BOUND:.0%})"
                if total_drift
                else f"{moved:.1%} of its float spikes moved between neurons (bound "
                f"{NEURON_DRIFT_BOUND:.0%})"
            )
            warnings.append(
                f"population {name!r} DRIFTS after quantization: {what}; accuracy read from its "
                "spike counts may fall (try more weight bits)"
            )
        report[name] = entry
    return report, warnings
