r"""LIF / CUBA (and its special cases IF and LIFReset): the model every trainer produces.

Float (`ir.nodes.LIF`, time step dt), per neuron:

    u[t] = alpha_syn u[t-1] + a[t];   v[t] = alpha_mem v[t-1] + u[t] + b
    s[t] = v[t] > v_th;   v[t] <- 0 where s[t]

with alpha = exp(-dt / tau). IF is tau_syn = 0, tau_mem = inf (the current is this step's
input, v never leaks; Lava has no IF process: du = 4095, dv = 0 in its LIF); `reset_interval`
zeroes u and v periodically (Lava's LIFReset); v_th = +inf is a non-spiking leaky integrator
(NIR's LI, CubaLI, I, read out through v).

Fixed point (`ir.nodes.QLIF`): Lava 0.10's `PyLifModelBitAcc` / `PyLifResetModelBitAcc`
(lava/proc/lif/models.py), every register per neuron; Lava's LIF process holds du, dv and vth
as one value each, so the lowering builds one process per parameter group.

State variables: u (24-bit, wraps once), v (24-bit, saturates). Binary spikes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ir.fixed import LAVA_FIXED_PT
from ir.nodes import LIF, QLIF, Population
from neurons import registers
from neurons.base import (
    LavaNeurons,
    NeuronModel,
    QuantizationError,
    QuantRule,
    flat,
    run_layer_by_steps,
    trunc_shift,
    wrap32,
)

__all__ = [
    "LIF",
    "QLIF",
    "LIFModel",
    "effective_bias",
    "fixed_step",
    "float_step",
]

_P = LAVA_FIXED_PT
_MAX_UV = 1 << (_P.state_bits - 1)  # 2^23, Lava max_uv_val
# The worst-case bound on u can be far beyond any real input (a current that never decays sums
# up to 4096 steps of input); headroom alone never lowers the threshold mantissa below this, so
# the threshold keeps at least 8 bits of resolution. The report warns when this is reached.
VTH_FLOOR = 256
_TOL = 1e-9


# ----------------------------------------------------------------------------- kernels


def effective_bias(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """Lava scale_bias: int32(bias_mant) << bias_exp (int32, wraps), or >> -bias_exp (floor).

    Lava's docstring calls bias_exp "unsigned 3-bit (0 to 7)", but the code shifts right for a
    negative exponent, so negative exponents are allowed (netx uses bias_exp = 6)."""
    mant = np.asarray(bias_mant, dtype=np.int64)
    exp = np.asarray(bias_exp, dtype=np.int64)
    left = wrap32(mant << np.clip(exp, 0, 31))
    right = mant >> np.clip(-exp, 0, 63)
    return np.where(exp >= 0, left, right)


def fixed_step(
    u: np.ndarray,
    v: np.ndarray,
    a: np.ndarray,
    *,
    du: np.ndarray | int,
    dv: np.ndarray | int,
    vth: np.ndarray | int,
    bias: np.ndarray,
) -> np.ndarray:
    """One step of Lava's `PyLifModelBitAcc` in place on u, v (int64 arrays); returns spikes.

    `a` is the received input (already an int32 value); `bias` is `effective_bias(...)`;
    du, dv, vth are per neuron or shared. Lava (lif/models.py, AbstractPyLifModelFixed):
    u, v are int32 arrays; the input arrives as int32 (the int16 port type is only the zero
    the received values are added to, so there is no 16-bit saturation); `a << 6` and every sum
    are int32 operations that wrap at 32 bits; the decays are int64 products truncated toward
    zero; u gets a single 24-bit wrap (so a value beyond 3 * 2^23 stays outside 24 bits); v is
    clipped to +-(2^23 - 1)."""
    act = wrap32(a << _P.activation_shift)
    # ds_offset = 1: the current decays by (du + 1) / 4096 per step.
    decayed_u = trunc_shift(u * (_P.decay_unity - (du + _P.current_decay_offset)), _P.decay_bits)
    d = wrap32(decayed_u + act)
    # One 24-bit wrap only, as Lava applies it; the kept range is (-2^23, 2^23].
    u[...] = np.where(d > _MAX_UV, d - 2 * _MAX_UV, np.where(d <= -_MAX_UV, d + 2 * _MAX_UV, d))
    decayed_v = trunc_shift(v * (_P.decay_unity - (dv + _P.voltage_decay_offset)), _P.decay_bits)
    # decayed_v + u + bias is an int32 sum in Lava (wraps before the clip).
    np.clip(wrap32(decayed_v + u + bias), -(_MAX_UV - 1), _MAX_UV - 1, out=v)
    spikes = v > (np.asarray(vth, dtype=np.int64) << _P.vth_shift)
    v[spikes] = 0
    return spikes


def float_step(
    u: np.ndarray,
    v: np.ndarray,
    a: np.ndarray,
    *,
    alpha_syn: np.ndarray,
    alpha_mem: np.ndarray,
    v_th: np.ndarray,
    bias: np.ndarray,
) -> np.ndarray:
    """One step of the float LIF (ir.nodes.LIF docstring), in place on u, v; returns spikes."""
    u *= alpha_syn
    u += a
    v *= alpha_mem
    v += u
    v += bias
    spikes = v > v_th
    v[spikes] = 0.0
    return spikes


@dataclass
class FixedParams:
    """Per-neuron registers (flat int64) of a QLIF population."""

    size: int
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray
    bias: np.ndarray  # effective bias
    reset_interval: np.ndarray  # per neuron; 0: never
    reset_offset: np.ndarray
    fixed: ClassVar[bool] = True
    # derived values the fast engine's kernels reuse across the batch chunks of a run
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def resets_at(self, t: int) -> np.ndarray:
        return _resets_at(self, t)


@dataclass
class FloatParams:
    """Per-neuron coefficients (flat float64) of a float LIF population."""

    size: int
    alpha_syn: np.ndarray
    alpha_mem: np.ndarray
    v_th: np.ndarray
    bias: np.ndarray
    reset_interval: np.ndarray
    reset_offset: np.ndarray
    fixed: ClassVar[bool] = False

    def resets_at(self, t: int) -> np.ndarray:
        return _resets_at(self, t)


def _resets_at(params: Any, t: int) -> np.ndarray:
    """Per neuron: does LIFReset zero u and v before step t (t % interval == offset)?"""
    interval = params.reset_interval
    return (interval > 0) & (t % np.maximum(interval, 1) == params.reset_offset)


def _uniform_reset(params: Any) -> tuple[int, int] | None:
    """(interval, offset) when every neuron shares them (what the numba kernels take)."""
    iv, of = params.reset_interval, params.reset_offset
    if np.all(iv == iv[0]) and np.all(of == of[0]):
        return int(iv[0]), int(of[0])
    return None


# ----------------------------------------------------------------------------- quantization


class LIFQuantRule(QuantRule):
    """LIF's quantization (docs/quantization.md, "How snnc quantizes, formula by formula"):
    with scale S,

        u_fix = S u     a_fix << 6 = S a     vth << 6 = S v_th     bias_mant << bias_exp = S b
        (4096 - du - 1) / 4096 = alpha_syn      (4096 - dv) / 4096 = alpha_mem   (per neuron)

    Per-neuron thresholds are folded into each neuron's incoming weights and bias (dividing
    row i by v_th_i leaves the float dynamics' spikes unchanged: they are linear in u, v and
    reset to 0), so every population ends with one threshold. Decays are per neuron; with
    `--decay-levels K` each decay register takes at most K values."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.input_shift = ctx.prof.activation_shift
        self.threshold_shift = ctx.prof.vth_shift
        self.du: np.ndarray = np.zeros(0, dtype=np.int64)
        self.dv: np.ndarray = np.zeros(0, dtype=np.int64)

    def threshold(self, has_conv: bool) -> tuple[float, np.ndarray, bool]:
        """One threshold for the population, and per-neuron factors that divide each neuron's
        weights and bias by its own threshold when thresholds differ."""
        ctx = self.ctx
        v_th = ctx.pop.per_neuron("v_th")
        where = f"population {ctx.name!r}: v_th"
        if np.any(np.isinf(v_th)) and not np.all(np.isinf(v_th)):
            raise QuantizationError(
                f"{where} mixes +inf (non-spiking) and finite thresholds; snnc folds thresholds "
                "into the weights and keeps one vth per population, so split the population"
            )
        if np.all(v_th == v_th[0]):
            if v_th[0] < 0:
                raise QuantizationError(
                    f"{where} = {v_th[0]} is negative; Lava's vth is an unsigned "
                    f"{ctx.prof.vth_bits}-bit mantissa"
                )
            return float(v_th[0]), np.ones(ctx.pop.size), False  # +inf: non-spiking
        if v_th.min() <= 0:
            raise QuantizationError(
                f"{where} varies per neuron and reaches {v_th.min()}; per-neuron thresholds "
                "must be > 0 to fold into the weights (snnc keeps one vth per population)"
            )
        if has_conv:
            per_chan = v_th.reshape(ctx.pop.shape[0], -1)
            if np.any(per_chan != per_chan[:, :1]):
                raise QuantizationError(
                    f"{where} varies within a channel; a convolution shares its kernel across "
                    "positions, so thresholds can fold into it only per output channel"
                )
        return 1.0, 1.0 / v_th, True

    def decays(self) -> dict[str, Any]:
        """du, dv per neuron (clustered to `decay_levels` values each when asked), and their
        report: the register (or its range), the retention factors, the largest error in
        1/4096 units, and with clustering the part it added."""
        ctx, prof = self.ctx, self.ctx.prof
        alpha_syn, alpha_mem = ctx.pop.decays(ctx.dt)
        report: dict[str, Any] = {}
        regs = []
        for label, alpha, to_regs, from_reg in (
            ("du", alpha_syn, registers.du_regs, registers.alpha_from_du),
            ("dv", alpha_mem, registers.dv_regs, registers.alpha_from_dv),
        ):
            alphas = np.asarray(alpha, dtype=np.float64).reshape(-1)
            alphas = np.broadcast_to(alphas, (ctx.pop.size,))
            reg = to_regs(alphas, prof)
            added = None
            if ctx.decay_levels is not None:
                reg, added = registers.k_center_levels(reg, ctx.decay_levels)
            err = float(np.max(np.abs(alphas - from_reg(reg, prof)))) * prof.decay_unity
            kind = "syn" if label == "du" else "mem"
            value = registers.summary(reg)
            if isinstance(value, int):
                alpha_rep: Any = float(alphas.min())
                alpha_fixed: Any = from_reg(value, prof)
            else:  # a larger register is a smaller retention factor
                alpha_rep = {"min": float(alphas.min()), "max": float(alphas.max())}
                alpha_fixed = {"min": float(from_reg(value["max"], prof)),
                               "max": float(from_reg(value["min"], prof))}
            report.update(
                {label: value, f"alpha_{kind}": alpha_rep, f"alpha_{kind}_fixed": alpha_fixed,
                 f"{label}_error_units": err}
            )
            if added is not None:
                report[f"{label}_added_error_units"] = float(added)
            regs.append(reg)
        self.du, self.dv = regs
        if np.any(np.asarray(alpha_syn) == 1.0):
            ctx.notes.append(
                f"population {ctx.name!r}: tau_syn = inf (no current decay) is not representable "
                "(du >= 0 still decays by 1/4096 per step); using du = 0"
            )
        return report

    def float_bias(self) -> np.ndarray:
        return self.ctx.pop.per_neuron("bias")

    def current_gain(self) -> float:
        """Steady-state u per unit of constant input: 1 / (1 - alpha_syn), alpha_syn from du with
        Lava's +1 offset (4096 / (du + 1)); the largest over the neurons."""
        prof = self.ctx.prof
        return prof.decay_unity / (int(self.du.min()) + prof.current_decay_offset)

    def headroom_floor(self, theta: float) -> float:
        """The level below which headroom alone does not push the scale: vth = VTH_FLOOR."""
        return math.log2(VTH_FLOOR / theta) if 0 < theta < math.inf else -math.inf

    def level_limits(self, theta, bias, input_peak) -> list[tuple[float, str]]:
        prof, act, ctx = self.ctx.prof, self.input_shift, self.ctx
        limits = []
        if math.isinf(theta):
            limits.append(self._non_spiking_v_limit(bias, input_peak))
        elif theta > 0:
            limits.append(
                (
                    math.log2(((1 << prof.vth_bits) - 1) / theta),
                    f"threshold: vth <= {(1 << prof.vth_bits) - 1}",
                )
            )
            # v saturates at -(2^23 - 1) where a float neuron without leak keeps falling; keep
            # room for `v_range` thresholds below zero (this bounds vth at 2^23 / 64 / v_range).
            limits.append(
                (
                    prof.state_bits - 1 - math.log2(ctx.v_range * theta) - act,
                    f"v range: {ctx.v_range:g} thresholds below zero",
                )
            )
        b_max = float(np.abs(bias).max(initial=0.0))
        if b_max > 0:
            mant_max = (1 << (prof.bias_mant_bits - 1)) - 1
            lim = mant_max * 2.0**ctx.hw.neuron.bias_exp_max.value
            limits.append(
                (math.log2(lim / b_max) - act, f"bias: bias_mant << bias_exp <= {int(lim)}")
            )
        return limits

    def _non_spiking_v_limit(self, bias: np.ndarray, input_peak) -> tuple[float, str]:
        """A non-spiking population (v_th = +inf) is read out through v, but Lava's LIF always
        compares v with vth << 6 (at most (2^17 - 1) << 6 = 2^23 - 64, just below v's saturation
        at 2^23 - 1). The level keeps the worst-case |v| = |u|max / (1 - alpha_mem) under that
        threshold (the slowest leak of the population), so the deployed neuron provably never
        fires. Without leak v has no bound."""
        ctx = self.ctx
        prof, act = ctx.prof, self.input_shift
        bias_peak = float(np.abs(bias).max(initial=0.0))
        drive_peak = float(input_peak()) * self.current_gain() + bias_peak  # u + b
        leak = 1.0 - registers.alpha_from_dv(int(self.dv.min()), prof)
        v_ceiling = ((1 << prof.vth_bits) - 1) << prof.vth_shift
        if drive_peak <= 0:
            return float(prof.state_bits - 1 - act), "state range"
        if leak <= 0:
            ctx.warnings.append(
                f"population {ctx.name!r}: non-spiking without leak (tau_mem = inf): v has no "
                f"bound and fires once it passes {v_ceiling} (Lava compares v with vth always)"
            )
            return float(prof.state_bits - 1 - act), "state range"
        return (
            math.log2((v_ceiling - 1) * leak / drive_peak) - act,
            f"non-spiking: worst-case v below vth = {(1 << prof.vth_bits) - 1} << 6",
        )

    def exact_threshold(self, level: float, theta: float) -> tuple[float, int]:
        """(S, vth): vth = floor(2^L theta), then S = 64 vth / theta so the threshold is exact."""
        act = 1 << self.input_shift
        if theta <= 0:
            return act * 2.0**level, 0
        if math.isinf(theta):
            return act * 2.0**level, (1 << self.ctx.prof.vth_bits) - 1
        vth = math.floor(2.0**level * theta * (1 + _TOL))
        if vth < 1:
            self.ctx.warnings.append(
                f"population {self.ctx.name!r}: the scale is too small for the threshold; "
                "vth rounded up to 1"
            )
            return act * 2.0**level, 1
        return act * vth / theta, vth

    def _bias(self, bias: np.ndarray, scale: float, vth: int) -> tuple[Any, Any, float, int]:
        ctx = self.ctx
        neuron = ctx.hw.neuron
        mant, exp, clipped = registers.bias_registers(
            bias * scale, neuron.bias_exp_min.value, neuron.bias_exp_max.value, ctx.prof
        )
        err = np.abs(np.left_shift(mant, exp) - bias * scale)
        thr = max(vth << ctx.prof.vth_shift, 1)
        rel = float(err.max(initial=0.0)) / thr
        if ctx.pop.bias.ndim == 0 and np.all(mant == mant[0]) and np.all(exp == exp[0]):
            return int(mant[0]), int(exp[0]), rel, int(clipped.sum())
        exp_out = int(exp[0]) if np.all(exp == exp[0]) else exp.reshape(ctx.pop.shape)
        return mant.reshape(ctx.pop.shape), exp_out, rel, int(clipped.sum())

    def build(self, scale: float, vth: int, bias: np.ndarray):
        pop = self.ctx.pop
        mant, exp, bias_err, n_clipped = self._bias(bias, scale, vth)

        def register(values: np.ndarray) -> Any:
            return int(values[0]) if np.all(values == values[0]) else values.reshape(pop.shape)

        node = QLIF(
            pop.shape,
            du=register(self.du),
            dv=register(self.dv),
            vth=vth,
            bias_mant=mant,
            bias_exp=exp,
            reset_interval=pop.reset_interval,
            reset_offset=pop.reset_offset,
        )
        return node, {"vth": vth}, bias_err, n_clipped


# ----------------------------------------------------------------------------- the model


class LIFModel(NeuronModel):
    name = "lif"
    label = "LIF"
    lava_process_name = "LIF"
    float_node = LIF
    fixed_node = QLIF
    variables = ("u", "v")
    wrapping_state = "u"
    saturating_state = "v"
    equation = (
        "u[t] = alpha_syn u[t-1] + a[t]; v[t] = alpha_mem v[t-1] + u[t] + b; "
        "s[t] = v[t] > v_th, then v[t] = 0"
    )
    nir_types = ("LIF", "IF", "CubaLIF", "LI", "CubaLI", "I", "Threshold")
    nir_metadata_only = ("reset_interval", "reset_offset")  # Lava's LIFReset: no NIR form
    quant_rule = LIFQuantRule
    silent = {"bias_mant": 0}

    # -- cpu

    def prepare(self, node: Population, dt: float) -> Any:
        n = node.size
        if isinstance(node, QLIF):
            bias = effective_bias(node.per_neuron("bias_mant"), node.per_neuron("bias_exp"))
            return FixedParams(
                n,
                du=flat(node, "du", np.int64),
                dv=flat(node, "dv", np.int64),
                vth=flat(node, "vth", np.int64),
                bias=np.ascontiguousarray(bias, dtype=np.int64),
                reset_interval=flat(node, "reset_interval", np.int64),
                reset_offset=flat(node, "reset_offset", np.int64),
            )
        assert isinstance(node, LIF)
        alpha_syn, alpha_mem = node.decays(dt)

        def vec(arr: np.ndarray) -> np.ndarray:
            a = np.asarray(arr)
            return np.ascontiguousarray(
                np.broadcast_to(a.reshape(-1) if a.ndim else a, (n,)), dtype=np.float64
            )

        return FloatParams(
            n,
            alpha_syn=vec(alpha_syn),
            alpha_mem=vec(alpha_mem),
            v_th=vec(node.v_th),
            bias=vec(node.bias),
            reset_interval=flat(node, "reset_interval", np.int64),
            reset_offset=flat(node, "reset_offset", np.int64),
        )

    def step(self, params: Any, state: dict[str, np.ndarray], a: np.ndarray, t: int) -> np.ndarray:
        u, v = state["u"], state["v"]
        reset = params.resets_at(t)
        if reset.any():
            # LIFReset: u and v are zeroed before the dynamics of that step.
            u[:, reset] = 0
            v[:, reset] = 0
        if params.fixed:
            return fixed_step(
                u, v, a, du=params.du, dv=params.dv, vth=params.vth, bias=params.bias
            )
        return float_step(
            u, v, a, alpha_syn=params.alpha_syn, alpha_mem=params.alpha_mem,
            v_th=params.v_th, bias=params.bias,
        )

    def run_layer(
        self, params: Any, a_in: np.ndarray, out: np.ndarray, recs: dict[str, np.ndarray]
    ) -> None:
        from neurons.lif import jit

        reset = _uniform_reset(params)
        if reset is None:  # reset intervals that differ per neuron: the reference step
            run_layer_by_steps(self, params, a_in, out, recs)
            return
        interval, offset = reset
        state_dtype = np.int64 if params.fixed else np.float64
        empty = np.zeros((0, 0, 0), dtype=state_dtype)
        u_rec, v_rec = recs.get("u", empty), recs.get("v", empty)
        if params.fixed:
            regs, integrate = _registers(params)
            jit.lif_fixed(a_in, regs, integrate, interval, offset, out, u_rec, v_rec)
        else:
            jit.lif_float(
                a_in, params.alpha_syn, params.alpha_mem, params.v_th, params.bias,
                interval, offset, out, u_rec, v_rec,
            )

    def run_dense_layer(
        self, params: Any, spikes_in: np.ndarray, weights: tuple, out: np.ndarray,
        recs: dict[str, np.ndarray],
    ) -> bool:
        """The fast engine's fused kernel: this population fed by one binary Dense projection
        without delay (`weights`: the engine's compact weights, the shifts (rs, ls) of their
        sums, `backends.cpu.fast._sum_shifts`, and the source's spike lists). False when it does
        not apply (float populations)."""
        reset = _uniform_reset(params)
        if not params.fixed or reset is None:
            return False
        from neurons.lif import jit

        empty = np.zeros((0, 0, 0), dtype=np.int64)
        regs, integrate = _registers(params)
        weight_t, weight, use_dot, max_abs, rs, ls, listed = weights
        regs = jit.pad_registers(regs, out.shape[2])  # out may be padded past the population
        # the sums' left shift and the neurons' own shift into u in one (jit.neuron_row)
        ls += jit.CURRENT_SHIFT
        jit.dense_lif(
            spikes_in, weight_t, weight, use_dot, max_abs, rs, ls, listed, regs, integrate,
            *reset, out, recs.get("u", empty), recs.get("v", empty),
        )
        return True

    def run_conv_layer(
        self, params: Any, spikes_in: np.ndarray, conv: tuple, order: np.ndarray,
        out: np.ndarray, emit: tuple, recs: dict[str, np.ndarray],
    ) -> bool:
        """The fast engine's fused kernel for this population fed by one fixed-point
        convolution (`conv`: the engine's event arguments, `neurons.jit_common.conv_input`, its
        wrap mode and the source's spike lists; `order`: the neuron of each of the sums'
        channels-last positions; `emit`: arrays for this population's spike lists, see
        `jit.conv_lif`). False when it does not apply (float populations)."""
        reset = _uniform_reset(params)
        if not params.fixed or reset is None:
            return False
        from neurons.lif import jit

        empty = np.zeros((0, 0, 0), dtype=np.int64)
        regs, integrate = _registers(params)
        jit.conv_lif(
            spikes_in, *conv, tuple(np.ascontiguousarray(r[order]) for r in regs), integrate,
            *reset, out, emit, recs.get("u", empty), recs.get("v", empty),
        )
        return True

    def reset_period(self, node: Population) -> int:
        intervals = np.unique(node.per_neuron("reset_interval"))
        return math.lcm(*(int(i) for i in intervals if i > 0)) if np.any(intervals > 0) else 0

    # -- Lava

    def lava_process(self, node: Population, name: str) -> LavaNeurons:
        from lava.proc.lif.process import LIF as LavaLIF
        from lava.proc.lif.process import LIFReset

        assert isinstance(node, QLIF)
        n = node.size
        params = dict(
            shape=(n,),
            du=int(node.du),
            dv=int(node.dv),
            vth=int(node.vth),
            bias_mant=node.per_neuron("bias_mant").astype(np.int32),
            bias_exp=node.per_neuron("bias_exp").astype(np.int32),
            name=name,
        )
        if node.reset_interval:
            proc = LIFReset(
                reset_interval=int(node.reset_interval),
                reset_offset=int(node.reset_offset),
                **params,
            )
        else:
            proc = LavaLIF(**params)
        zeros = np.zeros((n,), dtype=np.int64)
        return LavaNeurons(
            proc, proc.a_in, proc.s_out, {"u": proc.u, "v": proc.v},
            [(proc.u, zeros), (proc.v, zeros)],
        )

    # -- NIR

    def to_cuba(self, pop: Population, dt: float) -> dict[str, np.ndarray]:
        assert isinstance(pop, LIF)
        alpha_syn, alpha_mem = pop.decays(dt)
        return {"alpha_syn": alpha_syn, "alpha_mem": alpha_mem, "v_th": pop.v_th,
                "bias": pop.bias, "tau_syn": pop.tau_syn, "tau_mem": pop.tau_mem}

    def from_cuba(
        self, shape: tuple[int, ...], coeffs: dict[str, np.ndarray], dt: float
    ) -> Population:
        """LIF from discrete coefficients (tau = -dt / ln(alpha): alpha = 0 -> 0, 1 -> inf);
        each parameter one value when all neurons agree, else per neuron."""
        def tau(alpha: np.ndarray) -> np.ndarray:
            alpha = np.asarray(alpha, dtype=np.float64)
            with np.errstate(divide="ignore"):
                t = -dt / np.log(alpha)
            return np.where(alpha <= 0, 0.0, np.where(alpha >= 1, math.inf, t))

        return LIF(shape, tau_syn=_compact(tau(coeffs["alpha_syn"]), shape),
                   tau_mem=_compact(tau(coeffs["alpha_mem"]), shape),
                   v_th=_compact(coeffs["v_th"], shape), bias=_compact(coeffs["bias"], shape))


def _registers(params: FixedParams) -> tuple[tuple[np.ndarray, ...], bool]:
    """The numba kernels' int32 registers (`jit.registers32`), and whether the population is
    integrate-and-fire everywhere (du = 4095, dv = 0: keep_u = 0, keep_v = 4096), which the
    kernels update without the decay products."""
    from neurons.lif import jit

    if "registers" not in params.memo:  # once per run, not per batch chunk
        keep_u, keep_v, vth_eff = _keeps(params)
        integrate = bool(np.all(keep_u == 0) and np.all(keep_v == 4096))
        regs = jit.registers32(params.size, keep_u, keep_v, vth_eff, params.bias)
        params.memo["registers"] = regs, integrate
    return params.memo["registers"]


def _keeps(params: FixedParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-neuron (4096 - du - 1, 4096 - dv, vth << 6) for the numba kernels."""
    keep_u = np.ascontiguousarray(_P.decay_unity - (params.du + _P.current_decay_offset))
    keep_v = np.ascontiguousarray(_P.decay_unity - (params.dv + _P.voltage_decay_offset))
    return keep_u, keep_v, np.ascontiguousarray(params.vth << _P.vth_shift)


def _compact(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One value for the population when all neurons agree, else the per-neuron array."""
    flat_values = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat_values.size and np.all(
        (flat_values == flat_values[0]) | (np.isnan(flat_values) & np.isnan(flat_values[0]))
    ):
        return np.asarray(flat_values[0])
    return flat_values.reshape(shape)


MODEL = LIFModel()
