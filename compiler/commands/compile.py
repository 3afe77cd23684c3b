"""`snnc compile MODEL --target T -o BUILD`: run the compile pipeline, write the BUILD folder
atomically, print the report (and loud warnings on stderr)."""

from __future__ import annotations

import argparse
import sys

from compiler.build import HW, PROGRAM, REPORT, write_build
from compiler.commands._common import resolve_hw
from compiler.model_io import load_model
from compiler.passes.quantize import GRANULARITIES
from compiler.quantization.report import format_quantization
from compiler.report import format_report
from ir.atomic import check_output_dir
from ir.latency import latency_line
from ir.progress import status

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compile", help="quantize (then partition and place) a model for a target; write BUILD"
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--target", default=None, help="built-in target (`snnc hw list`) or a YAML file")
    p.add_argument(
        "--hw",
        default=None,
        metavar="FILE.yaml",
        help="hardware config file (instead of, or checked against, --target)",
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="BUILD",
        help="output folder (snnc replaces only the files it wrote there; others are kept)"
    )
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds for formats without one (.nir)"
    )
    q = p.add_argument_group("quantization")
    q.add_argument(
        "--weight-bits",
        type=int,
        default=None,
        help="weight mantissa bits (default: the target's maximum)",
    )
    q.add_argument(
        "--granularity",
        choices=GRANULARITIES,
        default="per-layer",
        help="one weight exponent per projection, or per destination neuron (default per-layer)",
    )
    q.add_argument(
        "--clip-percentile",
        type=float,
        default=100.0,
        help="size the weight range by this percentile of |w| instead of the maximum; "
        "larger weights clip (default 100)",
    )
    q.add_argument(
        "--split-signs",
        action="store_true",
        help="split mixed-sign projections into excitatory + inhibitory parts "
        "(one more bit of precision each)",
    )
    q.add_argument(
        "--v-range",
        type=float,
        default=64.0,
        help="room for v below zero, in thresholds, before Lava's 24-bit v saturates (default 64)",
    )
    q.add_argument(
        "--decay-levels",
        type=int,
        default=None,
        metavar="K",
        help="at most K values per decay register in each population: per-neuron decays are "
        "clustered (fewer Lava processes; the added error is in the report). Default: exact",
    )
    c = p.add_argument_group("calibration (float vs fixed-point activity)")
    c.add_argument(
        "--calibrate",
        default=None,
        metavar="DATASET|IN.npy",
        help="digits or fashion-mnist (encoded as the model's metadata says), or your own input "
        "spikes (batch, T, n_inputs)",
    )
    c.add_argument(
        "--samples",
        type=int,
        default=None,
        help="calibration samples (default: 64 of a dataset; every sample of IN.npy)",
    )
    c.add_argument(
        "--no-bias-correction",
        dest="bias_correction",
        action="store_false",
        help="keep the biases as they are (by default, a calibrated compile subtracts from each "
        "neuron's bias the mean drift its rounded weights add at the calibration rates)",
    )
    c.add_argument(
        "--split",
        default="val",
        choices=("train", "val", "test"),
        help="calibration split (default val)",
    )
    c.add_argument(
        "--steps", type=int, default=None, help="time steps per sample (default: the model's)"
    )
    c.add_argument(
        "--input-seed", type=int, default=None, help="input-spike seed (default: the model's)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed for randomized pass choices, recorded (default 0)"
    )
    p.add_argument(
        "--print-ir-after",
        action="append",
        default=[],
        metavar="PASS",
        help="print the IR to stderr after PASS (repeatable; 'all' for every pass)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.compiling import compile_from_args

    hw = resolve_hw(args.target, args.hw)
    check_output_dir(args.output, (PROGRAM, HW, REPORT))
    graph = load_model(args.model, dt=args.dt)
    program, report = compile_from_args(
        args,
        graph,
        args.model,
        hw,
        print_after=args.print_ir_after,
        on_pass=lambda name: status(f"pass {name}"),
    )
    write_build(args.output, program, hw, report)
    print(f"compiled {args.model} for {hw.name} ({hw.source_file})")
    print(latency_line(report["latency"]["steps"]) + " (report.json: latency)")
    print()
    print(format_quantization(report["quantization"], warnings=False), end="")
    print()
    print(format_report(report), end="")
    for warning in report["quantization"].get("warnings", []):
        print(f"snnc: WARNING: {warning}", file=sys.stderr)
    print(f"\nwrote {args.output}/ (program.snnc, hw.yaml, report.json)")
    return 0
