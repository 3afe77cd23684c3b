"""The reference engine: a step-by-step interpreter, batched over samples.

It is written to be obviously equal to Lava's models, not fast: every step, every projection
computes its output from its source's emission history with exact int64 arithmetic and then
applies the int32/int24 wraps of the Lava model it stands for (`kernels`). The fast engine is
tested against it, and it is tested against Lava itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from backends.base import Probe
from backends.cpu import kernels
from backends.cpu.network import Net, Neurons, Synapses
from ir.conv import conv2d

__all__ = ["connection_output", "neuron_step", "record_arrays", "simulate"]

_PRODUCT_OVERFLOW = (
    1 << 31
)  # the one int32 product of an 8-bit weight and a 24-bit payload that wraps


def _delayed_dense_graded_correction(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """2^32 times the number of products w * p that equal 2^31 (they wrap to -2^31 in Lava's
    DelayDense, which multiplies int32 weights by int32 payloads elementwise)."""
    neg_w = (w == -256).astype(np.int64)
    if not neg_w.any():
        return np.zeros((x.shape[0], w.shape[0]), dtype=np.int64)
    neg_p = (x == -(1 << 23)).astype(np.int64)
    return (neg_p @ neg_w.T) << 32


def _group_sum(syn: Synapses, w, x: np.ndarray) -> np.ndarray:
    if syn.kind == "dense":
        acc = x @ w.T
    else:
        acc = np.asarray((w @ x.T).T)
    if (
        syn.fixed
        and syn.kind == "dense"
        and syn.delayed
        and syn.graded
        and syn.payload_max >= _PRODUCT_OVERFLOW >> 8
    ):
        if syn.payload_max > _PRODUCT_OVERFLOW >> 8:
            # Payloads beyond 24 bits (graded neuron models send int32): every int32 product
            # may wrap, so take them one by one.
            return kernels.wrap32(w[None, :, :] * x[:, None, :]).sum(axis=2)
        acc = acc - _delayed_dense_graded_correction(x, w)
    return acc


def connection_output(syn: Synapses, lagged: Callable[[int], np.ndarray], batch: int) -> np.ndarray:
    """What `syn` delivers at one step; `lagged(k)` is the source's emission at t - 1 - k,
    shape (batch, n_src) (int64 payloads or float64 spikes; zeros before step 1)."""
    if syn.kind == "conv":
        x = lagged(0).reshape((batch, *syn.src_shape))
        node = syn.conv
        total = conv2d(
            x, node.weight, node.stride, node.padding, node.dilation, node.groups
        )
        total = total.reshape(batch, -1)
        return kernels.conv_output_fixed(total) if syn.fixed else total
    if not syn.fixed:
        out = np.zeros((batch, syn.n_dst), dtype=np.float64)
        for k, w in syn.groups:
            out += _group_sum(syn, w, lagged(k))
        return out
    out = np.zeros((batch, syn.n_dst), dtype=np.int64)
    for k, w in syn.groups:
        acc = _group_sum(syn, w, lagged(k))
        if syn.mode == kernels.SHIFT_THEN_WRAP:
            out += kernels.shift64(acc, syn.weight_exp)
        else:
            out += kernels.shift_wrapped32(kernels.wrap32(acc), syn.weight_exp)
    return kernels.wrap32(out)


def neuron_step(pop: Neurons, state: dict[str, np.ndarray], a: np.ndarray, t: int) -> np.ndarray:
    """One update of `pop` at step t by its model's reference step, in place on `state`;
    returns what it sends (bool spikes, or graded payloads)."""
    return pop.model.step(pop.params, state, a, t)


def record_arrays(
    net: Net, probes: Sequence[Probe], batch: int, steps: int
) -> dict[str, dict[str, np.ndarray]]:
    """Zeroed records: binary spikes as uint8, graded payloads and states as int64 (fixed) or
    float64 (float)."""
    state_dtype = np.int64 if net.fixed else np.float64
    return {
        p.population: {
            var: np.zeros(
                (batch, steps, net.sizes[p.population]),
                dtype=np.uint8 if var == "spikes" and not net.graded[p.population] else state_dtype,
            )
            for var in p.variables
        }
        for p in probes
    }


def simulate(
    net: Net, inputs: np.ndarray, steps: int, probes: Sequence[Probe]
) -> dict[str, dict[str, np.ndarray]]:
    """Run `net` on `inputs` (batch, T_in, n_inputs) for `steps` steps; returns the records."""
    batch = inputs.shape[0]
    dtype = np.int64 if net.fixed else np.float64
    depth = net.max_lag + 1
    # history[pop][j]: what pop emitted at step t - 1 - j (zeros before step 1).
    history = {
        n: [np.zeros((batch, size), dtype=dtype) for _ in range(depth)]
        for n, size in net.sizes.items()
    }
    state = {n: p.model.initial_state(p.params, batch) for n, p in net.neurons.items()}
    rec = record_arrays(net, probes, batch, steps)
    t_in = inputs.shape[1]
    incoming: Mapping[str, list[Synapses]] = {n: net.incoming(n) for n in net.neurons}
    for t in range(1, steps + 1):
        emitted: dict[str, np.ndarray] = {}
        for n, (lo, hi) in net.inputs.items():
            emitted[n] = (
                inputs[:, t - 1, lo:hi].astype(dtype)
                if t <= t_in
                else np.zeros((batch, hi - lo), dtype=dtype)
            )
        for n, pop in net.neurons.items():
            a = np.zeros((batch, net.input_width(n)), dtype=dtype)
            for syn in incoming[n]:
                ring = history[syn.src]
                a[:, syn.columns()] += connection_output(syn, lambda k, ring=ring: ring[k], batch)
            if net.fixed:
                a = kernels.wrap32(a)  # the int32 sum of the received messages
            s = neuron_step(pop, state[n], a, t)
            emitted[n] = s.astype(dtype)
            r = rec.get(n)
            if r is not None:
                for var, arr in r.items():
                    arr[:, t - 1] = s if var == "spikes" else state[n][var]
        for n, s in emitted.items():
            ring = history[n]
            ring.insert(0, s)
            ring.pop()
    return rec
