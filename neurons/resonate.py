r"""Resonate-and-fire neurons (Lava's `lava.proc.rf`): a damped oscillator that spikes when
its phase crosses zero with enough amplitude.

Float (`RF`), per neuron, per step, with theta = 2 pi / period:

    re[t] = (1 - alpha) (cos(theta) re[t-1] - sin(theta) im[t-1]) + a_re[t]
    im[t] = (1 - alpha) (sin(theta) re[t-1] + cos(theta) im[t-1]) + a_im[t]
    s[t] = re[t] >= vth and im[t] >= 0 and im[t-1] < 0

(no reset: the oscillation itself carries the state on). Two input ports (`input_ports`):
"real" (the default) drives the real part, "imag" the imaginary part (Lava's `a_real_in`,
`a_imag_in`; lava-dl's complex synapses feed both). The kernels receive them side by side,
a (batch, 2 n) array: real in columns 0..n-1, imag in n..2n-1.

Fixed point (`QRF`): `PyRFModelFixed` (lava/proc/rf/models.py), with sin_decay, cos_decay =
trunc((1 - alpha) sin/cos(theta) 2^decay_bits) (signed) and, per step, in int64:

    a_re' = int32(a_re << state_exp)    a_im' = int32(a_im << state_exp)
    re = clip(tr(cos re) - tr(sin im) + a_re')    im = clip(tr(sin re) + tr(cos im) + a_im')
    tr(x) = sign(x) (|x| >> decay_bits);  clip to +-(2^23 - 1)
    s = re >= vth and im >= 0 and im_prev < 0

vth is compared with re directly (Lava's process multiplies its vth argument by 2^state_exp;
the IR holds the product). sin_decay, cos_decay, decay_bits, state_exp and vth are one value
per Lava process (parameter groups). State variables: real, imag. Binary spikes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ir.errors import IRVerifyError
from ir.nodes import Population, param_field, register_node_type
from neurons import registers
from neurons.base import LavaNeurons, NeuronModel, QuantRule, flat, trunc_shift, wrap32

__all__ = ["MODEL", "QRF", "RF", "RFModel", "fixed_step"]

_LIMIT = (1 << 23) - 1  # ri_bitwidth = 2 * sin_decay precision (12) = 24 bits, symmetric
DECAY_BITS = 12  # sin/cos decays: 12-bit mantissas (PyRFModelFixed sin_decay precision 12)
STATE_EXP_MAX = 7  # state_exp precision 3
VTH_FLOOR = 256


@register_node_type
@dataclass(frozen=True, eq=False)
class RF(Population):
    """Float resonate-and-fire neuron (module docstring); period in steps (> 2), alpha in
    [0, 1)."""

    domain: ClassVar[str] = "float"
    input_ports: ClassVar[tuple[str, ...]] = ("real", "imag")
    period: Any = param_field("float", default=10.0)
    alpha: Any = param_field("float", default=0.05)
    vth: Any = param_field("float", default=1.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not np.all(np.isfinite(self.period)) or np.any(np.asarray(self.period) <= 2):
            raise IRVerifyError("RF.period", "must be a finite number of steps > 2")
        alpha = np.asarray(self.alpha)
        if not np.all((alpha >= 0) & (alpha < 1)):
            raise IRVerifyError("RF.alpha", "must be in [0, 1)")
        if not np.all(np.isfinite(self.vth)) or np.any(np.asarray(self.vth) < 0):
            raise IRVerifyError("RF.vth", "must be finite and >= 0")

    def decays(self) -> tuple[np.ndarray, np.ndarray]:
        """((1 - alpha) sin(theta), (1 - alpha) cos(theta)) per neuron (flat)."""
        theta = 2 * np.pi / self.per_neuron("period").astype(np.float64)
        keep = 1.0 - self.per_neuron("alpha").astype(np.float64)
        return keep * np.sin(theta), keep * np.cos(theta)


@register_node_type
@dataclass(frozen=True, eq=False)
class QRF(Population):
    """Fixed-point resonate-and-fire neuron with Lava's register names (module docstring)."""

    domain: ClassVar[str] = "fixed"
    input_ports: ClassVar[tuple[str, ...]] = ("real", "imag")
    per_process: ClassVar[tuple[str, ...]] = (
        "sin_decay", "cos_decay", "decay_bits", "state_exp", "vth",
    )
    sin_decay: Any = param_field("int", default=0)
    cos_decay: Any = param_field("int", default=0)
    decay_bits: Any = param_field("int", default=DECAY_BITS)
    state_exp: Any = param_field("int", default=0)
    vth: Any = param_field("int", default=1)

    def value_ranges(self, hw: Any) -> list[tuple[str, Any, int, int, str]]:
        src = "lava proc/rf/models.py PyRFModelFixed"
        d = (1 << DECAY_BITS) - 1
        return [
            ("sin_decay", self.sin_decay, -d, d, f"{src}: 12-bit decay mantissa"),
            ("cos_decay", self.cos_decay, -d, d, f"{src}: 12-bit decay mantissa"),
            ("decay_bits", self.decay_bits, 0, DECAY_BITS, f"{src}: decays of at most 12 bits"),
            ("state_exp", self.state_exp, 0, STATE_EXP_MAX, f"{src}: state_exp precision 3"),
            ("vth", self.vth, 0, _LIMIT, f"{src}: 24-bit real part"),
        ]


def fixed_resonance(
    real: np.ndarray, imag: np.ndarray, a: np.ndarray, p: FixedParams
) -> tuple[np.ndarray, np.ndarray]:
    """The new (real, imag) of PyRFModelFixed's `resonator_dynamics` and clip (lava
    proc/rf/models.py), from the ports side by side in `a` (module docstring)."""
    n = p.size
    # np.left_shift of each int32 input, in int32
    a_re = wrap32(a[..., :n] << p.state_exp)
    a_im = wrap32(a[..., n:] << p.state_exp)
    new_re = trunc_shift(p.cos * real, p.decay_bits) - trunc_shift(p.sin * imag, p.decay_bits)
    new_im = trunc_shift(p.sin * real, p.decay_bits) + trunc_shift(p.cos * imag, p.decay_bits)
    return np.clip(new_re + a_re, -_LIMIT, _LIMIT), np.clip(new_im + a_im, -_LIMIT, _LIMIT)


def fixed_step(state: dict[str, np.ndarray], a: np.ndarray, p: FixedParams) -> np.ndarray:
    """One step of PyRFModelFixed in place on `state`; returns the spikes."""
    real, imag = state["real"], state["imag"]
    new_re, new_im = fixed_resonance(real, imag, a, p)
    spikes = (new_re >= p.vth) & (new_im >= 0) & (imag < 0)
    real[...] = new_re
    imag[...] = new_im
    return spikes


def float_step(state: dict[str, np.ndarray], a: np.ndarray, p: FloatParams) -> np.ndarray:
    real, imag = state["real"], state["imag"]
    n = p.size
    new_re = p.cos * real - p.sin * imag + a[..., :n]
    new_im = p.sin * real + p.cos * imag + a[..., n:]
    spikes = (new_re >= p.vth) & (new_im >= 0) & (imag < 0)
    real[...] = new_re
    imag[...] = new_im
    return spikes


@dataclass
class FixedParams:
    size: int
    sin: np.ndarray
    cos: np.ndarray
    decay_bits: np.ndarray
    state_exp: np.ndarray
    vth: np.ndarray
    fixed: ClassVar[bool] = True


@dataclass
class FloatParams:
    size: int
    sin: np.ndarray
    cos: np.ndarray
    vth: np.ndarray
    fixed: ClassVar[bool] = False


class RFQuantRule(QuantRule):
    """With scale S: re_fix = S re, a_fix << state_exp = S a (state_exp = 6), vth = S vth
    (exact: S = vth_fix / vth); sin/cos decays = trunc(x 4096) per neuron (decay_bits 12), as
    Lava's RF process computes them. vth must be one value per population (it sets the scale)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.input_shift = 6

    def decays(self) -> dict[str, Any]:
        sin, cos = self.ctx.pop.decays()
        unit = 1 << DECAY_BITS
        # np.int32(x * 2^decay_bits): truncation toward zero, as the RF process does.
        self.sin = np.trunc(sin * unit).astype(np.int64)
        self.cos = np.trunc(cos * unit).astype(np.int64)
        err = float(max(np.abs(sin * unit - self.sin).max(), np.abs(cos * unit - self.cos).max()))
        self.keep = float(np.max(np.hypot(self.sin, self.cos))) / unit
        regs = {"sin_decay": registers.summary(self.sin), "cos_decay": registers.summary(self.cos),
                "decay_bits": DECAY_BITS, "state_exp": self.input_shift}
        return {"model": "RF", "registers": regs, "decay_error_units": err}

    def current_gain(self) -> float:
        """|re| under a constant input: at most 1 / (1 - (1 - alpha)) = 1 / alpha."""
        return 1.0 / max(1.0 - self.keep, 1.0 / (1 << DECAY_BITS))

    def headroom_floor(self, theta: float) -> float:
        return math.log2(VTH_FLOOR / theta)

    def level_limits(self, theta, bias, input_peak) -> list[tuple[float, str]]:
        return [(math.log2(_LIMIT / theta) - self.input_shift, "threshold within 24 bits")]

    def exact_threshold(self, level: float, theta: float) -> tuple[float, int]:
        unit = 1 << self.input_shift
        reg = max(1, math.floor(2.0**level * unit * theta * (1 + 1e-9)))
        return reg / theta, reg

    def build(self, scale: float, vth: int, bias: np.ndarray):
        pop = self.ctx.pop

        def register(values: np.ndarray) -> Any:
            return int(values[0]) if np.all(values == values[0]) else values.reshape(pop.shape)

        node = QRF(pop.shape, sin_decay=register(self.sin), cos_decay=register(self.cos),
                   decay_bits=DECAY_BITS, state_exp=self.input_shift, vth=vth)
        return node, {"vth": vth}, 0.0, 0


class RFModel(NeuronModel):
    name = "rf"
    label = "RF"
    float_node = RF
    fixed_node = QRF
    variables = ("real", "imag")
    saturating_state = "real"
    equation = (
        "re[t] = (1-alpha)(cos(theta) re[t-1] - sin(theta) im[t-1]) + a_re[t]; "
        "im[t] = (1-alpha)(sin(theta) re[t-1] + cos(theta) im[t-1]) + a_im[t]; "
        "s[t] = re[t] >= vth and im[t] >= 0 and im[t-1] < 0"
    )
    quant_rule = RFQuantRule
    lava_process_name = "RF"
    fixed_kernel = fixed_step
    float_kernel = float_step

    def prepare(self, node: Population, dt: float) -> Any:
        n = node.size
        if isinstance(node, QRF):
            fields = ("sin_decay", "cos_decay", "decay_bits", "state_exp", "vth")
            return FixedParams(n, *(flat(node, f, np.int64) for f in fields))
        assert isinstance(node, RF)
        sin, cos = node.decays()
        return FloatParams(n, sin, cos, flat(node, "vth", np.float64))

    def _lava_class(self) -> Any:
        from lava.proc.rf.process import RF as LavaRF

        return LavaRF

    def lava_process(self, node: Population, name: str) -> LavaNeurons:
        assert isinstance(node, QRF)
        n = node.size
        # The process derives sin/cos decays and vth from period, alpha and state_exp; the IR
        # holds the registers, so they replace the Vars' initial values before compilation.
        proc = self._lava_class()(shape=(n,), period=10, alpha=0.1, state_exp=int(node.state_exp),
                                  decay_bits=int(node.decay_bits), vth=1, name=name)
        proc.sin_decay.init = int(node.sin_decay)
        proc.cos_decay.init = int(node.cos_decay)
        proc.vth.init = int(node.vth)
        zeros = np.zeros((n,), dtype=np.int64)
        return LavaNeurons(
            proc, proc.a_real_in, proc.s_out, {"real": proc.real, "imag": proc.imag},
            [(proc.real, zeros), (proc.imag, zeros)], extra_inputs=(proc.a_imag_in,),
        )

    def from_lava(self, shape: tuple[int, ...], params: dict[str, Any]) -> Population:
        """The registers Lava's RF process computes from its arguments (lava proc/rf/process.py
        RF.__init__): sin/cos_decay = int32((1 - alpha) sin/cos(2 pi / period) 2^decay_bits)
        (truncation toward zero; unscaled when decay_bits is 0) and vth = int(vth 2^state_exp)
        (unscaled when state_exp is 0), with the same float64 expressions, so that every
        rounding is Lava's. period and alpha may be per neuron (arrays of `shape`)."""
        period = np.asarray(params["period"], dtype=np.float64)
        keep = 1 - np.asarray(params["alpha"], dtype=np.float64)
        state_exp, decay_bits = int(params["state_exp"]), int(params["decay_bits"])
        sin = keep * np.sin(np.pi * 2 * 1 / period)
        cos = keep * np.cos(np.pi * 2 * 1 / period)
        if decay_bits > 0:
            sin, cos = np.int32(sin * (1 << decay_bits)), np.int32(cos * (1 << decay_bits))
        vth = np.asarray(params["vth"])
        if state_exp > 0:
            vth = (vth * (1 << state_exp)).astype(np.int64)  # int(): toward zero

        def register(values: Any) -> Any:
            arr = np.asarray(values)
            return int(arr) if arr.ndim == 0 else np.broadcast_to(arr, shape).astype(np.int64)

        return self.fixed_node(shape, sin_decay=register(sin), cos_decay=register(cos),
                               decay_bits=decay_bits, state_exp=state_exp, vth=register(vth))


MODEL = RFModel()
