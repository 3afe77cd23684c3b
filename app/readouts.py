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

__all__ = ["HOST_READOUTS", "host_readout", "print_host_eval"]


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
