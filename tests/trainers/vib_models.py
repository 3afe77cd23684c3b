"""Small VIB models with random weights (no training, no torch) for tests of export and eval."""

from __future__ import annotations

import numpy as np

from trainers.vib.config import EncoderShape, TrainResult, config_for
from trainers.vib.decoder import DecoderSpec


def random_result(
    task: str = "predictive-coding", decoding: str = "time", seed: int = 0, **overrides
) -> TrainResult:
    """A TrainResult whose encoder fires (weights N(0, 1.5^2)) and whose decoders are random."""
    rng = np.random.default_rng(seed)
    if task == "predictive-coding":
        cfg = config_for(task, decoding=decoding, seed=seed, **{"steps": 30, **overrides})
        n_in, n_out, output = 20, 210, "log_softmax"
        run_steps = cfg.steps
        window = cfg.window
    else:
        cfg = config_for(
            task,
            decoding=decoding,
            seed=seed,
            **{"steps": 6, "hidden": (12,), "n_readout": 8, "decoder_hidden": 16, **overrides},
        )
        n_in, n_out, output = 64, 64, "sigmoid"
        run_steps = cfg.steps + len(cfg.hidden) + 1
        window = run_steps
    shape = EncoderShape(
        n_in,
        tuple(cfg.hidden),
        cfg.n_readout,
        cfg.tau_syn_hidden,
        cfg.tau_mem_hidden,
        cfg.tau_syn_readout,
    )
    sizes = shape.sizes
    weights = [rng.normal(0, 1.5, (sizes[i + 1], sizes[i])) for i in range(len(sizes) - 1)]
    biases = [rng.normal(0.5, 0.3, sizes[i + 1]) for i in range(len(sizes) - 1)]
    spec = DecoderSpec(
        decoding, window, cfg.n_readout, cfg.decoder, cfg.decoder_hidden, n_out, output
    )

    def layers():
        return [(rng.normal(0, 0.5, s), rng.normal(0, 0.1, s[0])) for s in spec.layer_shapes()]

    classifier = (
        None
        if task == "predictive-coding"
        else (rng.normal(0, 1, (10, n_in)), rng.normal(0, 1, 10))
    )
    return TrainResult(
        cfg,
        shape,
        weights,
        biases,
        spec,
        layers(),
        layers(),
        classifier,
        run_steps,
        val={
            "sampled": 0.0,
            "sampled_rate": 0.0,
            "deterministic_no_refit": 0.0,
            "deterministic": 0.0,
            "deterministic_rate": 0.0,
        },
    )
