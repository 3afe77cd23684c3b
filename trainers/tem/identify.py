"""Weight identification: which weights does a target actually implement?

A diagnostic for hardware-in-the-loop runs. Given a compiled program, one of its populations, the
input spikes of a run and the spikes the *target* recorded (and, optionally, its u or v), every
neuron's spike train constrains the weights of its incoming synapses (`discrete`: below threshold
before each spike step, above it at the step). For each neuron:

1. check the program's own weights against the constraints: if they satisfy every one, the
   program reproduces the neuron's spikes exactly (exact neuron models), so nothing observable
   differs: the neuron is `consistent`;
2. otherwise find, by linear programming, the weights closest to the program (least total absolute
   change) that reproduce the spikes: a sparse change, such as one corrupted synapse, is found as
   that change;
3. bound synapses: the lowest and highest value a synapse takes over all weights that reproduce
   the spikes (two LPs per synapse), snapped to the weights the synapse format can hold (Lava's
   effective weights: e.g. even values in [-256, 254] for 8-bit mixed-sign synapses). A synapse
   whose program weight lies outside its interval certainly differs on the target; a synapse
   whose interval holds one value is identified exactly. By default only the suspects are
   bounded: the synapses the least-change solution moves, and those that could explain the
   spikes alone;
4. for every synapse, its range if it were the neuron's only changed synapse (closed form, all
   other weights as programmed): `single_change_candidates` lists the synapses for which that
   range is not empty. With one corrupted synapse this names it (and pins its value) from far
   less data than step 3 needs to prove it.

If no weights in the format reproduce the spikes, the neuron is `infeasible`: something other than
its incoming weights differs (threshold, bias, decays, delays, or states that overflowed). If
the program's weights fail but no single synapse is proven different, it is `ambiguous`: more
(or more varied) input is needed to localise the difference.

Recorded u of the target gives the drive at every step exactly (one equation per step, any du),
and recorded v gives it at steps without a spike; both pin the weights much faster than spikes
alone. Spikes alone suffice with enough varied input (the tests recover a single changed synapse
from spike times only).

The constraints are exact for integer IF neurons (du = 4095, dv = 0) and weight_exp >= 0, and
sound but looser otherwise (see `discrete`); `Identification.exact` says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.fixed import effective_weights
from ir.graph import Graph
from ir.nodes import Dense, Input, QDense, QSparse
from trainers.tem.discrete import (
    Drive,
    LinearNeuron,
    input_spikes_by_population,
    linear_neuron,
    membrane_rows,
    spike_inequalities,
    synaptic_drive,
)

__all__ = ["Identification", "NeuronReport", "SynapseEstimate", "identify_weights"]

# Slack allowed when checking a solution against integer-valued constraints (LP round-off).
_FEASIBILITY_TOL = 1e-6


@dataclass(frozen=True)
class SynapseEstimate:
    """What the spikes say about one synapse (weights in effective units, as the simulator uses)."""

    projection: str
    post: int  # neuron of the identified population
    pre: int  # neuron of the projection's source
    compiled: float  # the program's weight
    estimate: float  # in the closest weights that reproduce the target's spikes
    lower: float  # lowest value consistent with the spikes
    upper: float  # highest value consistent with the spikes
    alone: tuple[float, float] | None  # its range if it were the neuron's only changed synapse

    @property
    def pinned(self) -> bool:
        """The spikes determine this weight exactly."""
        return self.lower == self.upper

    @property
    def differs(self) -> bool:
        """The target's weight is certainly not the program's."""
        return not self.lower <= self.compiled <= self.upper

    def to_dict(self) -> dict[str, Any]:
        return {
            "projection": self.projection,
            "post": self.post,
            "pre": self.pre,
            "compiled": self.compiled,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "alone": None if self.alone is None else list(self.alone),
            "pinned": self.pinned,
            "differs": self.differs,
        }


@dataclass(frozen=True)
class NeuronReport:
    neuron: int
    status: str  # "consistent" | "differs" | "ambiguous" | "infeasible"
    constraints: int  # inequalities used
    synapses: tuple[SynapseEstimate, ...]  # bounded synapses (empty when consistent, unless asked)


@dataclass(frozen=True)
class Identification:
    """The result of `identify_weights` for one population."""

    population: str
    exact: bool  # constraints exact (integer IF neurons, weight_exp >= 0) or sound bounds
    samples: int
    steps: int
    neurons: tuple[NeuronReport, ...]

    @property
    def differing(self) -> list[SynapseEstimate]:
        """Synapses whose target weight certainly differs from the program's."""
        return [s for n in self.neurons for s in n.synapses if s.differs]

    @property
    def single_change_candidates(self) -> list[SynapseEstimate]:
        """Synapses that, changed alone, would make the program reproduce their neuron's spikes
        (in neurons whose spikes the program does not reproduce); `alone` is their value range."""
        return [
            s
            for n in self.neurons
            if n.status in ("differs", "ambiguous")
            for s in n.synapses
            if s.alone is not None
        ]

    def status_of(self, neuron: int) -> str:
        return next(n.status for n in self.neurons if n.neuron == neuron)

    def weights(self, program: Graph) -> dict[str, np.ndarray]:
        """Identified weights per incoming projection (dense (n_dst, n_src) or sparse values):
        the program's effective weights, replaced by the estimates where the spikes disagreed."""
        out: dict[str, np.ndarray] = {}
        for name, proj in program.incoming(self.population):
            base = proj.weight if isinstance(proj, (Dense, QDense)) else proj.values
            if isinstance(proj, (QDense, QSparse)):
                base = effective_weights(base, proj.num_weight_bits, proj.sign_mode)
            out[name] = np.asarray(base, dtype=np.float64).copy()
        for n in self.neurons:
            for s in n.synapses:
                proj = program.projections[s.projection]
                if out[s.projection].ndim == 2:
                    out[s.projection][s.post, s.pre] = s.estimate
                else:
                    k = np.flatnonzero((proj.rows == s.post) & (proj.cols == s.pre))[0]
                    out[s.projection][k] = s.estimate
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "population": self.population,
            "exact": self.exact,
            "samples": self.samples,
            "steps": self.steps,
            "neurons": {
                status: [n.neuron for n in self.neurons if n.status == status]
                for status in ("consistent", "differs", "ambiguous", "infeasible")
            },
            "differing_synapses": [s.to_dict() for s in self.differing],
            "single_change_candidates": [s.to_dict() for s in self.single_change_candidates],
            "bounded_synapses": [s.to_dict() for n in self.neurons for s in n.synapses],
        }


def _split_recorded(
    recorded: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """OUT.npz layout (backends.base.Trace.arrays): spikes under `pop`, states under
    `pop:u`/`pop:v`."""
    spikes, states = {}, {}
    for key, arr in recorded.items():
        pop, _, var = key.partition(":")
        if var:
            states.setdefault(pop, {})[var] = np.asarray(arr)
        else:
            spikes[pop] = np.asarray(arr)
    return spikes, states


def _decay(model: LinearNeuron, x: np.ndarray, which: str) -> np.ndarray:
    """One step of u's or v's decay, as the target computes it (truncating for QLIF)."""
    alpha = model.alpha_syn if which == "u" else model.alpha_mem
    if not model.integer:
        return alpha * x
    keep = round(alpha * 4096)
    prod = x.astype(np.int64) * keep
    return np.sign(prod) * (np.abs(prod) >> 12)


def _drive_from_states(
    model: LinearNeuron, bias: float, spikes: np.ndarray, u: np.ndarray | None, v: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """scale * a[t] recovered from recorded u (every step) or v (steps without a spike).

    Returns (values (B, T), known mask). Recorded v after a spike step is the reset value 0.
    """
    b, t_steps = spikes.shape
    t_idx = np.arange(1, t_steps + 1)
    reset = (
        (t_idx % model.reset_interval == model.reset_offset)
        if model.reset_interval
        else np.zeros(t_steps, bool)
    )
    known_u = np.zeros((b, t_steps), dtype=bool)
    u_val = np.zeros((b, t_steps))
    if u is not None:
        u_val = u.astype(np.float64)
        known_u[...] = True
    elif v is not None:
        v_prev = np.concatenate([np.zeros((b, 1)), v[:, :-1]], axis=1)
        v_prev[:, reset] = 0
        u_from_v = v - _decay(model, v_prev.astype(v.dtype), "v") - bias
        ok = ~spikes & (np.abs(v) < model.state_limit)
        u_val = np.where(ok, u_from_v, 0.0)
        known_u = ok
    u_prev = np.concatenate([np.zeros((b, 1)), u_val[:, :-1]], axis=1)
    prev_known = np.concatenate([np.ones((b, 1), dtype=bool), known_u[:, :-1]], axis=1)
    u_prev[:, reset] = 0
    prev_known[:, reset] = True
    if model.alpha_syn == 0:
        prev_known[...] = True
    if model.integer:
        scaled_a = u_val - _decay(model, u_prev.astype(np.int64), "u")
        half = 1 << 23  # u wraps to (-2^23, 2^23]: undo it on the difference
        scaled_a = np.where(
            scaled_a > half,
            scaled_a - 2 * half,
            np.where(scaled_a <= -half, scaled_a + 2 * half, scaled_a),
        )
    else:
        scaled_a = u_val - _decay(model, u_prev, "u")
    return scaled_a.astype(np.float64), known_u & prev_known


def _state_rows(
    drive: Drive, model: LinearNeuron, scaled_a: np.ndarray, known: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows G w <= h from the drive recovered from states: a[t] <= x.w <= a[t] + floor errors."""
    x = drive.x[known]
    a = scaled_a[known] / model.scale
    err = drive.error[known]
    return np.concatenate([x, -x]), np.concatenate([a + err, -a])


def _reduce(g: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Drop constant rows (checking them) and duplicate rows (keeping the tightest bound)."""
    zero = ~g.any(axis=1)
    feasible = bool(np.all(h[zero] >= -_FEASIBILITY_TOL))
    g, h = g[~zero], h[~zero]
    if g.shape[0] == 0:
        return g, h, feasible
    uniq, inverse = np.unique(g, axis=0, return_inverse=True)
    tight = np.full(uniq.shape[0], np.inf)
    np.minimum.at(tight, inverse.reshape(-1), h)
    return uniq, tight, feasible


def _linprog(
    c: np.ndarray, g: np.ndarray, h: np.ndarray, bounds: Sequence[tuple[float | None, float | None]]
):
    from scipy.optimize import linprog

    return linprog(c, A_ub=g, b_ub=h, bounds=bounds, method="highs")


def _snap(value: float, step: float, lo: bool) -> float:
    if step <= 0:
        return float(value)
    q = value / step
    return float((np.ceil(q - 1e-6) if lo else np.floor(q + 1e-6)) * step)


def _alone_interval(
    g: np.ndarray, h: np.ndarray, w0: np.ndarray, k: int, lo: float, hi: float, step: float
) -> tuple[float, float] | None:
    """Values of synapse k consistent with the rows when every other synapse keeps w0 (closed
    form)."""
    col = g[:, k]
    rest = h - g @ w0 + col * w0[k]
    slack = _FEASIBILITY_TOL * max(1.0, float(np.abs(h).max(initial=0.0)))
    if np.any(rest[col == 0] < -slack):
        return None
    up = rest[col > 0] / col[col > 0]
    down = rest[col < 0] / col[col < 0]
    low = max(float(down.max(initial=-np.inf)), lo)
    high = min(float(up.min(initial=np.inf)), hi)
    low, high = _snap(low, step, lo=True), _snap(high, step, lo=False)
    return (low, high) if low <= high else None


def _bound_synapses(
    g: np.ndarray, h: np.ndarray, drive: Drive, neuron: int, every: bool
) -> tuple[str, tuple[SynapseEstimate, ...]]:
    """Steps 2 and 3 of the module docstring for one neuron whose rows are (g, h).

    Bounds every synapse when `every`, else only the suspects: those the least-change solution
    moves, and those that alone could explain the spikes.
    """
    n = drive.compiled.size
    w0 = drive.compiled
    box = [
        (None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi)
        for lo, hi in zip(drive.lower, drive.upper, strict=True)
    ]
    # Least total change: w = w0 + p - q with p, q >= 0, minimise sum(p + q).
    pos_box = [
        (0.0, None if hi is None else max(hi - w, 0.0)) for w, (_, hi) in zip(w0, box, strict=True)
    ]
    neg_box = [
        (0.0, None if lo is None else max(w - lo, 0.0)) for w, (lo, _) in zip(w0, box, strict=True)
    ]
    res = _linprog(np.ones(2 * n), np.concatenate([g, -g], axis=1), h - g @ w0, pos_box + neg_box)
    if res.status != 0:
        return "infeasible", ()
    estimate = w0 + res.x[:n] - res.x[n:]
    alone = [
        _alone_interval(g, h, w0, k, drive.lower[k], drive.upper[k], drive.step[k])
        for k in range(n)
    ]
    moved = np.abs(estimate - w0) > 1e-6 * np.maximum(1.0, np.abs(w0))
    synapses = []
    for k in range(n):
        if not (every or moved[k] or alone[k] is not None):
            continue
        c = np.zeros(n)
        c[k] = 1.0
        low = _linprog(c, g, h, box)
        high = _linprog(-c, g, h, box)
        if low.status != 0 or high.status != 0:
            return "infeasible", ()
        lo = _snap(low.x[k], drive.step[k], lo=True)
        hi = _snap(high.x[k], drive.step[k], lo=False)
        est = (
            _snap(estimate[k], drive.step[k], lo=True) if drive.step[k] > 0 else float(estimate[k])
        )
        est = min(max(est, lo), hi) if lo <= hi else est
        proj, pre = drive.synapses[k]
        synapses.append(SynapseEstimate(proj, neuron, pre, float(w0[k]), est, lo, hi, alone[k]))
    status = "differs" if any(s.differs for s in synapses) else "ambiguous"
    return status, tuple(synapses)


def _check_recorded(
    program: Graph, label: str, population: str, arr: np.ndarray, batch_steps: tuple[int, int]
) -> None:
    """A recorded array must be (batch, T, n) of the run, finite."""
    pop = program.populations.get(population)
    if pop is None:
        raise InputError(
            f"recorded trace: {label}: {population!r} is not a population of the program"
        )
    want = (*batch_steps, pop.size)
    if arr.shape != want:
        raise InputError(
            f"recorded trace: {label} has shape {arr.shape}, expected {want} (batch, T, n)"
        )
    if arr.dtype.kind not in "iubf" or (arr.dtype.kind == "f" and not np.all(np.isfinite(arr))):
        raise InputError(f"recorded trace: {label} must hold finite numbers")


def identify_weights(
    program: Graph,
    population: str,
    inputs: np.ndarray,
    recorded: Mapping[str, np.ndarray],
    *,
    neurons: Sequence[int] | None = None,
    bound_all: bool = False,
    use_states: bool = True,
) -> Identification:
    """Identify the weights into `population` that a target implements (module docstring).

    `inputs`: the run's input spikes (B, T, n_inputs). `recorded`: the target's trace in OUT.npz
    layout: `population` -> its spikes (B, T, n), plus the spikes of every non-input source
    population of its incoming projections, and optionally `population:u` / `population:v`.
    `neurons`: which neurons to examine (default all). By default only the neurons whose spikes
    the program does not reproduce are analysed, and only their suspect synapses are bounded (two
    LPs each); `bound_all` bounds every synapse of every examined neuron. `use_states=False`
    ignores recorded u and v.
    """
    pop = program.populations.get(population)
    if pop is None or isinstance(pop, Input):
        names = [n for n, p in program.populations.items() if not isinstance(p, Input)]
        raise InputError(
            f"population {population!r} is not a neuron population of the program; have: "
            f"{', '.join(names)}"
        )
    model = linear_neuron(pop, program.dt)  # type: ignore[arg-type]
    spikes_by_pop, states = _split_recorded(recorded)
    sources = {**input_spikes_by_population(program, inputs), **spikes_by_pop}
    own = sources.get(population)
    if own is None:
        raise InputError(f"the recorded trace has no spikes for {population!r}")
    b, t_steps = np.asarray(inputs).shape[:2]
    for name, arr in sorted(spikes_by_pop.items()):
        _check_recorded(program, f"{name} spikes", name, arr, (b, t_steps))
    own = np.asarray(own).astype(bool)
    u_rec = states.get(population, {}).get("u") if use_states else None
    v_rec = states.get(population, {}).get("v") if use_states else None
    for var, arr in (("u", u_rec), ("v", v_rec)):
        if arr is not None:
            _check_recorded(program, f"{population}:{var}", population, arr, (b, t_steps))
    exact = model.exact
    reports = []
    for j in range(pop.size) if neurons is None else neurons:
        if not 0 <= j < pop.size:
            raise InputError(f"neuron {j} is outside population {population!r} (size {pop.size})")
        drive = synaptic_drive(program, population, j, sources)
        exact = exact and not drive.error.any()
        rows = membrane_rows(drive.x, own[:, :, j], model, drive.error)
        g, h = spike_inequalities(
            rows, own[:, :, j], float(model.threshold[j]), float(model.bias[j]), model.integer
        )
        if u_rec is not None or v_rec is not None:
            scaled_a, known = _drive_from_states(
                model,
                float(model.bias[j]),
                own[:, :, j],
                None if u_rec is None else u_rec[:, :, j],
                None if v_rec is None else v_rec[:, :, j],
            )
            gs, hs = _state_rows(drive, model, scaled_a, known)
            g, h = np.concatenate([g, gs]), np.concatenate([h, hs])
        slack = _FEASIBILITY_TOL * max(1.0, float(np.abs(h).max(initial=0.0)))
        consistent = bool(np.all(g @ drive.compiled <= h + slack))
        if consistent and not bound_all:
            reports.append(NeuronReport(j, "consistent", int(g.shape[0]), ()))
            continue
        gr, hr, feasible = _reduce(g, h)
        if not feasible:
            reports.append(NeuronReport(j, "infeasible", int(g.shape[0]), ()))
            continue
        status, synapses = _bound_synapses(gr, hr, drive, j, every=bound_all)
        if consistent and status != "infeasible":
            status = "consistent"
        reports.append(NeuronReport(j, status, int(g.shape[0]), synapses))
    return Identification(
        population=population,
        exact=exact,
        samples=int(b),
        steps=int(t_steps),
        neurons=tuple(reports),
    )
