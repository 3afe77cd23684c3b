"""A NIR file's time base: the step dt and the discretization of its continuous-time neurons.

dt: `--dt` if given, else the file's graph metadata `dt`, else the convention of the framework
that wrote the file when its neurons' parameters show it (`detect_exporter`: snnTorch, Norse),
else DEFAULT_DT (1e-4 s, what snnTorch's exporter and NIR's Lava example assume), with a
warning. Discretization: the argument, else the file's metadata `discretization`, else forward
Euler (`compiler.nir.discretize`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from compiler.nir import discretize
from compiler.nir.parsed import ParsedNode
from ir.errors import ModelFormatError, SnncError

__all__ = [
    "DEFAULT_DISCRETIZATION",
    "DEFAULT_DT",
    "detect_exporter",
    "resolve_discretization",
    "resolve_dt",
    "uses_dt",
]

DEFAULT_DT = 1e-4
DEFAULT_DISCRETIZATION = "euler"

Fail = Callable[[str | None, str], ModelFormatError]
Warn = Callable[[str], None]


def resolve_dt(
    dt: float | None, meta: dict[str, Any], nodes: Mapping[str, ParsedNode], fail: Fail, warn: Warn
) -> tuple[float, str]:
    """The time step: `--dt`, else the file's metadata `dt`, else the exporter's convention when
    the neurons' parameters show it (`detect_exporter`), else DEFAULT_DT; and where it came from."""
    file_dt = meta.get("dt")
    if file_dt is not None:
        try:
            file_dt = float(np.asarray(file_dt).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            raise fail("metadata.dt", f"expected a number of seconds, got {file_dt!r}") from None
        if not math.isfinite(file_dt) or file_dt <= 0:
            raise fail("metadata.dt", f"expected a positive number of seconds, got {file_dt!r}")
    if dt is not None:
        if not math.isfinite(dt) or dt <= 0:
            raise SnncError(f"--dt must be a positive number of seconds, got {dt!r}")
        if file_dt is not None and file_dt != dt:
            warn(f"--dt {dt!r} overrides the file's dt = {file_dt!r} s")
        return float(dt), "argument"
    if file_dt is not None:
        return file_dt, "file"
    if uses_dt(nodes):
        guess = detect_exporter(nodes)
        if guess is not None:
            name, guess_dt, why = guess
            warn(f"the file records no time step; it looks like {name}'s export ({why}): "
                      f"assuming dt = {guess_dt!r} s; pass --dt to set it")
            return guess_dt, f"assumed, {name.split()[0]} export detected"
        warn(f"the file records no time step and matches no known exporter; assuming dt = "
                  f"{DEFAULT_DT!r} s (snnTorch's convention); pass --dt to set it (a Norse 1.1.0 "
                  "file: --dt = (Norse's dt)^2, 1e-6 for its default 1 ms)")
        return DEFAULT_DT, "assumed"
    return DEFAULT_DT, "unused"


def detect_exporter(nodes: Mapping[str, ParsedNode]) -> tuple[str, float, str] | None:
    """Which framework wrote a file without dt, from its neurons' parameters, as
    (name, dt that reproduces it, why); None when the parameters fit neither convention.

    - snnTorch writes r = tau_mem / dt with its hard-coded dt = 1e-4 s, on every neuron.
    - Norse writes r = 1. Norse <= 1.1.0 writes tau = dt / tau_mem_inv, the time constant
      times its dt (norse#411): with its default dt = 1 ms every tau is below 1 ms, and its
      Euler step decays by dt * tau_mem_inv = dt^2 / tau, so dt^2 = 1e-6 reproduces it. A
      Norse after the fix writes the true tau and steps with its default dt = 1e-3.
    """
    taus, rs = [], []
    for node in nodes.values():
        tau = node.params.get("tau", node.params.get("tau_mem"))
        r = node.params.get("r")
        if node.type in ("LIF", "LI", "CubaLIF", "CubaLI") and tau is not None and r is not None:
            try:
                t, q = np.broadcast_arrays(
                    np.asarray(tau, dtype=np.float64), np.asarray(r, dtype=np.float64)
                )
            except ValueError:
                return None
            taus.append(t.reshape(-1))
            rs.append(q.reshape(-1))
    if not taus:
        return None
    tau, r = np.concatenate(taus), np.concatenate(rs)
    if not np.all(np.isfinite(tau)):
        return None
    if np.allclose(r, tau / DEFAULT_DT, rtol=1e-3, atol=0):
        return "snnTorch", DEFAULT_DT, f"r = tau / dt with dt = {DEFAULT_DT!r} s on every neuron"
    if np.all(r == 1):
        if np.all(tau < 1e-3):
            return (
                "Norse 1.1.0",
                1e-6,
                "r = 1, every tau below 1 ms: tau = dt x tau_mem, norse#411; --dt = (Norse's "
                "dt)^2, 1e-6 for its default 1 ms",
            )
        return "Norse", 1e-3, "r = 1, tau >= 1 ms; Norse's default dt"
    return None


def uses_dt(nodes: Mapping[str, ParsedNode]) -> bool:
    """Whether any node's meaning depends on dt (time constants, delays)."""
    for node in nodes.values():
        if node.type in ("LIF", "LI", "CubaLIF", "CubaLI", "Delay"):
            return True
    return False


def resolve_discretization(method: str | None, meta: dict[str, Any], fail: Fail) -> tuple[str, str]:
    """The discretization: the argument, else the file's metadata, else DEFAULT_DISCRETIZATION."""
    if method is not None:
        if method not in discretize.DISCRETIZATIONS:
            raise SnncError(
                f"unknown discretization {method!r}; known: {', '.join(discretize.DISCRETIZATIONS)}"
            )
        return method, "argument"
    file_method = meta.get("discretization")
    if file_method is not None:
        if file_method not in discretize.DISCRETIZATIONS:
            raise fail(
                "metadata.discretization",
                f"{file_method!r} is not one of {', '.join(discretize.DISCRETIZATIONS)}",
            )
        return file_method, "file"
    return DEFAULT_DISCRETIZATION, "default"
