"""Turning output spikes into class labels, as described by `metadata["readout"]`.

    {"kind": "spike_count", "population": "out",
     "tie_break": "lowest_index" | "first_spike" | "v_sum" | "u_sum"}

The class is the output neuron with the most spikes over the run. Ties (including all-zero
counts) are broken by `tie_break`:
- "lowest_index": the lowest neuron index among the tied (numpy argmax);
- "first_spike": the tied neuron that spiked first (then the lowest index);
- "v_sum": the tied neuron with the largest membrane potential summed over the run (needs v
  probed; every backend can probe it);
- "u_sum": the tied neuron with the largest synaptic current u summed over the run (needs u
  probed). For neurons whose current is cleared every step (tau_syn = 0, Lava du = 4095) this is
  the total input the neuron received: the converted network's estimate of the ANN's logit,
  which spike counts quantize (trainers/conversion).
"v_sum" and "u_sum" are LIF's; "<var>_sum" works for any state variable the output
population's neuron model declares (`neurons.variables_of`), checked when the probe is made.
A graded model's spikes count where its payload is nonzero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from backends.base import Probe, Trace
from ir.errors import InputError

__all__ = ["TIE_BREAKS", "classify", "readout_probes"]

TIE_BREAKS = ("lowest_index", "first_spike", "v_sum", "u_sum")


def _check(spec: Mapping[str, Any]) -> tuple[str, str]:
    if spec.get("kind") != "spike_count":
        raise InputError(f"readout kind {spec.get('kind')!r} is not supported (spike_count)")
    pop = spec.get("population")
    if not isinstance(pop, str):
        raise InputError("readout: 'population' must name the output population")
    tie = spec.get("tie_break", "lowest_index")
    if not isinstance(tie, str) or (
        tie not in TIE_BREAKS and not (tie.endswith("_sum") and len(tie) > 4)
    ):
        raise InputError(
            f"readout tie_break {tie!r}; available: {', '.join(TIE_BREAKS)} (or <state "
            "variable>_sum)"
        )
    return pop, tie


def _summed_state(tie: str) -> str | None:
    return tie[: -len("_sum")] if tie.endswith("_sum") else None


def readout_probes(spec: Mapping[str, Any]) -> tuple[Probe, ...]:
    pop, tie = _check(spec)
    state = _summed_state(tie)
    return (Probe(pop, ("spikes", state) if state else ("spikes",)),)


def classify(spec: Mapping[str, Any], trace: Trace) -> np.ndarray:
    """Predicted class per sample (batch,)."""
    pop, tie = _check(spec)
    spikes = trace.get(pop, "spikes") != 0
    counts = spikes.sum(axis=1).astype(np.int64)  # (batch, n)
    best = counts.max(axis=1, keepdims=True)
    tied = counts == best
    if tie == "lowest_index":
        return np.argmax(tied, axis=1)
    if tie == "first_spike":
        steps = spikes.shape[1]
        first = np.where(spikes.any(axis=1), np.argmax(spikes, axis=1), steps)
        key = np.where(tied, first, steps + 1)
        return np.argmin(key, axis=1)
    state = trace.get(pop, _summed_state(tie)).astype(np.float64).sum(axis=1)
    key = np.where(tied, state, -np.inf)
    return np.argmax(key, axis=1)
