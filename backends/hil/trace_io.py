"""Recorded traces: what a target produced, saved so it can be compared later (`--record`,
`--replay`). A trace file is an .npz (no pickle) holding the probed arrays (`pop`, `pop:u`,
`pop:v`), the input spikes the target was given (`__inputs__`) and a JSON header (`__meta__`):
format, version, the sha256 of the program it ran, the backend and the step count."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

from backends.base import Trace
from ir.arrays_io import META_KEY, check_spikes, meta_array, read_npz, split_meta, write_npz
from ir.errors import InputError
from ir.graph import Graph
from ir.serialize import graph_to_bytes
from neurons import variables_of

__all__ = ["TRACE_FORMAT", "program_digest", "read_trace", "write_trace"]

TRACE_FORMAT = "snnc-trace"
TRACE_VERSION = 1


def program_digest(program: Graph) -> str:
    """sha256 of the program's canonical bytes: identifies what a trace was recorded from."""
    return hashlib.sha256(graph_to_bytes(program)).hexdigest()


def write_trace(path: str | os.PathLike, trace: Trace, inputs: np.ndarray, program: Graph) -> None:
    meta = {
        "format": TRACE_FORMAT,
        "format_version": TRACE_VERSION,
        "program_sha256": program_digest(program),
        "backend": trace.backend,
        "steps": trace.steps,
        "batch": trace.batch,
    }
    arrays: dict[str, np.ndarray] = dict(sorted(trace.arrays().items()))
    arrays["__inputs__"] = np.asarray(inputs)
    arrays[META_KEY] = meta_array(meta)
    write_npz(path, arrays)


def read_trace(path: str | os.PathLike, program: Graph) -> tuple[Trace, np.ndarray, dict[str, Any]]:
    """(trace, input spikes, header) of a recorded trace, checked against `program`."""
    label = str(path)
    arrays, meta = split_meta(read_npz(path, label=label), label)
    inputs = arrays.pop("__inputs__", None)
    if meta is None or inputs is None:
        raise InputError(f"{label}: not an snnc trace file (no __meta__/__inputs__)")
    if meta.get("format") != TRACE_FORMAT:
        raise InputError(f"{label}: not an snnc trace file")
    if meta.get("format_version") != TRACE_VERSION:
        raise InputError(
            f"{label}: format_version: this snnc reads {TRACE_VERSION}, the file has "
            f"{meta.get('format_version')!r}"
        )
    steps, backend = meta.get("steps"), meta.get("backend", "recorded")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise InputError(f"{label}: __meta__.steps: expected a positive integer, got {steps!r}")
    if not isinstance(backend, str):
        raise InputError(f"{label}: __meta__.backend: expected a string, got {backend!r}")
    if meta.get("program_sha256") != program_digest(program):
        raise InputError(
            f"{label}: recorded from a different program (sha256 "
            f"{str(meta.get('program_sha256'))[:12]}...)"
        )
    bits = max((program.populations[n].message_bits for n in program.inputs), default=0)
    inputs = check_spikes(inputs, program.n_inputs, message_bits=bits, label=f"{label}: __inputs__")
    for key, arr in arrays.items():
        pop, _, var = key.partition(":")
        if pop not in program.populations or pop in program.inputs:
            raise InputError(f"{label}: {key}: {pop!r} is not a neuron population of the program")
        states = variables_of(program.populations[pop])[1:]
        if var not in ("", *states):
            raise InputError(
                f"{label}: {key}: unknown variable {var!r} (spikes are under the population name; "
                f"{', '.join(states)})"
            )
        want = (inputs.shape[0], steps, program.populations[pop].size)
        if arr.shape != want:
            raise InputError(f"{label}: {key}: shape {arr.shape}, expected {want}")
        if arr.dtype.kind not in "iub":
            raise InputError(f"{label}: {key}: expected integers, got {arr.dtype}")
    trace = Trace.from_arrays(arrays, backend=backend)
    trace.steps, trace.batch = steps, int(inputs.shape[0])
    return trace, inputs.astype(np.int64), meta
