"""Reproduce the three weight-recovery tables of Adam, "A Time Encoding approach to training
Spiking Neural Networks" (arXiv 2110.06735; seeds.md section 1.5) with trainers.tem, and record
them next to the authors' figures in benchmarks/RESULTS.md.

    python benchmarks/tem_reproduction.py [--runs N] [--two-layer-runs N] [--seed S]

Each cell is the median over independent seeded random networks (the authors' tables are single
draws, except the two-layer one: median of 50). Runtime: about two minutes on one core.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

try:
    from benchmarks._results import machine_line, update_section
except ImportError:  # run as a script from benchmarks/
    from _results import machine_line, update_section  # type: ignore[no-redef]

from trainers.tem.reproduction import noise_trial, one_layer_trial, two_layer_trial

# The authors' values, read from Data/*.pkl of karenadam/Spiking-Neural-Networks-Meet-Time-Encoding
# at ae53515 (seeds.md tables 1.1-1.3).
AUTHORS_T1_EXAMPLES = (1, 2, 3, 4, 6, 9)
AUTHORS_T1_DURATIONS = (1, 2, 4, 6, 8, 10, 14)
AUTHORS_T1 = {
    1: (2.76, 2.74, 2.54, 2.63, 2.53, 2.45, 2.34),
    2: (2.35, 2.23, 1.77, 1.86, 1.51, 1.34, 1.12),
    3: (1.84, 1.96, 0.76, 1.23, 1.1e-2, 9.8e-4, 7.4e-7),
    4: (1.58, 0.76, 1.1e-4, 8.1e-2, 7.2e-6, 6.6e-7, 1.1e-7),
    6: (7.0e-3, 3.9e-4, 1.1e-6, 1.3e-6, 1.8e-7, 5.7e-8, 4.4e-8),
    9: (4.7e-5, 1.5e-6, 1.6e-7, 5.1e-8, 3.3e-8, 2.3e-8, 1.6e-8),
}
AUTHORS_T2_EXAMPLES = (1, 4, 8, 16, 64)
AUTHORS_T2_LEVELS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
AUTHORS_T2 = {
    1: (12.8, 1.2e3, 2.1e4, 2.0e5, 1.4e6),
    4: (1.1e-3, 7.2e-3, 0.14, 6.6, 12.8),
    8: (1.4e-4, 9.1e-4, 1.2e-2, 0.19, 5.95),
    16: (5.7e-5, 1.3e-3, 9.7e-3, 0.11, 3.48),
    64: (6.0e-3, 3.0e-3, 5.6e-3, 9.8e-2, 3.12),
}
T3_DURATIONS = tuple(range(10, 40, 2))
AUTHORS_T3 = {  # duration: (median W1, median W2)
    10: (10.0, 0.84),
    20: (6.99, 1.37),
    26: (3.15, 0.67),
    28: (2.8e-4, 3.5e-4),
    30: (1.0e-4, 1.4e-4),
    32: (3.6e-5, 1.6e-5),
    38: (1.7e-5, 2.6e-5),
}


def _cell(ours: float, theirs: float) -> str:
    return f"{ours:.2g} ({theirs:.2g})"


def table_one(runs: int, seed: int) -> tuple[str, bool, np.ndarray]:
    trials = np.stack(
        [one_layer_trial(seed + r, AUTHORS_T1_EXAMPLES, AUTHORS_T1_DURATIONS) for r in range(runs)]
    )
    med = np.median(trials, axis=0)
    head = "| examples \\ duration | " + " | ".join(str(d) for d in AUTHORS_T1_DURATIONS) + " |"
    lines = [head, "|---" * (len(AUTHORS_T1_DURATIONS) + 1) + "|"]
    for i, e in enumerate(AUTHORS_T1_EXAMPLES):
        lines.append(
            f"| {e} | "
            + " | ".join(
                _cell(med[i, j], AUTHORS_T1[e][j]) for j in range(len(AUTHORS_T1_DURATIONS))
            )
            + " |"
        )
    rows = [i for i, e in enumerate(AUTHORS_T1_EXAMPLES) if e >= 4]
    cols = [j for j, d in enumerate(AUTHORS_T1_DURATIONS) if d >= 10]
    worst = float(trials[:, rows][:, :, cols].max())
    ok = worst <= 1e-6
    check = (
        f"Check: with >= 4 examples and duration >= 10 the largest error over all {runs} runs is "
        f"{worst:.2g} (target <= 1e-6): {'met' if ok else 'NOT met'}."
    )
    return "\n".join(lines) + "\n\n" + check, ok, med


def table_two(runs: int, seed: int) -> tuple[str, bool, np.ndarray]:
    med = np.stack(
        [
            np.median(
                [noise_trial(seed + 1000 * e + r, e, AUTHORS_T2_LEVELS) for r in range(runs)],
                axis=0,
            )
            for e in AUTHORS_T2_EXAMPLES
        ]
    )
    head = "| examples \\ jitter level | " + " | ".join(f"{v:g}" for v in AUTHORS_T2_LEVELS) + " |"
    lines = [head, "|---" * (len(AUTHORS_T2_LEVELS) + 1) + "|"]
    for i, e in enumerate(AUTHORS_T2_EXAMPLES):
        lines.append(
            f"| {e} | "
            + " | ".join(_cell(med[i, j], AUTHORS_T2[e][j]) for j in range(len(AUTHORS_T2_LEVELS)))
            + " |"
        )
    identified = [i for i, e in enumerate(AUTHORS_T2_EXAMPLES) if e >= 4]
    growing = all(bool(np.all(np.diff(med[i]) > 0)) for i in identified)
    check = (
        "Check: for every row with >= 4 examples the median error grows with every step of "
        "jitter: "
        f"{'met' if growing else 'NOT met'}. (With 1 example W is not identified and the error is "
        "noise amplified by the minimum-norm solve, as in the authors' row.)"
    )
    return "\n".join(lines) + "\n\n" + check, growing, med


def table_three(runs: int, seed: int) -> tuple[str, bool, np.ndarray]:
    trials = np.stack(
        [two_layer_trial(seed + r, T3_DURATIONS) for r in range(runs)]
    )  # (runs, D, 2)
    med = np.median(trials, axis=0)
    q25, q75 = np.quantile(trials, 0.25, axis=0), np.quantile(trials, 0.75, axis=0)
    lines = [
        "| duration | median W1 (authors) | median W2 (authors) | W1 25-75% | W2 25-75% |",
        "|---|---|---|---|---|",
    ]
    for j, d in enumerate(T3_DURATIONS):
        theirs = AUTHORS_T3.get(d)
        w1 = f"{med[j, 0]:.2g}" + (f" ({theirs[0]:.2g})" if theirs else "")
        w2 = f"{med[j, 1]:.2g}" + (f" ({theirs[1]:.2g})" if theirs else "")
        lines.append(
            f"| {d} | {w1} | {w2} | {q25[j, 0]:.2g} - {q75[j, 0]:.2g} | {q25[j, 1]:.2g} - "
            f"{q75[j, 1]:.2g} |"
        )
    late = [j for j, d in enumerate(T3_DURATIONS) if d >= 28]
    worst = float(med[late].max())
    ok = worst <= 1e-3
    check = (
        f"Check: at duration >= 28 the largest median error (W1 or W2) is {worst:.2g} (target <= "
        "1e-3): "
        f"{'met' if ok else 'NOT met'}."
    )
    return "\n".join(lines) + "\n\n" + check, ok, med


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=5, help="random networks per one-layer cell (default 5)"
    )
    parser.add_argument(
        "--two-layer-runs",
        type=int,
        default=50,
        help="random 2-2-4 networks (default 50, as the authors)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave RESULTS.md alone"
    )
    args = parser.parse_args(argv)
    sections, all_ok = [], True
    for title, fn, runs in (
        ("One layer: error vs examples and duration (20 inputs, 5 outputs)", table_one, args.runs),
        ("One layer: error vs spike-time jitter (duration 10)", table_two, args.runs),
        (
            "Two layers (2-2-4, 2 examples, L = 4 spikes per hidden neuron)",
            table_three,
            args.two_layer_runs,
        ),
    ):
        start = time.perf_counter()
        text, ok, _ = fn(runs, args.seed)
        elapsed = time.perf_counter() - start
        all_ok &= ok
        sections.append(
            f"### {title}\n\nMedian over {runs} seeded random networks, ours (authors'); "
            f"{elapsed:.0f} s.\n\n{text}"
        )
        print(sections[-1] + "\n", flush=True)
    body = (
        f"{machine_line()} `python benchmarks/tem_reproduction.py --runs {args.runs} "
        "--two-layer-runs "
        f"{args.two_layer_runs} --seed {args.seed}`. Errors: one layer ||W_hat - W||_F; two layers "
        "W2: min over hidden permutations of the Frobenius norm, W1: matrix 1-norm under the same "
        "permutation. "
        "Authors' values in parentheses: single draws (tables 1 and 2) and the median of 50 "
        "(table 3), "
        "from their committed result files (seeds.md 1.5). Our spike times are exact to far below "
        "the "
        "authors' 1e-8 bisection tolerance (bisection to 1e-8, then one interpolation step), so "
        "the "
        "error floors of identified cells are lower than theirs; the shapes are the comparison. "
        "We also identify W at shorter exposures than the authors (e.g. 4 examples at duration "
        "1-6). "
        "Our encoder returns the first threshold crossing (grid bracket, then bisection); theirs "
        "at the "
        "pinned commit (Multi-Channel-Time-Encoding 1e5e7ac, src/Encoder.py) bisects over [last "
        "spike, "
        "end of encoding] and stops on a relative change of the integral, which need not give the "
        "first "
        "crossing when y + b changes sign early in the window, where the fast spikes are. That is "
        "a likely "
        "cause; we did not verify it.\n\n" + "\n\n".join(sections)
    )
    if not args.no_write:
        update_section(
            "tem_reproduction",
            "Time-encoding training: reproduction of Adam (arXiv 2110.06735)",
            body,
        )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
