"""`snnc demo`: the whole job end to end on the 8x8 digits (train, compile for loihi2, float vs
deployed accuracy, HIL against Lava, a report folder); the work is `app.demo.run_demo`, this
module parses the options and prints the summary. Exit status 1 when the Lava run diverged."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.demo import DEMO_FILE, DemoOptions, DemoResult, run_demo

__all__ = ["format_summary", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="train on digits, compile for loihi2, compare float vs deployed accuracy, "
        "check against Lava, write a report",
    )
    p.add_argument(
        "-o", "--output", default="demo-out", metavar="DIR",
        help="output folder (default demo-out; replaced only if it holds a previous demo)",
    )
    p.add_argument(
        "--samples", type=int, default=None,
        help="test samples for the accuracy comparison (default: all 450)",
    )
    p.add_argument(
        "--hil-samples", type=int, default=4,
        help="samples run on both cpu and Lava for the HIL check (default 4)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="training and input-spike seed (default 0)"
    )
    p.set_defaults(func=run)


def format_summary(result: DemoResult, output: Path) -> str:
    s = result.summary
    lines = [
        f"snnc demo: {s['trainer']} {s['architecture']} on {s['dataset']}, T = {s['steps']}, "
        f"seed {s['seed']}",
        f"accuracy    float {s['float_accuracy']:.4f}, deployed {s['deployed_accuracy']:.4f} "
        f"(cpu, bit-accurate) on {s['test_samples']} test samples, input seed {s['input_seed']}",
        f"cores       {s['cores_used']} used on {s['target']}, lower bound "
        f"{s['cores_lower_bound']}; {s['chips_used']} chip{'s' * (s['chips_used'] != 1)}",
        f"hil         {s['hil_summary']}",
        f"report      {output / s['report']}",
        f"files       {output}/: model.snnc, build/, "
        + ("hil-report.json, " if "skipped" not in s["hil"] else "")
        + f"report/, {DEMO_FILE}",
    ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    options = DemoOptions(
        output=Path(args.output), samples=args.samples, hil_samples=args.hil_samples,
        seed=args.seed,
    )
    t0 = time.perf_counter()
    result = run_demo(options)
    print(format_summary(result, options.output), end="")
    print(f"snnc demo: finished in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if result.hil_agree is False:
        print("snnc: error: demo: the Lava run diverged from the reference (see hil above)",
              file=sys.stderr)
        return 1
    return 0
