"""The compile pipeline: a model (float, or already fixed-point) + a hardware target -> the
compiled program and its report.

    verify -> [split-signs] -> quantize -> partition -> split-exact -> place

(again with `QuantizePass.exact_sources` when split-exact had to round a float model's
projections: `_split_exact_pipeline`).

`compile_passes` is the one place that lists the passes. Each pass leaves its report in
`ctx.reports[pass.name]`: the quantize report goes to `report["quantization"]`; any other pass's
report (a dict) is merged into the top level of the compile report (DESIGN.md names its keys:
cores_used, cores_lower_bound, chips_used, per_core, traffic, naive_sequential).

With calibration inputs the model runs on them before the pipeline (per-neuron firing rates,
inputs included, go to `ctx.calibration["rates"]`, which partition and place use for traffic)
and, for a float model, the program runs on them after it, so the report can compare float and
fixed-point activity population by population. The simulator is passed in
(`compiler.quantization.calibrate.Simulator`): the compiler does not import backends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from compiler.passes.base import Pass, PassContext
from compiler.passes.partition import PartitionPass
from compiler.passes.place import PlacePass
from compiler.passes.quantize import QuantizePass
from compiler.passes.split_exact import SplitExactPass, placement_pieces
from compiler.passes.split_signs import SplitSignsPass
from compiler.pipeline import run_pipeline
from compiler.quantization import calibrate
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.latency import latency, population_latency
from ir.verify import verify

__all__ = ["REPORT_VERSION", "Calibration", "CompileOptions", "compile_model", "compile_passes"]

REPORT_VERSION = 1


@dataclass(frozen=True)
class CompileOptions:
    """What a user can choose; recorded in the program's metadata and the report."""

    weight_bits: int | None = None
    granularity: str = "per-layer"
    clip_percentile: float = 100.0
    v_range: float = 64.0
    split_signs: bool = False
    """Split mixed-sign projections into excitatory + inhibitory parts first (one more bit each)."""
    bias_correction: bool = True
    """With calibration data, fold the mean drift of the rounded weights into the biases."""
    seed: int = 0
    """Seed for every randomized choice a pass makes (recorded; quantization is not random)."""
    decay_levels: int | None = None
    """At most this many values per decay register per population (None: exact, per neuron)."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.decay_levels is None:
            del out["decay_levels"]  # programs compiled without it keep their bytes
        return out


@dataclass(frozen=True)
class Calibration:
    """Calibration spikes (N, T, n_inputs) and the simulator that runs a graph on them."""

    inputs: np.ndarray
    simulate: calibrate.Simulator
    description: dict[str, Any] = field(
        default_factory=dict
    )  # dataset, split, samples, steps, seed
    batch_size: int = 32


def compile_passes(
    options: CompileOptions, exact_sources: frozenset[str] = frozenset()
) -> list[Pass]:
    """The passes `snnc compile` runs, in order (run_pipeline verifies before and after each).
    `exact_sources`: populations whose outgoing projections quantize split-exact."""
    passes: list[Pass] = [SplitSignsPass()] if options.split_signs else []
    passes.append(
        QuantizePass(
            weight_bits=options.weight_bits,
            granularity=options.granularity,
            clip_percentile=options.clip_percentile,
            v_range=options.v_range,
            bias_correction=options.bias_correction,
            exact_sources=exact_sources,
            decay_levels=options.decay_levels,
        )
    )
    passes += [PartitionPass(), SplitExactPass(), PlacePass()]
    return passes


def _split_exact_pipeline(
    graph: Graph,
    options: CompileOptions,
    make_ctx: Callable[[], PassContext],
    print_after: Sequence[str],
    on_pass: Callable[[str], None] | None,
) -> tuple[Graph, PassContext, dict[str, Any]]:
    """Run the pipeline until no projection of a float model needed rounding by split-exact.

    A cut source's risky projections are rounded by the split-exact pass from their quantized
    weights; for a float model they are better quantized from the float weights under the same
    constraint (`QuantizePass.exact_sources`). The pipeline runs again with those sources added
    until the pass rounds nothing (the set only grows, so at most once per population). Returns
    the program, the final context and the split-exact summary for the report."""
    exact: frozenset[str] = frozenset()
    first_errors: dict[str, float] = {}
    rounds = 0
    while True:
        rounds += 1
        ctx = make_ctx()
        program = run_pipeline(
            graph, compile_passes(options, exact), ctx, print_after=print_after, on_pass=on_pass
        )
        quant = ctx.reports.get(QuantizePass.name, {}).get("projections", {})
        if rounds == 1:
            first_errors = {n: p["rel_error"] for n, p in quant.items()}
        rounded = ctx.reports[SplitExactPass.name]["rounded"]
        new = {r["source"] for r in rounded} - exact
        if graph.domain != "float" or not new:
            break
        exact = exact | new
        if on_pass is not None:
            on_pass(f"quantize again: projections from {', '.join(sorted(new))} split-exact")
    pieces = placement_pieces(program)
    made: list[dict[str, Any]] = []
    for name, entry in quant.items():
        if entry.get("split_exact"):
            before = first_errors.get(name, entry["rel_error"])
            entry["rel_error_unconstrained"] = before
            made.append(
                {
                    "projection": name,
                    "source": entry["src"],
                    "pieces": len(pieces[entry["src"]]),
                    "how": "quantized to whole activation units",
                    "rel_error": entry["rel_error"],
                    "rel_error_unconstrained": before,
                }
            )
    for r in rounded:
        made.append({**r, "how": "rounded to whole activation units"})
    summary = {"projections": made, "exact_sources": sorted(exact), "pipeline_runs": rounds}
    return program, ctx, summary


def _input_rates(graph: Graph, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Per input neuron: the share of (sample, step) with a spike (a nonzero payload)."""
    active = (inputs != 0).mean(axis=(0, 1))
    out, start = {}, 0
    for name in graph.inputs:
        size = graph.populations[name].size
        out[name] = active[start : start + size]
        start += size
    return out


def compile_model(
    graph: Graph,
    hw: HardwareSpec,
    options: CompileOptions = CompileOptions(),
    *,
    calibration: Calibration | None = None,
    print_after: Sequence[str] = (),
    on_pass: Callable[[str], None] | None = None,
) -> tuple[Graph, dict[str, Any]]:
    """(program, report). Deterministic: the same inputs give the same program and report."""
    verify(graph)
    before = None
    rates = None
    if calibration is not None:
        before = calibrate.collect(
            graph, calibration.inputs, calibration.simulate, calibration.batch_size
        )
        rates = {
            **_input_rates(graph, calibration.inputs),
            **{n: before.rates(n) for n in before.spike_counts},
        }

    def make_ctx() -> PassContext:
        ctx = PassContext(hw=hw, seed=options.seed)
        if rates is not None:
            ctx.calibration["rates"] = rates
        return ctx

    program, ctx, split_exact = _split_exact_pipeline(
        graph, options, make_ctx, print_after, on_pass
    )
    compile_meta: dict[str, Any] = {
        "target": hw.name,
        "options": options.to_json(),
        "seed": options.seed,
    }
    if calibration is not None:
        compile_meta["calibration"] = dict(calibration.description)
    program = program.replace(metadata={**dict(graph.metadata), "compile": compile_meta})
    quant = dict(ctx.reports.get(QuantizePass.name, {}))
    report: dict[str, Any] = {
        "format_version": REPORT_VERSION,
        "target": hw.name,
        "semantics": hw.semantics,
        "options": options.to_json(),
        "quantization": quant,
    }
    for name, part in ctx.reports.items():
        if name not in (QuantizePass.name, SplitExactPass.name) and isinstance(part, dict):
            report.update(part)
    report["split_exact"] = split_exact
    # Steps the outputs lag the inputs (ir/latency.py): the run's --align uses it.
    report["latency"] = {
        "steps": latency(program),
        "populations": dict(sorted(population_latency(program).items())),
    }
    if before is not None and calibration is not None:
        if graph.domain == "float":
            float_stats, fixed_stats = (
                before,
                calibrate.collect(
                    program, calibration.inputs, calibration.simulate, calibration.batch_size
                ),
            )
        else:  # partitioning does not change what a fixed-point program computes
            float_stats, fixed_stats = None, before
        scales = {n: p["scale"] for n, p in quant.get("populations", {}).items()}
        per_pop, warnings = calibrate.compare(float_stats, fixed_stats, scales)
        quant["calibration"] = {**dict(calibration.description), "populations": per_pop}
        quant["warnings"] = [*quant.get("warnings", []), *warnings]
    return program, report
