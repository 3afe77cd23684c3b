r"""ATRLIF: leaky integrate-and-fire with an adaptive threshold and a refractory state
(Lava's `lava.proc.atrlif`, the bit-accurate Loihi 2 model `PyATRLIFModelFixed`).

Float (`ATRLIF`), per neuron, per step:

    i[t] = (1 - delta_i) i[t-1] + a[t]
    v[t] = (1 - delta_v) v[t-1] + i[t] + b
    theta[t] = (1 - delta_theta) (theta[t-1] - theta_0) + theta_0
    r[t] = (1 - delta_r) r[t-1]
    s[t] = v[t] - r[t] >= theta[t];  where s[t]: r[t] += 2 theta[t], theta[t] += theta_step

(no reset of v: the refractory state r, which jumps by twice the threshold at a spike and
decays, holds the neuron below threshold; theta rises by theta_step at each spike and relaxes
to theta_0). theta starts at theta_0, everything else at 0.

Fixed point (`QATRLIF`), as `PyATRLIFModelFixed` (lava/proc/atrlif/models.py) computes it, with
registers d_i, d_v, d_theta, d_r (unsigned 12-bit: delta = d / 4096 exactly), theta_0,
theta_step (unsigned 12-bit, in units of 2^6), bias_mant, bias_exp (as LIF):

    i[t] = wrap_24(int32(trunc((4096 - d_i - 1) i[t-1] / 4096) + int32(a[t] * 64)))
    v[t] = sat_24(int32(trunc((4096 - d_v) v[t-1] / 4096) + i[t] + bias))
    theta[t] = int32(trunc((4096 - d_theta) (theta[t-1] - theta_0 64) / 4096)) + theta_0 64
    r[t] = int32(trunc((4096 - d_r) r[t-1] / 4096))
    s[t] = int32(v[t] - r[t]) >= theta[t];  r += 2 theta, theta += theta_step 64 (int32)

(Lava computes i's product as `i * (4096 - (delta_i * 4096 + 1))`: the lowering passes
delta_i = d_i / 4096 as a float, which makes that product an exact float64 integer.) The d_*,
theta_0 and theta_step registers are one value per Lava process: populations whose neurons
differ in them run as parameter groups. State variables: i, v, theta, r. Binary spikes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ir.errors import IRVerifyError
from ir.fixed import LAVA_FIXED_PT
from ir.nodes import FREE_EXP_RANGE, Population, array_field, param_field, register_node_type
from neurons import registers
from neurons.base import (
    LavaNeurons,
    NeuronModel,
    QuantizationError,
    QuantRule,
    flat,
    trunc_shift,
    wrap32,
)
from neurons.lif import VTH_FLOOR, effective_bias

__all__ = ["ATRLIF", "MODEL", "QATRLIF", "ATRLIFModel", "fixed_step"]

_P = LAVA_FIXED_PT
_MAX = 1 << (_P.state_bits - 1)  # 2^23
_UNITY = _P.decay_unity  # 4096
_REG_MAX = _UNITY - 1  # 12-bit unsigned registers (LavaPyType precision 12)
_THETA_SHIFT = 6  # theta_unity = 2**6 (PyATRLIFModelFixed)


@register_node_type
@dataclass(frozen=True, eq=False)
class ATRLIF(Population):
    """Float ATRLIF (module docstring); decays are fractions per step in [0, 1]."""

    domain: ClassVar[str] = "float"
    delta_i: Any = param_field("float", default=0.4)
    delta_v: Any = param_field("float", default=0.4)
    delta_theta: Any = param_field("float", default=0.2)
    delta_r: Any = param_field("float", default=0.2)
    theta_0: Any = param_field("float", default=5.0)
    theta_step: Any = param_field("float", default=3.75)
    bias: np.ndarray = array_field("float", scalar_ok=True, default=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("delta_i", "delta_v", "delta_theta", "delta_r"):
            arr = np.asarray(getattr(self, f))
            if not np.all((arr >= 0) & (arr <= 1)):
                raise IRVerifyError(f"ATRLIF.{f}", "decays must be in [0, 1]")
        for f in ("theta_0", "theta_step"):
            arr = np.asarray(getattr(self, f))
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise IRVerifyError(f"ATRLIF.{f}", "must be finite and >= 0")
        if not np.all(np.isfinite(self.bias)):
            raise IRVerifyError("ATRLIF.bias", "must be finite (found NaN or inf)")


@register_node_type
@dataclass(frozen=True, eq=False)
class QATRLIF(Population):
    """Fixed-point ATRLIF with Lava's register names (module docstring)."""

    domain: ClassVar[str] = "fixed"
    per_process: ClassVar[tuple[str, ...]] = (
        "delta_i", "delta_v", "delta_theta", "delta_r", "theta_0", "theta_step",
    )
    delta_i: Any = param_field("int", default=0)
    delta_v: Any = param_field("int", default=0)
    delta_theta: Any = param_field("int", default=0)
    delta_r: Any = param_field("int", default=0)
    theta_0: Any = param_field("int", default=1)
    theta_step: Any = param_field("int", default=0)
    bias_mant: np.ndarray = array_field("int", scalar_ok=True, default=0)
    bias_exp: np.ndarray = array_field("int", scalar_ok=True, default=0)

    def value_ranges(self, hw: Any) -> list[tuple[str, Any, int, int, str]]:
        src = "lava proc/atrlif/models.py PyATRLIFModelFixed"
        half = 1 << ((hw.profile if hw else _P).bias_mant_bits - 1)
        if hw:
            lo, hi = hw.neuron.bias_exp_min.value, hw.neuron.bias_exp_max.value
            exp_src = f"{hw.source_file}: neuron.bias_exp_min/max"
        else:
            (lo, hi), exp_src = FREE_EXP_RANGE, _P.name
        out = [(f, getattr(self, f), 0, _REG_MAX, f"{src}: unsigned 12-bit")
               for f in self.per_process]
        return out + [
            ("bias_mant", self.bias_mant, -half, half - 1, f"{src}: signed 13-bit bias mantissa"),
            ("bias_exp", self.bias_exp, lo, hi, exp_src),
        ]


def fixed_step(state: dict[str, np.ndarray], a: np.ndarray, p: FixedParams) -> np.ndarray:
    """One step of Lava's PyATRLIFModelFixed in place on `state` (int64 arrays holding int32
    values); returns the spikes. See the module docstring for each wrap."""
    i, v, theta, r = state["i"], state["v"], state["theta"], state["r"]
    # i * (4096 - (d_i + 1)): an exact float64 integer in Lava, truncated toward zero by >> 12.
    i_dec = trunc_shift(i * (_UNITY - p.d_i - 1), _P.decay_bits)
    act = wrap32(a * 64)  # int32 * 64 wraps in int32
    d = wrap32(i_dec + act)  # np.int32(...) of the int64 sum
    i[...] = np.where(d > _MAX, d - 2 * _MAX, np.where(d <= -_MAX, d + 2 * _MAX, d))
    v_dec = trunc_shift(v * (_UNITY - p.d_v), _P.decay_bits)
    np.clip(wrap32(v_dec + i + p.bias), -(_MAX - 1), _MAX - 1, out=v)
    diff = wrap32(theta - p.theta_0)  # int32 - int32
    theta[...] = wrap32(wrap32(trunc_shift(diff * (_UNITY - p.d_theta), _P.decay_bits)) + p.theta_0)
    r[...] = wrap32(trunc_shift(r * (_UNITY - p.d_r), _P.decay_bits))
    spikes = wrap32(v - r) >= theta
    r[...] = np.where(spikes, wrap32(r + wrap32(2 * theta)), r)
    theta[...] = np.where(spikes, wrap32(theta + p.theta_step), theta)
    return spikes


def float_step(state: dict[str, np.ndarray], a: np.ndarray, p: FloatParams) -> np.ndarray:
    i, v, theta, r = state["i"], state["v"], state["theta"], state["r"]
    i[...] = (1 - p.delta_i) * i + a
    v[...] = (1 - p.delta_v) * v + i + p.bias
    theta[...] = (1 - p.delta_theta) * (theta - p.theta_0) + p.theta_0
    r[...] = (1 - p.delta_r) * r
    spikes = (v - r) >= theta
    r[...] = np.where(spikes, r + 2 * theta, r)
    theta[...] = np.where(spikes, theta + p.theta_step, theta)
    return spikes


@dataclass
class FixedParams:
    size: int
    d_i: np.ndarray
    d_v: np.ndarray
    d_theta: np.ndarray
    d_r: np.ndarray
    theta_0: np.ndarray  # << 6
    theta_step: np.ndarray  # << 6
    bias: np.ndarray
    fixed: ClassVar[bool] = True


@dataclass
class FloatParams:
    size: int
    delta_i: np.ndarray
    delta_v: np.ndarray
    delta_theta: np.ndarray
    delta_r: np.ndarray
    theta_0: np.ndarray
    theta_step: np.ndarray
    bias: np.ndarray
    fixed: ClassVar[bool] = False


class ATRLIFQuantRule(QuantRule):
    """With scale S: i_fix = S i, a_fix << 6 = S a, bias_mant << bias_exp = S b,
    theta_0 << 6 = S theta_0, theta_step << 6 = S theta_step (theta_0 exact, as LIF's vth);
    d_i = rint(4096 delta_i) - 1 (Lava adds 1), d_v = rint(4096 delta_v), d_theta, d_r alike.
    theta_0 and theta_step must be one value per population (they set the scale)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.input_shift = _THETA_SHIFT
        self.threshold_shift = _THETA_SHIFT
        self.regs: dict[str, np.ndarray] = {}

    threshold_field = "theta_0"

    def threshold(self, has_conv: bool) -> tuple[float, np.ndarray, bool]:
        if np.ndim(self.ctx.pop.theta_step):
            raise QuantizationError(
                f"population {self.ctx.name!r}: theta_step varies per neuron; snnc quantizes "
                "ATRLIF with one threshold step per population (split the population)"
            )
        return super().threshold(has_conv)

    def decays(self) -> dict[str, Any]:
        ctx = self.ctx
        report: dict[str, Any] = {}
        regs: dict[str, Any] = {}
        for f, offset in (("delta_i", 1), ("delta_v", 0), ("delta_theta", 0), ("delta_r", 0)):
            delta = ctx.pop.per_neuron(f).astype(np.float64)
            reg = np.clip(np.rint(_UNITY * delta).astype(np.int64) - offset, 0, _REG_MAX)
            if ctx.decay_levels is not None:
                reg, _ = registers.k_center_levels(reg, ctx.decay_levels)
            self.regs[f] = reg
            err = float(np.max(np.abs(_UNITY * delta - (reg + offset)), initial=0.0))
            regs[f] = registers.summary(reg)
            report[f"{f}_error_units"] = err
        return {"model": "ATRLIF", "registers": regs, **report}

    def float_bias(self) -> np.ndarray:
        return self.ctx.pop.per_neuron("bias")

    def current_gain(self) -> float:
        return _UNITY / (int(self.regs["delta_i"].min()) + 1)

    def headroom_floor(self, theta: float) -> float:
        return math.log2(VTH_FLOOR / theta)

    def level_limits(self, theta, bias, input_peak) -> list[tuple[float, str]]:
        ctx = self.ctx
        limits = [(math.log2(_REG_MAX / theta), f"threshold: theta_0 <= {_REG_MAX}")]
        step = float(ctx.pop.theta_step)
        if step > 0:
            limits.append((math.log2(_REG_MAX / step), f"theta_step <= {_REG_MAX}"))
        b_max = float(np.abs(bias).max(initial=0.0))
        if b_max > 0:
            mant_max = (1 << (ctx.prof.bias_mant_bits - 1)) - 1
            lim = mant_max * 2.0 ** ctx.hw.neuron.bias_exp_max.value
            limits.append((math.log2(lim / b_max) - self.input_shift,
                           f"bias: bias_mant << bias_exp <= {int(lim)}"))
        return limits

    def exact_threshold(self, level: float, theta: float) -> tuple[float, int]:
        unit = 1 << self.input_shift
        reg = max(1, math.floor(2.0**level * theta * (1 + 1e-9)))
        return unit * reg / theta, reg

    def build(self, scale: float, vth: int, bias: np.ndarray):
        ctx = self.ctx
        pop = ctx.pop
        neuron = ctx.hw.neuron
        mant, exp, clipped = registers.bias_registers(
            bias * scale, neuron.bias_exp_min.value, neuron.bias_exp_max.value, ctx.prof
        )
        err = np.abs(np.left_shift(mant, exp) - bias * scale)
        bias_err = float(err.max(initial=0.0)) / max(vth << _THETA_SHIFT, 1)
        step = np.rint(float(pop.theta_step) * scale / (1 << _THETA_SHIFT))
        step = int(np.clip(step, 0, _REG_MAX))

        def register(values: np.ndarray) -> Any:
            return int(values[0]) if np.all(values == values[0]) else values.reshape(pop.shape)

        node = QATRLIF(
            pop.shape,
            delta_i=register(self.regs["delta_i"]),
            delta_v=register(self.regs["delta_v"]),
            delta_theta=register(self.regs["delta_theta"]),
            delta_r=register(self.regs["delta_r"]),
            theta_0=vth,
            theta_step=step,
            bias_mant=mant.reshape(pop.shape),
            bias_exp=exp.reshape(pop.shape),
        )
        return node, {"theta_0": vth, "theta_step": step}, bias_err, int(clipped.sum())


class ATRLIFModel(NeuronModel):
    name = "atrlif"
    label = "ATRLIF"
    float_node = ATRLIF
    fixed_node = QATRLIF
    variables = ("i", "v", "theta", "r")
    wrapping_state = "i"
    saturating_state = "v"
    equation = (
        "i[t] = (1-delta_i) i[t-1] + a[t]; v[t] = (1-delta_v) v[t-1] + i[t] + b; "
        "theta[t] = (1-delta_theta)(theta[t-1] - theta_0) + theta_0; r[t] = (1-delta_r) r[t-1]; "
        "s[t] = v[t] - r[t] >= theta[t], then r += 2 theta, theta += theta_step"
    )
    quant_rule = ATRLIFQuantRule
    fixed_kernel = fixed_step
    float_kernel = float_step
    # A bias of -1 keeps v < 0 <= theta: a silent neuron never fires, even with theta_0 = 0.
    silent = {"bias_mant": -1, "bias_exp": 0}

    def prepare(self, node: Population, dt: float) -> Any:
        n = node.size
        if isinstance(node, QATRLIF):
            bias = effective_bias(node.per_neuron("bias_mant"), node.per_neuron("bias_exp"))
            return FixedParams(
                n, flat(node, "delta_i", np.int64), flat(node, "delta_v", np.int64),
                flat(node, "delta_theta", np.int64), flat(node, "delta_r", np.int64),
                flat(node, "theta_0", np.int64) << _THETA_SHIFT,
                flat(node, "theta_step", np.int64) << _THETA_SHIFT,
                np.ascontiguousarray(bias, dtype=np.int64),
            )
        assert isinstance(node, ATRLIF)
        return FloatParams(
            n, *(flat(node, f, np.float64) for f in (
                "delta_i", "delta_v", "delta_theta", "delta_r", "theta_0", "theta_step", "bias")),
        )

    def initial_state(self, params: Any, batch: int) -> dict[str, np.ndarray]:
        state = super().initial_state(params, batch)
        state["theta"][...] = params.theta_0  # Lava's scale_threshold: theta starts at theta_0
        return state

    def lava_process(self, node: Population, name: str) -> LavaNeurons:
        from lava.proc.atrlif.process import ATRLIF as LavaATRLIF

        assert isinstance(node, QATRLIF)
        n = node.size
        # Decays as exact fractions d / 4096 (floats): Lava multiplies them by 4096 (module doc).
        proc = LavaATRLIF(
            shape=(n,),
            delta_i=int(node.delta_i) / _UNITY,
            delta_v=int(node.delta_v) / _UNITY,
            delta_theta=int(node.delta_theta) / _UNITY,
            delta_r=int(node.delta_r) / _UNITY,
            theta_0=int(node.theta_0),
            theta_step=int(node.theta_step),
            bias_mant=node.per_neuron("bias_mant").astype(np.int32),
            bias_exp=node.per_neuron("bias_exp").astype(np.int32),
            name=name,
        )
        zeros = np.zeros((n,), dtype=np.int64)
        theta0 = np.full((n,), int(node.theta_0) << _THETA_SHIFT, dtype=np.int64)
        return LavaNeurons(
            proc, proc.a_in, proc.s_out,
            {"i": proc.i, "v": proc.v, "theta": proc.theta, "r": proc.r},
            [(proc.i, zeros), (proc.v, zeros), (proc.r, zeros), (proc.theta, theta0),
             (proc.s, np.zeros((n,), dtype=bool))],
        )


MODEL = ATRLIFModel()
