r"""Sigma-delta neurons: graded spikes that carry changes of an activation (Lava's
`lava.proc.sdn.SigmaDelta`, the neuron lava-dl's SDNN networks deploy to Loihi 2).

Float (`SigmaDelta`), per neuron, per step, with f = ReLU (act_mode 1) or identity (0):

    sigma[t] = sigma[t-1] + a[t]                 (sigma decoding: the input is a change)
    act[t] = f(sigma[t] + b)
    delta = act[t] - act[t-1] + residue[t-1]
    s[t] = delta if |delta| >= vth else 0        (with cum_error: if |error| >= vth, where
    residue[t] = delta - s[t]                     error accumulates delta and clears on a spike)

s[t] is a graded spike: its payload multiplies the weights of every outgoing projection.

Fixed point (`QSigmaDelta`): `PySigmaDeltaModelFixed` (lava/proc/sdn/models.py). Lava 0.10.0
has exactly one SigmaDelta process model tagged `fixed_pt` (newer Lava adds a second one, see
reference/lava_fixed_point.md 1.6); the lowering pins it with `exception_proc_model_map`.
Registers as Lava's process takes them: vth and bias are shifted left by spike_exp + state_exp
(`vth_eff`, `bias_eff`); every array is int32, so every sum wraps at 32 bits:

    sigma = sigma + a;  act = f(sigma + bias_eff);  delta = act - act_prev + residue
    s = delta where |delta| >= vth_eff (cum_error: |error| >= vth_eff) else 0
    residue = delta - s;  payload = s >> state_exp   (arithmetic shift)

(numpy's int32 |x| of -2^31 is -2^31, which never passes a threshold.) vth is one value per
Lava process (parameter groups); bias is per neuron. State variables: sigma, act, residue,
error. Payloads are 24-bit messages (s_out precision 24).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ir.errors import IRVerifyError
from ir.nodes import Population, array_field, param_field, register_node_type
from neurons.base import LavaNeurons, NeuronModel, QuantRule, flat, wrap32, zero_reset_neurons

__all__ = ["MODEL", "QSigmaDelta", "SigmaDelta", "SigmaDeltaModel", "delta_encode", "fixed_step"]

_MIN32 = -(1 << 31)
# lava proc/sdn/models.py PySigmaDeltaModelFixed LavaPyType precisions.
VTH_BITS = 24
BIAS_BITS = 16
EXP_MAX = 7  # spike_exp, state_exp: precision 3
# state_exp of quantized populations: payloads are the state >> 6 (lava-dl SDNN blocks' choice).
STATE_EXP = 6
MESSAGE_BITS = 24  # s_out precision 24
# Smallest threshold register the quantizer aims for (threshold resolution, as LIF's VTH_FLOOR).
VTH_FLOOR = 256


def _check_flags(node: Any, name: str) -> None:
    for f, hi in (("act_mode", 1), ("cum_error", 1)):
        value = getattr(node, f)
        integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not integer or not 0 <= value <= hi:
            raise IRVerifyError(f"{name}.{f}", f"expected 0 or 1, got {value!r}")
        object.__setattr__(node, f, int(value))


@register_node_type
@dataclass(frozen=True, eq=False)
class SigmaDelta(Population):
    """Float sigma-delta neuron (module docstring). act_mode: 1 ReLU, 0 identity."""

    domain: ClassVar[str] = "float"
    message_bits: ClassVar[int] = MESSAGE_BITS
    vth: Any = param_field("float", default=0.1)
    bias: np.ndarray = array_field("float", scalar_ok=True, default=0.0)
    act_mode: int = 1
    cum_error: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not np.all(np.isfinite(self.vth)) or np.any(np.asarray(self.vth) < 0):
            raise IRVerifyError("SigmaDelta.vth", "must be finite and >= 0")
        if not np.all(np.isfinite(self.bias)):
            raise IRVerifyError("SigmaDelta.bias", "must be finite (found NaN or inf)")
        _check_flags(self, "SigmaDelta")


@register_node_type
@dataclass(frozen=True, eq=False)
class QSigmaDelta(Population):
    """Fixed-point sigma-delta neuron with Lava's parameter names (module docstring)."""

    domain: ClassVar[str] = "fixed"
    message_bits: ClassVar[int] = MESSAGE_BITS
    per_process: ClassVar[tuple[str, ...]] = ("vth",)
    vth: Any = param_field("int", default=1)
    bias: np.ndarray = array_field("int", scalar_ok=True, default=0)
    spike_exp: int = 0
    state_exp: int = 0
    act_mode: int = 1
    cum_error: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("spike_exp", "state_exp"):
            value = getattr(self, f)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise IRVerifyError(f"QSigmaDelta.{f}", f"expected an integer, got {value!r}")
            object.__setattr__(self, f, int(value))
        _check_flags(self, "QSigmaDelta")

    @property
    def shift(self) -> int:
        return self.spike_exp + self.state_exp

    def value_ranges(self, hw: Any) -> list[tuple[str, Any, int, int, str]]:
        src = "lava proc/sdn/models.py PySigmaDeltaModelFixed"
        s = self.shift
        vth_max = ((1 << VTH_BITS) - 1) >> s
        b = 1 << (BIAS_BITS - 1)
        return [
            ("spike_exp", self.spike_exp, 0, EXP_MAX, f"{src}: spike_exp precision 3"),
            ("state_exp", self.state_exp, 0, EXP_MAX, f"{src}: state_exp precision 3"),
            ("vth", self.vth, 0, vth_max, f"{src}: vth << {s} within {VTH_BITS} bits"),
            ("bias", self.bias, -(b >> s), (b - 1) >> s,
             f"{src}: bias << {s} within signed {BIAS_BITS} bits"),
        ]


def _abs32(x: np.ndarray) -> np.ndarray:
    """numpy's |x| on int32 values: -2^31 stays -2^31."""
    return np.where(x == _MIN32, _MIN32, np.abs(x))


def fixed_step(state: dict[str, np.ndarray], a: np.ndarray, p: FixedParams) -> np.ndarray:
    """One step of PySigmaDeltaModelFixed in place on `state` (int64 arrays holding int32
    values); returns the payloads (int64)."""
    sigma, act_prev = state["sigma"], state["act"]
    sigma[...] = wrap32(sigma + a)
    x = wrap32(sigma + p.bias)
    act = np.maximum(x, 0) if p.act_mode == 1 else x
    s = delta_encode(state, act, p.vth, p.cum_error)
    act_prev[...] = act
    return s >> p.state_exp


def delta_encode(
    state: dict[str, np.ndarray], act: np.ndarray, vth: np.ndarray, cum_error: int
) -> np.ndarray:
    """Lava's fixed-point `AbstractDeltaModel.delta_dynamics` (shared by Delta and SigmaDelta):
    the change of `act` since `state["act"]` plus the residue, sent where it (or, with
    cum_error, the accumulated error) reaches vth; updates residue and error in place."""
    residue, error = state["residue"], state["error"]
    delta = wrap32(wrap32(act - state["act"]) + residue)
    if cum_error:
        error[...] = wrap32(error + delta)
        s = np.where(_abs32(error) >= vth, delta, 0)
        error[...] = np.where(_abs32(s) > 0, 0, error)
    else:
        s = np.where(_abs32(delta) >= vth, delta, 0)
    residue[...] = wrap32(delta - s)
    return s


def float_step(state: dict[str, np.ndarray], a: np.ndarray, p: FloatParams) -> np.ndarray:
    sigma, act_prev, residue, error = state["sigma"], state["act"], state["residue"], state["error"]
    sigma += a
    x = sigma + p.bias
    act = np.maximum(x, 0.0) if p.act_mode == 1 else x
    delta = act - act_prev + residue
    if p.cum_error:
        error += delta
        s = np.where(np.abs(error) >= p.vth, delta, 0.0)
        error[...] = np.where(s != 0, 0.0, error)
    else:
        s = np.where(np.abs(delta) >= p.vth, delta, 0.0)
    residue[...] = delta - s
    act_prev[...] = act
    return s


@dataclass
class FixedParams:
    size: int
    vth: np.ndarray  # vth_eff per neuron
    bias: np.ndarray  # bias_eff per neuron
    state_exp: int
    act_mode: int
    cum_error: int
    fixed: ClassVar[bool] = True


@dataclass
class FloatParams:
    size: int
    vth: np.ndarray
    bias: np.ndarray
    act_mode: int
    cum_error: int
    fixed: ClassVar[bool] = False


class SigmaDeltaQuantRule(QuantRule):
    """With scale S: sigma_fix = S sigma (no input shift: sigma adds a_fix directly),
    vth << 6 = S vth (exact: S = 64 vth / vth_float), bias << 6 = rint(S b) (state_exp = 6, as
    lava-dl's SDNN blocks; spike_exp = 0). A payload is s_fix >> 6, S / 64 times the float one,
    so the next layers' weights are divided by S / 64 (`payload`). vth must be one value per
    population (it sets the scale)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.threshold_shift = STATE_EXP

    def decays(self) -> dict[str, Any]:
        pop = self.ctx.pop
        regs = {
            "act_mode": pop.act_mode,
            "cum_error": pop.cum_error,
            "spike_exp": 0,
            "state_exp": STATE_EXP,
        }
        return {"model": "sigma-delta", "registers": regs}

    def float_bias(self) -> np.ndarray:
        return self.ctx.pop.per_neuron("bias")

    def headroom_floor(self, theta: float) -> float:
        return math.log2(VTH_FLOOR / theta)

    def level_limits(self, theta, bias, input_peak) -> list[tuple[float, str]]:
        limits = [
            (
                math.log2(((1 << VTH_BITS) - 1) / theta),
                f"threshold: vth << {STATE_EXP} <= 2^{VTH_BITS} - 1",
            )
        ]
        b_max = float(np.abs(bias).max(initial=0.0))
        if b_max > 0:
            limits.append(
                (
                    math.log2(((1 << (BIAS_BITS - 1)) - 1) / b_max),
                    f"bias within signed {BIAS_BITS} bits",
                )
            )
        return limits

    def exact_threshold(self, level: float, theta: float) -> tuple[float, int]:
        unit = 1 << STATE_EXP
        reg = max(1, math.floor(2.0**level * theta / unit * (1 + 1e-9)))
        return reg * unit / theta, reg

    def build(self, scale: float, vth: int, bias: np.ndarray):
        pop = self.ctx.pop
        unit = 1 << STATE_EXP
        b = (1 << (BIAS_BITS - 1)) // unit  # the register; Lava stores it << state_exp
        ideal = bias * scale / unit
        reg = np.clip(np.rint(ideal), -b, b - 1).astype(np.int64)
        clipped = int(np.count_nonzero((ideal < -b - 0.5) | (ideal > b - 0.5)))
        bias_err = float(np.max(np.abs(reg - ideal), initial=0.0)) / max(vth, 1)
        bias_out: Any = int(reg[0]) if pop.bias.ndim == 0 else reg.reshape(pop.shape)
        node = QSigmaDelta(
            pop.shape,
            vth=vth,
            bias=bias_out,
            state_exp=STATE_EXP,
            act_mode=pop.act_mode,
            cum_error=pop.cum_error,
        )
        return node, {"vth": vth}, bias_err, clipped

    def payload(self, scale: float, input_peak: float, bias: np.ndarray) -> tuple[float, float]:
        """(float value of one payload step, largest |payload|). The bound assumes the input is
        delta-coded, as between sigma-delta layers (SDNN): sigma then tracks the current
        pre-activation, at most the one-step input peak plus |bias|, and a delta is at most
        twice an activation plus the threshold's residue."""
        unit = 1 << STATE_EXP
        act_peak = input_peak + float(np.abs(bias).max(initial=0.0)) + float(self.ctx.pop.vth)
        bound = min(float(1 << (MESSAGE_BITS - 1)), math.ceil(2 * act_peak * scale / unit) + 1.0)
        return unit / scale, bound


class SigmaDeltaModel(NeuronModel):
    name = "sigma_delta"
    label = "sigma-delta"
    lava_process_name = "SigmaDelta"
    float_node = SigmaDelta
    fixed_node = QSigmaDelta
    variables = ("sigma", "act", "residue", "error")
    graded = True
    message_bits = MESSAGE_BITS
    wrapping_state = "sigma"
    equation = (
        "sigma[t] = sigma[t-1] + a[t]; act[t] = relu(sigma[t] + b); "
        "delta = act[t] - act[t-1] + residue; s[t] = delta if |delta| >= vth else 0 (graded); "
        "residue = delta - s[t]"
    )
    quant_rule = SigmaDeltaQuantRule
    fixed_kernel = fixed_step
    float_kernel = float_step
    silent = {"bias": 0}

    def prepare(self, node: Population, dt: float) -> Any:
        n = node.size
        if isinstance(node, QSigmaDelta):
            return FixedParams(
                n,
                flat(node, "vth", np.int64) << node.shift,
                flat(node, "bias", np.int64) << node.shift,
                node.state_exp,
                node.act_mode,
                node.cum_error,
            )
        assert isinstance(node, SigmaDelta)
        return FloatParams(
            n,
            flat(node, "vth", np.float64),
            flat(node, "bias", np.float64),
            node.act_mode,
            node.cum_error,
        )

    def lava_process(self, node: Population, name: str) -> LavaNeurons:
        from lava.proc.sdn.process import ActivationMode
        from lava.proc.sdn.process import SigmaDelta as LavaSigmaDelta

        assert isinstance(node, QSigmaDelta)
        n = node.size
        proc = LavaSigmaDelta(
            shape=(n,),
            vth=int(node.vth),
            bias=node.per_neuron("bias").astype(np.int64),
            act_mode=ActivationMode(node.act_mode),
            cum_error=bool(node.cum_error),
            spike_exp=node.spike_exp,
            state_exp=node.state_exp,
            name=name,
        )
        return zero_reset_neurons(proc, n, self.variables)

    def lava_models(self) -> dict[Any, Any]:
        """Pin Lava 0.10.0's fixed_pt SigmaDelta model (the only one; newer Lava adds another)."""
        from lava.proc.sdn.models import PySigmaDeltaModelFixed
        from lava.proc.sdn.process import SigmaDelta as LavaSigmaDelta

        return {LavaSigmaDelta: PySigmaDeltaModelFixed}


MODEL = SigmaDeltaModel()
