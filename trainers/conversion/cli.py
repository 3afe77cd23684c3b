"""`snnc train conversion`: train a ReLU network, convert it to IF neurons, tune on validation data,
write the model. Registered by compiler/commands/train.py; torch is imported in the handler."""

from __future__ import annotations

import argparse
from typing import Any

from trainers.conversion.ann import ARCHS
from trainers.conversion.convert import L4_VARIANTS, THRESHOLD_MODES
from trainers.datasets import DATASETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "conversion",
        help="ANN-to-SNN conversion (bias-free ReLU MLP/CNN -> IF neurons), with the L4 adjustment",
        description="Train a bias-free ReLU network in PyTorch, convert it to integrate-and-fire "
        "neurons with the deployed semantics (reset to zero, current cleared every step, one step "
        "of delay per projection, Bernoulli rate-coded inputs), choose thresholds (and the L4 "
        "variant's strength) on the validation split, and write an snnc model.",
    )
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument(
        "--arch", default="mlp", choices=ARCHS, help="mlp (784-512-256-10 on Fashion-MNIST) or cnn"
    )
    p.add_argument(
        "--l4",
        default="none",
        choices=L4_VARIANTS,
        help="L4-norm adjustment: rescale (weights), margin (thresholds), bias (bias shift)",
    )
    p.add_argument(
        "--l4-strength",
        type=float,
        default=None,
        metavar="S",
        help="fixed alpha (rescale) or gamma (margin, bias); default: chosen on validation data",
    )
    p.add_argument(
        "--threshold",
        default="data",
        choices=THRESHOLD_MODES,
        help="data-based normalization or spike-based threshold balancing",
    )
    p.add_argument(
        "--percentile",
        type=float,
        default=99.9,
        help="percentile of activations (or currents) per layer",
    )
    p.add_argument(
        "--max-rate",
        type=float,
        default=1.0,
        help="input spike probability per step of a pixel of value 1",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=64,
        metavar="T",
        help="deployment time steps (tuning target, eval default)",
    )
    p.add_argument(
        "--tune-steps",
        type=_steps_list,
        default=(),
        metavar="T1,T2,..",
        help="tune for the mean validation accuracy at these T (default: --steps)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="ANN training epochs (default: 100 digits, 30 Fashion-MNIST)",
    )
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument(
        "--input-seed", type=int, default=0, help="input-spike seed recorded for evaluation"
    )
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads for training (results depend on it)"
    )
    p.add_argument(
        "--tune-samples",
        type=int,
        default=None,
        help="validation images used for tuning (default: 5000 mlp, 2000 cnn)",
    )
    p.add_argument("-o", "--output", required=True, metavar="MODEL")
    p.set_defaults(func=run)


def _steps_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated step counts, got {text!r}"
        ) from None


def train(args: argparse.Namespace) -> tuple[Any, dict[str, float], Any]:
    """(result, timings, options) for the command's options: what `snnc train conversion`
    writes (result.graph), and what `snnc sweep` trains (app/training.py)."""
    from trainers.conversion.trainer import ConversionOptions, train_conversion

    opts = ConversionOptions(
        dataset=args.dataset,
        arch=args.arch,
        l4=args.l4,
        l4_strength=args.l4_strength,
        threshold=args.threshold,
        percentile=args.percentile,
        max_rate=args.max_rate,
        steps=args.steps,
        tune_steps=args.tune_steps,
        seed=args.seed,
        input_seed=args.input_seed,
        epochs=args.epochs,
        threads=args.threads,
        tune_samples=args.tune_samples,
    )
    result, times = train_conversion(opts)
    return result, times, opts


def run(args: argparse.Namespace) -> int:
    from ir.serialize import save_graph

    result, times, opts = train(args)
    save_graph(result.graph, args.output)
    p = result.params
    sizes = (
        "-".join(str(m.n_in) for m in result.ann.chain.maps) + f"-{result.ann.chain.maps[-1].n_out}"
    )
    print(
        f"ann: {args.arch} {sizes}, val accuracy {result.ann_val_accuracy:.4f} "
        f"({times['train_s']:.1f} s)"
    )
    tuned_at = ",".join(str(t) for t in (opts.tune_steps or (opts.steps,)))
    print(
        f"snn: val accuracy {result.val_accuracy:.4f} at T={tuned_at} (float simulation; "
        f"threshold {args.threshold} p{args.percentile:g}, sigma {[round(s, 3) for s in p.sigma]}, "
        f"l4 {p.l4} strength {p.strength:g}) ({times['convert_s']:.1f} s)"
    )
    print(f"wrote {args.output}")
    return 0
