"""Backends: run a graph on spikes and return a Trace.

    run(graph, input_spikes, steps=None, probes=None, hw=None) -> Trace

`float` runs a float-domain graph (backends.cpu float mode); `cpu` runs a fixed-point program
bit-exactly (snnc's simulator, the reference); `lava` runs it through Lava processes. Backends
are imported only when asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import neurons  # noqa: F401  (registers every neuron model's node types with ir)
from backends.base import Probe, Trace, parse_probes
from ir.errors import InputError

__all__ = ["BACKENDS", "Probe", "Trace", "get_backend", "parse_probes"]

# name -> "module:function"
BACKENDS: dict[str, str] = {
    "float": "backends.cpu.simulator:run_float",
    "cpu": "backends.cpu.simulator:run",
    "lava": "backends.lava.run:run",
}


def get_backend(name: str) -> Callable[..., Trace]:
    spec = BACKENDS.get(name)
    if spec is None:
        raise InputError(f"unknown backend {name!r}; available: {', '.join(BACKENDS) or 'none'}")
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)
