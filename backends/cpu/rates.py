"""Firing rates measured on calibration inputs: what the partition and place passes weigh spike
traffic with (`PassContext.calibration["rates"]`) instead of plain fan-out counts."""

from __future__ import annotations

import numpy as np

from backends.base import Probe
from backends.cpu.simulator import run
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input

__all__ = ["measure_rates"]


def measure_rates(
    graph: Graph, inputs: np.ndarray, steps: int | None = None, hw: HardwareSpec | None = None
) -> dict[str, np.ndarray]:
    """Spikes per step of every neuron, averaged over the batch and the steps, for a fixed-point
    graph run bit-exactly on `inputs` (batch, T, n_inputs). Input neurons count a step as a
    spike when their value is nonzero (graded payloads are one message each)."""
    names = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
    trace = run(graph, inputs, steps=steps, probes=[Probe(n) for n in names], hw=hw)
    rates: dict[str, np.ndarray] = {}
    arr = np.asarray(inputs)
    t = trace.steps
    start = 0
    for n in graph.inputs:
        size = graph.populations[n].size
        sent = (arr[:, :t, start : start + size] != 0).sum(axis=(0, 1))
        rates[n] = sent / float(arr.shape[0] * t)
        start += size
    for n in names:
        rates[n] = trace.get(n).mean(axis=(0, 1), dtype=np.float64)
    return {n: rates[n] for n in graph.populations}
