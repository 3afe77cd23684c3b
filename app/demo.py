"""`snnc demo`'s work (the command, `compiler/commands/demo.py`, parses and prints): the whole
job end to end on the 8x8 digits.

    train (conversion MLP) -> compile for loihi2 (calibrated) -> accuracy, float vs deployed
    -> HIL: cpu vs Lava on a few samples -> report folder -> a short summary

Everything goes into one output folder (default `demo-out/`), written atomically:

    model.snnc        the trained float model
    build/            the compiled program (program.snnc, hw.yaml, report.json)
    hil-report.json   the HIL comparison (absent when Lava cannot be imported)
    report/           `snnc report` figures and index.html
    demo.json         the summary below, as JSON

Lava is part of `make setup`; when it cannot be imported anyway (snnc installed without it), the
HIL step is skipped and the summary says why: the rest of the demo does not need Lava. When the
two targets diverge, the demo writes everything, prints the divergence and exits 1 (as
`snnc hil` does).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ir.errors import BackendUnavailableError, InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = ["DEMO_FILE", "DemoOptions", "DemoResult", "hil_line", "is_demo", "run_demo"]

DEMO_FILE = "demo.json"
DEMO_VERSION = 1
DATASET = "digits"
TARGET = "loihi2"
CALIBRATION_SAMPLES = 64


@dataclass(frozen=True)
class DemoOptions:
    output: Path
    samples: int | None = None
    """Test samples for the accuracy curves (None: the whole split)."""
    hil_samples: int = 4
    seed: int = 0
    max_steps_factor: int = 2
    """Accuracy vs time steps runs up to this multiple of the model's T."""


@dataclass
class DemoResult:
    summary: dict[str, Any]
    hil_agree: bool | None
    timings: dict[str, float] = field(default_factory=dict)


def is_demo(path: str | Path) -> bool:
    return (Path(path) / DEMO_FILE).is_file()


class _Steps:
    """Numbered step lines on stderr with their wall time: the demo's visible progress (tqdm
    bars inside steps follow SNNC_PROGRESS / the terminal, as everywhere in snnc)."""

    def __init__(self, total: int, timings: dict[str, float]) -> None:
        self.total, self.done, self.timings = total, 0, timings

    def run(self, key: str, text: str, fn: Callable[[], Any]) -> Any:
        self.done += 1
        print(f"snnc demo [{self.done}/{self.total}] {text} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        out = fn()
        self.timings[key] = time.perf_counter() - t0
        print(f"snnc demo [{self.done}/{self.total}] done in {self.timings[key]:.1f} s",
              file=sys.stderr, flush=True)
        return out


def _train(seed: int) -> tuple[Graph, dict[str, Any]]:
    from trainers.conversion.trainer import ConversionOptions, train_conversion

    result, _ = train_conversion(ConversionOptions(dataset=DATASET, seed=seed, input_seed=seed))
    sizes = [m.n_in for m in result.ann.chain.maps] + [result.ann.chain.maps[-1].n_out]
    info = {
        "trainer": "conversion",
        "architecture": "MLP " + "-".join(map(str, sizes)),
        "ann_val_accuracy": round(result.ann_val_accuracy, 6),
        "snn_val_accuracy": round(result.val_accuracy, 6),
    }
    return result.graph, info


def _compile(model: Graph, hw: HardwareSpec) -> tuple[Graph, dict[str, Any]]:
    from app.inputs import load_split, run_config
    from backends import get_backend
    from backends.base import Probe
    from compiler.compile import Calibration, CompileOptions, compile_model
    from ir.nodes import Input
    from trainers.encoders import encode

    def simulate(graph: Graph, inputs: np.ndarray, variables: tuple[str, ...]) -> dict:
        probes = [Probe(n, variables) for n, p in graph.populations.items()
                  if not isinstance(p, Input)]
        if graph.domain == "float":
            return get_backend("float")(graph, inputs, probes=probes).data
        return get_backend("cpu")(graph, inputs, probes=probes, hw=hw).data

    # Calibrated as `snnc compile --calibrate digits` does: float vs fixed-point rates in the
    # report, and measured rates (not fan-out counts) for the traffic estimates.
    encoding, steps, seed = run_config(model, "model", None, None)
    data = load_split(model, "model", DATASET, "val", CALIBRATION_SAMPLES)
    calibration = Calibration(
        inputs=encode(encoding, data.x, steps, seed, first_index=0),
        simulate=simulate,
        description={"dataset": DATASET, "split": "val", "samples": len(data.x),
                     "steps": steps, "seed": seed},
    )
    return compile_model(model, hw, CompileOptions(), calibration=calibration)


def _hil(program: Graph, hw: HardwareSpec, samples: int) -> tuple[Any, str | None]:
    """(HilResult, None), or (None, why) when Lava cannot be imported."""
    from backends.hil.harness import all_probes, run_hil
    from backends.lava.compat import ensure_lava
    from trainers.encoders import encode_split

    try:
        ensure_lava()
    except BackendUnavailableError as e:
        return None, str(e)
    inputs, _ = encode_split(program.metadata, DATASET, "test", samples)
    result = run_hil(program, inputs, reference="cpu", target="lava",
                     probes=all_probes(program), hw=hw)
    return result, None


def run_demo(options: DemoOptions) -> DemoResult:
    """Run every step, write the output folder atomically, return the summary."""
    from app.activity import (
        DEFAULT_ACTIVITY_SAMPLES,
        accuracy_curve,
        curve_steps,
        record_activity,
    )
    from app.inputs import load_split
    from app.outputs import check_output_folder
    from compiler.build import write_build
    from compiler.reporting import ReportInputs, write_report
    from ir.atomic import atomic_output_dir, atomic_write_text
    from ir.hardware import load_hw
    from ir.serialize import save_graph
    from trainers.encoders import encode_split

    if options.samples is not None and options.samples <= 0:
        raise InputError(f"--samples must be positive, got {options.samples}")
    if options.hil_samples <= 0:
        raise InputError(f"--hil-samples must be positive, got {options.hil_samples}")
    if options.seed < 0:
        raise InputError(f"--seed must be a non-negative integer, got {options.seed}")
    out = Path(options.output)
    check_output_folder(out, is_demo, "a previous demo folder")
    hw = load_hw(TARGET)
    timings: dict[str, float] = {}
    steps = _Steps(5, timings)
    with atomic_output_dir(out) as tmp:
        model, train_info = steps.run(
            "train", f"train a conversion network on {DATASET} (seed {options.seed})",
            lambda: _train(options.seed),
        )
        save_graph(model, tmp / "model.snnc")
        program, report = steps.run(
            "compile", f"compile for {TARGET} (calibrated on {CALIBRATION_SAMPLES} val samples)",
            lambda: _compile(model, hw),
        )
        write_build(tmp / "build", program, hw, report)
        enc = program.metadata["encoding"]
        model_steps, input_seed = int(enc["steps"]), int(enc["seed"])
        data = load_split(program, "model", DATASET, "test", options.samples)
        t_list = curve_steps(enc, options.max_steps_factor * model_steps, model_steps)
        kw = {"dataset": DATASET, "split": "test"}

        def both_curves():
            float_curve = accuracy_curve(model, None, "float", data.x, data.y, t_list,
                                         input_seed, label="float model", **kw)
            cpu_curve = accuracy_curve(program, hw, "cpu", data.x, data.y, t_list, input_seed,
                                       label="deployed (cpu, bit-accurate)", **kw)
            return [float_curve, cpu_curve]

        accuracy_curves = steps.run(
            "evaluate",
            f"accuracy, float model vs deployed program, {len(data.x)} test samples, "
            f"T = 1..{max(t_list)}",
            both_curves,
        )
        hil, hil_skipped = steps.run(
            "hil", f"HIL: cpu (reference) vs Lava fixed_pt, {options.hil_samples} samples",
            lambda: _hil(program, hw, options.hil_samples),
        )
        if hil is not None:
            atomic_write_text(tmp / "hil-report.json",
                              json.dumps(hil.to_json(), sort_keys=True, indent=2) + "\n")
        hil_text = hil_line(hil, hil_skipped)

        def report_folder():
            inputs, labels = encode_split(program.metadata, DATASET, "test",
                                          DEFAULT_ACTIVITY_SAMPLES)
            activity = record_activity(program, hw, inputs, f"{DATASET} test (input seed "
                                       f"{input_seed})", labels)
            return write_report(tmp / "report", ReportInputs(
                label="build", program=program, hw=hw, report=report, activity=activity,
                curves=accuracy_curves, extra=[("HIL", hil_text)],
            ))

        steps.run("report", "report figures", report_folder)
        summary = {
            "format_version": DEMO_VERSION,
            "dataset": DATASET,
            "target": TARGET,
            "seed": options.seed,
            **train_info,
            "steps": model_steps,
            "input_seed": input_seed,
            "test_samples": len(data.x),
            "float_accuracy": round(accuracy_curves[0].at(model_steps), 6),
            "deployed_accuracy": round(accuracy_curves[1].at(model_steps), 6),
            "cores_used": report["cores_used"],
            "cores_lower_bound": report["cores_lower_bound"],
            "chips_used": report["chips_used"],
            "hil": hil.to_json() if hil is not None else {"skipped": hil_skipped},
            "hil_summary": hil_text,
            "report": "report/index.html",
        }
        atomic_write_text(tmp / DEMO_FILE, json.dumps(summary, sort_keys=True, indent=2) + "\n")
    return DemoResult(summary, None if hil is None else hil.comparison.agree, timings)


def hil_line(hil: Any, skipped: str | None) -> str:
    """The HIL result in one line (the summary's and the report's)."""
    if hil is None:
        return f"skipped: Lava is not available ({skipped})"
    cmp_ = hil.comparison
    pops = len(cmp_.compared)
    batch = hil.reference.batch
    what = (f"cpu vs lava, {batch} sample{'s' * (batch != 1)} x {hil.reference.steps} steps, "
            f"{cmp_.total:,} values (spikes, u, v of {pops} populations)")
    if cmp_.agree:
        return f"AGREE: {what}, all equal"
    return f"DIVERGED: {what}; first: {cmp_.first.describe()}"
