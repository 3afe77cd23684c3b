"""Run every benchmark in benchmarks/ (each updates its own section of RESULTS.md)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Order: cheap ones first. Each module runs as __main__ and writes its RESULTS.md section.
BENCHMARKS: list[str] = [
    "sim_vs_lava.py",
    "conv_sim.py",
    "partition.py",
    "demo.py",
    "quantization.py",
    "tem_reproduction.py",
    "tem_digits.py",
    "conversion.py",
    "conversion_seeds.py",
    "conversion_premise.py",
    "vib.py",
    "cost.py",
    "sweep.py",
]


def main() -> int:
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        runpy.run_path(str(HERE / name), run_name="__main__")
    if not BENCHMARKS:
        print("no benchmarks registered", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
