"""What `snnc report` (and `snnc demo`) measure by running a program: every population's
spikes on a few samples (`record_activity`) and accuracy against the number of time steps
(`accuracy_curve`). They run the backends (imported inside the functions) and return the plain
data `compiler.reporting` draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.progress import progress
from trainers.encoders import PREFIX_ENCODERS

__all__ = [
    "DEFAULT_ACTIVITY_SAMPLES",
    "accuracy_curve",
    "activity_from_dataset",
    "curve_steps",
    "readout_spec",
    "record_activity",
]

DEFAULT_ACTIVITY_SAMPLES = 16
# Checkpoints (fractions of the largest T) for encoders without the prefix property.
_CHECKPOINT_FRACTIONS = (1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1.0)


def readout_spec(graph: Graph) -> Mapping[str, Any] | None:
    """The model's readout when it is a spike count (what the curves and predictions need)."""
    spec = graph.metadata.get("readout")
    if isinstance(spec, Mapping) and spec.get("kind") == "spike_count":
        return spec
    return None


def record_activity(
    program: Graph,
    hw: HardwareSpec,
    inputs: np.ndarray,
    source: str,
    labels: np.ndarray | None = None,
):
    """Run `program` on the cpu backend and keep every population's spikes (inputs included);
    predictions too when the model has a spike-count readout."""
    from app.cost import population_spikes, probe_all
    from backends import get_backend
    from compiler.reporting import Activity
    from trainers.readout import classify, readout_probes

    readout = readout_spec(program)
    probes = probe_all(program, readout_probes(readout) if readout else ())
    trace = get_backend("cpu")(program, inputs, probes=probes, hw=hw)
    spikes = population_spikes(program, inputs, trace)
    predictions = classify(readout, trace) if readout else None
    return Activity(spikes, source, "cpu", labels, predictions)


def curve_steps(encoding: Mapping[str, Any], max_steps: int, model_steps: int | None) -> list[int]:
    """The T values of an accuracy curve: every step for prefix encoders, else checkpoints
    (including the model's T)."""
    if encoding.get("kind") in PREFIX_ENCODERS:
        return list(range(1, max_steps + 1))
    points = {max(1, round(f * max_steps)) for f in _CHECKPOINT_FRACTIONS}
    if model_steps is not None and model_steps <= max_steps:
        points.add(model_steps)
    return sorted(points)


def accuracy_curve(
    graph: Graph,
    hw: HardwareSpec | None,
    backend: str,
    x: np.ndarray,
    y: np.ndarray,
    steps: Sequence[int],
    seed: int,
    *,
    label: str,
    dataset: str,
    split: str,
    batch_size: int = 128,
):
    """Accuracy after each t in `steps` (sample i encoded with `first_index=i`, as `snnc eval`
    does): one run at max(steps) for prefix encoders, one run per t otherwise."""
    from app.inputs import model_spec
    from backends import get_backend
    from backends.base import Trace
    from compiler.reporting import AccuracyCurve
    from trainers.encoders import encode
    from trainers.readout import classify, readout_probes

    encoding = model_spec(graph, label, "encoding")
    readout = readout_spec(graph)
    if readout is None:
        kind = (graph.metadata.get("readout") or {}).get("kind")
        raise InputError(
            f"{label}: accuracy vs time steps needs a spike_count readout, the model's is "
            f"{kind!r}; use `snnc eval` for it"
        )
    steps = sorted(set(steps))
    # run length -> the T values read from that run
    runs = (
        {max(steps): steps}
        if encoding.get("kind") in PREFIX_ENCODERS
        else {t: [t] for t in steps}
    )
    probes = readout_probes(readout)
    simulate = get_backend(backend)
    correct = dict.fromkeys(steps, 0)
    starts = range(0, len(x), batch_size)
    for lo in progress(starts, f"accuracy vs T ({backend})", total=len(starts)):
        xb, yb = x[lo : lo + batch_size], y[lo : lo + batch_size]
        for t_run, read_at in runs.items():
            spikes = encode(encoding, xb, t_run, seed, first_index=lo)
            trace = simulate(graph, spikes, steps=t_run, probes=probes, hw=hw)
            for t in read_at:
                prefix = Trace(
                    trace.backend, t, trace.batch,
                    {p: {v: a[:, :t] for v, a in d.items()} for p, d in trace.data.items()},
                )
                correct[t] += int(np.sum(classify(readout, prefix) == yb))
    n = max(len(x), 1)
    return AccuracyCurve(
        label=label,
        backend=backend,
        steps=tuple(steps),
        accuracy=tuple(correct[t] / n for t in steps),
        samples=len(x),
        dataset=dataset,
        split=split,
        seed=seed,
    )


def activity_from_dataset(program: Graph, hw: HardwareSpec, dataset: str, split: str, n: int):
    """`record_activity` on the first `n` samples of a dataset split, encoded as the model says."""
    from trainers.encoders import encode_split

    inputs, labels = encode_split(program.metadata, dataset, split, n)
    enc = program.metadata.get("encoding", {})
    seed = enc.get("seed", 0) if isinstance(enc, Mapping) else 0
    source = f"{dataset} {split} (input seed {seed})"
    if labels.ndim != 1:  # predictive coding: a pattern index per step, no label per sample
        labels = None
    return record_activity(program, hw, inputs, source, labels)
