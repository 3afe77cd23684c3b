"""Wall time of `snnc demo`, as a user runs it: a fresh `snnc` process each time (imports, numba
kernel loading and Lava start-up included), after `make setup`.

Runs the demo RUNS times into a temporary folder and records the median wall time, each step's
median (from the demo's own step lines on stderr), the machine load before and after, the
demo's figures, and whether every run wrote byte-identical output folders (the demo is
seeded). Writes the "demo" section of benchmarks/RESULTS.md.

    python benchmarks/demo.py [--runs N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, update_section  # noqa: E402

RUNS = 3
STEP_RE = re.compile(r"^snnc demo \[(\d)/\d\] done in ([0-9.]+) s$")
STEP_NAMES = ("train", "compile", "evaluate", "HIL", "report")
LIMIT_S = 180.0  # the bound: under 3 minutes on 2 cores after setup


def folder_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def one_run(out: Path) -> tuple[float, dict[int, float], dict, dict[str, str]]:
    env = {**os.environ, "SNNC_PROGRESS": "0"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "demo", "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"snnc demo failed ({proc.returncode}): {proc.stderr.strip()}")
    steps = {}
    for line in proc.stderr.splitlines():
        m = STEP_RE.match(line)
        if m:
            steps[int(m.group(1))] = float(m.group(2))
    summary = json.loads((out / "demo.json").read_text(encoding="utf-8"))
    return wall, steps, summary, folder_digest(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    walls, per_step, summaries, digests = [], {}, [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            wall, steps, summary, digest = one_run(Path(tmp) / f"run{i}")
            walls.append(wall)
            summaries.append(summary)
            digests.append(digest)
            for k, v in steps.items():
                per_step.setdefault(k, []).append(v)
            print(f"run {i + 1}: {wall:.1f} s", flush=True)
    load_after = os.getloadavg()[0]
    s = summaries[0]
    same = all(d == digests[0] for d in digests)
    median = statistics.median(walls)
    step_cells = ", ".join(
        f"{STEP_NAMES[k - 1]} {statistics.median(v):.1f} s" for k, v in sorted(per_step.items())
    )
    all_walls = ", ".join(f"{w:.1f}" for w in walls)
    body = f"""{machine_line()}

`snnc demo` in a fresh process per run (`python -m compiler.cli demo`, progress bars off), after
`make setup`, on a machine shared with other jobs: 1-minute load average {load_before:.1f} before
and {load_after:.1f} after, on {os.cpu_count()} cores.

| runs | wall time, median (all) | bound | steps (median) |
|---|---|---|---|
| {len(walls)} | {median:.1f} s ({all_walls}) | {LIMIT_S:.0f} s | {step_cells} |

Every run wrote the same bytes ({len(digests[0])} files: model, build, HIL report, report
figures, summary): {"yes" if same else "NO"}. What it computed: {s["trainer"]}
{s["architecture"]} on {s["dataset"]}, T = {s["steps"]}; accuracy on {s["test_samples"]} test
samples: float {s["float_accuracy"]:.4f}, deployed (cpu, bit-accurate)
{s["deployed_accuracy"]:.4f}; {s["cores_used"]} core(s) on {s["target"]} (lower bound
{s["cores_lower_bound"]}); HIL: {s["hil_summary"]}.
"""
    update_section("demo", "`snnc demo` wall time", body)
    print(f"median {median:.1f} s over {len(walls)} runs (bound {LIMIT_S:.0f} s)")
    return 0 if median < LIMIT_S and same else 1


if __name__ == "__main__":
    sys.exit(main())
