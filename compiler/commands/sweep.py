"""`snnc sweep SPEC.yaml -o DIR`: train (if asked), compile and evaluate every point of a grid,
in this process (`--executor local`, the default) or as Ray tasks (`--executor ray`: a local
cluster, or the one at `--address` / RAY_ADDRESS). Finished points are stored in DIR as they
arrive; `--resume` skips them. Progress goes to stderr, a table of the results to stdout.
The work is in app/sweep/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compiler.commands._common import add_executor_arguments

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="train/compile/evaluate every point of a grid of options; local or on Ray",
        description="Every point of SPEC's grid is trained (if the spec has a train: section), "
        "compiled and evaluated; results go to DIR/results.csv, DIR/results.json and "
        "DIR/accuracy.png. Grid keys are the options of `snnc train TRAINER`, `snnc compile` "
        "and `snnc eval`, as STEP.OPTION (e.g. compile.weight-bits, eval.steps).",
    )
    p.add_argument("spec", metavar="SPEC.yaml", help="the sweep (see examples/sweep-*.yaml)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    add_executor_arguments(p, "points")
    p.add_argument(
        "--resume", action="store_true", help="continue a sweep in DIR: skip its finished points"
    )
    p.set_defaults(func=run)


def _say(line: str) -> None:
    print(f"snnc sweep: {line}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from app.sweep import load_spec, run_sweep

    spec = load_spec(args.spec)
    out = Path(args.output)
    outcome = run_sweep(
        spec,
        out,
        executor=args.executor,
        address=args.address,
        workers=args.workers,
        resume=args.resume,
        say=_say,
    )
    keys = list(spec.grid)
    widths = [max(len(k), *(len(_text(r["values"][i])) for r in outcome.rows))
              for i, k in enumerate(keys)]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))
          + "  accuracy  spikes/inf  cores  uJ/inf")
    for row in outcome.rows:
        cells = "  ".join(_text(v).ljust(w) for v, w in zip(row["values"], widths, strict=True))
        if row["status"] == "ok":
            m = row["metrics"]
            energy = m.get("energy_j_per_inference")
            print(f"{cells}  {m['accuracy']:8.4f}  {m['spikes_per_inference']:10.1f}  "
                  f"{m['cores_used']!s:>5}  "
                  + (f"{energy * 1e6:6.3f}" if energy is not None else "     -"))
        else:
            print(f"{cells}  FAILED: {row['error']}")
    where = f" on {outcome.executor}" if outcome.ran else ""
    print(f"\n{len(outcome.rows)} points ({outcome.ran} run, {outcome.resumed} resumed, "
          f"{outcome.failed} failed) in {outcome.seconds:.1f} s{where}")
    print(f"wrote {out}/ ({', '.join(outcome.files)})")
    return 0


def _text(value: object) -> str:
    from app.sweep.spec import option_text

    return option_text(value)
