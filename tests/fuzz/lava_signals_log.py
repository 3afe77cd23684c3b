"""`lava-signals` examples FIRST..LAST-1 (`tests/fuzz/hostile_families.py`), each logged as one JSON
line to LOG (appended), going on after a failure; then the outcome counts and every failure.

    python -m tests.fuzz.lava_signals_log 0 1000 lava-signals.jsonl

`make fuzz` stops at the first failure; an hour-long run over 1,000 examples is worth more when
it shows every failure it meets (a failure here depends on timing: rerun one with `FIRST`
`FIRST+1`)."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from tests.fuzz.hostile_families import lava_signal_example, lava_signal_outcome


def main(argv: list[str]) -> int:
    first, last, log = int(argv[0]), int(argv[1]), argv[2]
    for k in range(first, last):
        t0 = time.perf_counter()
        example = lava_signal_example(k)
        example["seconds"] = round(time.perf_counter() - t0, 1)
        with open(log, "a") as f:
            f.write(json.dumps(example, sort_keys=True) + "\n")
    return summary(log)


def summary(log: str) -> int:
    with open(log) as f:
        examples = [json.loads(line) for line in f]
    outcomes = Counter(lava_signal_outcome(e) for e in examples if not e["problems"])
    failed = [e for e in examples if e["problems"]]
    seconds = sum(e.get("seconds", 0.0) for e in examples)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    print(f"{len(examples)} examples, {seconds:.0f} s: {counts}")
    for e in failed:
        print(
            f"FAILED example {e['k']}: {e['verb']} {e['signal']} group={e['group']} from "
            f"{e['from']} +{e['after']} s, {e['steps']} steps: exit {e['code']}; "
            + "; ".join(e["problems"])
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(summary(sys.argv[2]) if sys.argv[1:2] == ["--summary"] else main(sys.argv[1:]))
