"""The VIB encoder SNN and decoder ANN in torch, in exactly snnc's float IR dynamics.

Imported only to train or to sample the stochastic readout (it imports torch).

The encoder is a chain input -> hidden LIF layer(s) -> readout, each link a Dense projection
with snnc's one-step latency, each population an `ir.nodes.LIF` (0-indexed steps k):

    a[k] = W s_src[k-1]            (a[0] = 0; the input emits x[k] at step k)
    u[k] = alpha_syn u[k-1] + a[k]
    v[k] = alpha_mem v[k-1] + (u[k] + b)

Hidden layers are deterministic: s[k] = v[k] > v_th, then v[k] <- 0 where s[k] (surrogate
derivative 1 on |v - v_th| <= 1/2, 0 elsewhere, the VDIB code's `SmoothStep`). The readout has
no membrane memory (alpha_mem = 0, so v[k] = u[k] + b and the reset does nothing) and is
probabilistic in training: s[k] ~ Bernoulli(sigmoid(v[k] - v_th)). snnc deploys it as the
deterministic LIF s[k] = v[k] > v_th, i.e. it fires where sigmoid(.) > 1/2. The readout potential
is a GLM of the hidden spikes filtered by one exponential kernel (the synaptic current), where
the VDIB readout uses 8 raised-cosine kernels and a self-feedback kernel; this is what makes the
trained encoder an exact snnc graph.

Because the readout has no memory and no feedback, readout spikes at different steps are
independent given the input; the score-function rule uses that to credit each step only with
the decoder losses whose windows contain it (an unbiased, lower-variance estimator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from trainers.vib.config import EncoderShape

DT = 1e-3
"""Seconds per step of every VIB graph (time constants are given in steps)."""

__all__ = ["DT", "Decoder", "Encoder", "EncoderRecord"]


def _alphas(shape: EncoderShape, layer: int) -> tuple[float, float]:
    """(alpha_syn, alpha_mem) of layer `layer` (0-based; the last is the readout)."""
    if layer == len(shape.hidden):
        return _alpha(shape.tau_syn_readout), 0.0
    return _alpha(shape.tau_syn_hidden), _alpha(shape.tau_mem_hidden)


def _v_th(shape: EncoderShape, layer: int) -> float:
    return shape.v_th_readout if layer == len(shape.hidden) else shape.v_th_hidden


def _alpha(tau_steps: float) -> float:
    """The IR's retention per step, computed as `ir.nodes.LIF.decays` does for tau = steps x dt
    (so the float backend and this model use the same number; tau = 0: none)."""
    if tau_steps == 0:
        return 0.0
    return float(np.exp(-DT / np.float64(tau_steps * DT)))


class _SpikeFn(torch.autograd.Function):
    """Heaviside(x) forward, box surrogate 1{|x| <= 1/2} backward."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 0.5).to(grad.dtype)


@dataclass
class EncoderRecord:
    """One encoder run. `spikes`/`probs`: readout (B, K, n_readout). With `record`, the traces
    the score-function rule needs, per layer l (hidden layers first, readout last):
    `pre[l]` the filtered presynaptic spikes (B, K, n_src) (u[k] = W pre[k]), and for hidden
    layers `elig[l]` (B, K, n_src) and `elig_bias[l]` (B, K, 1), dv/dW and dv/db without the
    reset's part (e-prop's LIF eligibility), and `surrogate[l]` (B, K, n) the surrogate
    derivative at v."""

    spikes: torch.Tensor
    probs: torch.Tensor
    hidden_spikes: list[torch.Tensor]
    pre: list[torch.Tensor]
    elig: list[torch.Tensor]
    elig_bias: list[torch.Tensor]
    surrogate: list[torch.Tensor]


class Encoder(torch.nn.Module):
    """Weights `weights[l]` (n_l, n_{l-1}) and biases `biases[l]` of each layer."""

    def __init__(self, shape: EncoderShape, generator: torch.Generator, gain_hidden: float = 2.5,
                 gain_readout: float = 1.0, r: float = 0.2) -> None:
        super().__init__()
        self.shape = shape
        sizes = shape.sizes
        ws, bs = [], []
        for layer in range(len(sizes) - 1):
            n_in, n_out = sizes[layer], sizes[layer + 1]
            readout = layer == len(sizes) - 2
            bound = (gain_readout if readout else gain_hidden) * math.sqrt(3.0 / n_in)
            w = (
                torch.rand((n_out, n_in), generator=generator, dtype=torch.float64) * 2 - 1
            ) * bound
            # Readout starts firing at about the reference rate r: v - v_th = logit(r).
            b0 = shape.v_th_readout + math.log(r / (1 - r)) if readout else 0.0
            ws.append(torch.nn.Parameter(w.float()))
            bs.append(torch.nn.Parameter(torch.full((n_out,), b0)))
        self.weights = torch.nn.ParameterList(ws)
        self.biases = torch.nn.ParameterList(bs)

    def run(
        self, x: torch.Tensor, *, readout: str, generator: torch.Generator | None = None,
        record: bool = False, surrogate: bool = False,
    ) -> EncoderRecord:
        """Simulate inputs x (B, K, n_inputs). `readout`: "sample" (Bernoulli) or "threshold"
        (the deployed deterministic LIF). `surrogate`: keep the autograd graph (straight-through
        readout, surrogate hidden spikes); otherwise run without gradients."""
        with torch.set_grad_enabled(surrogate):
            return self._run(x, readout, generator, record, surrogate)

    def _run(self, x, readout, generator, record, surrogate) -> EncoderRecord:
        shape = self.shape
        b, k_steps, _ = x.shape
        dtype = x.dtype
        n_layers = len(self.weights)
        prev = [torch.zeros((b, n), dtype=dtype) for n in shape.sizes]  # emissions at k-1
        u = [torch.zeros((b, n), dtype=dtype) for n in shape.sizes[1:]]
        v = [torch.zeros((b, n), dtype=dtype) for n in shape.sizes[1:]]
        pre = [torch.zeros((b, n), dtype=dtype) for n in shape.sizes[:-1]]
        elig = [torch.zeros((b, n), dtype=dtype) for n in shape.sizes[:-2]]
        elig_b = [torch.zeros((b, 1), dtype=dtype) for _ in shape.sizes[1:-1]]
        rec_pre: list[list[torch.Tensor]] = [[] for _ in range(n_layers)]
        rec_elig: list[list[torch.Tensor]] = [[] for _ in range(n_layers - 1)]
        rec_elig_b: list[list[torch.Tensor]] = [[] for _ in range(n_layers - 1)]
        rec_surr: list[list[torch.Tensor]] = [[] for _ in range(n_layers - 1)]
        rec_hidden: list[list[torch.Tensor]] = [[] for _ in range(n_layers - 1)]
        out_s, out_p = [], []
        weights = [w.to(dtype) for w in self.weights]
        biases = [bb.to(dtype) for bb in self.biases]
        for k in range(k_steps):
            emit = [x[:, k]]
            for layer in range(n_layers):
                a_syn, a_mem = _alphas(shape, layer)
                src = prev[layer]
                u[layer] = a_syn * u[layer] + src @ weights[layer].T
                if record:
                    pre[layer] = a_syn * pre[layer] + src
                    rec_pre[layer].append(pre[layer])
                v_th = _v_th(shape, layer)
                if layer < n_layers - 1:
                    v[layer] = a_mem * v[layer] + (u[layer] + biases[layer])
                    if record:
                        # e-prop's LIF eligibility: the reset's contribution is dropped, so
                        # the trace is per presynaptic input (rank one per step).
                        elig[layer] = a_mem * elig[layer] + pre[layer]
                        elig_b[layer] = a_mem * elig_b[layer] + 1.0
                        rec_elig[layer].append(elig[layer])
                        rec_elig_b[layer].append(elig_b[layer])
                        rec_surr[layer].append(((v[layer] - v_th).abs() <= 0.5).to(dtype))
                    s = (
                        _SpikeFn.apply(v[layer] - v_th)
                        if surrogate
                        else (v[layer] > v_th).to(dtype)
                    )
                    # The reset is not differentiated through (as in e-prop and decolle).
                    v[layer] = v[layer] * (1.0 - s.detach())
                    rec_hidden[layer].append(s.detach())
                else:
                    v[layer] = u[layer] + biases[layer]
                    logit = v[layer] - v_th
                    p = torch.sigmoid(logit)
                    if readout == "sample":
                        s = torch.bernoulli(p.detach(), generator=generator)
                        if surrogate:
                            s = s + p - p.detach()  # straight-through: ds/du := dp/du
                    elif readout == "threshold":
                        s = (v[layer] > v_th).to(dtype)
                    else:
                        # caller bug
                        raise ValueError(f"readout must be sample or threshold, got {readout!r}")
                    out_s.append(s)
                    out_p.append(p)
                emit.append(s)
            prev = emit
        stack = lambda seq: torch.stack(seq, dim=1)  # noqa: E731
        return EncoderRecord(
            spikes=stack(out_s), probs=stack(out_p),
            hidden_spikes=[stack(r) for r in rec_hidden],
            pre=[stack(r) for r in rec_pre] if record else [],
            elig=[stack(r) for r in rec_elig] if record else [],
            elig_bias=[stack(r) for r in rec_elig_b] if record else [],
            surrogate=[stack(r) for r in rec_surr] if record else [],
        )

    def arrays(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Weights and biases as float64 numpy arrays."""
        return ([w.detach().double().numpy().copy() for w in self.weights],
                [b.detach().double().numpy().copy() for b in self.biases])


class Decoder(torch.nn.Module):
    """Linear, or Linear -> ReLU -> Linear, on decoder features (see trainers.vib.decoder)."""

    def __init__(
        self, layer_shapes: Sequence[tuple[int, int]], output: str, generator: torch.Generator
    ) -> None:
        super().__init__()
        layers = []
        for out_f, in_f in layer_shapes:
            lin = torch.nn.Linear(in_f, out_f)
            bound = 1.0 / math.sqrt(in_f)
            with torch.no_grad():
                lin.weight.copy_((torch.rand((out_f, in_f), generator=generator) * 2 - 1) * bound)
                lin.bias.copy_((torch.rand((out_f,), generator=generator) * 2 - 1) * bound)
            layers.append(lin)
        self.layers = torch.nn.ModuleList(layers)
        self.output = output

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        h = features
        for i, lin in enumerate(self.layers):
            h = lin(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h

    def arrays(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (lin.weight.detach().double().numpy().copy(), lin.bias.detach().double().numpy().copy())
            for lin in self.layers
        ]

    def load_arrays(self, layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        with torch.no_grad():
            for lin, (w, b) in zip(self.layers, layers, strict=True):
                lin.weight.copy_(torch.as_tensor(w, dtype=lin.weight.dtype))
                lin.bias.copy_(torch.as_tensor(b, dtype=lin.bias.dtype))
