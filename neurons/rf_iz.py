r"""Resonate-and-fire Izhikevich neurons (Lava's `lava.proc.rf_iz`): the resonator of
`neurons.resonate`, spiking on the imaginary part and resetting after a spike.

Fixed point only (`QRFIZ`, the registers of `QRF`): `PyRF_IZModelFixed` (lava
proc/rf_iz/models.py), per step, in int64, with the same inputs, decays and clip as RF
(`resonate.fixed_resonance`: ports "real" and "imag"):

    re, im = clip(resonator(re, im) + (a_re << state_exp, a_im << state_exp))
    s = im >= vth
    re = 0 where s;  im = vth - 1 where s

lava-dl's SLAYER writes these neurons as `RF_IZ` (netx builds RF_IZ for every `RF*` type
without `PHASE`). No float node: snnc imports them fixed point (netx files) and does not
quantize them. State variables: real, imag. Binary spikes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.errors import IRVerifyError
from ir.nodes import register_node_type
from neurons.resonate import QRF, RFModel, fixed_resonance

__all__ = ["MODEL", "QRFIZ", "RFIZModel", "fixed_step"]


@register_node_type
@dataclass(frozen=True, eq=False)
class QRFIZ(QRF):
    """Fixed-point resonate-and-fire Izhikevich neuron, Lava's register names (module
    docstring); vth is compared with the imaginary part."""


def fixed_step(state: dict[str, np.ndarray], a: np.ndarray, p: Any) -> np.ndarray:
    """One step of PyRF_IZModelFixed in place on `state`; returns the spikes."""
    new_re, new_im = fixed_resonance(state["real"], state["imag"], a, p)
    spikes = new_im >= p.vth
    state["real"][...] = np.where(spikes, 0, new_re)
    state["imag"][...] = np.where(spikes, p.vth - 1, new_im)
    return spikes


class RFIZModel(RFModel):
    name = "rf_iz"
    label = "RF_IZ"
    float_node = None
    fixed_node = QRFIZ
    equation = (
        "re, im as RF; s[t] = im[t] >= vth; after a spike re = 0, im = vth - 1 "
        "(fixed point only)"
    )
    quant_rule = None
    lava_process_name = "RF_IZ"
    fixed_kernel = fixed_step
    float_kernel = None

    def prepare(self, node: Any, dt: float) -> Any:
        assert isinstance(node, QRFIZ)
        return super().prepare(node, dt)

    def group_node(self, node: Any, members: np.ndarray) -> Any:
        """As every model's, with one condition: a neuron at rest (re = im = 0) spikes when
        vth <= 0, so the other neurons of a group process with such a threshold would not stay
        silent (vth is one value per process)."""
        vth = int(node.per_neuron("vth")[members[0]])
        if vth <= 0 and members.size < node.size:
            raise IRVerifyError(
                "RF_IZ.vth",
                f"= {vth} for some of the neurons: an RF_IZ neuron with vth <= 0 spikes at rest, "
                "so its population cannot run as several Lava parameter groups (give every "
                "neuron one threshold, or thresholds > 0)",
            )
        return super().group_node(node, members)

    def _lava_class(self) -> Any:
        from lava.proc.rf_iz.process import RF_IZ

        return RF_IZ

    def lava_models(self) -> dict[Any, Any]:
        """Pin Lava 0.10.0's fixed_pt RF_IZ model (RF_IZ subclasses RF)."""
        from lava.proc.rf_iz.models import PyRF_IZModelFixed
        from lava.proc.rf_iz.process import RF_IZ

        return {RF_IZ: PyRF_IZModelFixed}


MODEL = RFIZModel()
