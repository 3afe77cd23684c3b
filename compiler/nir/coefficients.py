"""Step 3 of the NIR import, per neuron node: its parameters as per-step coefficients.

    membrane  v[t] = alpha_m v + c_m * I[t] + b_m, spike when v > v_th (v relative to v_reset)
    synapse   I[t] = alpha_s I + c_s * x[t] + b_s

one value per neuron, for each NIR neuron type (LIF, CubaLIF, IF, LI, CubaLI, I, Threshold);
time constants become (alpha, k) by the import's discretization (`compiler.nir.discretize`).
How the importer joins a membrane and its synapse stage into one snnc population:
`compiler.nir.importer`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from compiler.nir import discretize
from compiler.nir.parsed import SPIKING, ParsedNode, node_label
from compiler.nir.timebase import Fail, detect_exporter

__all__ = ["NeuronCoefficients"]


class NeuronCoefficients:
    """`NeuronCoefficients(dt, method, nodes, fail)`: the coefficients of the neuron nodes of
    the flat NIR graph `nodes` at step `dt` under discretization `method`."""

    def __init__(
        self, dt: float, method: str, nodes: Mapping[str, ParsedNode], fail: Fail
    ) -> None:
        self.dt, self.method, self.nodes, self.fail = dt, method, nodes, fail

    def flat(self, value: Any, n: int) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=np.float64).reshape(-1), (n,)).astype(
            np.float64
        )

    def decay(
        self, tau: np.ndarray, n: int, node: ParsedNode, key: str
    ) -> tuple[np.ndarray, np.ndarray]:
        try:
            return discretize.alpha_k(self.flat(tau, n), self.dt, self.method)
        except ValueError as e:
            guess = detect_exporter(self.nodes)
            # the advice that reproduces the framework
            if guess is not None and guess[1] != self.dt:
                e = ValueError(
                    f"{e.args[0].split('; pass a smaller')[0]}; the file looks like "
                    f"{guess[0]}'s export ({guess[2]}): import it with --dt {guess[1]!r}"
                )
            raise self.fail(f"{node_label(node)}.{key}", str(e)) from None

    def membrane(
        self, node: ParsedNode, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(alpha_m, c_m, b_m, v_th): v[t] = alpha_m v + c_m * I[t] + b_m, spike when v > v_th.

        v is kept relative to v_reset (snnc resets to 0), so b_m and v_th are shifted by it;
        every neuron starts at v = v_reset.
        """
        p, t = node.params, node.type
        inf = np.full(n, math.inf)
        if t in ("LIF", "LI", "CubaLIF", "CubaLI"):
            alpha, k = self.decay(
                p["tau"] if "tau" in p else p["tau_mem"],
                n,
                node,
                "tau" if "tau" in p else "tau_mem",
            )
            reset = self.flat(p.get("v_reset", 0.0), n)
            b = k * (self.flat(p["v_leak"], n) - reset)
            th = self.flat(p["v_threshold"], n) - reset if t in SPIKING else inf
            return alpha, k * self.flat(p["r"], n), b, th
        if t in ("IF", "I"):
            reset = self.flat(p.get("v_reset", 0.0), n)
            th = self.flat(p["v_threshold"], n) - reset if t == "IF" else inf
            return np.ones(n), self.flat(p["r"], n), np.zeros(n), th
        return np.zeros(n), np.ones(n), np.zeros(n), self.flat(p["threshold"], n)  # Threshold

    def synapse(self, node: ParsedNode, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(alpha_s, c_s, b_s): I[t] = alpha_s I + c_s * x[t] + b_s."""
        p, t = node.params, node.type
        if t in ("CubaLIF", "CubaLI"):
            alpha, k = self.decay(p["tau_syn"], n, node, "tau_syn")
            return alpha, k * self.flat(p["w_in"], n), np.zeros(n)
        if t == "LI":
            alpha, k = self.decay(p["tau"], n, node, "tau")
            return alpha, k * self.flat(p["r"], n), k * self.flat(p["v_leak"], n)
        return np.ones(n), self.flat(p["r"], n), np.zeros(n)  # I
