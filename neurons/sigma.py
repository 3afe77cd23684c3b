r"""Sigma decoders: the output layer of lava-dl's sigma-delta (SDNN) networks (Lava's
`lava.proc.sdn.Sigma`). A sigma decoder adds up the graded changes it receives and sends the
running total every step: the network's output value, rebuilt from its deltas.

Fixed point only (`QSigma`; what netx builds for a layer with `neuron/sigma_output`):
`PySigmaModelFixed` (lava/proc/sdn/models.py), per neuron, per step, int32 arithmetic:

    sigma = sigma + a          (wraps at 32 bits)
    payload = sigma            (sent every step, also when it is 0)

State variable: sigma. Payloads are 24-bit messages by Lava's declared precision (s_out
precision 24; the Python model does not clip). No parameters, no float node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ir.nodes import Population, register_node_type
from neurons.base import LavaNeurons, NeuronModel, wrap32, zero_reset_neurons
from neurons.sigma_delta import MESSAGE_BITS

__all__ = ["MODEL", "QSigma", "SigmaModel", "fixed_step"]


@register_node_type
@dataclass(frozen=True, eq=False)
class QSigma(Population):
    """Fixed-point sigma decoder (module docstring)."""

    domain: ClassVar[str] = "fixed"
    message_bits: ClassVar[int] = MESSAGE_BITS
    per_process: ClassVar[tuple[str, ...]] = ()

    def value_ranges(self, hw: Any) -> list[tuple[str, Any, int, int, str]]:
        return []


@dataclass
class FixedParams:
    size: int
    fixed: ClassVar[bool] = True


def fixed_step(state: dict[str, np.ndarray], a: np.ndarray, p: FixedParams) -> np.ndarray:
    """One step of PySigmaModelFixed in place on `state`; returns the payloads (int64)."""
    state["sigma"][...] = wrap32(state["sigma"] + np.asarray(a, dtype=np.int64))
    return state["sigma"].copy()


class SigmaModel(NeuronModel):
    name = "sigma"
    label = "sigma"
    float_node = None
    fixed_node = QSigma
    variables = ("sigma",)
    graded = True
    message_bits = MESSAGE_BITS
    wrapping_state = "sigma"
    equation = (
        "sigma[t] = sigma[t-1] + a[t]; s[t] = sigma[t] "
        "(graded, every step; fixed point only, netx SDNN outputs)"
    )
    lava_process_name = "Sigma"
    fixed_kernel = fixed_step
    silent = {}

    def prepare(self, node: Population, dt: float) -> Any:
        assert isinstance(node, QSigma)
        return FixedParams(node.size)

    def lava_process(self, node: Population, name: str) -> LavaNeurons:
        from lava.proc.sdn.process import Sigma

        assert isinstance(node, QSigma)
        n = node.size
        proc = Sigma(shape=(n,))  # Lava's Sigma takes no name
        return zero_reset_neurons(proc, n, self.variables)

    def lava_models(self) -> dict[Any, Any]:
        """Pin Lava 0.10.0's fixed_pt Sigma model."""
        from lava.proc.sdn.models import PySigmaModelFixed
        from lava.proc.sdn.process import Sigma

        return {Sigma: PySigmaModelFixed}


MODEL = SigmaModel()
