"""`snnc train tem`: the spike-time-constraint classifier (trainers.tem.classifier)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register", "train"]

# Fashion-MNIST's 55k training images would need tens of GB of constraint rows; train on a
# seeded subset unless told otherwise.
DEFAULT_SUBSET = {"fashion-mnist": 2000}


def register(sub: argparse._SubParsersAction) -> None:
    from trainers.tem.classifier import TemClassifierConfig

    d = TemClassifierConfig()
    p = sub.add_parser(
        "tem",
        help="one-layer IF classifier trained from target spike times (linear constraints, no "
             "backprop)",
        description="Train Input -> Dense -> IF on target spike times: the class neuron fires "
                    "every PERIOD "
        "steps, the others stay silent; every step is a linear inequality on the weights.",
    )
    p.add_argument("--dataset", required=True, choices=("digits", "fashion-mnist"))
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file to write")
    p.add_argument(
        "--steps", type=int, default=d.steps, help=f"steps per sample (default {d.steps})"
    )
    p.add_argument(
        "--period",
        type=int,
        default=d.period,
        help=f"target inter-spike interval (default {d.period})",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=d.margin,
        help=f"margin from threshold, threshold units (default {d.margin})",
    )
    p.add_argument("--l2", type=float, default=d.l2, help=f"weight decay (default {d.l2})")
    p.add_argument(
        "--max-rate",
        type=float,
        default=d.max_rate,
        help=f"rate-code spike probability for pixel 1 (default {d.max_rate})",
    )
    p.add_argument(
        "--max-iter", type=int, default=d.max_iter, help=f"solver iterations (default {d.max_iter})"
    )
    p.add_argument("--seed", type=int, default=d.seed, help="input-spike seed (default 0)")
    p.add_argument(
        "--train-samples",
        type=int,
        default=None,
        help="train on the first N training samples (default: all for digits, 2000 for "
             "fashion-mnist)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def train(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(graph, the training data, the solver's result) for the command's options: what `snnc
    train tem` writes, and what `snnc sweep` trains (app/training.py)."""
    from dataclasses import replace

    from ir.errors import InputError
    from trainers.datasets import load_dataset
    from trainers.tem.classifier import TemClassifierConfig, train_classifier

    cfg = TemClassifierConfig(
        steps=args.steps,
        period=args.period,
        margin=args.margin,
        l2=args.l2,
        max_rate=args.max_rate,
        seed=args.seed,
        max_iter=args.max_iter,
    )
    cfg.check()
    data = load_dataset(args.dataset)
    limit = (
        args.train_samples if args.train_samples is not None else DEFAULT_SUBSET.get(args.dataset)
    )
    if limit is not None:
        if limit < data.n_classes:
            raise InputError(f"--train-samples must be at least {data.n_classes}, got {limit}")
        data = replace(data, x_train=data.x_train[:limit], y_train=data.y_train[:limit])
    result = train_classifier(data, cfg)
    graph = result.graph.replace(
        metadata={
            **result.graph.metadata,
            "trainer": {**result.graph.metadata["trainer"], "train_samples": len(data.x_train)},
        }
    )
    return graph, data, result


def run(args: argparse.Namespace) -> int:
    from ir.serialize import save_graph
    from trainers.tem.classifier import encode_samples, evaluate, least_squares_accuracy

    graph, data, result = train(args)
    acc = {split: evaluate(graph, data, split) for split in ("train", "val", "test")}
    spec = graph.metadata["encoding"]
    x_tr, y_tr = data.split("train")
    x_te, y_te = data.split("test")
    baseline = {
        "pixels": least_squares_accuracy(x_tr, y_tr, x_te, y_te, data.n_classes),
        "spike_counts": least_squares_accuracy(
            encode_samples(spec, x_tr).sum(axis=1),
            y_tr,
            encode_samples(spec, x_te).sum(axis=1),
            y_te,
            data.n_classes,
        ),
    }
    save_graph(graph, args.output)
    trainer = graph.metadata["trainer"]
    summary = {
        "model": str(args.output),
        "dataset": args.dataset,
        "train_samples": len(x_tr),
        "steps": args.steps,
        "threshold": result.threshold,
        "iterations": result.iterations,
        "v_max_train": trainer["v_max_train"],
        "v_limit": trainer["v_limit"],
        "accuracy": acc,
        "least_squares_test_accuracy": baseline,
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    n_cls, n_in = result.weights.shape
    print(
        f"trained {n_cls} IF neurons x {n_in} inputs on {len(x_tr)} {args.dataset} samples from "
        "spike-time "
        f"constraints ({result.iterations} solver iterations)"
    )
    print(
        f"threshold {result.threshold}, weights even integers in [{int(result.weights.min())}, "
        f"{int(result.weights.max())}], "
        f"|v| <= {trainer['v_max_train']:.0f} on the training set (saturation at "
        f"{trainer['v_limit']})"
    )
    print(
        f"accuracy (float model): train {acc['train']:.4f}  val {acc['val']:.4f}  test "
        f"{acc['test']:.4f}"
    )
    print(
        f"least-squares linear classifier, test: pixels {baseline['pixels']:.4f}  "
        f"spike counts {baseline['spike_counts']:.4f}"
    )
    print(f"wrote {args.output}")
    return 0
