"""One-layer training: the weights from the spike times, by solving the t-transform constraints.

For output neuron j, every pair of consecutive spikes (t_k, t_{k+1}) of every example gives one
row of a linear system in W[j, :] (equation (1) of `machine`):

    A[r, i] = int_{t_k}^{t_{k+1}} x_i,      q[r] = 2 kappa_j delta_j - b_j (t_{k+1} - t_k),

and W[j, :] = pinv(A) q, the minimum-norm least-squares solution. Neurons are independent.

Identifiability: the rows of one example lie in the span of that example's signals (their
integrals over any interval are combinations of the same 2K-1 functions), so rank(A) is at most
(number of examples) x (dimension of the signal space). When rank(A) is below the number of
inputs the weights are not determined by the data; `fit_one_layer` then warns
(`IdentifiabilityWarning`) and returns the minimum-norm solution, and its report says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ir.errors import InputError
from trainers.tem.machine import IFTEM, interval_integrals, t_transform
from trainers.tem.signals import PeriodicBandlimited

__all__ = [
    "RCOND",
    "IdentifiabilityWarning",
    "NeuronFit",
    "OneLayerFit",
    "constraint_system",
    "fit_one_layer",
    "solve_min_norm",
]


class IdentifiabilityWarning(UserWarning):
    """The examples do not determine the weights (constraint rank below the input count)."""


@dataclass(frozen=True)
class NeuronFit:
    """How well one neuron's constraints determine its weights."""

    rows: int  # interval constraints used
    rank: int  # numerical rank of the constraint matrix
    condition: float  # sigma_max / sigma_n_inputs; inf when rank < n_inputs
    residual: float  # ||A w - q||_2 of the solution

    def identifiable(self, n_inputs: int) -> bool:
        return self.rank >= n_inputs


@dataclass(frozen=True)
class OneLayerFit:
    weights: np.ndarray  # (n_out, n_in)
    neurons: tuple[NeuronFit, ...]

    @property
    def identifiable(self) -> bool:
        n_in = self.weights.shape[1]
        return all(nf.identifiable(n_in) for nf in self.neurons)


def constraint_system(
    inputs: Sequence[PeriodicBandlimited],
    spikes: Sequence[Sequence[np.ndarray]],
    tem: IFTEM,
    neuron: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(A, q) of neuron `neuron`, stacked over examples (`spikes[e][neuron]` are its spike
    times)."""
    rows = [interval_integrals(x, s[neuron]) for x, s in zip(inputs, spikes, strict=True)]
    rhs = [t_transform(tem, neuron, s[neuron]) for s in spikes]
    n_in = inputs[0].n_signals
    a = np.concatenate(rows, axis=0) if rows else np.zeros((0, n_in))
    q = np.concatenate(rhs) if rhs else np.zeros(0)
    return a, q


# Singular values below RCOND * sigma_max count as zero. The rows are exact up to the spike-time
# accuracy (far below 1e-8 relative, see `machine`), while a rank deficiency shows up as singular
# values at the float64 rounding level (1e-15 relative): 1e-10 separates the two.
RCOND = 1e-10


def solve_min_norm(
    a: np.ndarray, q: np.ndarray, rcond: float = RCOND
) -> tuple[np.ndarray, int, np.ndarray]:
    """pinv(a) q through the SVD; returns (solution, numerical rank, singular values)."""
    n = a.shape[1]
    if a.shape[0] == 0:
        return np.zeros(n), 0, np.zeros(0)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    cut = rcond * s[0]
    rank = int(np.sum(s > cut))
    x = vt[:rank].T @ ((u[:, :rank].T @ q) / s[:rank])
    return x, rank, s


def fit_one_layer(
    inputs: Sequence[PeriodicBandlimited],
    spikes: Sequence[Sequence[np.ndarray]],
    tem: IFTEM,
    rcond: float = RCOND,
) -> OneLayerFit:
    """W (n_out, n_in) from the inputs of every example and the output spike times
    (`spikes[e][j]`: times of neuron j in example e), as in the module docstring."""
    if not inputs or len(inputs) != len(spikes):
        raise InputError(
            f"need one spike list per example; got {len(inputs)} examples and {len(spikes)} spike "
            "lists"
        )
    n_in = inputs[0].n_signals
    n_out = tem.n_channels
    for e, s in enumerate(spikes):
        if len(s) != n_out:
            raise InputError(f"example {e}: {len(s)} spike trains for {n_out} output neurons")
    weights = np.zeros((n_out, n_in))
    reports = []
    for j in range(n_out):
        a, q = constraint_system(inputs, spikes, tem, j)
        w, rank, s = solve_min_norm(a, q, rcond)
        weights[j] = w
        cond = float(s[0] / s[n_in - 1]) if rank >= n_in else float("inf")
        resid = float(np.linalg.norm(a @ w - q)) if a.size else 0.0
        reports.append(NeuronFit(rows=int(a.shape[0]), rank=rank, condition=cond, residual=resid))
        if rank < n_in:
            warnings.warn(
                IdentifiabilityWarning(
                    f"output neuron {j}: {a.shape[0]} interval constraints of rank {rank} < "
                    f"{n_in} inputs; "
                    "the weights are not identified (returning the minimum-norm solution); "
                    "add examples, each adds at most the dimension of its signal space"
                ),
                stacklevel=2,
            )
    return OneLayerFit(weights=weights, neurons=tuple(reports))
