"""NeuroBench's metrics (NeuroBench 2.3.0, `neurobench/metrics/`), computed on a compiled
program and its counts with NeuroBench's definitions.

- **effective synaptic operations** (`SynapticOperations`): per sample, over every connection
  layer and step, the nonzero weights reached by nonzero inputs; counted as ACs when the
  inputs are spikes (values in {-1, 0, 1}) and MACs otherwise. `Dense`: the same with every
  weight and input nonzero. snnc: `CostCounts.effective_acs / effective_macs` (events x
  effective fan-out) per sample. Difference: NeuroBench labels a whole layer call (a batch at
  one step) MAC as soon as one input in it is graded; snnc labels each event by its own payload,
  so its split does not depend on batching (binary-spike programs: identical; ACs + MACs:
  identical always).
- **activation sparsity** (`ActivationSparsity`): zero outputs / all outputs of the spiking
  layers, over neurons, steps and samples. snnc: over non-input populations.
- **connection sparsity** (`ConnectionSparsity`): zero weights / all weights of the connection
  layers. snnc: over projections, counting a weight zero when its *effective* value is (Lava's
  clip and truncation); a dense or sparse projection has n_dst x n_src weights (a sparse one
  as the equivalent dense layer), a convolution its kernel entries. NeuroBench rounds to 4
  decimals; snnc does not.
- **parameters** (`ParameterCount`): the entries of the model's parameter tensors. snnc: the
  weight entries of the projections (dense tensors with their zeros, kernels, sparse values);
  neuron parameters (biases, thresholds, decays) count in the footprint only, as snnTorch holds
  them as buffers (a torch layer's bias would be a parameter).
- **footprint** (`Footprint`): bytes of the model's parameters and buffers, each entry at its
  element size. snnc: every weight entry (dense tensors with their zeros, kernels, sparse
  values and their row and column indices) and every neuron parameter entry of the program, at
  the smallest of 1, 2, 4, 8 bytes that holds it (weights: their format's bits; other fields:
  their values as signed integers). NeuroBench measures a framework's model, whose neuron
  buffers (snnTorch's beta, threshold, ...) differ from the program's registers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from compiler.cost.counts import CostCounts, neuron_updates_per_step
from ir.connectivity import fanin
from ir.fixed import effective_weights
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Conv2d, Input, QConv2d, QDense, QSparse, Sparse

_CONV = (Conv2d, QConv2d)
_SPARSE = (Sparse, QSparse)

__all__ = [
    "activation_sparsity",
    "connection_sparsity",
    "dense_synaptic_ops_per_step",
    "element_bytes",
    "footprint_bytes",
    "neurobench_metrics",
    "parameter_count",
]


def element_bytes(bits: int) -> int:
    """The smallest of 1, 2, 4, 8 bytes holding `bits` bits (a numpy/torch element size)."""
    return next(b for b in (1, 2, 4, 8) if 8 * b >= bits)


def _signed_bits(values: np.ndarray) -> int:
    if values.size == 0:
        return 1
    lo, hi = int(values.min()), int(values.max())
    return max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1


def _effective(graph: Graph, name: str) -> np.ndarray:
    """A projection's weights as it computes with them (its values for sparse ones)."""
    proj = graph.projections[name]
    if isinstance(proj, (QDense, QSparse)):
        raw = proj.values if isinstance(proj, QSparse) else proj.weight
        return effective_weights(raw, proj.num_weight_bits, proj.sign_mode)
    return proj.values if isinstance(proj, _SPARSE) else proj.weight


def connection_sparsity(graph: Graph) -> float:
    """Zero weights / all weights over the projections (0.0 for a graph without any)."""
    zeros = total = 0
    for name, proj in graph.projections.items():
        w = _effective(graph, name)
        if isinstance(proj, _SPARSE):
            n = graph.populations[proj.dst].size * graph.populations[proj.src].size
            zeros += n - int(np.count_nonzero(w))
            total += n
        else:
            zeros += int(w.size - np.count_nonzero(w))
            total += int(w.size)
    return zeros / total if total else 0.0


def dense_synaptic_ops_per_step(graph: Graph, hw: HardwareSpec | None = None) -> int:
    """NeuroBench's `Dense` per sample and step: the connections of every projection if every
    weight and input were nonzero (convolutions: in-bounds taps only)."""
    total = 0
    for name, proj in graph.projections.items():
        if isinstance(proj, _CONV):
            ones = proj.replace(weight=np.ones(proj.weight.shape, dtype=np.int64))
            total += int(fanin(graph.with_node(name, ones), name, hw).degrees()[0].sum())
        else:
            total += graph.populations[proj.dst].size * graph.populations[proj.src].size
    return total


def parameter_count(graph: Graph) -> int:
    """Weight entries of the projections (module docstring)."""
    return sum(
        p.nnz if isinstance(p, _SPARSE) else int(p.weight.size) for p in graph.projections.values()
    )


def footprint_bytes(graph: Graph, hw: HardwareSpec | None = None) -> int:
    """Bytes of the program's weights and neuron parameters (module docstring)."""
    total = 0
    for name, proj in graph.projections.items():
        if isinstance(proj, (QDense, QSparse)):
            bits = proj.num_weight_bits
        elif isinstance(proj, QConv2d):
            bits = fanin(graph, name, hw).weight_bits
        else:
            bits = 32  # float weights: float32, as a framework stores them
        if isinstance(proj, _SPARSE):
            entries = proj.nnz
            n = max(graph.populations[proj.src].size, graph.populations[proj.dst].size)
            index_bits = n.bit_length() + 1
            total += 2 * entries * element_bytes(index_bits)
        else:
            entries = proj.weight.size
        total += entries * element_bytes(bits)
        delay = getattr(proj, "delay", None)
        if delay is not None and np.ndim(delay):
            total += delay.size * element_bytes(_signed_bits(delay))
    for pop in graph.populations.values():
        if isinstance(pop, Input):
            continue
        for f in dataclasses.fields(pop):
            if f.name == "shape":
                continue
            value = getattr(pop, f.name)
            arr = np.asarray(value)
            if arr.dtype.kind == "f":  # float model parameters: float32
                total += arr.size * 4
            elif arr.dtype.kind in "iub":
                total += arr.size * element_bytes(_signed_bits(arr.astype(np.int64)))
    return total


def activation_sparsity(graph: Graph, counts: CostCounts) -> float:
    """Zero outputs / all outputs of the neuron populations over the counted run."""
    outputs = sum(
        pop.size * counts.steps * counts.samples
        for pop in graph.populations.values()
        if neuron_updates_per_step(pop) and not isinstance(pop, Input)
    )
    spikes = counts.total("spikes", graph)
    return (outputs - spikes) / outputs if outputs else 0.0


def neurobench_metrics(graph: Graph, hw: HardwareSpec, counts: CostCounts) -> dict[str, float]:
    """The NeuroBench metrics of a counted run, per sample where NeuroBench divides by samples."""
    n = max(counts.samples, 1)
    return {
        "effective_acs": counts.effective_acs / n,
        "effective_macs": counts.effective_macs / n,
        "dense_synaptic_ops": float(dense_synaptic_ops_per_step(graph, hw) * counts.steps),
        "activation_sparsity": activation_sparsity(graph, counts),
        "connection_sparsity": connection_sparsity(graph),
        "parameters": float(parameter_count(graph)),
        "footprint_bytes": float(footprint_bytes(graph, hw)),
    }

