"""Conversion trainer (issue 7): the MLP's gap to its ANN at T >= 64, over ANN training seeds.

The goal "deployed MLP within 0.2 pp of the ANN from T=64" compares the SNN with one trained
ANN. For ANN training seeds 0, 1 and 2 (`snnc train conversion --dataset fashion-mnist --seed S`,
the baseline, tuned on the validation split at T=64), this records on the whole test split: the
ANN's accuracy; the ANN on the input spike counts over the first T steps (the same spikes as the
deployed runs: what the input encoding alone leaves of the ANN); and the deployed accuracy
(compiled as `conversion.py` compiles, bit-accurate cpu backend) at T = 64, 128 and 256, each over
input seeds 0, 1, 2. Seed 0 is `conversion.py`'s MLP baseline, and its runs are shared with it
through the work folder.

    python benchmarks/conversion_seeds.py [--workdir DIR] [--train-seeds 0,1,2] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, update_section  # noqa: E402
from benchmarks.conversion import (  # noqa: E402
    COMPILE_FLAGS,
    SEEDS,
    stage_ann,
    stage_compile,
    stage_deployed,
    stage_input_bound,
    stage_model,
)

STEPS = (64, 128, 256)
TUNE_T = 64
TRAIN_SEEDS = (0, 1, 2)
GOAL_PP = 0.2


def _tags(seed: int) -> tuple[str, str]:
    """(ANN tag, model tag) in the shared work folder; seed 0 uses conversion.py's names."""
    suffix = "" if seed == 0 else f"-seed{seed}"
    return f"mlp{suffix}", f"mlp-none-T{TUNE_T}{suffix}"


def measure(work: Path, data, seed: int) -> dict[str, Any]:
    from trainers.conversion.trainer import ConversionOptions

    opts = ConversionOptions(
        dataset="fashion-mnist", arch="mlp", seed=seed, steps=TUNE_T, tune_samples=5000
    )
    ann_tag, model_tag = _tags(seed)
    ann, info = stage_ann(work, data, opts, tag=ann_tag)
    graph = stage_model(work, ann, data, opts, model_tag)
    build = stage_compile(work, model_tag)
    x, y = data.x_test, data.y_test
    deployed = [stage_deployed(work, model_tag, build, x, y, s, STEPS, 500) for s in SEEDS]
    encoding = {"kind": "rate", "max_rate": opts.max_rate}
    bound = [stage_input_bound(work, ann_tag, ann, encoding, x, y, s, 500) for s in SEEDS]
    tun = graph.metadata["trainer"]["tuning"]
    return {
        "ann": info["test_accuracy"],
        "ann_val": info["val_accuracy"],
        "snn_val": tun["val_accuracy"],
        "deployed": {t: [d["accuracy"][str(t)] for d in deployed] for t in STEPS},
        "bound": {t: [b["accuracy"][str(t)] for b in bound] for t in STEPS},
    }


def _ms(values) -> str:
    a = np.asarray(values, dtype=np.float64)
    return f"{a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2f}"


def _pp(x: float) -> str:
    """Signed, two decimals, no '-0.00'."""
    return f"{round(x, 2) + 0.0:+.2f}"


def _range(values: list[float]) -> str:
    return f"from {_pp(min(values))} to {_pp(max(values))}"


def render(rows: dict[int, dict[str, Any]]) -> str:
    pct = lambda v: 100 * np.asarray(v, dtype=np.float64)  # noqa: E731
    lines = [
        machine_line(),
        "",
        "Fashion-MNIST MLP 784-512-256-10, baseline (no L4 adjustment) tuned on the validation "
        f"split at T={TUNE_T}, compiled with `snnc compile {' '.join(COMPILE_FLAGS)}`, run on the "
        f"cpu backend; whole test split, input seeds {list(SEEDS)} (mean ± std). One row per ANN "
        "training seed (`--seed`). 'input counts': the ANN fed each image's input spike counts "
        "over the first T steps divided by T (the same spikes). Gaps in pp, against the ANN on "
        "clean images; the goal is a gap >= "
        f"-{GOAL_PP} at every T from 64.",
        "",
        "| training seed | ANN | ANN val | SNN val (T=64, tuning) | "
        + " | ".join(f"input counts T={t}" for t in STEPS)
        + " | "
        + " | ".join(f"deployed T={t}" for t in STEPS)
        + " | "
        + " | ".join(f"gap T={t}" for t in STEPS)
        + " |",
        "|---|" + "---|" * (3 + 3 * len(STEPS)),
    ]
    gaps: dict[int, list[float]] = {t: [] for t in STEPS}
    encoding_cost: list[float] = []  # ANN - ANN on the input counts, at TUNE_T
    conversion_cost: list[float] = []  # ANN on the input counts - deployed, at TUNE_T
    for seed, r in rows.items():
        ann = 100 * r["ann"]
        for t in STEPS:
            gaps[t].append(float(pct(r["deployed"][t]).mean() - ann))
        counts = float(pct(r["bound"][TUNE_T]).mean())
        encoding_cost.append(ann - counts)
        conversion_cost.append(counts - float(pct(r["deployed"][TUNE_T]).mean()))
        lines.append(
            f"| {seed} | {ann:.2f} | {100 * r['ann_val']:.2f} | {100 * r['snn_val']:.2f} | "
            + " | ".join(_ms(pct(r["bound"][t])) for t in STEPS)
            + " | "
            + " | ".join(_ms(pct(r["deployed"][t])) for t in STEPS)
            + " | "
            + " | ".join(_pp(gaps[t][-1]) for t in STEPS)
            + " |"
        )
    met = [s for i, s in enumerate(rows) if all(gaps[t][i] >= -GOAL_PP for t in STEPS)]
    lines += [
        "",
        f"Over the {len(rows)} training seeds, at T={TUNE_T}: the gap {_ms(gaps[TUNE_T])} pp "
        f"({_range(gaps[TUNE_T])}); what the input encoding alone costs the ANN (ANN - input "
        f"counts) {_ms(encoding_cost)} pp ({_range(encoding_cost)}); what the conversion costs "
        f"beyond it (input counts - deployed) {_ms(conversion_cost)} pp "
        f"({_range(conversion_cost)}). Mean gap at T = "
        + ", ".join(f"{t}: {_pp(float(np.mean(gaps[t])))}" for t in STEPS)
        + f" pp. The goal holds at every T from 64 for training seeds {met or 'none'} of "
        f"{list(rows)}.",
    ]
    return "\n".join(lines)


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated seeds, got {text!r}") from None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "snnc-bench-conversion")
    )
    ap.add_argument("--train-seeds", type=_seed_list, default=TRAIN_SEEDS, metavar="S1,S2,..")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from ir.errors import DatasetMissingError
    from trainers.conversion.ann import torch_threads
    from trainers.datasets import load_dataset

    try:
        data = load_dataset("fashion-mnist")
    except DatasetMissingError as e:
        print(f"conversion seeds benchmark skipped: {e}", file=sys.stderr)
        return 0
    work = Path(args.workdir) / "full"
    work.mkdir(parents=True, exist_ok=True)
    with torch_threads(1):
        rows = {s: measure(work, data, s) for s in args.train_seeds}
    body = render(rows)
    print(body)
    if not args.no_write:
        update_section(
            "conversion-seeds",
            "Conversion trainer (issue 7): the MLP's gap to its ANN over training seeds",
            body,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
