r"""Testing the L4 paper's premise directly: is the spread of a neuron's pre-firing potential
proportional to the L4 norm of its weight vector?

For fixed input images and many independent realisations of the input spikes, the study records
every layer's input current a_j[t] and forms the *pre-firing potential*

    V_j = sum_{t = onset+1}^{onset+n} a_j[t]

(the membrane potential of an IF neuron that has not fired yet; `onset` = layer index, the steps
the one-step-per-projection delay keeps the layer silent). Per image it takes the standard
deviation of V_j over realisations, per neuron, and correlates it (Pearson r, across the
neurons with nonzero spread) with ||w_j||_4, with ||w_j||_2 and with the independent-input
prediction sqrt(n * sum_i w_ij^2 Var[s_i]) (Var[s_i] measured per step on the same runs; exact for
the first layer, where the inputs are independent). Reported: mean and standard deviation of r
over the images.

Inputs are Bernoulli(p) per step (the deployed encoder), or Poisson(p) counts per step (graded
spikes; the model the paper's abstract may have assumed), with p = max_rate * pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainers.conversion.chain import LinearMap
from trainers.conversion.fastsim import SnnChain, simulate

__all__ = ["LayerPremise", "draw_inputs", "pearson", "premise_study"]

INPUT_MODELS = ("bernoulli", "poisson")


@dataclass(frozen=True)
class LayerPremise:
    layer: int  # 1-based
    neurons: int  # neurons with nonzero spread, averaged over images
    r_l4: tuple[float, float]  # (mean, std) over images
    r_l2: tuple[float, float]
    r_exact: tuple[float, float]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def draw_inputs(
    x: np.ndarray, realisations: int, steps: int, max_rate: float, model: str, seed: int
) -> np.ndarray:
    """Input spikes (realisations, steps, n) for one image x, Bernoulli or Poisson counts."""
    rng = np.random.default_rng(seed)
    p = np.clip(np.asarray(x, dtype=np.float64).reshape(-1) * max_rate, 0.0, 1.0)
    if model == "bernoulli":
        return (rng.random((realisations, steps, p.size)) < p).astype(np.uint8)
    if model == "poisson":
        return rng.poisson(p, size=(realisations, steps, p.size)).astype(np.uint8)
    raise ValueError(f"input model must be one of {INPUT_MODELS}, got {model!r}")


def _per_neuron_norms(snn: SnnChain, layer: int, p: float) -> np.ndarray:
    m = snn.maps[layer]
    return m.channel_norms(p)[m.channel_of_neuron()]


def premise_study(
    snn: SnnChain,
    images: np.ndarray,
    *,
    realisations: int = 200,
    window: int = 16,
    max_rate: float = 1.0,
    model: str = "bernoulli",
    seed: int = 0,
) -> list[LayerPremise]:
    """Correlations of the pre-firing potential's spread with the L4 and L2 norms, per layer."""
    import torch

    depth = snn.depth
    steps = depth + window
    rs: dict[str, list[list[float]]] = {
        k: [[] for _ in range(depth)] for k in ("l4", "l2", "exact")
    }
    counted: list[list[int]] = [[] for _ in range(depth)]
    n4 = [_per_neuron_norms(snn, k, 4) for k in range(depth)]
    n2 = [_per_neuron_norms(snn, k, 2) for k in range(depth)]
    folded = [m.folded() for m in snn.maps]
    squared = [
        LinearMap(m.kind, m.weight**2, m.in_shape, m.out_shape, m.stride, m.padding) for m in folded
    ]
    for i, x in enumerate(images):
        spikes = draw_inputs(x, realisations, steps, max_rate, model, seed=seed * 1_000_003 + i)
        potential: list[Any] = [None] * depth
        # Per-step variance of each layer's input spikes, pooled over realisations and the window.
        in_var: list[Any] = [
            spikes[:, :window].reshape(-1, spikes.shape[2]).astype(np.float64).var(axis=0)
        ]
        in_var += [None] * (depth - 1)

        def hook(
            layer: int, a: Any, s: Any, potential: list = potential, in_var: list = in_var
        ) -> None:
            # Layer `layer` (0-based) first receives input at step layer + 2 (1-based): skip
            # the silent steps, integrate the next `window`.
            lo = layer + 1
            potential[layer] = a[:, lo : lo + window].to(torch.float64).sum(dim=1).numpy()
            if layer + 1 < depth:
                fired = s[:, lo : lo + window].to(torch.float64).numpy()
                in_var[layer + 1] = fired.reshape(-1, fired.shape[2]).var(axis=0)

        simulate(snn, spikes, (steps,), dtype="float64", chunk=steps, layer_hook=hook)
        for k in range(depth):
            sd = potential[k].std(axis=0)
            keep = sd > 1e-12
            if keep.sum() < 3:
                continue
            exact = np.sqrt(window * _apply_np(squared[k], in_var[k]))
            rs["l4"][k].append(pearson(sd[keep], n4[k][keep]))
            rs["l2"][k].append(pearson(sd[keep], n2[k][keep]))
            rs["exact"][k].append(pearson(sd[keep], exact[keep]))
            counted[k].append(int(keep.sum()))
    out = []
    for k in range(depth):
        if not counted[k]:
            continue
        stats = {name: (float(np.nanmean(v[k])), float(np.nanstd(v[k]))) for name, v in rs.items()}
        out.append(
            LayerPremise(k + 1, int(np.mean(counted[k])), stats["l4"], stats["l2"], stats["exact"])
        )
    return out


def _apply_np(m: LinearMap, v: np.ndarray) -> np.ndarray:
    import torch

    return m.apply(torch.as_tensor(v[None, :], dtype=torch.float64))[0].numpy()
