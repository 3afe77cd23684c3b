r"""From NIR's continuous-time neurons to snnc's discrete LIF, and back.

NIR writes each neuron as an ODE. For one state x with time constant tau, input gain g and
rest value x_0 (LIF: tau v' = (v_leak - v) + R I; the synaptic current of CubaLIF:
tau_syn I' = -I + w_in S), one step of length dt with the input held for the step is

    x[t] = alpha x[t-1] + k (x_0 + g in[t])

where the discretization picks (alpha, k):

- ``euler`` (forward Euler):  k = dt / tau,          alpha = 1 - k      (needs dt <= tau)
- ``exp``   (exact for input held over the step, "zero-order hold"):
                              alpha = exp(-dt / tau), k = 1 - alpha

tau = inf gives alpha = 1, k = 0 under both. Spikes enter as 0/1 per step. snnTorch's export and
import (beta = 1 - dt/tau, r = tau/dt, w_in = tau_syn/dt at dt = 1e-4) and Norse's import
use ``euler``; snnc's own LIF is ``exp`` (alpha = exp(-dt/tau)).

Nodes without a time constant (IF: v' = R I; I: v' = R I) are read per step, v[t] = v[t-1] +
R in[t]: every framework that writes IF (Norse IAF, snnTorch, Sinabs) uses r = 1 for "add the
input to v".

snnc's float LIF (ir.nodes.LIF) is

    u[t] = alpha_syn u[t-1] + a[t];   v[t] = alpha_mem v[t-1] + u[t] + bias

so the importer keeps alpha_syn, alpha_mem and the LIF model stores them as time constants with
the same dt, tau_snnc = -dt / ln(alpha) (alpha = 0 -> 0, alpha = 1 -> inf; `neurons.lif`), folds
every input gain into the incoming weights and every constant into `bias`.

The quantizer later turns the decays into Lava's 12-bit registers: dv = round(4096 (1 -
alpha_mem)), du = round(4096 (1 - alpha_syn)) - 1, because Lava's LIF decays u by (4096 - du - 1)
/ 4096 (the "+1 current-decay offset", ds_offset = 1 in AbstractPyLifModelFixed).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DISCRETIZATIONS", "alpha_k", "nir_tau", "unit_gain"]

DISCRETIZATIONS: tuple[str, ...] = ("euler", "exp")


def alpha_k(tau: np.ndarray, dt: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, k) per element for time constants `tau` (seconds) and step `dt`.

    Raises ValueError with the offending value when the discretization is not defined (Euler
    with dt > tau gives a negative decay; tau <= 0 has no Euler step).
    """
    tau = np.asarray(tau, dtype=np.float64)
    if np.any(np.isnan(tau)) or np.any(tau < 0):
        bad = tau[np.isnan(tau) | (tau < 0)].reshape(-1)[0]
        raise ValueError(f"time constant {bad!r} is not a number >= 0")
    with np.errstate(divide="ignore"):
        ratio = dt / tau  # tau = inf -> 0; tau = 0 -> inf
    if method == "euler":
        if np.any(ratio > 1):
            bad = float(tau[ratio > 1].reshape(-1)[0])
            raise ValueError(
                f"forward Euler needs dt <= tau, got dt = {dt!r} s and tau = {bad!r} s "
                f"(decay 1 - dt/tau = {1 - dt / bad if bad else -math.inf!r} < 0); pass a smaller "
                "--dt, or --discretization exp"
            )
        k = ratio
        return 1.0 - k, k
    if method == "exp":
        alpha = np.exp(-ratio)
        return alpha, 1.0 - alpha
    raise ValueError(f"unknown discretization {method!r}; known: {', '.join(DISCRETIZATIONS)}")


def nir_tau(tau: np.ndarray, dt: float, method: str) -> np.ndarray:
    """The NIR time constant whose `method` step of `dt` decays as snnc's `tau` does.

    exp: the same tau. euler: dt / (1 - alpha) with alpha = exp(-dt/tau), so tau = 0 gives dt.
    tau = inf (no decay) has no finite NIR time constant; callers export IF / I nodes for it.
    """
    tau = np.asarray(tau, dtype=np.float64)
    if method == "exp":
        return tau.copy()
    with np.errstate(divide="ignore"):
        alpha = np.exp(-dt / tau)
        return dt / (1.0 - alpha)


def unit_gain(k: np.ndarray) -> np.ndarray:
    """The resistance (or w_in) that makes the discrete input gain k * r exactly 1 where k > 0."""
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(k > 0, 1.0 / k, math.inf)
