"""Training the VIB encoder and decoder (torch; imported only to train).

Objective per sequence (seeds.md section 3.3), with a decoder evaluation at each scored step j
(predictive coding) or once on the whole run (reconstruction):

    L = mean_j [-log q(y_j | features_j)] + beta * mean_k mean_i KL_{k,i}
    KL_{k,i} = s log(p / r) + (1 - s) log((1 - p) / (1 - r))      (one-sample estimate)

where p = sigmoid(v - v_th) is readout neuron i's firing probability at step k and s its spike.
-log q is the NLL of the pattern (predictive coding) or the pixel-mean binary cross-entropy
(reconstruction).

Rules (`rule`):
- "score" (the VDIB code's): the decoder by backprop on -log q with the spikes detached; the
  readout by the score function (REINFORCE): the update of every encoder parameter theta is
  mean_b sum_k (l_{b,k} - c_theta) g_{b,k}, with g_{b,k} = d log p(s_k)/d theta and
  l_{b,k} = (sum of -log q over the decoder windows containing step k) / n_evaluations
  + beta KL_k / K. The baseline c_theta = EMA[g^2 l] / EMA[g^2] is per parameter
  (EMA keeps `baseline_keep` of the old value; the VDIB code keeps 0.01). Hidden layers take
  g from direct feedback alignment: the readout's score e_k = s_k - p_k through a fixed random
  matrix, times the surrogate derivative, times the e-prop eligibility trace of the weight.
  Estimated gradients are applied with Adam (the VDIB code uses plain SGD, batch 1).
- "surrogate" (the straight-through alternative): the whole objective by backprop through time,
  with ds/dp := 1 at the Bernoulli readout, surrogate derivatives at hidden spikes, and the
  analytic KL(Bern(p) || Bern(r)) in place of the one-sample estimate.

Then the decoder is refitted (`refit_epochs`) on the spikes of the deterministic readout that
snnc deploys (s = v > v_th), starting from the trained decoder: the host decoder of the deployed
pipeline. Model selection uses the validation split only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ir.budget import check_bytes
from ir.progress import progress, status
from trainers.vib.config import TrainResult, VIBConfig
from trainers.vib.decoder import DecoderSpec
from trainers.vib.network import Decoder, Encoder, EncoderRecord
from trainers.vib.task_adapters import EPS, Task, make_task

__all__ = ["evaluate_torch", "score_gradients", "train_vib"]


# --------------------------------------------------------------------------- pieces


def _features(spikes: torch.Tensor, spec: DecoderSpec, ends: np.ndarray) -> torch.Tensor:
    """Torch twin of trainers.vib.decoder.decoder_features (B, E, n_features)."""
    idx = torch.as_tensor(ends[:, None] + np.arange(-spec.window + 1, 1)[None, :])
    win = spikes[:, idx]  # (B, E, window, n)
    if spec.decoding == "rate":
        return win.sum(dim=2)
    return win.reshape(spikes.shape[0], len(ends), spec.window * spikes.shape[2])


def _decoder_out(decoder: Decoder, feats: torch.Tensor) -> torch.Tensor:
    logits = decoder.logits(feats)
    if decoder.output == "sigmoid":
        return torch.sigmoid(logits)
    return torch.log_softmax(logits, dim=-1)


def _kl_sample(s: torch.Tensor, p: torch.Tensor, r: float) -> torch.Tensor:
    """One-sample KL estimate per (b, k), mean over readout neurons."""
    p = p.clamp(EPS, 1 - EPS)
    return (s * torch.log(p / r) + (1 - s) * torch.log((1 - p) / (1 - r))).mean(dim=-1)


def _kl_analytic(p: torch.Tensor, r: float) -> torch.Tensor:
    p = p.clamp(EPS, 1 - EPS)
    return (p * torch.log(p / r) + (1 - p) * torch.log((1 - p) / (1 - r))).mean(dim=-1)


def _window_credit(loss: torch.Tensor, ends: np.ndarray, window: int, steps: int) -> torch.Tensor:
    """l_dec[b, k] = sum over evaluations j whose window [j - window + 1, j] holds k
    of loss[b, j]."""
    full = torch.zeros((loss.shape[0], steps), dtype=loss.dtype)
    full[:, torch.as_tensor(ends)] = loss
    csum = torch.cumsum(full, dim=1)  # csum[:, j] = sum_{i <= j}
    k = torch.arange(steps)
    hi = torch.clamp(k + window - 1, max=steps - 1)
    lo = k - 1
    return csum[:, hi] - torch.where(
        lo >= 0, csum[:, lo.clamp_min(0)], torch.zeros_like(csum[:, :1])
    )


class _Baseline:
    """Per-parameter baseline EMA[g^2 l] / EMA[g^2] of the score-function estimator."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self.num: dict[str, torch.Tensor] = {}
        self.den: dict[str, torch.Tensor] = {}

    def __call__(self, name: str, num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        if name in self.num:
            num = self.keep * self.num[name] + (1 - self.keep) * num
            den = self.keep * self.den[name] + (1 - self.keep) * den
        self.num[name], self.den[name] = num, den
        return num / den.clamp_min(1e-12)


def _rank1_update(signal: torch.Tensor, post: torch.Tensor, pre: torch.Tensor,
                  baseline: _Baseline, name: str) -> torch.Tensor:
    """mean_b sum_k (l - c) g with g[b, k] = post[b, k] (x) pre[b, k] (rank one per unit)."""
    batch = signal.shape[0]
    l_col = signal[..., None]
    sum_lg = torch.einsum("bki,bkj->ij", l_col * post, pre)
    sum_g = torch.einsum("bki,bkj->ij", post, pre)
    post2, pre2 = post * post, pre * pre
    c = baseline(
        name,
        torch.einsum("bki,bkj->ij", l_col * post2, pre2),
        torch.einsum("bki,bkj->ij", post2, pre2),
    )
    return (sum_lg - c * sum_g) / batch


def score_gradients(
    enc: Encoder, rec: EncoderRecord, signal: torch.Tensor, feedback: list[torch.Tensor],
    baseline: _Baseline,
) -> None:
    """Set `.grad` of every encoder parameter to the score-function estimate (see module doc)."""
    e = rec.spikes - rec.probs  # d log p(s) / d v of the readout (B, K, n_r)
    n_hidden = len(enc.weights) - 1
    ones = torch.ones_like(e[..., :1])
    enc.weights[-1].grad = _rank1_update(signal, e, rec.pre[-1], baseline, "w_out")
    enc.biases[-1].grad = _rank1_update(signal, e, ones, baseline, "b_out")[:, 0]
    steps = e.shape[1]
    for layer in range(n_hidden):
        lat = n_hidden - layer  # projections from this layer to the readout
        # Hidden step k shapes the readout from step k + lat: align error and signal with it.
        err = torch.zeros_like(rec.surrogate[layer])
        sig = torch.zeros_like(signal)
        err[:, : steps - lat] = e[:, lat:] @ feedback[layer]
        sig[:, : steps - lat] = signal[:, lat:]
        post = err * rec.surrogate[layer]
        enc.weights[layer].grad = _rank1_update(sig, post, rec.elig[layer], baseline, f"w{layer}")
        enc.biases[layer].grad = _rank1_update(
            sig, post, rec.elig_bias[layer], baseline, f"b{layer}"
        )[:, 0]


# --------------------------------------------------------------------------- evaluation


def _run_pipeline(enc: Encoder, decoder: Decoder, task: Task, x: np.ndarray, readout: str,
                  gen: torch.Generator | None, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Decoder outputs (N, E, n_out) and readout spikes (N, K, n_r) for inputs x."""
    outs, spikes = [], []
    ends = task.ends()
    with torch.no_grad():
        for start in range(0, len(x), batch):
            xb = torch.as_tensor(x[start : start + batch], dtype=torch.float32)
            rec = enc.run(xb, readout=readout, generator=gen)
            outs.append(
                _decoder_out(decoder, _features(rec.spikes, task.spec, ends)).double().numpy()
            )
            spikes.append(rec.spikes.numpy().astype(np.uint8))
    return np.concatenate(outs), np.concatenate(spikes)


def evaluate_torch(enc: Encoder, decoder: Decoder, task: Task, split: str, readout: str,
                   seed: int) -> tuple[float, float]:
    """(metric, mean readout firing rate) on `split` with a sampled or thresholded readout."""
    x, target = task.split(split)
    gen = torch.Generator().manual_seed(seed)
    out, spikes = _run_pipeline(enc, decoder, task, x, readout, gen)
    return task.metric(out, target), float(spikes.mean())


# --------------------------------------------------------------------------- training


def _step_score(cfg, task, enc, decoder, opt_enc, opt_dec, xb, target, gen, feedback, baseline):
    rec = enc.run(
        torch.as_tensor(xb, dtype=torch.float32), readout="sample", generator=gen, record=True
    )
    ends = task.ends()
    out = _decoder_out(decoder, _features(rec.spikes.detach(), task.spec, ends))
    dec_loss = task.losses(out, target)  # (B, E)
    opt_dec.zero_grad()
    dec_loss.mean().backward()
    opt_dec.step()
    steps = rec.spikes.shape[1]
    kl = _kl_sample(rec.spikes, rec.probs, cfg.r)  # (B, K)
    signal = (
        _window_credit(dec_loss.detach(), ends, task.spec.window, steps) / len(ends)
        + cfg.beta * kl / steps
    )
    opt_enc.zero_grad()
    score_gradients(enc, rec, signal, feedback, baseline)
    opt_enc.step()
    return (
        float(dec_loss.detach().mean()),
        float(kl.detach().mean()),
        float(rec.spikes.detach().mean()),
    )


def _step_surrogate(cfg, task, enc, decoder, opt_enc, opt_dec, xb, target, gen):
    rec = enc.run(
        torch.as_tensor(xb, dtype=torch.float32), readout="sample", generator=gen, surrogate=True
    )
    out = _decoder_out(decoder, _features(rec.spikes, task.spec, task.ends()))
    dec_loss = task.losses(out, target)
    kl = _kl_analytic(rec.probs, cfg.r)
    loss = dec_loss.mean() + cfg.beta * kl.mean()
    opt_enc.zero_grad()
    opt_dec.zero_grad()
    loss.backward()
    opt_enc.step()
    opt_dec.step()
    return (
        float(dec_loss.detach().mean()),
        float(kl.detach().mean()),
        float(rec.spikes.detach().mean()),
    )


def _refit_decoder(cfg: VIBConfig, task: Task, enc: Encoder, decoder: Decoder,
                   rng: np.random.Generator) -> tuple[float, list[float]]:
    """Fit `decoder` (in place) to the deterministic readout's spikes; returns (best val metric,
    per-epoch val metrics). Epoch 0 is the decoder as trained (no refit)."""
    x_val, t_val = task.split("val")
    ends = task.ends()

    def val_metric() -> float:
        out, _ = _run_pipeline(enc, decoder, task, x_val, "threshold", None)
        return task.metric(out, t_val)

    best, best_state = val_metric(), decoder.arrays()
    curve = [best]
    if cfg.refit_epochs == 0:
        return best, curve
    x_fit, t_fit = task.refit_set()
    with torch.no_grad():
        feats = torch.cat(
            [
                _features(
                    enc.run(
                        torch.as_tensor(x_fit[i : i + 256], dtype=torch.float32),
                        readout="threshold",
                    ).spikes,
                    task.spec,
                    ends,
                )
                for i in range(0, len(x_fit), 256)
            ]
        )
    opt = torch.optim.Adam(decoder.parameters(), lr=cfg.lr_decoder)
    for _ in progress(range(cfg.refit_epochs), "vib refit decoder"):
        order = rng.permutation(len(feats))
        for start in range(0, len(order), cfg.batch):
            idx = np.sort(order[start : start + cfg.batch])
            loss = task.losses(_decoder_out(decoder, feats[idx]), _take(t_fit, idx)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        m = val_metric()
        curve.append(m)
        if m > best:
            best, best_state = m, decoder.arrays()
    decoder.load_arrays(best_state)
    return best, curve


def _take(target: Any, idx: np.ndarray) -> Any:
    if isinstance(target, tuple):
        return tuple(t[idx] if t is not None else None for t in target)
    return target[idx]


def train_vib(
    cfg: VIBConfig, on_epoch: Callable[[dict[str, float]], None] | None = None
) -> TrainResult:
    """Train a VIB encoder + decoder; deterministic for a given config (seeded everywhere)."""
    threads = torch.get_num_threads()
    # The layers are small and stepped one time step at a time: intra-op threads only add
    # synchronisation (measured 2.3x slower with 2 threads than with 1 on 2 shared cores).
    torch.set_num_threads(1)
    try:
        return _train(cfg, on_epoch)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: VIBConfig, on_epoch: Callable[[dict[str, float]], None] | None) -> TrainResult:
    torch.manual_seed(cfg.seed)
    task = make_task(cfg)
    shape = cfg.encoder_shape(task.n_inputs)
    # Weights, gradients and Adam's two moments, float32, of every layer: checked before torch
    # allocates them (ir.budget), so `--hidden 100000000` is one line, not an allocator error.
    sizes = shape.sizes
    weights = sum(a * b for a, b in zip(sizes, sizes[1:])) + sum(
        a * b for a, b in task.spec.layer_shapes()
    )
    check_bytes(
        4 * 4 * weights,
        f"vib: a network of {weights} weights (layers {' -> '.join(map(str, sizes))}, "
        f"decoder {task.spec.layer_shapes()})",
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    enc = Encoder(shape, gen, gain_hidden=cfg.gain_hidden, gain_readout=cfg.gain_readout, r=cfg.r)
    decoder = Decoder(task.spec.layer_shapes(), task.spec.output, gen)
    feedback = [
        (torch.rand((cfg.n_readout, n), generator=gen) * 2 - 1)
        * math.sqrt(6.0 / (cfg.n_readout + n))
        for n in cfg.hidden
    ]
    opt_enc = torch.optim.Adam(enc.parameters(), lr=cfg.lr_encoder)
    opt_dec = torch.optim.Adam(decoder.parameters(), lr=cfg.lr_decoder)
    baseline = _Baseline(cfg.baseline_keep)
    rng = np.random.default_rng([cfg.seed, 7])
    sample_gen = torch.Generator().manual_seed(cfg.seed + 1)
    history: list[dict[str, float]] = []
    best = (-1.0, enc.arrays(), decoder.arrays())
    for epoch in progress(
        range(cfg.epochs), f"vib train {cfg.task} ({cfg.rule})", total=cfg.epochs
    ):
        sums = np.zeros(3)
        n = 0
        for xb, target in task.batches(epoch, rng):
            if cfg.rule == "score":
                vals = _step_score(
                    cfg,
                    task,
                    enc,
                    decoder,
                    opt_enc,
                    opt_dec,
                    xb,
                    target,
                    sample_gen,
                    feedback,
                    baseline,
                )
            else:
                vals = _step_surrogate(
                    cfg, task, enc, decoder, opt_enc, opt_dec, xb, target, sample_gen
                )
            sums += vals
            n += 1
        metric, rate = evaluate_torch(enc, decoder, task, "val", "sample", cfg.seed + 2)
        row = {"epoch": epoch + 1, "dec_loss": sums[0] / n, "kl": sums[1] / n, "rate": sums[2] / n,
               "val_metric": metric, "val_rate": rate}
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        status(f"vib epoch {epoch + 1}/{cfg.epochs}: loss {row['dec_loss']:.4f} kl {row['kl']:.4f} "
               f"rate {row['rate']:.3f} val {metric:.4f}")
        if metric > best[0]:
            best = (metric, enc.arrays(), decoder.arrays())
    _load_encoder(enc, best[1])
    decoder.load_arrays(best[2])
    sampled_layers = decoder.arrays()
    val_sampled, val_rate = evaluate_torch(enc, decoder, task, "val", "sample", cfg.seed + 2)
    refit_best, curve = _refit_decoder(cfg, task, enc, decoder, rng)
    det_rate = float(
        _run_pipeline(enc, decoder, task, task.split("val")[0], "threshold", None)[1].mean()
    )
    weights, biases = enc.arrays()
    val = {
        "sampled": val_sampled,
        "sampled_rate": val_rate,
        "deterministic_no_refit": curve[0],
        "deterministic": refit_best,
        "deterministic_rate": det_rate,
    }
    classifier = getattr(task, "classifier", None)
    if classifier is not None:
        val["classifier_test_accuracy_on_real_images"] = task.classifier_test_accuracy  # type: ignore[attr-defined]
    return TrainResult(cfg, shape, weights, biases, task.spec, sampled_layers, decoder.arrays(),
                       classifier, task.run_steps, val, history)


def _load_encoder(enc: Encoder, arrays: tuple[list[np.ndarray], list[np.ndarray]]) -> None:
    with torch.no_grad():
        for p, a in zip(enc.weights, arrays[0], strict=True):
            p.copy_(torch.as_tensor(a, dtype=p.dtype))
        for p, a in zip(enc.biases, arrays[1], strict=True):
            p.copy_(torch.as_tensor(a, dtype=p.dtype))
