"""`snnc train vib ...` (registered through trainers.TRAINERS) and the VIB
branch of `snnc eval` (`eval_command`). torch is imported only when training runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ir.errors import InputError

__all__ = ["eval_command", "print_eval", "register"]

TASKS = ("predictive-coding", "digits", "fashion-mnist")


def _hidden(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text in ("", "none", "0"):
        return ()
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes (e.g. 128 or 128,64) or 'none', got {text!r}"
        ) from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vib",
        help="information-bottleneck hybrid: SNN encoder (deployed by snnc) + host ANN decoder",
        description="Train an SNN encoder and an ANN decoder end to end with the information "
        "bottleneck (Skatchkovsky et al. 2021). Writes MODEL (the encoder, an snnc model) and "
        "MODEL-stem.decoder.npz (the host decoder). Unset options take the task's defaults.",
    )
    task = p.add_mutually_exclusive_group()
    task.add_argument(
        "--task",
        choices=TASKS,
        default=None,
        help="predictive-coding (drifting blobs), or reconstruction of digits / fashion-mnist "
        "(default digits)",
    )
    task.add_argument("--dataset", choices=("digits", "fashion-mnist"), default=None,
                      help="same as --task for the reconstruction tasks")
    p.add_argument(
        "--decoding",
        choices=("time", "rate"),
        default=None,
        help="decoder reads the spike window (time) or counts (rate); default time",
    )
    p.add_argument(
        "--rule",
        choices=("score", "surrogate"),
        default=None,
        help="score: the paper's score-function + feedback-alignment rule (default); "
        "surrogate: straight-through backprop",
    )
    p.add_argument(
        "--encoding",
        choices=("latency", "rate"),
        default=None,
        help="input coding for reconstruction (default latency)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="input steps (reconstruction) or sequence length (predictive coding)",
    )
    p.add_argument(
        "--hidden",
        type=_hidden,
        default=None,
        help="hidden LIF layer sizes, e.g. 128 or 128,64, or none",
    )
    p.add_argument("--readout", type=int, default=None, dest="n_readout", help="readout neurons")
    p.add_argument(
        "--window", type=int, default=None, help="predictive coding: decoder window in steps"
    )
    p.add_argument(
        "--delta",
        type=int,
        default=None,
        help="predictive coding: target = input at (newest seen input step + delta)",
    )
    p.add_argument("--beta", type=float, default=None, help="weight of the KL (rate) term")
    p.add_argument(
        "--r", type=float, default=None, help="reference firing probability of the KL term"
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--lr-encoder", type=float, default=None)
    p.add_argument("--lr-decoder", type=float, default=None)
    p.add_argument("--decoder", choices=("linear", "mlp"), default=None)
    p.add_argument("--decoder-hidden", type=int, default=None)
    p.add_argument(
        "--refit-epochs",
        type=int,
        default=None,
        help="epochs fitting the decoder to the deployed deterministic readout "
        "(0: keep the trained one)",
    )
    p.add_argument(
        "--train-samples",
        type=int,
        default=None,
        help="reconstruction: use only the first N training images",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="encoder model file to write (e.g. vib.snnc)",
    )
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from trainers.vib.config import config_for
    from trainers.vib.export import write_model
    from trainers.vib.train import train_vib

    task = args.task or args.dataset or "digits"
    cfg = config_for(
        task, decoding=args.decoding, rule=args.rule, encoding=args.encoding, steps=args.steps,
        hidden=args.hidden, n_readout=args.n_readout, window=args.window, delta=args.delta,
        beta=args.beta, r=args.r, epochs=args.epochs, batch=args.batch, lr_encoder=args.lr_encoder,
        lr_decoder=args.lr_decoder, decoder=args.decoder, decoder_hidden=args.decoder_hidden,
        refit_epochs=args.refit_epochs, train_samples=args.train_samples, seed=args.seed,
    )
    out = Path(args.output)
    if out.is_dir():
        raise InputError(
            f"-o {out}: is a folder; give a model file name such as {out / 'vib.snnc'}"
        )
    result = train_vib(cfg)
    graph, dec_path = write_model(result, out)
    sizes = " -> ".join(f"{name} {pop.size}" for name, pop in graph.populations.items())
    val = result.val
    print(
        f"task        {task} ({cfg.decoding} decoding, {cfg.rule} rule, beta {cfg.beta:g}, r "
        f"{cfg.r:g}, seed {cfg.seed})"
    )
    print(
        f"encoder     {sizes}; readout deployed as deterministic LIF (fires where sigmoid(v - "
        "v_th) > 1/2)"
    )
    print(f"val metric  sampled readout {val['sampled']:.4f} (rate {val['sampled_rate']:.3f}); "
          f"deterministic readout {val['deterministic_no_refit']:.4f} before refit, "
          f"{val['deterministic']:.4f} after (rate {val['deterministic_rate']:.3f})")
    print(f"wrote       {out} (encoder) and {dec_path} (decoder)")
    return 0


def eval_command(
    graph: Any,
    model_path: str,
    *,
    dataset: str | None,
    backend: str,
    hw: Any,
    split: str,
    samples: int | None,
    steps: int | None,
    seed: int | None,
    batch: int,
    as_json: bool,
    decoder_file: str | None = None,
) -> int:
    """The VIB branch of `snnc eval`: score the deployed pipeline (backend spikes -> host
    decoder -> task metric), print it (`accuracy: X` last, or one JSON object), return 0."""
    from trainers.vib.evaluate import evaluate_vib

    result = evaluate_vib(
        graph,
        model_path,
        backend=backend,
        hw=hw,
        split=split,
        samples=samples,
        steps=steps,
        seed=seed,
        dataset=dataset,
        batch=batch,
        decoder_file=decoder_file,
    )
    result["model"] = str(model_path)
    print_eval(result, as_json)
    return 0


def print_eval(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    task = result["task"]
    name = (
        task.get("dataset", "drifting blobs")
        if task.get("kind") == "reconstruction"
        else "drifting blobs"
    )
    print(
        f"model       VIB {task.get('kind')} ({name}), {result['decoding']} decoding, host decoder"
    )
    print(f"backend     {result['backend']}, {result['samples']} samples of {result['split']}, "
          f"{result['steps']} input steps ({result['run_steps']} run steps)")
    print(f"readout     firing rate {result['readout_rate']:.4f}")
    print(f"metric      {result['metric']}")
    print(f"accuracy: {result['accuracy']:.4f}")
