"""Choosing the conversion's hyper-parameters on the validation split (never on test data).

The objective is the SNN's validation accuracy (the spike-count readout with the `u_sum`
tie-break), averaged over the tuning checkpoints (by default only the deployment T; several T
give one model for all of them), simulated by `fastsim` on Bernoulli inputs drawn with a tuning
seed of their own. The search, identical in budget for the baseline and every L4 variant:

1. two rounds of coordinate search over the per-layer threshold scales sigma_l (`SIGMA_GRID`),
   the L4 strength held at 0;
2. the L4 strength over its grid (`STRENGTH_GRIDS`; skipped for "none"), sigma held;
3. one more round over sigma with the chosen strength.

A candidate replaces the incumbent only if it is strictly better, so ties keep the earlier
(baseline-like) setting and the search is deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.progress import status
from trainers.conversion.convert import Calibration, ConversionParams, build_snn
from trainers.conversion.fastsim import SnnChain, predict, simulate

__all__ = ["SIGMA_GRID", "STRENGTH_GRIDS", "TuneResult", "ValEvaluator", "tune"]

SIGMA_GRID: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)
STRENGTH_GRIDS: dict[str, tuple[float, ...]] = {
    "none": (),
    "rescale": (0.25, 0.5, 0.75, 1.0),
    "margin": (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
    "bias": (-0.3, -0.2, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.2, 0.3),
}


def _layer_key(snn: SnnChain, k: int) -> str:
    h = hashlib.sha1()
    m = snn.maps[k]
    h.update(np.ascontiguousarray(m.weight).tobytes())
    h.update(np.ascontiguousarray(np.asarray(snn.bias[k], dtype=np.float64)).tobytes())
    h.update(repr((float(snn.v_th[k]), m.kind, m.stride, m.padding)).encode())
    return h.hexdigest()


@dataclass
class _Prefix:
    keys: tuple[str, ...]
    spikes: np.ndarray  # (N, T, n) bool: spikes of the layer before `len(keys)`


class ValEvaluator:
    """Accuracy of candidate SNNs on fixed, pre-encoded validation spikes (N, max(checkpoints), n),
    averaged over the checkpoints (the readout after T steps, for each T).

    Consecutive candidates that share their first layers (the coordinate search changes one
    layer at a time) reuse those layers' recorded spikes, within `cache_bytes`.
    """

    def __init__(
        self,
        spikes: np.ndarray,
        labels: np.ndarray,
        checkpoints: tuple[int, ...],
        *,
        batch: int = 500,
        cache_bytes: int = 1 << 29,
    ) -> None:
        self.checkpoints = tuple(sorted(set(int(c) for c in checkpoints)))
        self.steps = self.checkpoints[-1]
        self.spikes, self.labels = spikes, labels
        self.batch, self.cache_bytes = batch, cache_bytes
        self.cache: dict[int, _Prefix] = {}
        self.evaluations = 0

    def accuracy(self, snn: SnnChain) -> float:
        self.evaluations += 1
        keys = tuple(_layer_key(snn, k) for k in range(snn.depth))
        start = max((d for d, p in self.cache.items() if p.keys == keys[:d]), default=0)
        source = self.cache[start].spikes if start else self.spikes
        sub = SnnChain(snn.maps[start:], snn.v_th[start:], snn.bias[start:])
        n, t = len(self.labels), self.steps
        record = {}
        budget = self.cache_bytes
        for k in range(start, snn.depth - 1):
            need = n * t * snn.maps[k].n_out
            if need > budget:
                break
            record[k] = np.zeros((n, t, snn.maps[k].n_out), dtype=bool)
            budget -= need
        correct = np.zeros(len(self.checkpoints))
        for lo in range(0, n, self.batch):
            hi = min(lo + self.batch, n)
            pos = dict.fromkeys(record, 0)

            def hook(
                layer: int, a: Any, s: Any, lo: int = lo, hi: int = hi, pos: dict = pos
            ) -> None:
                k = layer + start
                if k in record:
                    w = s.shape[1]
                    record[k][lo:hi, pos[k] : pos[k] + w] = s.numpy() > 0
                    pos[k] += w

            res = simulate(
                sub, source[lo:hi], self.checkpoints, layer_hook=hook if record else None
            )
            for k, (counts, current) in enumerate(zip(res.counts, res.current, strict=True)):
                correct[k] += (predict(counts, current) == self.labels[lo:hi]).sum()
        for k, arr in record.items():
            self.cache[k + 1] = _Prefix(keys[: k + 1], arr)
        # Drop cached prefixes that no longer match this candidate (keeps memory bounded).
        for d in [d for d, p in self.cache.items() if p.keys != keys[:d]]:
            del self.cache[d]
        return float(correct.mean() / n)


@dataclass
class TuneResult:
    params: ConversionParams
    calibration: Calibration
    val_accuracy: float
    log: list[dict[str, Any]] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "sigma": [float(s) for s in self.params.sigma],
            "l4": self.params.l4,
            "strength": float(self.params.strength),
            "val_accuracy": round(self.val_accuracy, 6),
            "evaluations": self.log,
        }


def tune(
    calibrate_for: Callable[[float], Calibration],
    evaluator: ValEvaluator,
    variant: str,
    depth: int,
    fixed_strength: float | None = None,
) -> TuneResult:
    """Search sigma and the L4 strength of `variant` (see the module docstring).

    `calibrate_for(strength)` gives the calibration of the chain the strength implies (only
    "rescale" changes the chain; the others return the same calibration for every strength).
    With `fixed_strength`, that strength is used throughout and only sigma is searched.
    """
    log: list[dict[str, Any]] = []
    strength = 0.0 if fixed_strength is None else float(fixed_strength)
    calib = calibrate_for(strength)

    def score(c: Calibration, sigma: tuple[float, ...], s: float) -> float:
        acc = evaluator.accuracy(build_snn(c, ConversionParams(sigma, variant, s)))
        log.append({"sigma": list(sigma), "strength": s, "val_accuracy": round(acc, 6)})
        return acc

    def sigma_round(best: float, sigma: tuple[float, ...]) -> tuple[float, tuple[float, ...]]:
        for layer in range(depth):
            for g in SIGMA_GRID:
                if g == sigma[layer]:
                    continue
                cand = (*sigma[:layer], g, *sigma[layer + 1 :])
                acc = score(calib, cand, strength)
                if acc > best:
                    best, sigma = acc, cand
        return best, sigma

    sigma = tuple([1.0] * depth)
    best = score(calib, sigma, strength)
    for r in range(2):
        best, sigma = sigma_round(best, sigma)
        status(f"tune {variant}: round {r + 1}, sigma {list(sigma)}, val accuracy {best:.4f}")
    grid = STRENGTH_GRIDS[variant] if fixed_strength is None else ()
    for g in grid:
        c = calibrate_for(g)
        acc = score(c, sigma, g)
        if acc > best:
            best, strength, calib = acc, g, c
    if grid:
        status(f"tune {variant}: strength {strength}, val accuracy {best:.4f}")
    best, sigma = sigma_round(best, sigma)
    status(
        f"tune {variant}: final sigma {list(sigma)}, strength {strength}, val accuracy {best:.4f}"
    )
    return TuneResult(ConversionParams(sigma, variant, strength), calib, best, log)
