"""A fast float simulation of a converted SNN chain, for calibration and hyper-parameter search.

It computes exactly what the `float` backend computes for the graph `convert.to_graph` builds
(same equations, same timing; a test holds the two to the same spikes in float64), but layer by
layer over chunks of time instead of step by step over the whole graph: a projection's input
over a chunk is one batched matrix product (or convolution) of the source's spikes, and only the
neuron recurrence runs step by step. In float32 it is an order of magnitude faster than the
reference simulator; its figures are never reported as deployed accuracy.

Semantics (the deployed ones, `ir.nodes.LIF` with tau_syn = 0, tau_mem = inf):

    a_l[t] = W_l s_{l-1}[t-1]            (one step of delay per projection; s_0 = input spikes)
    v_l[t] = v_l[t-1] + a_l[t] + b_l     (current cleared every step: u[t] = a[t])
    s_l[t] = v_l[t] > v_th,l ;  v_l[t] <- 0 where s_l[t]       (reset to zero)

with t = 1..T, s_l[0] = 0 and the input population emitting input[:, t-1] at step t.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainers.conversion.chain import LinearMap

__all__ = ["SimResult", "SnnChain", "predict", "simulate"]


@dataclass(frozen=True, eq=False)
class SnnChain:
    """A converted network: maps with SNN weights, a threshold per layer and a bias per neuron."""

    maps: tuple[LinearMap, ...]
    v_th: tuple[float, ...]
    bias: tuple[np.ndarray, ...]  # (n_out,) per layer

    @property
    def depth(self) -> int:
        return len(self.maps)


@dataclass
class SimResult:
    """Readout data at each checkpoint T_k (counts over steps 1..T_k).

    counts[k]: output spike counts (B, n_out); current[k]: output current summed over the steps
    (B, n_out), the `u_sum` tie-break; spikes[k]: spikes per layer summed over neurons (B, L).
    """

    checkpoints: tuple[int, ...]
    counts: list[np.ndarray] = field(default_factory=list)
    current: list[np.ndarray] = field(default_factory=list)
    spikes: list[np.ndarray] = field(default_factory=list)


def predict(counts: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The spike-count readout with the `u_sum` tie-break (trainers.readout): most spikes; among
    the tied, the largest summed input current; then the lowest index."""
    tied = counts == counts.max(axis=1, keepdims=True)
    return np.argmax(np.where(tied, current, -np.inf), axis=1)


def simulate(
    snn: SnnChain,
    spikes: np.ndarray,
    checkpoints: Sequence[int],
    *,
    dtype: str = "float32",
    chunk: int = 32,
    layer_hook: Callable[[int, Any, Any], None] | None = None,
) -> SimResult:
    """Run `snn` on input spikes (B, T, n_in) for max(checkpoints) steps.

    `layer_hook(layer, a, s)`, if given, sees each layer's input current `a` and spikes `s`
    (torch tensors (B, chunk, n)) chunk by chunk, in time order.
    """
    import torch

    tdtype = getattr(torch, dtype)
    cps = tuple(sorted(set(int(c) for c in checkpoints)))
    steps = cps[-1]
    batch = spikes.shape[0]
    n_in = snn.maps[0].n_in
    sizes = [m.n_out for m in snn.maps]
    v = [torch.zeros((batch, n), dtype=tdtype) for n in sizes]
    last = [torch.zeros((batch, n), dtype=tdtype) for n in [n_in, *sizes[:-1]]]
    bias = [torch.as_tensor(np.asarray(b, dtype=np.float64), dtype=tdtype) for b in snn.bias]
    counts = torch.zeros((batch, sizes[-1]), dtype=torch.int64)
    current = torch.zeros((batch, sizes[-1]), dtype=torch.float64)
    per_layer = torch.zeros((batch, snn.depth), dtype=torch.int64)
    out = SimResult(cps)
    t0 = 0
    with torch.no_grad():
        while t0 < steps:
            nxt = min([c for c in cps if c > t0] + [t0 + chunk])
            width = nxt - t0
            if t0 < spikes.shape[1]:
                src = torch.as_tensor(
                    np.asarray(spikes[:, t0 : min(nxt, spikes.shape[1])]), dtype=tdtype
                )
                if src.shape[1] < width:
                    src = torch.cat(
                        [src, torch.zeros((batch, width - src.shape[1], n_in), dtype=tdtype)], 1
                    )
            else:
                src = torch.zeros((batch, width, n_in), dtype=tdtype)
            for layer, m in enumerate(snn.maps):
                # What the source emitted one step earlier: the last step of the previous chunk,
                # then this chunk's steps but the last.
                delayed = torch.cat([last[layer][:, None], src[:, :-1]], 1)
                last[layer] = src[:, -1]
                a = m.apply(delayed.reshape(batch * width, -1)).reshape(batch, width, -1)
                s = torch.empty_like(a)
                vl, th, b = v[layer], snn.v_th[layer], bias[layer]
                for t in range(width):
                    vl += a[:, t] + b
                    fired = vl > th
                    s[:, t] = fired
                    vl.masked_fill_(fired, 0.0)
                if layer_hook is not None:
                    layer_hook(layer, a, s)
                per_layer[:, layer] += s.sum(dim=(1, 2)).to(torch.int64)
                src = s
            counts += src.sum(dim=1).to(torch.int64)
            current += a.sum(dim=1).to(torch.float64)
            t0 = nxt
            if t0 in cps:
                out.counts.append(counts.numpy().copy())
                out.current.append(current.numpy().copy())
                out.spikes.append(per_layer.numpy().copy())
    return out
