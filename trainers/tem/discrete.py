"""Spike trains of snnc's deployed neurons as linear constraints on their weights.

The discrete-time counterpart of the t-transform. For one neuron of a `QLIF` (Lava's bit-accurate
LIF) or float `LIF` population, with the spikes it emitted known, the membrane potential before
the spike test at every step is a linear function of the neuron's incoming weights and its bias:

    v_pre[t] = coef[t] . w + bias_coef[t] * bias   (+ an error |err[t]| <= bound[t], see below)

because (ir.nodes.QLIF / LIF docstrings)
- every projection delivers what its source emitted at t - 1 - delay, so the drive
  a[t] = sum_i w_i x_i[t] with x_i[t] = s_i[t - 1 - d_i] (a[1] = 0), times 2**weight_exp;
- u[t] = alpha_syn u[t-1] + scale * a[t]      (scale = 64: Lava's `a << 6`; 1 for float LIF)
- v[t] = alpha_mem v[t-1] + u[t] + bias       (fixed: bias = bias_mant << bias_exp, not << 6)
- a spike at t resets v to exactly 0 (u is not reset), and LIFReset zeroes u and v at
  t % reset_interval == reset_offset before the update.
The known spikes fix where the resets happen, so `coef` and `bias_coef` follow from one linear
recursion (`membrane_rows`). The spike test then gives one inequality per step:

    no spike at t:   v_pre[t] <= theta
    spike at t:      v_pre[t] >  theta   (v is an integer in QLIF, so v_pre[t] >= theta + 1)

with theta = vth << 6 (QLIF) or v_th (LIF). Below threshold before the spike step and above it
at the step: one output spike train pins the weights into a polytope.

What is exact and what is approximate:
- exact: float LIF (any decays; linear up to float rounding), and QLIF with du = 4095 and dv = 0
  (u is this step's drive, v does not leak: an integer IF neuron) with weight_exp >= 0.
- approximate (sound bounds): QLIF with other du/dv. Lava's decays truncate toward zero,
  trunc(u (4095 - du) / 4096), which is not linear; each truncation moves the value by less than 1,
  so the linear recursion is kept and `bound[t]` accumulates those errors through the same decays
  (u's error is never reset, v's restarts at 0 after a spike). weight_exp < 0 floors the summed
  drive (an error in [0, 1) per projection, delay slot and step, times `scale`), added to the bound
  the same way.
  Constraints built with the bound are necessary conditions: the true weights always satisfy
  them, they just pin the weights less tightly.
- not modelled: u's 24-bit wrap and v's saturation at +-(2^23 - 1); a program whose states reach
  them is outside the linear model (callers check by simulating the identified weights).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ir.errors import InputError, UnsupportedNodeError
from ir.fixed import LAVA_FIXED_PT, effective_weights
from ir.graph import Graph
from ir.nodes import LIF, QLIF, Dense, QDense, QSparse, Sparse

__all__ = [
    "Drive",
    "LinearNeuron",
    "MembraneRows",
    "input_spikes_by_population",
    "linear_neuron",
    "membrane_rows",
    "spike_inequalities",
    "synaptic_drive",
]


@dataclass(frozen=True)
class LinearNeuron:
    """A population's dynamics as a linear recursion in its drive (module docstring)."""

    alpha_syn: float  # u retention per step
    alpha_mem: float  # v retention per step
    scale: float  # the drive enters u as scale * a
    threshold: np.ndarray  # (n,) spike when v > threshold
    bias: np.ndarray  # (n,) added to v every step
    integer: bool  # v is an integer (QLIF)
    u_truncates: bool  # u's decay truncates toward zero (error < 1 per step)
    v_truncates: bool
    reset_interval: int
    reset_offset: int
    state_limit: float  # |v| at which the hardware saturates (inf for float)

    @property
    def exact(self) -> bool:
        return not (self.u_truncates or self.v_truncates)


def linear_neuron(pop: QLIF | LIF, dt: float) -> LinearNeuron:
    """The linear view of a QLIF or LIF population."""
    prof = LAVA_FIXED_PT
    if isinstance(pop, QLIF):
        unity = prof.decay_unity
        du_keep = unity - (
            pop.du + prof.current_decay_offset
        )  # 0 when du = 4095: u = this step's drive
        dv_keep = unity - (pop.dv + prof.voltage_decay_offset)  # unity when dv = 0: no leak
        mant = pop.per_neuron("bias_mant").astype(np.int64)
        exp = pop.per_neuron("bias_exp").astype(np.int64)
        bias = np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))
        return LinearNeuron(
            alpha_syn=du_keep / unity,
            alpha_mem=dv_keep / unity,
            scale=float(1 << prof.activation_shift),
            threshold=np.full(pop.size, float(pop.vth << prof.vth_shift)),
            bias=bias.astype(np.float64),
            integer=True,
            u_truncates=du_keep not in (0, unity),
            v_truncates=dv_keep not in (0, unity),
            reset_interval=pop.reset_interval,
            reset_offset=pop.reset_offset,
            state_limit=float(prof.state_max),
        )
    if isinstance(pop, LIF):
        alpha_syn, alpha_mem = pop.decays(dt)
        if alpha_syn.ndim or alpha_mem.ndim:
            if np.ptp(alpha_syn) > 0 or np.ptp(alpha_mem) > 0:
                raise InputError(
                    "linear neuron model: per-neuron time constants are not supported; use one "
                    "value per population"
                )
            alpha_syn, alpha_mem = alpha_syn.reshape(-1)[0], alpha_mem.reshape(-1)[0]
        return LinearNeuron(
            alpha_syn=float(alpha_syn),
            alpha_mem=float(alpha_mem),
            scale=1.0,
            threshold=pop.per_neuron("v_th").astype(np.float64),
            bias=pop.per_neuron("bias").astype(np.float64),
            integer=False,
            u_truncates=False,
            v_truncates=False,
            reset_interval=pop.reset_interval,
            reset_offset=pop.reset_offset,
            state_limit=float("inf"),
        )
    raise UnsupportedNodeError(
        "population", type(pop).__name__, ["LIF", "QLIF"], "the spike-time constraint model"
    )


@dataclass(frozen=True)
class MembraneRows:
    """v_pre[b, t] = coef[b, t] . w + bias_coef[b, t] * bias, with |error| <= bound[b, t]."""

    coef: np.ndarray  # (B, T, n)
    bias_coef: np.ndarray  # (B, T)
    bound: np.ndarray  # (B, T)


def membrane_rows(
    drive: np.ndarray,
    spikes: np.ndarray,
    model: LinearNeuron,
    drive_error: np.ndarray | None = None,
) -> MembraneRows:
    """The linear recursion of the module docstring for one neuron.

    `drive` (B, T, n): x_i[t], the per-synapse input arriving at step t (already delayed and
    multiplied by 2**weight_exp), so that a[t] = drive[:, t] . w. `spikes` (B, T): the neuron's
    own spikes (observed, or the targets when training). `drive_error` (B, T): a bound on
    |a[t] - drive[:, t] . w| (the floor of negative weight exponents), in drive units.
    """
    x = np.asarray(drive, dtype=np.float64)
    b, t_steps, n = x.shape
    s = np.asarray(spikes, dtype=bool)
    if s.shape != (b, t_steps):
        raise InputError(f"spikes have shape {s.shape}, the drive needs ({b}, {t_steps})")
    coef = np.empty((b, t_steps, n))
    bias_coef = np.empty((b, t_steps))
    bound = np.empty((b, t_steps))
    u = np.zeros((b, n))
    v = np.zeros((b, n))
    vb = np.zeros(b)
    eu = np.zeros(b)
    ev = np.zeros(b)
    u_step_err = 1.0 if model.u_truncates else 0.0
    v_step_err = 1.0 if model.v_truncates else 0.0
    for t in range(1, t_steps + 1):
        if model.reset_interval and t % model.reset_interval == model.reset_offset:
            u[...] = 0.0
            v[...] = 0.0
            vb[...] = 0.0
            eu[...] = 0.0
            ev[...] = 0.0
        u *= model.alpha_syn
        u += model.scale * x[:, t - 1]
        eu *= model.alpha_syn
        eu += u_step_err
        if drive_error is not None:
            eu += model.scale * drive_error[:, t - 1]
        v *= model.alpha_mem
        v += u
        vb *= model.alpha_mem
        vb += 1.0
        ev *= model.alpha_mem
        ev += eu + v_step_err
        coef[:, t - 1] = v
        bias_coef[:, t - 1] = vb
        bound[:, t - 1] = ev
        fired = s[:, t - 1]
        v[fired] = 0.0
        vb[fired] = 0.0
        ev[fired] = 0.0
    return MembraneRows(coef=coef, bias_coef=bias_coef, bound=bound)


def spike_inequalities(
    rows: MembraneRows,
    spikes: np.ndarray,
    threshold: float,
    bias: float,
    integer: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(G, h) with G w <= h: the spike test at every step (module docstring), one row per
    (sample, step) in sample-major order."""
    fired = np.asarray(spikes, dtype=bool).reshape(-1)
    coef = rows.coef.reshape(fired.size, -1)
    const = rows.bias_coef.reshape(-1) * bias
    bound = rows.bound.reshape(-1)
    above = threshold + (1.0 if integer else 0.0)
    # not fired: coef.w <= theta - const + bound;  fired: -coef.w <= -(above - const - bound)
    sign = np.where(fired, -1.0, 1.0)
    h = np.where(fired, -(above - const - bound), threshold - const + bound)
    return coef * sign[:, None], h


@dataclass(frozen=True)
class Drive:
    """The synapses into one neuron as unknowns, and what they deliver at each step.

    `x[b, t, k]`: what synapse k delivers at step t, already times 2**weight_exp (drive units);
    `error[b, t]`: bound on the floor error of negative weight exponents; `synapses[k]` is
    (projection, pre-synaptic index); `compiled[k]` the program's (effective) weight;
    `lower`/`upper`/`step`: the values a weight of that projection can take.
    """

    x: np.ndarray
    error: np.ndarray
    synapses: tuple[tuple[str, int], ...]
    compiled: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    step: np.ndarray


def _weight_grid(node: QDense | QSparse) -> tuple[float, float, float]:
    """(lowest, highest, spacing) of the effective weights Lava can realise for this projection."""
    lo_hi = effective_weights(
        np.array([-(1 << 31), (1 << 31) - 1]), node.num_weight_bits, node.sign_mode
    )
    k = LAVA_FIXED_PT.max_weight_bits - node.num_weight_bits + (node.sign_mode == "mixed")
    return float(lo_hi.min()), float(lo_hi.max()), float(1 << max(k, 0))


def synaptic_drive(
    graph: Graph, population: str, neuron: int, source_spikes: Mapping[str, np.ndarray]
) -> Drive:
    """The Drive of neuron `neuron` of `population`, from the spikes of every source population.

    `source_spikes[name]` is (B, T, n_name) for each source of an incoming projection. Graded
    input payloads multiply like spikes do. Dense projections contribute every pre-synaptic
    neuron, sparse ones the synapses that exist in the program.
    """
    cols, steps_err = [], None
    synapses: list[tuple[str, int]] = []
    compiled, lower, upper, step = [], [], [], []
    incoming = graph.incoming(population)
    if not incoming:
        raise InputError(f"population {population!r} has no incoming projections")
    for name, proj in incoming:
        if not isinstance(proj, (Dense, QDense, Sparse, QSparse)):
            raise UnsupportedNodeError(
                name,
                type(proj).__name__,
                ["Dense", "QDense", "Sparse", "QSparse"],
                "weight identification",
            )
        src = source_spikes.get(proj.src)
        if src is None:
            raise InputError(
                f"projection {name!r}: the spikes of its source {proj.src!r} were not given "
                "(record them)"
            )
        src = np.asarray(src)
        if isinstance(proj, (Dense, QDense)):
            pre = np.arange(proj.weight.shape[1])
            values = proj.weight[neuron]
            delays = proj.delay[neuron] if proj.delay.ndim else np.full(pre.size, int(proj.delay))
        else:
            sel = np.flatnonzero(proj.rows == neuron)
            pre = proj.cols[sel]
            values = proj.values[sel]
            delays = proj.delay[sel] if proj.delay.ndim else np.full(pre.size, int(proj.delay))
        fixed = isinstance(proj, (QDense, QSparse))
        exp = proj.weight_exp if fixed else 0
        if fixed:
            values = effective_weights(values, proj.num_weight_bits, proj.sign_mode)
            lo, hi, sp = _weight_grid(proj)
        else:
            lo, hi, sp = -np.inf, np.inf, 0.0
        b, t_steps = src.shape[:2]
        x = np.zeros((b, t_steps, pre.size))
        for k, (i, d) in enumerate(zip(pre, delays, strict=True)):
            lag = 1 + int(d)  # one step of every projection, plus its delay
            if lag < t_steps:
                x[:, lag:, k] = src[:, : t_steps - lag, i]
        x *= 2.0**exp
        if exp < 0:
            # The shift floors each delay slot's sum separately (Lava's DelayDense keeps one
            # accumulator per delay): up to one unit of error per slot that received input.
            active = sum(
                (
                    (x[:, :, delays == d] != 0).any(axis=2).astype(np.float64)
                    for d in np.unique(delays)
                ),
                np.zeros(x.shape[:2]),
            )
            steps_err = active if steps_err is None else steps_err + active
        cols.append(x)
        synapses.extend((name, int(i)) for i in pre)
        compiled.append(np.asarray(values, dtype=np.float64))
        lower.append(np.full(pre.size, lo))
        upper.append(np.full(pre.size, hi))
        step.append(np.full(pre.size, sp))
    shapes = {c.shape[:2] for c in cols}
    if len(shapes) != 1:
        raise InputError(
            f"source spike arrays of {population!r} differ in (batch, steps): {sorted(shapes)}"
        )
    x = np.concatenate(cols, axis=2)
    error = steps_err if steps_err is not None else np.zeros(x.shape[:2])
    return Drive(
        x=x,
        error=error,
        synapses=tuple(synapses),
        compiled=np.concatenate(compiled),
        lower=np.concatenate(lower),
        upper=np.concatenate(upper),
        step=np.concatenate(step),
    )


def input_spikes_by_population(graph: Graph, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Split a run's input array (B, T, n_inputs) into one array per Input population."""
    arr = np.asarray(inputs)
    if arr.ndim != 3 or arr.shape[2] != graph.n_inputs:
        raise InputError(f"inputs: expected shape (batch, T, {graph.n_inputs}), got {arr.shape}")
    out, start = {}, 0
    for name in graph.inputs:
        size = graph.populations[name].size
        out[name] = arr[:, :, start : start + size]
        start += size
    return out
