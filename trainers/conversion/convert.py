r"""From a trained ReLU chain to an SNN of integrate-and-fire neurons with the deployed semantics.

**Rates.** Layer l of the SNN should fire at rate A_l / lambda_l (spikes per step), where A_l is
the ANN's activation and lambda_l the layer's *scale*. Inputs are Bernoulli spikes with
probability `max_rate` * x per step, so lambda_0 = 1 / max_rate. A neuron driven by W s_{l-1}
fires at rate (input per step) / threshold, so the SNN weights in threshold units are

    W_hat_l = W_l * lambda_{l-1} / lambda_l            (threshold 1)

**Scales** (`threshold` option):
- "data" (data-based normalization, Diehl et al. 2015 / Rueckauer et al. 2017): lambda_l is the
  `percentile`-th percentile of the layer's nonzero ANN activations on training data; for the
  output layer, of its positive logits;
- "spike" (spike-based threshold balancing, Sengupta et al. 2019): layer by layer, simulate the
  SNN (earlier layers already balanced) on training data and set lambda_l to the `percentile`-th
  percentile of the positive per-step input currents W_l lambda_{l-1} s_{l-1}[t] (100 = the
  maximum, Sengupta's rule).

**Per-layer threshold scale** sigma_l (tuned on the validation split, see `tune.py`): reset to
zero discards the overshoot v - theta at every spike, and each projection delays by one step,
so the best threshold at small T is not the ANN's scale.

**The L4-norm adjustment** (the idea of Allred & Roy, arXiv 2111.09446; the paper's formula is
not public, so these are snnc's variants, reference/seeds.md 2.4-2.5). For input spikes that are
independent Bernoulli(p_i), the per-step drive of neuron j has variance
sum_i w_ij^2 p_i (1 - p_i) <= ||w_j||_4^2 ||p (1 - p)||_2 (Cauchy-Schwarz). With
n4_j = ||W_hat_l[j]||_4 and the layer's input factor c_l = mean over training samples of
(||p (1 - p)||_2 * sqrt(fan_in / n_in))^(1/2) (the patch share of the norm for a convolution;
p from the ANN's activations / lambda, clipped to [0, 1]), n4_j * c_l bounds the standard
deviation of neuron j's per-step input, in threshold units:
- "rescale" (H1, strength alpha): w_j <- w_j (mean_k n4_k / n4_j)^alpha for every hidden neuron,
  with neuron j's outgoing weights divided by the same factor, so the ANN computes the same
  function; then the scales are recomputed (threshold balancing of the rescaled layer). The output
  layer is not rescaled (that would change the classifier);
- "margin" (H2, strength gamma): theta_j = sigma_l + gamma * n4_j * c_l;
- "bias" (H3, strength gamma): b_j = -gamma * n4_j * c_l per step (gamma < 0 gives a positive bias).
"none" is the baseline (alpha = gamma = 0).

**Deployed form.** Lava's LIF holds one `vth` per population, so a per-neuron threshold theta_j is
folded into the neuron's weights and bias (an IF neuron with reset to zero is unchanged when
its weights, bias and threshold are all divided by theta_j): every population gets v_th = 1,
weights W_hat_l[j] / theta_j and bias b_j / theta_j. Neurons are IF (tau_mem = inf) with the current
cleared every step (tau_syn = 0); each projection delays by one step; the readout counts the
output spikes, ties broken by the summed input current (`u_sum`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.graph import Graph
from ir.nodes import LIF, Conv2d, Dense, Input
from trainers.conversion.chain import Chain, LinearMap, chain_activations
from trainers.conversion.fastsim import SnnChain, simulate

__all__ = [
    "L4_VARIANTS",
    "THRESHOLD_MODES",
    "Calibration",
    "ConversionParams",
    "build_snn",
    "calibrate",
    "l4_rescale",
    "layer_names",
    "to_graph",
]

L4_VARIANTS = ("none", "rescale", "margin", "bias")
THRESHOLD_MODES = ("data", "spike")


@dataclass(frozen=True)
class ConversionParams:
    """What turns a calibrated chain into an SNN: per-layer threshold scales and the L4 variant."""

    sigma: tuple[float, ...]
    l4: str = "none"
    strength: float = 0.0

    def __post_init__(self) -> None:
        if self.l4 not in L4_VARIANTS:
            raise InputError(f"--l4 must be one of {', '.join(L4_VARIANTS)}, got {self.l4!r}")


@dataclass(frozen=True, eq=False)
class Calibration:
    """Scales and input noise factors of one chain (`calibrate`)."""

    chain: Chain
    scales: tuple[float, ...]  # lambda_1..lambda_L (lambda_0 = 1 / max_rate)
    noise: tuple[float, ...]  # c_1..c_L
    max_rate: float
    mode: str
    percentile: float

    def normalized_maps(self) -> list[LinearMap]:
        """W_hat_l = W_l lambda_{l-1} / lambda_l (threshold units)."""
        prev = 1.0 / self.max_rate
        maps = []
        for m, lam in zip(self.chain.maps, self.scales, strict=True):
            maps.append(m.scale_outputs(prev / lam))
            prev = lam
        return maps


def l4_rescale(chain: Chain, alpha: float) -> Chain:
    """H1: hidden channel j's weights times (mean_k ||w_k||_4 / ||w_j||_4)^alpha, its outgoing
    weights divided by the same factor (the ANN's function is unchanged)."""
    if alpha == 0:
        return chain
    maps = list(chain.maps)
    for i in range(len(maps) - 1):
        n4 = maps[i].channel_norms(4)
        safe = np.where(n4 > 0, n4, 1.0)
        factor = np.where(n4 > 0, (n4.mean() / safe) ** alpha, 1.0)
        maps[i] = maps[i].scale_outputs(factor)
        maps[i + 1] = maps[i + 1].scale_inputs(1.0 / factor, maps[i].channels)
    return Chain(tuple(maps))


def _percentile_positive(values: np.ndarray, q: float) -> float:
    pos = values[values > 0]
    if pos.size == 0:
        return 0.0
    return float(np.percentile(pos, q))


def _noise_factor(p: np.ndarray, m: LinearMap, poisson: bool = False) -> float:
    """c_l = mean over samples of (||q||_2 * sqrt(fan_in / n_in))^(1/2), with the per-step input
    variance q = p (1 - p) (Bernoulli) or q = p (Poisson counts, first layer only)."""
    q = np.clip(p, 0.0, 1.0)
    q = q if poisson else q * (1.0 - q)
    norms = np.sqrt((q.astype(np.float64) ** 2).sum(axis=1))
    return float(np.mean(np.sqrt(norms * math.sqrt(m.fan_in / m.n_in))))


def calibrate(
    chain: Chain,
    x: np.ndarray,
    *,
    mode: str = "data",
    percentile: float = 99.9,
    max_rate: float = 1.0,
    balance_steps: int = 64,
    seed: int = 0,
    input_model: str = "bernoulli",
) -> Calibration:
    """Scales lambda_l and noise factors c_l of `chain` from training inputs `x` (a subset).

    `input_model` "poisson" is for studies with Poisson-count inputs (graded spikes; the
    deployed encoder is Bernoulli): it changes the first layer's noise factor only."""
    if mode not in THRESHOLD_MODES:
        raise InputError(f"--threshold must be one of {', '.join(THRESHOLD_MODES)}, got {mode!r}")
    if not 0 < percentile <= 100:
        raise InputError(f"--percentile must be in (0, 100], got {percentile}")
    if not 0 < max_rate <= 1:
        raise InputError(f"--max-rate must be in (0, 1], got {max_rate}")
    if input_model not in ("bernoulli", "poisson"):
        raise InputError(f"input model must be bernoulli or poisson, got {input_model!r}")
    acts = chain_activations(chain, x)
    silent = [i + 1 for i, a in enumerate(acts) if not np.any(a > 0)]
    if silent:
        raise InputError(
            f"layer {silent[0]} of the trained network is silent on the calibration data; "
            "train longer or with another seed"
        )
    if mode == "data":
        scales = tuple(_percentile_positive(a, percentile) for a in acts)
    else:
        scales = _spike_balance(chain, x, percentile, max_rate, balance_steps, seed)
    flat_x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    rates = [flat_x * max_rate] + [a / lam for a, lam in zip(acts[:-1], scales[:-1], strict=True)]
    noise = tuple(
        _noise_factor(p, m, poisson=(i == 0 and input_model == "poisson"))
        for i, (p, m) in enumerate(zip(rates, chain.maps, strict=True))
    )
    return Calibration(chain, scales, noise, max_rate, mode, percentile)


def _spike_balance(
    chain: Chain, x: np.ndarray, percentile: float, max_rate: float, steps: int, seed: int
) -> tuple[float, ...]:
    """Sengupta et al.'s threshold balancing, layer by layer on Bernoulli-coded training inputs."""
    import torch

    from trainers.encoders import encode

    spikes = encode({"kind": "rate", "max_rate": max_rate}, x, steps, seed)
    scales: list[float] = []
    prev = 1.0 / max_rate
    # Keep at most this many current samples per layer for the percentile (strided, deterministic).
    budget = 1 << 24
    for index, m in enumerate(chain.maps):
        # Layers before `index` balanced (threshold 1); layer `index` in ANN units, never firing.
        prevs = [1.0 / max_rate, *scales][:index]
        maps = [
            cm.scale_outputs(p / lam)
            for cm, p, lam in zip(chain.maps[:index], prevs, scales, strict=True)
        ]
        probe = m.scale_outputs(prev)
        snn = SnnChain(
            tuple([*maps, probe]),
            tuple([1.0] * index + [math.inf]),
            tuple(np.zeros(mm.n_out) for mm in [*maps, probe]),
        )
        total = len(x) * steps * m.n_out
        stride = max(1, -(-total // budget))
        kept: list[np.ndarray] = []

        def hook(
            layer: int, a: Any, s: Any, index: int = index, stride: int = stride, kept: list = kept
        ) -> None:
            if layer == index:
                kept.append(a.reshape(-1)[::stride].to(torch.float64).numpy().copy())

        simulate(snn, spikes, (steps,), dtype="float64", layer_hook=hook)
        lam = _percentile_positive(np.concatenate(kept), percentile)
        if lam <= 0:
            raise InputError(
                f"threshold balancing: layer {index + 1} receives no positive input in {steps} "
                "steps; use --threshold data or more --steps"
            )
        scales.append(lam)
        prev = lam
    return tuple(scales)


def build_snn(calib: Calibration, params: ConversionParams) -> SnnChain:
    """The SNN (threshold 1 everywhere, per-neuron thresholds folded into weights and bias)."""
    maps = calib.normalized_maps()
    if len(params.sigma) != len(maps):
        raise InputError(f"expected {len(maps)} threshold scales, got {len(params.sigma)}")
    out_maps, biases = [], []
    for m, sigma, c in zip(maps, params.sigma, calib.noise, strict=True):
        noise_sd = m.channel_norms(4) * c  # per channel, threshold units
        theta = np.full(m.channels, float(sigma))
        bias = np.zeros(m.channels)
        if params.l4 == "margin":
            theta = theta + params.strength * noise_sd
        elif params.l4 == "bias":
            bias = -params.strength * noise_sd
        if np.any(theta <= 0):
            raise InputError(
                f"threshold scale {sigma} with margin {params.strength} gives a threshold <= 0"
            )
        per_neuron = m.channel_of_neuron()
        out_maps.append(m.scale_outputs(1.0 / theta))
        biases.append((bias / theta)[per_neuron])
    return SnnChain(tuple(out_maps), tuple([1.0] * len(maps)), tuple(biases))


def layer_names(chain: Chain) -> tuple[list[str], list[str]]:
    """(population names, projection names): in, h1.., out; fc1/conv1.. numbered by layer."""
    pops = ["in"] + [f"h{i + 1}" for i in range(chain.depth - 1)] + ["out"]
    projs = [f"{'conv' if m.kind == 'conv' else 'fc'}{i + 1}" for i, m in enumerate(chain.maps)]
    return pops, projs


def to_graph(snn: SnnChain, chain: Chain, metadata: dict[str, Any], dt: float = 1e-3) -> Graph:
    """The snnc float graph of `snn` (IF neurons, deployed semantics)."""
    pop_names, proj_names = layer_names(chain)
    pops: dict[str, Any] = {"in": Input(chain.input_shape)}
    projs: dict[str, Any] = {}
    for i, pooled in enumerate(snn.maps):
        m = pooled.folded()
        name = pop_names[i + 1]
        bias = np.asarray(snn.bias[i], dtype=np.float64)
        pops[name] = LIF(
            m.out_shape,
            tau_syn=0.0,
            tau_mem=math.inf,
            v_th=snn.v_th[i],
            bias=bias.reshape(m.out_shape) if np.any(bias) else 0.0,
        )
        src = pop_names[i]
        if m.kind == "conv":
            projs[proj_names[i]] = Conv2d(
                src, name, weight=m.weight, stride=m.stride, padding=m.padding
            )
        else:
            projs[proj_names[i]] = Dense(src, name, weight=m.weight)
    return Graph(populations=pops, projections=projs, dt=dt, outputs=("out",), metadata=metadata)
