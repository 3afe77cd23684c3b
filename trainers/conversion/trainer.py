"""The whole conversion trainer: train the ANN, calibrate, tune on validation data, build the graph.

`train_conversion(options)` is what `snnc train conversion` runs; the benchmark calls
`train_ann_for` once and `convert_tuned` per (variant, T) to share the trained ANN.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.graph import Graph
from ir.progress import status
from trainers.conversion.ann import (
    ARCHS,
    AnnSpec,
    TrainedAnn,
    TrainSettings,
    default_spec,
    torch_threads,
    train_ann,
)
from trainers.conversion.chain import chain_logits
from trainers.conversion.convert import (
    L4_VARIANTS,
    THRESHOLD_MODES,
    Calibration,
    ConversionParams,
    build_snn,
    calibrate,
    l4_rescale,
    to_graph,
)
from trainers.conversion.tune import ValEvaluator, tune
from trainers.datasets import DATASETS, Dataset, load_dataset
from trainers.encoders import encode

__all__ = [
    "ConversionOptions",
    "ConversionResult",
    "convert_tuned",
    "train_ann_for",
    "train_conversion",
]

# Seeds of the validation spikes used for tuning are offset from the input seed, so that the
# tuning never reuses the random streams an evaluation with the recorded seed draws.
TUNE_SEED_OFFSET = 1_000_000


@dataclass(frozen=True)
class ConversionOptions:
    dataset: str
    arch: str = "mlp"
    l4: str = "none"
    l4_strength: float | None = None
    """Fixed L4 strength (alpha or gamma); None searches STRENGTH_GRIDS[l4] on validation data."""
    threshold: str = "data"
    percentile: float = 99.9
    max_rate: float = 1.0
    steps: int = 64
    tune_steps: tuple[int, ...] = ()
    """Checkpoints whose mean validation accuracy the tuning maximizes; () means (steps,)."""
    seed: int = 0
    input_seed: int = 0
    epochs: int | None = None
    threads: int = 1
    calibration_samples: int = 5000
    tune_samples: int | None = None
    """Validation images for tuning; None: 5000 (mlp), 2000 (cnn, ten times the work per image)."""

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise InputError(
                f"--dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            )
        if self.arch not in ARCHS:
            raise InputError(f"--arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.threshold not in THRESHOLD_MODES:
            raise InputError(
                f"--threshold must be one of {', '.join(THRESHOLD_MODES)}, got {self.threshold!r}"
            )
        if not 0 < self.percentile <= 100:
            raise InputError(f"--percentile must be in (0, 100], got {self.percentile}")
        if not 0 < self.max_rate <= 1:
            raise InputError(f"--max-rate must be in (0, 1], got {self.max_rate}")
        if self.l4 not in L4_VARIANTS:
            raise InputError(f"--l4 must be one of {', '.join(L4_VARIANTS)}, got {self.l4!r}")
        if self.steps < 1:
            raise InputError(f"--steps must be >= 1, got {self.steps}")
        if any(t < 1 for t in self.tune_steps):
            raise InputError(f"--tune-steps must be >= 1, got {list(self.tune_steps)}")
        if self.epochs is not None and self.epochs < 1:
            raise InputError(f"--epochs must be >= 1, got {self.epochs}")
        if self.threads < 1:
            raise InputError(f"--threads must be >= 1, got {self.threads}")
        for name in ("calibration_samples", "tune_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(
                    f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}"
                )
        if self.l4_strength is not None and self.l4 == "none":
            raise InputError("--l4-strength needs an --l4 variant (rescale, margin or bias)")


@dataclass(frozen=True, eq=False)
class ConversionResult:
    graph: Graph
    ann: TrainedAnn
    calibration: Calibration
    params: ConversionParams
    val_accuracy: float
    ann_val_accuracy: float


def _train_settings(opts: ConversionOptions) -> TrainSettings:
    # digits: 1212 training images, so many short epochs; Fashion-MNIST: 55k images. Chosen on
    # the validation split (benchmarks/conversion.py records the test accuracy).
    if opts.dataset == "digits":
        return TrainSettings(
            epochs=opts.epochs or 100,
            batch_size=64,
            lr=3e-3,
            dropout=0.1,
            seed=opts.seed,
            threads=opts.threads,
        )
    lr, dropout = (1e-3, 0.2) if opts.arch == "mlp" else (2e-3, 0.1)
    return TrainSettings(
        epochs=opts.epochs or 30,
        batch_size=128,
        lr=lr,
        dropout=dropout,
        seed=opts.seed,
        threads=opts.threads,
    )


def train_ann_for(opts: ConversionOptions, data: Dataset) -> TrainedAnn:
    spec: AnnSpec = default_spec(opts.arch, data.name, data.image_shape, data.n_classes)
    return train_ann(
        data.x_train, data.y_train, data.x_val, data.y_val, spec, _train_settings(opts)
    )


def _calibration_subset(data: Dataset, n: int) -> np.ndarray:
    # The first n training images (the split is already a seeded permutation for Fashion-MNIST
    # and a stratified shuffle for digits).
    return data.x_train[: min(n, len(data.x_train))]


def convert_tuned(
    ann: TrainedAnn, data: Dataset, opts: ConversionOptions, evaluator: ValEvaluator | None = None
) -> ConversionResult:
    """Calibrate `ann`, tune on the validation split, and build the model graph."""
    x_cal = _calibration_subset(data, opts.calibration_samples)
    n_tune = min(opts.tune_samples or (2000 if opts.arch == "cnn" else 5000), len(data.y_val))
    tune_seed = opts.input_seed + TUNE_SEED_OFFSET
    checkpoints = opts.tune_steps or (opts.steps,)
    if evaluator is None:
        spikes = encode(
            {"kind": "rate", "max_rate": opts.max_rate},
            data.x_val[:n_tune],
            max(checkpoints),
            tune_seed,
        )
        evaluator = ValEvaluator(spikes, data.y_val[:n_tune], checkpoints)
    cache: dict[float, Calibration] = {}

    def calibrate_for(strength: float) -> Calibration:
        alpha = strength if opts.l4 == "rescale" else 0.0
        if alpha not in cache:
            status(f"calibrate ({opts.threshold}, p{opts.percentile}, alpha {alpha})")
            cache[alpha] = calibrate(
                l4_rescale(ann.chain, alpha),
                x_cal,
                mode=opts.threshold,
                percentile=opts.percentile,
                max_rate=opts.max_rate,
                balance_steps=opts.steps,
                seed=opts.input_seed,
            )
        return cache[alpha]

    result = tune(
        calibrate_for, evaluator, opts.l4, ann.chain.depth, fixed_strength=opts.l4_strength
    )
    ann_val = float((chain_logits(ann.chain, data.x_val).argmax(1) == data.y_val).mean())
    meta = _metadata(
        opts, ann, result.calibration, result.metadata(), ann_val, n_tune, tune_seed, len(x_cal)
    )
    snn = build_snn(result.calibration, result.params)
    graph = to_graph(snn, ann.chain, meta)
    return ConversionResult(
        graph, ann, result.calibration, result.params, result.val_accuracy, ann_val
    )


def _metadata(
    opts: ConversionOptions,
    ann: TrainedAnn,
    calib: Calibration,
    tuning: dict[str, Any],
    ann_val: float,
    n_tune: int,
    tune_seed: int,
    n_cal: int,
) -> dict[str, Any]:
    return {
        "task": {
            "kind": "classification",
            "dataset": opts.dataset,
            "n_classes": ann.spec.n_classes,
        },
        "encoding": {
            "kind": "rate",
            "max_rate": opts.max_rate,
            "steps": opts.steps,
            "seed": opts.input_seed,
        },
        "readout": {"kind": "spike_count", "population": "out", "tie_break": "u_sum"},
        "trainer": {
            "name": "conversion",
            "seed": opts.seed,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(opts).items()},
            "ann": {**ann.metadata(), "val_accuracy": round(ann_val, 6)},
            "conversion": {
                "threshold": calib.mode,
                "percentile": calib.percentile,
                "max_rate": calib.max_rate,
                "scales": [float(s) for s in calib.scales],
                "noise_factors": [float(c) for c in calib.noise],
                "calibration_samples": n_cal,
                "split_seed": 0,
            },
            "tuning": {
                **tuning,
                "split": "val",
                "samples": n_tune,
                "seed": tune_seed,
                "steps": list(opts.tune_steps or (opts.steps,)),
            },
        },
    }


def train_conversion(opts: ConversionOptions) -> tuple[ConversionResult, dict[str, float]]:
    """Load the dataset, train the ANN, convert and tune; returns the result and timings (s)."""
    t0 = time.perf_counter()
    data = load_dataset(opts.dataset)
    if opts.arch == "cnn" and len(data.image_shape) != 3:
        raise InputError(
            f"--arch cnn needs image data; {opts.dataset} has shape {data.image_shape}"
        )
    status(f"train {opts.arch} on {opts.dataset} ({len(data.y_train)} training images)")
    ann = train_ann_for(opts, data)
    t1 = time.perf_counter()
    with torch_threads(opts.threads):
        result = convert_tuned(ann, data, opts)
    t2 = time.perf_counter()
    return result, {"train_s": t1 - t0, "convert_s": t2 - t1}
