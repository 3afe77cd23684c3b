"""The CPU simulator: a step-by-step interpreter over a graph, batched over samples.

Timing (Lava's, see reference profile): at step t = 1..T each projection delivers what its
source emitted at step t - 1 - delay (so nothing arrives at t = 1), summed per destination; then
every neuron population updates and emits. Input populations emit inputs[:, t-1]. Steps beyond
the input's length get no input spikes.

`run` executes fixed-point programs (bit-accurate); `run_float` executes float-domain graphs with
the same structure and timing. Placement does not change the result (the simulator computes the
whole population at once; `tests` check that partitioned programs agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ir.errors import InputError, UnsupportedNodeError
from ir.fixed import LAVA_FIXED_PT
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import (
    LIF,
    QLIF,
    Conv2d,
    Dense,
    Input,
    Projection,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
)
from ir.arrays_io import check_spikes
from ir.verify import verify

from backends.base import Probe, Trace, default_probes
from backends.cpu import kernels

__all__ = ["run", "run_float"]

_EXACT_F64 = float(1 << 53)


@dataclass
class _Proj:
    """A projection prepared for simulation: callable on the source's spike history."""

    name: str
    src: str
    dst: str
    delays: tuple[int, ...]  # distinct delay values
    apply: object  # (spikes at t-1-d for each d) -> contribution to dst, flat (B, n_dst)


def _prepare_inputs(graph: Graph, inputs: np.ndarray, steps: int | None) -> tuple[np.ndarray, int]:
    message_bits = max((graph.populations[n].message_bits for n in graph.inputs), default=0)
    arr = check_spikes(inputs, graph.n_inputs, message_bits=message_bits)
    t = arr.shape[1] if steps is None else int(steps)
    if t <= 0:
        raise InputError(f"steps must be positive, got {t}")
    return arr, t


def _dense_apply(weight: np.ndarray, delay: np.ndarray, fixed: bool, weight_exp: int, max_payload: int):
    """Build the per-step function of a dense (or densified sparse) projection."""
    w = weight.astype(np.float64)
    if delay.ndim == 0:
        groups = {int(delay): w}
    else:
        groups = {int(d): np.where(delay == d, w, 0.0) for d in np.unique(delay)}
    exact = (not fixed) or float(np.abs(weight).sum(axis=1).max(initial=0)) * max_payload < _EXACT_F64
    wt = {d: m.T.copy() for d, m in groups.items()}
    wt_int = {d: m.T.astype(np.int64) for d, m in groups.items()} if fixed and not exact else None

    def apply(history: dict[int, np.ndarray]) -> np.ndarray:
        if fixed:
            if wt_int is not None:
                acc = sum(history[d].astype(np.int64) @ wt_int[d] for d in wt_int)
            else:
                acc = np.rint(sum(history[d].astype(np.float64) @ wt[d] for d in wt)).astype(np.int64)
            return kernels.shift_sum(acc, weight_exp)
        return sum(history[d].astype(np.float64) @ wt[d] for d in wt)

    return tuple(sorted(groups)), apply


def _build_projection(graph: Graph, name: str, proj: Projection) -> _Proj:
    src_pop, dst_pop = graph.populations[proj.src], graph.populations[proj.dst]
    payload = 1 << (src_pop.message_bits - 1) if isinstance(src_pop, Input) and src_pop.message_bits else 1
    if isinstance(proj, (Dense, QDense)):
        fixed = isinstance(proj, QDense)
        weight = kernels.fixed_dense_weights(proj) if fixed else proj.weight
        delays, apply = _dense_apply(weight, proj.delay, fixed, getattr(proj, "weight_exp", 0), payload)
        return _Proj(name, proj.src, proj.dst, delays, apply)
    if isinstance(proj, (Sparse, QSparse)):
        fixed = isinstance(proj, QSparse)
        values = kernels.effective_weights(proj.values, proj.num_weight_bits, proj.sign_mode) if fixed else proj.values
        dense = np.zeros((dst_pop.size, src_pop.size))
        dense[proj.rows, proj.cols] = values
        if proj.delay.ndim:
            delay = np.zeros(dense.shape, dtype=np.int64)
            delay[proj.rows, proj.cols] = proj.delay
        else:
            delay = proj.delay
        delays, apply = _dense_apply(dense, delay, fixed, getattr(proj, "weight_exp", 0), payload)
        return _Proj(name, proj.src, proj.dst, delays, apply)
    if isinstance(proj, (Conv2d, QConv2d)):
        fixed = isinstance(proj, QConv2d)
        shape = src_pop.shape

        def apply(history: dict[int, np.ndarray]) -> np.ndarray:
            x = history[0].reshape((-1, *shape))
            if fixed:
                out = kernels.fixed_conv_output(x, proj.weight, proj)
            else:
                out = kernels.conv2d(x, proj.weight, proj.stride, proj.padding, proj.dilation, proj.groups)
            return out.reshape(len(x), -1)

        return _Proj(name, proj.src, proj.dst, (0,), apply)
    raise UnsupportedNodeError(name, type(proj).__name__, ["Dense", "Sparse", "Conv2d", "QDense", "QSparse", "QConv2d"], "the cpu backend")


def _simulate(graph: Graph, inputs: np.ndarray, steps: int, probes: Sequence[Probe], fixed: bool, backend: str) -> Trace:
    batch = inputs.shape[0]
    pops = graph.populations
    neuron_names = [n for n, p in pops.items() if not isinstance(p, Input)]
    for n in neuron_names:
        want = QLIF if fixed else LIF
        if not isinstance(pops[n], want):
            raise UnsupportedNodeError(n, type(pops[n]).__name__, [want.__name__, "Input"], f"the {backend} backend")
    projs = [_build_projection(graph, n, p) for n, p in graph.projections.items()]
    max_delay = max((max(p.delays) for p in projs), default=0)
    dtype = np.int64 if fixed else np.float64
    # Spike history per population: ring of the last max_delay + 1 steps (index 0 = t-1).
    history = {n: [np.zeros((batch, p.size), dtype=dtype) for _ in range(max_delay + 1)] for n, p in pops.items()}
    # Input slices, in graph order.
    offsets, start = {}, 0
    for n in graph.inputs:
        offsets[n] = (start, start + pops[n].size)
        start += pops[n].size
    state = {}
    for n in neuron_names:
        p = pops[n]
        u = np.zeros((batch, p.size), dtype=dtype)
        v = np.zeros((batch, p.size), dtype=dtype)
        if fixed:
            params = dict(du=p.du, dv=p.dv, vth=p.vth,
                          bias=kernels.effective_bias(p.per_neuron("bias_mant"), p.per_neuron("bias_exp")))
        else:
            alpha_syn, alpha_mem = p.decays(graph.dt)
            params = dict(alpha_syn=np.broadcast_to(alpha_syn.reshape(-1) if alpha_syn.ndim else alpha_syn, (p.size,)),
                          alpha_mem=np.broadcast_to(alpha_mem.reshape(-1) if alpha_mem.ndim else alpha_mem, (p.size,)),
                          v_th=p.per_neuron("v_th"), bias=p.per_neuron("bias"))
        state[n] = (u, v, params)
    rec = {pr.population: {var: np.zeros((batch, steps, pops[pr.population].size),
                                         dtype=np.uint8 if var == "spikes" else (np.int64 if fixed else np.float64))
                           for var in pr.variables} for pr in probes}
    t_in = inputs.shape[1]
    for t in range(1, steps + 1):
        acc = {n: np.zeros((batch, pops[n].size), dtype=dtype) for n in neuron_names}
        for pr in projs:
            hist = {d: history[pr.src][d] for d in pr.delays}
            acc[pr.dst] += pr.apply(hist)
        emitted = {}
        for n in graph.inputs:
            lo, hi = offsets[n]
            emitted[n] = inputs[:, t - 1, lo:hi].astype(dtype) if t <= t_in else np.zeros((batch, hi - lo), dtype=dtype)
        for n in neuron_names:
            u, v, params = state[n]
            p = pops[n]
            if p.reset_interval and t % p.reset_interval == p.reset_offset:
                u[...] = 0
                v[...] = 0
            if fixed:
                s = kernels.fixed_lif_step(u, v, acc[n], **params)
            else:
                s = kernels.float_lif_step(u, v, acc[n], **params)
            emitted[n] = s.astype(dtype)
            if n in rec:
                r = rec[n]
                if "spikes" in r:
                    r["spikes"][:, t - 1] = s
                if "u" in r:
                    r["u"][:, t - 1] = u
                if "v" in r:
                    r["v"][:, t - 1] = v
        for n, s in emitted.items():
            ring = history[n]
            ring.insert(0, s)
            ring.pop()
    return Trace(backend=backend, steps=steps, batch=batch, data=rec)


def run(graph: Graph, inputs: np.ndarray, steps: int | None = None, probes: Sequence[Probe] | None = None,
        hw: HardwareSpec | None = None) -> Trace:
    """Run a fixed-point program bit-exactly (Lava fixed_pt semantics)."""
    verify(graph, hw)
    if graph.domain != "fixed" and graph.projections:
        raise InputError("the cpu backend runs compiled (fixed-point) programs; use --backend float for a float model, or `snnc compile` it first")
    if hw is not None and hw.semantics != LAVA_FIXED_PT.name:
        raise InputError(f"the cpu backend implements {LAVA_FIXED_PT.name}, the target uses {hw.semantics}")
    arr, t = _prepare_inputs(graph, inputs, steps)
    return _simulate(graph, arr, t, probes or default_probes(graph), fixed=True, backend="cpu")


def run_float(graph: Graph, inputs: np.ndarray, steps: int | None = None, probes: Sequence[Probe] | None = None,
              hw: HardwareSpec | None = None) -> Trace:
    """Run a float-domain graph with the fixed-point programs' structure and timing."""
    verify(graph)
    if graph.domain != "float":
        raise InputError("the float backend runs float models; run a compiled program with --backend cpu or lava")
    arr, t = _prepare_inputs(graph, inputs, steps)
    return _simulate(graph, arr, t, probes or default_probes(graph), fixed=False, backend="float")
