"""Readouts that need the host: a table keyed by `metadata.readout.kind`.

A model's output is read one of two ways:
- on the chip's side, by counting output spikes (`"spike_count"`, `trainers.readout`): `snnc eval`
  and `snnc report` encode the dataset's images, run the program and classify;
- by a host pipeline the trainer wrote beside the model (`"vib_decoder"`: the VIB encoder's
  readout spikes go to an ANN decoder on the host, `trainers.vib.evaluate`): the pipeline knows
  its own inputs (images padded with the silent steps the readout lags by, or blob sequences),
  its own labels and its own metric.

`HOST_READOUTS[kind]` runs such a pipeline: `(graph, path, hw, backend, dataset, split, samples,
steps, seed, batch) -> result` with `accuracy` (the pipeline's metric), `samples`, `steps`,
`backend` and `metric`. `snnc eval` and `snnc report --dataset` look a model's readout kind up
here before they fall back to spike counts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ir.graph import Graph
from ir.hardware import HardwareSpec

__all__ = ["HOST_READOUTS", "group_means", "host_readout", "print_host_eval"]


def _vib(graph: Graph, path: str | os.PathLike, hw: HardwareSpec | None, backend: str, *,
         dataset: str | None, split: str, samples: int | None, steps: int | None,
         seed: int | None, batch: int) -> dict[str, Any]:
    from trainers.vib.evaluate import evaluate_vib

    result = evaluate_vib(graph, path, backend=backend, hw=hw, split=split, samples=samples,
                          steps=steps, seed=seed, dataset=dataset, batch=batch)
    result["model"] = str(path)
    return result


def _vib_print(result: Mapping[str, Any], as_json: bool) -> None:
    from trainers.vib.cli import print_eval

    print_eval(dict(result), as_json)


# kind -> (evaluate the pipeline, print its result)
HOST_READOUTS: dict[str, tuple[Callable[..., dict[str, Any]], Callable[..., None]]] = {
    "vib_decoder": (_vib, _vib_print),
}


def host_readout(graph: Graph) -> str | None:
    """The model's readout kind when a host pipeline reads it (a key of HOST_READOUTS)."""
    spec = graph.metadata.get("readout")
    kind = spec.get("kind") if isinstance(spec, Mapping) else None
    return kind if isinstance(kind, str) and kind in HOST_READOUTS else None


def print_host_eval(kind: str, result: Mapping[str, Any], as_json: bool) -> None:
    HOST_READOUTS[kind][1](result, as_json)


def group_means(graph: Graph, arrays: Mapping[str, Any]) -> dict[str, Any]:
    """The host-side part of a `group_mean` readout (lava-dl SLAYER's Average block, imported
    from a netx `average` layer): per step, the mean of the population's emissions over
    `groups` equal groups of consecutive neurons, as {"POP:group_mean": (batch, T, groups)
    float64}; empty when the model has no such readout or `arrays` lacks the population."""
    import numpy as np

    spec = graph.metadata.get("readout")
    if not isinstance(spec, Mapping) or spec.get("kind") != "group_mean":
        return {}
    pop, groups = spec.get("population"), spec.get("groups")
    out = arrays.get(pop) if isinstance(pop, str) else None
    if out is None or not isinstance(groups, int) or groups <= 0 or out.shape[-1] % groups:
        return {}
    batch, steps, n = out.shape
    means = out.astype(np.float64).reshape(batch, steps, groups, n // groups).mean(axis=3)
    return {f"{pop}:group_mean": means}
