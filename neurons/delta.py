r"""Delta encoders: the input layer of lava-dl's sigma-delta (SDNN) networks (Lava's
`lava.proc.sdn.Delta`). A delta encoder receives an activation each step and sends, as a graded
spike, how much it changed since what it last sent, once the change reaches a threshold.

Fixed point only (`QDelta`; what netx builds for an SDNN input layer): `PyDeltaModelFixed`
(lava/proc/sdn/models.py), per neuron, per step, int32 arithmetic throughout (every sum wraps):

    x = a << (spike_exp + state_exp)                 (the received activation, scaled)
    delta = x - act + residue
    s = delta if |delta| >= vth_eff else 0           (cum_error: error += delta; s = delta if
    residue = delta - s;  act = x                     |error| >= vth_eff; error = 0 where s != 0)
    payload = s >> state_exp                          (arithmetic shift)

`vth` is the process argument; Lava's Delta multiplies it by 2^(spike_exp + state_exp)
(`vth_eff`, one value per process: a parameter group). State variables: act, residue, error.
Payloads are 24-bit messages (s_out precision 24). There is no float node: snnc has no trainer
for delta encoders; imported netx networks are already fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ir.errors import IRVerifyError
from ir.nodes import Population, param_field, register_node_type
from neurons.base import LavaNeurons, NeuronModel, flat, wrap32, zero_reset_neurons
from neurons.sigma_delta import EXP_MAX, MESSAGE_BITS, VTH_BITS, delta_encode

__all__ = ["MODEL", "DeltaModel", "QDelta", "fixed_step"]


@register_node_type
@dataclass(frozen=True, eq=False)
class QDelta(Population):
    """Fixed-point delta encoder with Lava's parameter names (module docstring)."""

    domain: ClassVar[str] = "fixed"
    message_bits: ClassVar[int] = MESSAGE_BITS
    per_process: ClassVar[tuple[str, ...]] = ("vth",)
    vth: Any = param_field("int", default=1)
    spike_exp: int = 0
    state_exp: int = 0
    cum_error: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("spike_exp", "state_exp", "cum_error"):
            value = getattr(self, f)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise IRVerifyError(f"QDelta.{f}", f"expected an integer, got {value!r}")
            object.__setattr__(self, f, int(value))
        if self.cum_error not in (0, 1):
            raise IRVerifyError("QDelta.cum_error", f"expected 0 or 1, got {self.cum_error}")

    @property
    def shift(self) -> int:
        return self.spike_exp + self.state_exp

    def value_ranges(self, hw: Any) -> list[tuple[str, Any, int, int, str]]:
        src = "lava proc/sdn/models.py PyDeltaModelFixed"
        return [
            ("spike_exp", self.spike_exp, 0, EXP_MAX, f"{src}: spike_exp precision 3"),
            ("state_exp", self.state_exp, 0, EXP_MAX, f"{src}: state_exp precision 3"),
            (
                "vth",
                self.vth,
                0,
                ((1 << VTH_BITS) - 1) >> self.shift,
                f"{src}: vth << {self.shift} within {VTH_BITS} bits",
            ),
        ]


@dataclass
class FixedParams:
    size: int
    vth: np.ndarray  # vth_eff per neuron
    shift: int
    state_exp: int
    cum_error: int
    fixed: ClassVar[bool] = True


def fixed_step(state: dict[str, np.ndarray], a: np.ndarray, p: FixedParams) -> np.ndarray:
    """One step of PyDeltaModelFixed in place on `state` (int64 arrays holding int32 values);
    returns the payloads (int64)."""
    x = wrap32(np.asarray(a, dtype=np.int64) << p.shift)
    s = delta_encode(state, x, p.vth, p.cum_error)
    state["act"][...] = x
    return s >> p.state_exp


class DeltaModel(NeuronModel):
    name = "delta"
    label = "delta"
    float_node = None
    fixed_node = QDelta
    variables = ("act", "residue", "error")
    graded = True
    message_bits = MESSAGE_BITS
    equation = (
        "delta = x[t] - x[t-1] + residue; s[t] = delta if |delta| >= vth else 0 (graded); "
        "residue = delta - s[t]  (x: the input activation; fixed point only, netx SDNN inputs)"
    )
    lava_process_name = "Delta"
    fixed_kernel = fixed_step
    silent = {}

    def prepare(self, node: Population, dt: float) -> Any:
        assert isinstance(node, QDelta)
        return FixedParams(
            node.size,
            flat(node, "vth", np.int64) << node.shift,
            node.shift,
            node.state_exp,
            node.cum_error,
        )

    def lava_process(self, node: Population, name: str) -> LavaNeurons:
        from lava.proc.sdn.process import Delta

        assert isinstance(node, QDelta)
        n = node.size
        proc = Delta(
            shape=(n,),
            vth=int(node.vth),
            cum_error=bool(node.cum_error),  # Lava's Delta takes no name
            spike_exp=node.spike_exp,
            state_exp=node.state_exp,
        )
        return zero_reset_neurons(proc, n, self.variables)

    def lava_models(self) -> dict[Any, Any]:
        """Pin Lava 0.10.0's fixed_pt Delta model."""
        from lava.proc.sdn.models import PyDeltaModelFixed
        from lava.proc.sdn.process import Delta

        return {Delta: PyDeltaModelFixed}


MODEL = DeltaModel()
