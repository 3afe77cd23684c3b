"""A graph prepared for simulation: per-population parameters and per-projection synapses in
the form both engines (reference and fast) consume.

Timing, shared by every engine (Lava's, see docs/semantics.md, "The reference semantics"): at step
t = 1..T each projection delivers what its source emitted at step t - 1 - k for each of its
delays k (nothing arrives from before step 1); the deliveries are summed per destination; then
every neuron population updates and emits. Input populations emit `inputs[:, t - 1]`.
A population with several input ports (`Population.input_ports`: RF's real and imaginary
inputs) sums each port's projections on its own and gets the sums side by side (port p in
columns p n .. (p + 1) n - 1 of the model's input, `NeuronModel.step`).

Which Lava connection model a projection corresponds to follows from the node alone, so that
a projection cut into block pairs keeps its model: a QDense/QSparse whose `delay` is a
per-synapse array, or a non-zero scalar, is Lava's DelayDense/DelaySparse (even if all its
delays are 0); otherwise it is Dense/Sparse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from backends.cpu import kernels
from ir.errors import UnsupportedNodeError
from ir.graph import Graph
from ir.nodes import (
    Conv2d,
    Dense,
    Input,
    Population,
    Projection,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
)
from neurons import BY_NODE, NeuronModel

__all__ = ["Net", "Neurons", "Synapses", "is_delayed", "prepare"]

FIXED_PROJECTIONS = ("QDense", "QSparse", "QConv2d")
FLOAT_PROJECTIONS = ("Dense", "Sparse", "Conv2d")


def is_delayed(node: Projection) -> bool:
    """True when the projection lowers to Lava's DelayDense/DelaySparse (see module doc)."""
    delay = getattr(node, "delay", None)
    return delay is not None and (delay.ndim > 0 or int(delay) != 0)


@dataclass
class Synapses:
    """One projection, ready to simulate.

    `groups` holds (k, W_k): the weights of the synapses with delay k, as an (n_dst, n_src)
    numpy array (dense) or scipy CSR matrix (sparse); int64 effective (Lava-clipped and
    truncated) weights for fixed-point graphs, float64 for float graphs. Conv projections keep
    their node in `conv` instead.
    """

    name: str
    src: str
    dst: str
    n_src: int
    n_dst: int
    kind: str  # "dense", "sparse" or "conv"
    fixed: bool
    delayed: bool = False
    graded: bool = False
    payload_max: int = 1  # largest |payload| the source can send
    weight_exp: int = 0
    mode: str = kernels.SHIFT_THEN_WRAP
    groups: tuple[tuple[int, Any], ...] = ()
    conv: Any = None
    src_shape: tuple[int, ...] = ()
    dst_shape: tuple[int, ...] = ()
    port: int = 0
    """Index of the destination's input port it feeds (`Projection.port`)."""
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """What the engines derive from the weights once per run (bounds, compact weights),
    instead of once per batch chunk."""

    def columns(self) -> slice:
        """The columns of the destination's side-by-side port inputs this projection adds to."""
        return slice(self.port * self.n_dst, (self.port + 1) * self.n_dst)

    @property
    def lags(self) -> tuple[int, ...]:
        """Source emission lags this projection reads: t - 1 - k for each delay k."""
        return tuple(k for k, _ in self.groups) if self.kind != "conv" else (0,)

    @property
    def max_delay(self) -> int:
        return max(self.lags, default=0)

    def abs_row_sum_max(self) -> int:
        """max over destinations of sum |w| (all delays): bounds |sum| for 0/1 inputs."""
        if "abs_row_sum_max" not in self.memo:
            self.memo["abs_row_sum_max"] = self._abs_row_sum_max()
        return self.memo["abs_row_sum_max"]

    def _abs_row_sum_max(self) -> int:
        if self.kind == "conv":
            w = np.abs(np.asarray(self.conv.weight, dtype=np.float64))
            return int(w.reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
        total = np.zeros(self.n_dst, dtype=np.float64)
        for _, w in self.groups:
            total += np.asarray(abs(w).sum(axis=1), dtype=np.float64).reshape(-1)
        return int(total.max(initial=0))

    def sum_bound(self) -> int:
        """Upper bound of |sum of weight * payload| at one destination in one step."""
        return self.abs_row_sum_max() * self.payload_max


@dataclass
class Neurons:
    """One neuron population: its model (a row of the `neurons` table) and the per-neuron
    parameters the model prepared for its kernels."""

    name: str
    size: int
    model: NeuronModel
    params: Any


@dataclass
class Net:
    """A prepared graph: inputs (name -> (start, stop) in the run's input columns), neuron
    populations in graph order, projections in graph order."""

    fixed: bool
    inputs: dict[str, tuple[int, int]]
    input_bits: dict[str, int]
    neurons: dict[str, Neurons]
    synapses: list[Synapses]
    sizes: dict[str, int]
    shapes: dict[str, tuple[int, ...]]
    graded: dict[str, bool] = field(default_factory=dict)
    """Per population: True when it sends graded payloads (an Input with message_bits > 0, or
    a graded neuron model), False for binary spikes."""
    ports: dict[str, int] = field(default_factory=dict)
    """Per neuron population: its number of input ports (the model's input is that many times
    its size wide)."""

    def incoming(self, population: str) -> list[Synapses]:
        return [s for s in self.synapses if s.dst == population]

    def input_width(self, population: str) -> int:
        """Columns of the model's input: its size times its input ports."""
        return self.sizes[population] * self.ports.get(population, 1)

    @property
    def max_lag(self) -> int:
        return max((s.max_delay for s in self.synapses), default=0)


def _delay_groups(weight: np.ndarray, delay: np.ndarray) -> list[tuple[int, np.ndarray]]:
    if delay.ndim == 0:
        return [(int(delay), weight)]
    return [
        (int(k), np.where(delay == k, weight, 0).astype(weight.dtype)) for k in np.unique(delay)
    ]


def _sparse_groups(
    n_dst: int,
    n_src: int,
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    delay: np.ndarray,
    dtype,
) -> list[tuple[int, sp.csr_matrix]]:
    def csr(mask: np.ndarray | slice) -> sp.csr_matrix:
        m = sp.csr_matrix(
            (values[mask].astype(dtype), (rows[mask], cols[mask])), shape=(n_dst, n_src)
        )
        m.eliminate_zeros()
        return m

    if delay.ndim == 0:
        return [(int(delay), csr(slice(None)))]
    return [(int(k), csr(delay == k)) for k in np.unique(delay)]


def _payload(pop: Population, neurons: Neurons | None) -> tuple[bool, int]:
    """(graded, largest |payload|) of what population `pop` sends."""
    if isinstance(pop, Input):
        graded = pop.message_bits > 0
        return graded, (1 << (pop.message_bits - 1)) if graded else 1
    assert neurons is not None
    return neurons.model.graded, neurons.model.payload_bound(neurons.params)


def _synapses(
    graph: Graph, name: str, proj: Projection, fixed: bool, neurons: dict[str, Neurons]
) -> Synapses:
    pops = graph.populations
    src_pop, dst_pop = pops[proj.src], pops[proj.dst]
    graded, payload_max = _payload(src_pop, neurons.get(proj.src))
    common = dict(
        name=name,
        src=proj.src,
        dst=proj.dst,
        n_src=src_pop.size,
        n_dst=dst_pop.size,
        fixed=fixed,
        graded=graded,
        payload_max=payload_max,
        src_shape=src_pop.shape,
        dst_shape=dst_pop.shape,
        port=0 if proj.port is None else dst_pop.input_ports.index(proj.port),
    )
    if isinstance(proj, (QDense, Dense)):
        delayed = is_delayed(proj)
        if fixed:
            w = kernels.lava_weights(proj.weight, proj.num_weight_bits, proj.sign_mode)
            mode = kernels.accumulate_mode("dense", delayed, graded)
            return Synapses(
                kind="dense",
                delayed=delayed,
                weight_exp=proj.weight_exp,
                mode=mode,
                groups=tuple(_delay_groups(w, proj.delay)),
                **common,
            )
        w = np.asarray(proj.weight, dtype=np.float64)
        return Synapses(
            kind="dense", delayed=delayed, groups=tuple(_delay_groups(w, proj.delay)), **common
        )
    if isinstance(proj, (QSparse, Sparse)):
        delayed = is_delayed(proj)
        if fixed:
            values = kernels.lava_weights(proj.values, proj.num_weight_bits, proj.sign_mode)
            groups = _sparse_groups(
                dst_pop.size, src_pop.size, proj.rows, proj.cols, values, proj.delay, np.int64
            )
            mode = kernels.accumulate_mode("sparse", delayed, graded)
            return Synapses(
                kind="sparse",
                delayed=delayed,
                weight_exp=proj.weight_exp,
                mode=mode,
                groups=tuple(groups),
                **common,
            )
        groups = _sparse_groups(
            dst_pop.size,
            src_pop.size,
            proj.rows,
            proj.cols,
            np.asarray(proj.values, dtype=np.float64),
            proj.delay,
            np.float64,
        )
        return Synapses(kind="sparse", delayed=delayed, groups=tuple(groups), **common)
    if isinstance(proj, (QConv2d, Conv2d)):
        return Synapses(kind="conv", conv=proj, **common)
    raise AssertionError(f"unexpected projection type {type(proj).__name__}")


def prepare(graph: Graph, fixed: bool, backend: str) -> Net:
    """Prepare `graph` (already verified) for the engines, or raise UnsupportedNodeError."""
    domain = "fixed" if fixed else "float"
    want_proj = (QDense, QSparse, QConv2d) if fixed else (Dense, Sparse, Conv2d)
    inputs: dict[str, tuple[int, int]] = {}
    input_bits: dict[str, int] = {}
    start = 0
    for n in graph.inputs:
        pop = graph.populations[n]
        inputs[n] = (start, start + pop.size)
        input_bits[n] = pop.message_bits  # type: ignore[attr-defined]
        start += pop.size
    neurons: dict[str, Neurons] = {}
    for n, pop in graph.populations.items():
        if isinstance(pop, Input):
            continue
        model = BY_NODE.get(type(pop))
        if model is None or pop.domain != domain:
            supported = sorted(t.__name__ for t in BY_NODE if t.domain == domain)
            raise UnsupportedNodeError(
                n, type(pop).__name__, [*supported, "Input"], f"the {backend} backend"
            )
        neurons[n] = Neurons(n, pop.size, model, model.prepare(pop, graph.dt))
    synapses = []
    for n, proj in graph.projections.items():
        if not isinstance(proj, want_proj):
            supported = list(FIXED_PROJECTIONS if fixed else FLOAT_PROJECTIONS)
            raise UnsupportedNodeError(n, type(proj).__name__, supported, f"the {backend} backend")
        synapses.append(_synapses(graph, n, proj, fixed, neurons))
    sizes = {n: p.size for n, p in graph.populations.items()}
    shapes = {n: p.shape for n, p in graph.populations.items()}
    graded = {n: _payload(p, neurons.get(n))[0] for n, p in graph.populations.items()}
    ports = {n: len(graph.populations[n].input_ports) for n in neurons}
    return Net(fixed, inputs, input_bits, neurons, synapses, sizes, shapes, graded, ports)
