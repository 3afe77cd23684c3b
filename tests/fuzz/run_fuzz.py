"""`make fuzz`: every fuzzer with many examples; prints the counts per format.

    python -m tests.fuzz.run_fuzz [--examples N] [FORMAT ...]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from tests.fuzz.fuzzers import EXAMPLES, FUZZERS, run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=None,
                    help="examples per format (default: each format's own, 10,000 or 1,000)")
    ap.add_argument("formats", nargs="*", default=list(FUZZERS))
    args = ap.parse_args()
    failed = False
    print(f"{'format':14s} {'examples':>9s} {'seconds':>8s}  outcomes")
    for name in args.formats:
        t0 = time.perf_counter()
        try:
            outcomes = run(name, args.examples or EXAMPLES[name])
        except Exception as e:  # a fuzzer's finding: report it and keep fuzzing the other formats
            failed = True
            print(f"{name:14s} FAILED: {type(e).__name__}: {e}")
            print("".join(traceback.format_exception(e)[-6:]), file=sys.stderr)
            continue
        total = sum(outcomes.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(
            f"{name:14s} {total:9d} {time.perf_counter() - t0:8.1f}  {detail}; 0 tracebacks, 0 "
            "partial outputs"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
