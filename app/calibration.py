"""Calibration inputs for `snnc compile --calibrate`: a dataset split encoded as the model's
metadata says, or the user's own input spikes (IN.npy), and the simulator the compile pipeline
runs the float model and the program with (`compiler.compile.Calibration`; the compiler does not
import backends, so the simulator is built here)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from compiler.compile import Calibration
from compiler.quantization.calibrate import Simulator
from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input

__all__ = [
    "DEFAULT_SAMPLES",
    "dataset_calibration",
    "is_spike_file",
    "simulator",
    "spike_calibration",
]

DEFAULT_SAMPLES = 64  # dataset samples when --samples is not given


def simulator(hw: HardwareSpec) -> Simulator:
    """Runs a float graph on the float backend and a program on the cpu backend, probing spikes
    and the given variables of every neuron population."""
    from backends import get_backend
    from backends.base import Probe
    from neurons import variables_of

    def simulate(graph: Graph, inputs: np.ndarray, variables: tuple[str, ...]) -> dict[str, Any]:
        probes = [
            Probe(n, tuple(v for v in variables if v in variables_of(p)))
            for n, p in graph.populations.items()
            if not isinstance(p, Input)
        ]
        if graph.domain == "float":
            return get_backend("float")(graph, inputs, probes=probes).data
        return get_backend("cpu")(graph, inputs, probes=probes, hw=hw).data

    return simulate


def is_spike_file(value: str) -> bool:
    """`--calibrate` names a spike file (IN.npy) rather than a dataset."""
    return value.endswith(".npy") or Path(value).is_file()


def spike_calibration(
    graph: Graph, path: str, samples: int | None, hw: HardwareSpec
) -> Calibration:
    """The first `samples` (default: all) of the spikes in `path` (batch, T, n_inputs)."""
    from ir.arrays_io import read_graph_inputs

    inputs = read_graph_inputs(path, graph)
    if samples is not None:
        if samples <= 0:
            raise InputError(f"--samples must be positive, got {samples}")
        inputs = inputs[:samples]
    desc = {
        "input": str(path),
        "samples": int(inputs.shape[0]),
        "steps": int(inputs.shape[1]),
        "sha256": hashlib.sha256(np.ascontiguousarray(inputs).tobytes()).hexdigest(),
    }
    return Calibration(inputs=inputs, simulate=simulator(hw), description=desc)


def dataset_calibration(
    graph: Graph,
    label: str,
    dataset: str,
    split: str,
    samples: int | None,
    steps: int | None,
    seed: int | None,
    hw: HardwareSpec,
) -> Calibration:
    """The first `samples` (default DEFAULT_SAMPLES) of a dataset split, encoded as the model's
    metadata says (`steps` and `seed` override it)."""
    from app.inputs import load_split, run_config
    from trainers.encoders import encode

    encoding, t, s = run_config(graph, label, steps, seed)
    n = DEFAULT_SAMPLES if samples is None else samples
    if n <= 0:
        raise InputError(f"--samples must be positive, got {n}")
    data = load_split(graph, label, dataset, split, n)
    inputs = encode(encoding, data.x, t, s, first_index=0)
    desc = {"dataset": data.dataset, "split": data.split, "samples": len(data.x), "steps": t,
            "seed": s}
    return Calibration(inputs=inputs, simulate=simulator(hw), description=desc)
