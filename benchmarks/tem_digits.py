"""The time-encoding trainer on deployed neurons: the digits classifier trained from spike-time
constraints (against a least-squares linear classifier on the same inputs), its fixed-point
program on the cpu backend, and weight identification of corrupted target copies.

    python benchmarks/tem_digits.py [--trials N] [--seed S]

Writes its section of benchmarks/RESULTS.md. Runtime: about a minute.
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

from backends.cpu.simulator import run
from trainers.datasets import load_dataset
from trainers.tem.classifier import (
    OUTPUT,
    PROJECTION,
    TemClassifierConfig,
    encode_samples,
    evaluate,
    integer_program,
    least_squares_accuracy,
    train_classifier,
)
from trainers.tem.identify import identify_weights


def classifier_section(data, cfg: TemClassifierConfig):
    start = time.perf_counter()
    result = train_classifier(data, cfg)
    train_s = time.perf_counter() - start
    graph = result.graph
    program = integer_program(graph)
    acc = {split: evaluate(graph, data, split) for split in ("train", "val", "test")}
    cpu = evaluate(program, data, "test", backend="cpu")
    spec = graph.metadata["encoding"]
    x_tr, y_tr = data.split("train")
    x_te, y_te = data.split("test")
    ls_pixels = least_squares_accuracy(x_tr, y_tr, x_te, y_te, data.n_classes)
    ls_counts = least_squares_accuracy(
        encode_samples(spec, x_tr).sum(axis=1),
        y_tr,
        encode_samples(spec, x_te).sum(axis=1),
        y_te,
        data.n_classes,
    )
    rows = [
        "| model | test accuracy |",
        "|---|---|",
        "| TEM classifier, float model (`snnc train tem` default), own evaluation | "
        f"{acc['test']:.4f} |",
        f"| same, fixed-point program (QDense/QLIF, du=4095, dv=0) on the cpu backend | {cpu:.4f} "
        "|",
        f"| least-squares linear classifier on the pixels | {ls_pixels:.4f} |",
        f"| least-squares linear classifier on the spike counts the SNN sees | {ls_counts:.4f} |",
    ]
    text = (
        f"digits: {len(x_tr)} training, {len(data.x_val)} validation, {len(x_te)} test samples; "
        "rate code, "
        f"{cfg.steps} steps, target: class neuron every {cfg.period} steps, others silent; "
        f"train {acc['train']:.4f}, val {acc['val']:.4f}; {result.iterations} L-BFGS-B iterations, "
        f"training {train_s:.1f} s; threshold {result.threshold}, |v| <= "
        f"{graph.metadata['trainer']['v_max_train']:.0f} "
        f"on the training set (Lava saturates at {graph.metadata['trainer']['v_limit']}).\n\n"
        + "\n".join(rows)
    )
    return text, program, graph


def identification_section(data, program, graph, trials: int, seed: int, samples: int):
    rng = np.random.default_rng(seed)
    x_te, _ = data.split("test")
    spikes = encode_samples(graph.metadata["encoding"], x_te[:samples])
    weights = program.projections[PROJECTION].weight
    active = np.flatnonzero(spikes.any(axis=(0, 1)))  # pixels that ever spike
    lines = [
        "| trial | synapse | program -> target | neurons flagged | single-change candidates | "
        "value if alone | proven (LP) | time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    found = pinned = proven = visible = 0
    reference = run(program, spikes).get(OUTPUT)
    for trial in range(trials):
        post = int(rng.integers(weights.shape[0]))
        pre = int(rng.choice(active))
        delta = int(rng.choice([-1, 1]) * 2 * rng.integers(10, 51))
        changed = weights.copy()
        changed[post, pre] = int(np.clip(changed[post, pre] + delta, -256, 254))
        target = program.with_node(
            PROJECTION, program.projections[PROJECTION].replace(weight=changed)
        )
        recorded = {OUTPUT: run(target, spikes).get(OUTPUT)}
        visible += not np.array_equal(recorded[OUTPUT], reference)
        start = time.perf_counter()
        result = identify_weights(program, OUTPUT, spikes, recorded)
        elapsed = time.perf_counter() - start
        flagged = [n.neuron for n in result.neurons if n.status != "consistent"]
        cands = result.single_change_candidates
        hit = [(s.post, s.pre) for s in cands] == [(post, pre)]
        value = cands[0].alone if hit else None
        found += hit
        pinned += bool(hit and value[0] == value[1] == changed[post, pre])
        proven += any((s.post, s.pre) == (post, pre) for s in result.differing)
        shown = "; ".join(f"[{s.post},{s.pre}]" for s in cands) or "none"
        val = (
            "-"
            if value is None
            else (f"{value[0]:g}" if value[0] == value[1] else f"[{value[0]:g}, {value[1]:g}]")
        )
        lines.append(
            f"| {trial} | [{post},{pre}] | {weights[post, pre]} -> {changed[post, pre]} | "
            f"{flagged or 'none'} | "
            f"{shown} | {val} | "
            f"{'yes' if any((s.post, s.pre) == (post, pre) for s in result.differing) else 'no'} "
            f"| {elapsed:.2f} s |"
        )
    summary = (
        f"{trials} trials: one synapse of the trained program changed by +-20..100 in the "
        "target's copy "
        f"(random neuron, random pixel that spikes), both run on the cpu backend on {samples} "
        "test samples x "
        f"{spikes.shape[1]} steps; identified from the target's output spikes only. The change "
        "altered the "
        f"target's spikes in {visible}/{trials} trials (otherwise no spike-based method can see "
        "it). The changed "
        f"synapse is the unique single-change candidate in {found}/{visible} of those, with its "
        "target value "
        f"pinned exactly in {pinned}/{visible}; the LP bounds alone prove it differs in "
        f"{proven}/{visible}."
    )
    return summary + "\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument(
        "--samples", type=int, default=450, help="test samples the target runs (default: all 450)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    data = load_dataset("digits")
    cfg = TemClassifierConfig()
    clf_text, program, graph = classifier_section(data, cfg)
    print(clf_text + "\n", flush=True)
    ident_text = identification_section(data, program, graph, args.trials, args.seed, args.samples)
    print(ident_text, flush=True)
    body = (
        f"{machine_line()} `python benchmarks/tem_digits.py --trials {args.trials} --samples "
        f"{args.samples} "
        f"--seed {args.seed}`.\n\n### Classifier from spike-time constraints\n\n{clf_text}\n\n"
        f"### Weight identification from spike times\n\n{ident_text}"
    )
    if not args.no_write:
        update_section("tem_digits", "Time-encoding training on deployed neurons (digits)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
