"""The fast engine: the reference semantics, scheduled layer at a time.

Every projection delivers at step t what its source emitted at t - 1 - k, so a population
that is not on a cycle can be computed for all T steps as soon as its sources are: first its
input current for every step (one pass over the source's whole spike train), then its neuron
dynamics over the steps. The graph is cut into strongly connected components in topological
order; a component that is one population without a self-projection runs layer at a time, a
component with a cycle (recurrent projections) runs step by step with the reference
computations, its input from outside the component still precomputed for all steps.

Exactness (each condition is checked, and the computation falls back to the reference
arithmetic when it does not hold):
- integer sums are computed in int32 by numba kernels (binary spikes: event-driven, adding
  the weight rows of the sources that spiked) or in float64 BLAS (graded payloads); both are
  exact when every sum a population receives in one step is below 2^31 in magnitude (bound:
  sum over projections of max_dst sum|w| * max|payload| << max(weight_exp, 0)), in which case
  none of Lava's 32-bit wraps can trigger and the result equals the reference bit for bit;
- fixed-point convolutions are event-driven in integers (`_jit.conv_events`), for binary
  spikes and graded payloads: each source that sent something adds its taps (times its
  payload), in the narrowest integer type that holds every partial sum; the reference's
  float64 sum equals that integer sum while it stays below 2^53, and its int32 cast and 24-bit
  wrap are applied to it as Lava applies them (only where they can act). Convolutions from one
  source with one geometry whose sums each stay below 2^23 run as one, with the summed weight
  (no wrap acts on any of them). Float convolutions, and sums that could pass 2^53, are
  computed as in the reference (im2col products over all steps, in chunks; float32 when every
  sum is below 2^24);
- the neuron update is each model's `run_layer` (`neurons`): LIF's is `neurons.lif.fixed_step`
  transcribed into a numba loop (int32 lanes, exact for every input: `neurons.lif.jit`); other
  models run their reference step, step after step, vectorized over the batch and the neurons.
  A LIF population fed by one binary dense projection or one event-driven convolution runs a
  fused kernel (input and update in one pass per step; a fused convolution layer hands its
  spikes to the next fused kernel as lists).
Batches are processed in chunks that keep the per-population buffers within a memory budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from backends.base import Probe
from backends.cpu import conv_events, kernels, reference
from backends.cpu.network import Net, Synapses
from ir.conv import conv2d

__all__ = ["MEMORY_BUDGET_BYTES", "components", "simulate", "working_set_bytes"]

MEMORY_BUDGET_BYTES = 512 << 20
_INT32_LIMIT = (1 << 31) - 1
_FLOAT32_EXACT = 1 << 24
# Fewer than _PAD_BELOW destinations of a dense projection are padded with zero weights to a
# multiple of _LANES (the int16 lanes of an AVX2 vector; `_compact_weights`), so that their
# sums, and a fused kernel's neuron update over them (`_run_dense_layer`), fill whole vectors
# instead of running scalar (measured on one core: 256 -> 10 LIF neurons, 0.29 -> 0.22 us
# per sample and step); wider layers lose little to their last partial vector.
_LANES = 16
_PAD_BELOW = 64
_CONV_CHUNK_FLOATS = 8 << 20  # im2col buffer per chunk (float elements)


def components(net: Net) -> list[list[str]]:
    """Strongly connected components of the neuron populations, in topological order (Tarjan,
    iterative; deterministic: populations are visited in graph order)."""
    succ: dict[str, list[str]] = {n: [] for n in net.neurons}
    for s in net.synapses:
        if s.src in succ and s.dst not in succ[s.src]:
            succ[s.src].append(s.dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    order = {n: k for k, n in enumerate(net.neurons)}
    for root in net.neurons:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for j in range(i, len(succ[node])):
                nxt = succ[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(sorted(comp, key=order.__getitem__))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    out.reverse()
    return out


def _out_bound(syn: Synapses) -> int:
    """Bound of |what syn delivers in one step|, before the int32 wrap of the received sum
    (a convolution's output is already wrapped to 24 bits)."""
    if syn.kind == "conv":
        return min(syn.sum_bound(), 1 << 23)
    return syn.sum_bound() << max(syn.weight_exp, 0)


class _Trains:
    """Emissions of every population over all steps: (B, T, n), uint8 spikes or int64 payloads."""

    def __init__(self, net: Net, inputs: np.ndarray, steps: int) -> None:
        self.data: dict[str, np.ndarray] = {}
        # The same spikes as lists, where the kernel that made them emitted lists
        # (`neurons.lif.jit.conv_lif`): (indices (B, T, n) int32, counts (B, T) int32).
        self.lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        batch, t_in, _ = inputs.shape
        used = min(t_in, steps)
        for name, (lo, hi) in net.inputs.items():
            graded = net.input_bits[name] > 0
            dtype = np.int64 if graded else np.uint8
            view = inputs[:, :, lo:hi]
            if t_in == steps and view.dtype == dtype and view.flags.c_contiguous:
                self.data[name] = view  # the caller's array, read only
                continue
            arr = np.zeros((batch, steps, hi - lo), dtype=dtype)
            arr[:, :used] = view[:, :used]
            self.data[name] = arr


def _shift_parts(weight_exp: int) -> tuple[int, int]:
    return (weight_exp, 0) if weight_exp >= 0 else (0, -weight_exp)


def _sum_shifts(scale: int, weight_exp: int) -> tuple[int, int]:
    """(rs, ls) such that (s >> rs) << ls == (s << scale) shifted by weight_exp (left when
    positive, right with floor when negative), for the sums s of the compact weights
    (`_compact_weights`: the effective weights are those << scale). One right and one left
    shift instead of three: exact because the callers checked that
    s << scale << max(weight_exp, 0) fits int32 (`_out_bound`), so no left shift before the
    right one loses a bit, and floor(s 2^a / 2^b) = s 2^(a-b) for a >= b, floor(s / 2^(b-a))
    for a < b."""
    net = scale + weight_exp
    return max(0, -net), max(0, net)


def _add_projection_int32(syn: Synapses, src: np.ndarray, out: np.ndarray) -> None:
    """out += what syn delivers at every step (exact; the caller checked the int32 bound)."""
    from backends.cpu import _jit

    steps = src.shape[1]
    if syn.kind == "conv":
        _add_conv(syn, src, out, fixed=True)
        return
    left, right = _shift_parts(syn.weight_exp)
    for k, w in syn.groups:
        lag = 1 + k
        if lag >= steps:
            continue
        if not syn.graded:
            if syn.kind == "dense":
                weight_t, weight, max_abs, scale = _compact(syn, k, w)
                rs, ls = _sum_shifts(scale, syn.weight_exp)
                _jit.dense_binary(
                    src, weight_t, weight, _use_dot(src, syn.n_dst), max_abs, rs, ls, lag, out
                )
            else:
                csc = w.tocsc()
                _jit.sparse_binary(
                    src,
                    csc.indptr.astype(np.int64),
                    csc.indices.astype(np.int64),
                    csc.data.astype(np.int32),
                    syn.n_dst,
                    lag,
                    left,
                    right,
                    out,
                )
            continue
        x = src[:, : steps - lag].reshape(-1, syn.n_src)
        if syn.kind == "dense":
            acc = x.astype(np.float64) @ w.T.astype(np.float64)
            acc = np.rint(acc).astype(np.int64)
        else:
            acc = np.asarray((w @ x.T).T, dtype=np.int64)
        out[:, lag:] += (
            kernels.shift64(acc, syn.weight_exp)
            .reshape(out.shape[0], steps - lag, syn.n_dst)
            .astype(np.int32)
        )


def _compact_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(W >> z).T and W >> z in the smallest of int8/int16, fewer than _PAD_BELOW
    destinations padded with zero weights to a multiple of _LANES (the kernels' sums of the
    extra destinations are 0, unused or fed to padding neurons), max |W >> z| and z, where z
    is the number of trailing zero bits all weights share (Lava's truncation clears at least
    8 - num_weight_bits + is_mixed of them), so that (W >> z) << z == W exactly."""
    # whole-array reductions, no masked copies (zeros add nothing to the OR): 2.1 -> 0.4 ms
    # for 256 x 784 weights
    lowest = int(np.bitwise_or.reduce(np.abs(w), axis=None)) if w.size else 0
    scale = (lowest & -lowest).bit_length() - 1 if lowest else 0
    lo, hi = (int(w.min()) >> scale, int(w.max()) >> scale) if w.size else (0, 0)
    width = w.shape[0] if w.shape[0] >= _PAD_BELOW else -(-w.shape[0] // _LANES) * _LANES
    dtype = np.int8 if lo >= -128 and hi <= 127 else np.int16
    padded = np.zeros((width, w.shape[1]), dtype=dtype)
    np.right_shift(w, scale, out=padded[: w.shape[0]], casting="unsafe")
    return np.ascontiguousarray(padded.T), padded, max(hi, -lo), scale


def _compact(syn: Synapses, delay: int, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """`_compact_weights` of syn's weights at one delay, computed once per run."""
    key = f"compact {delay}"
    if key not in syn.memo:
        syn.memo[key] = _compact_weights(w)
    return syn.memo[key]


def _use_dot(src: np.ndarray, n_dst: int) -> bool:
    """Dot products beat event lists when few destinations share each scan of the sources.
    Measured per source and step on one core (`neurons.jit_common.binary_input`, 256 and 784
    sources, 1 to 32 destinations, densities 0.05 to 0.9): dots cost about
    0.07 + 0.165 n_dst ns, events (listing the sources, then adding the rows of those that
    spiked) 0.85 + density (2.0 + 0.1 n_dst) ns."""
    if n_dst >= 64:
        return False
    sample = src[:4]  # a few samples estimate the density well enough
    density = float(np.count_nonzero(sample)) / max(sample.size, 1)
    return 0.07 + 0.165 * n_dst < 0.85 + density * (2.0 + 0.1 * n_dst)


def _use_blas(src: np.ndarray, n_dst: int) -> bool:
    """For float binary input: one float64 matrix product beats event lists when few
    destinations share each scan of the sources (per step, events cost ~n_src + density *
    n_src * n_dst / 16 vector lanes, the product n_src * n_dst / 16), so when
    n_dst * (1 - density) < 16."""
    if n_dst <= 16 or n_dst >= 64:
        return n_dst <= 16
    sample = src[:4]  # a few samples estimate the density well enough
    density = float(np.count_nonzero(sample)) / max(sample.size, 1)
    return n_dst * (1.0 - density) < 16


def _add_conv_events(
    syn: Synapses, src: np.ndarray, out: np.ndarray, merged: tuple[np.ndarray, int] | None = None
) -> None:
    """out[:, t + 1] += what the convolution delivers (reference semantics, see
    `kernels.conv_output_fixed`), event-driven in integers (`_jit.conv_events`); `merged` as
    `conv_events.event_args` (no part wraps; the caller checked int32)."""
    from backends.cpu import _jit

    args, bound = conv_events.event_args(syn, src, merged)
    wrap = 0 if merged is not None or bound < conv_events.CONV_WRAP else 1
    if bound <= _INT32_LIMIT:
        # Within int32 the cast is exact; below 2^23 the 24-bit wrap does nothing either.
        _jit.conv_events(*args, wrap, out)
        return
    # Sums may leave int32: numpy's float64 -> int32 cast decides them, as in Lava.
    batch, steps = src.shape[:2]
    sums = np.zeros((batch, steps, syn.n_dst), dtype=np.int64)
    _jit.conv_events(*args, 2, sums)
    for b in range(batch):  # a sample at a time: bounded temporaries
        exact = sums[b, 1:].astype(np.float64)
        out[b, 1:] += kernels.conv_output_fixed(exact).astype(out.dtype)


def _merge_dense(syns: list[Synapses]) -> list[Synapses]:
    """Binary Dense projections from the same source into the same input port with the same
    delays and weight_exp >= 0 (the excitatory and inhibitory halves of --split-signs, for
    one, each with its own exponent) as one projection, for a population whose whole input
    provably stays within int32 (the caller checked): then no part wraps, and
    (a << e1) + (b << e2) = ((a << (e1 - m)) + (b << (e2 - m))) << m with m = min(e1, e2):
    the neurons receive the same sum. Not merged: a right shift (it floors each part), or
    merged weights beyond int16 (the dense kernels' widest weights)."""
    out: list[Synapses] = []
    merged: dict[tuple, int] = {}
    for syn in syns:
        if syn.kind != "dense" or syn.graded or syn.weight_exp < 0:
            out.append(syn)
            continue
        key = (syn.src, syn.port, syn.delayed, tuple(k for k, _ in syn.groups))
        first = out[merged[key]] if key in merged else None
        together = None if first is None else _merged_pair(first, syn)
        if together is None:
            merged.setdefault(key, len(out))
            out.append(syn)
            continue
        out[merged[key]] = together
    return out


def _merged_pair(first: Synapses, syn: Synapses) -> Synapses | None:
    """`_merge_dense`'s merge of two projections (None: beyond int16), once per run (the
    merged projection keeps its own memo: bounds, compact weights)."""
    memo_key = f"merged with {syn.name}"
    if memo_key not in first.memo:
        m = min(first.weight_exp, syn.weight_exp)
        groups = tuple(
            (
                k,
                (np.asarray(w0, dtype=np.int64) << (first.weight_exp - m))
                + (np.asarray(w1, dtype=np.int64) << (syn.weight_exp - m)),
            )
            for (k, w0), (_, w1) in zip(first.groups, syn.groups, strict=True)
        )
        fits = all(np.abs(w).max(initial=0) <= np.iinfo(np.int16).max for _, w in groups)
        first.memo[memo_key] = (
            replace(first, name=f"{first.name}+{syn.name}", groups=groups, weight_exp=m, memo={})
            if fits
            else None
        )
    return first.memo[memo_key]


# A sparse projection up to this many weights may be computed as a dense one (below).
_DENSIFY_MAX_WEIGHTS = 1 << 22


def _as_dense(syn: Synapses) -> Synapses:
    """A binary Sparse projection without delay as the Dense projection with its weights and
    zeros elsewhere (Lava's Sparse and Dense both sum binary input exactly, shift, then wrap to
    int32: `kernels.accumulate_mode`), so that the fused dense kernel can take it (the
    conversion trainer's readouts after --split-signs are Sparse); other projections as they
    are. Once per run."""
    if (
        syn.kind != "sparse"
        or syn.graded
        or syn.delayed
        or syn.mode != kernels.SHIFT_THEN_WRAP
        or [k for k, _ in syn.groups] != [0]
        or syn.n_src * syn.n_dst > _DENSIFY_MAX_WEIGHTS
    ):
        return syn
    if "as dense" not in syn.memo:
        weight = np.asarray(syn.groups[0][1].toarray(), dtype=np.int64)
        syn.memo["as dense"] = replace(syn, kind="dense", groups=((0, weight),), memo={})
    return syn.memo["as dense"]


def _add_conv(syn: Synapses, src: np.ndarray, out: np.ndarray, fixed: bool) -> None:
    steps = src.shape[1]
    if steps < 2:
        return
    if fixed and conv_events.exact_as_events(syn, src):
        _add_conv_events(syn, src, out)
        return
    node = syn.conv
    batch = src.shape[0]
    frames = src[:, : steps - 1].reshape(batch * (steps - 1), *syn.src_shape)
    use32 = syn.sum_bound() < _FLOAT32_EXACT if fixed else False
    c_in, _, _ = syn.src_shape
    kh, kw = node.weight.shape[2:]
    per_frame = c_in * kh * kw * syn.n_dst // max(node.weight.shape[0], 1)
    chunk = max(1, _CONV_CHUNK_FLOATS // max(per_frame, 1))
    weight = node.weight.astype(np.float32 if use32 else np.float64)
    result = np.empty((frames.shape[0], syn.n_dst), dtype=out.dtype)
    for start in range(0, frames.shape[0], chunk):
        part = frames[start : start + chunk].astype(np.float32 if use32 else np.float64)
        total = conv2d(
            part, weight, node.stride, node.padding, node.dilation, node.groups
        )
        total = total.reshape(part.shape[0], -1)
        result[start : start + chunk] = kernels.conv_output_fixed(total) if fixed else total
    out[:, 1:] += result.reshape(batch, steps - 1, syn.n_dst)


def _input_current_exact(
    syns: list[Synapses], trains: _Trains, batch: int, steps: int, n: int
) -> np.ndarray:
    """Per-step reference arithmetic for every incoming projection (any magnitudes)."""
    out = np.zeros((batch, steps, n), dtype=np.int32)
    for t in range(1, steps + 1):
        total = np.zeros((batch, n), dtype=np.int64)
        for syn in syns:
            src = trains.data[syn.src]

            def lagged(k: int, src=src, t=t) -> np.ndarray:
                i = t - 2 - k  # index of step t - 1 - k
                return (
                    src[:, i].astype(np.int64)
                    if i >= 0
                    else np.zeros((batch, src.shape[2]), dtype=np.int64)
                )

            total += reference.connection_output(syn, lagged, batch)
        out[:, t - 1] = kernels.wrap32(total)
    return out


def _input_current(
    net: Net, syns: list[Synapses], trains: _Trains, batch: int, steps: int, n: int
) -> np.ndarray:
    """The input a population receives at every step from projections `syns`, its input ports
    side by side (`n`: its size times its ports; each port is its own sum)."""
    ports = max(1, net.ports.get(syns[0].dst, 1)) if syns else 1
    if ports == 1:
        return _port_current(net, syns, trains, batch, steps, n)
    size = n // ports
    return np.concatenate(
        [
            _port_current(net, [s for s in syns if s.port == p], trains, batch, steps, size)
            for p in range(ports)
        ],
        axis=2,
    )


def _port_current(
    net: Net, syns: list[Synapses], trains: _Trains, batch: int, steps: int, n: int
) -> np.ndarray:
    """The int32 (float: float64) sum projections `syns` deliver to one input port."""
    if net.fixed:
        if sum(_out_bound(s) for s in syns) > _INT32_LIMIT:
            return _input_current_exact(syns, trains, batch, steps, n)
        out = np.zeros((batch, steps, n), dtype=np.int32)
        for syn, merged in conv_events.merge(syns, trains.data):
            if merged is None:
                _add_projection_int32(syn, trains.data[syn.src], out)
            elif steps > 1:
                _add_conv_events(syn, trains.data[syn.src], out, merged)
        return out
    out_f = np.zeros((batch, steps, n), dtype=np.float64)
    for syn in syns:
        src = trains.data[syn.src]
        if syn.kind == "conv":
            _add_conv(syn, src, out_f, fixed=False)
            continue
        for k, w in syn.groups:
            lag = 1 + k
            if lag >= steps:
                continue
            if syn.kind == "dense" and src.dtype == np.uint8 and not _use_blas(src, syn.n_dst):
                from backends.cpu import _jit

                _jit.dense_binary_float(src, np.ascontiguousarray(w.T), lag, out_f)
                continue
            x = src[:, : steps - lag].reshape(-1, syn.n_src).astype(np.float64)
            acc = x @ w.T if syn.kind == "dense" else np.asarray((w @ x.T).T)
            out_f[:, lag:] += acc.reshape(batch, steps - lag, syn.n_dst)
    return out_f


def _emission_array(
    net: Net, name: str, batch: int, steps: int, width: int | None = None, zeroed: bool = True
) -> np.ndarray:
    """Zeros for what population `name` sends over all steps (`width` neurons wide if given,
    else its size; uninitialized unless `zeroed`, for a kernel that writes every element):
    uint8 spikes, or graded payloads (int64 fixed, float64 float)."""
    if not net.graded[name]:
        dtype = np.uint8
    else:
        dtype = np.int64 if net.fixed else np.float64
    shape = (batch, steps, width or net.sizes[name])
    return np.zeros(shape, dtype=dtype) if zeroed else np.empty(shape, dtype=dtype)


def _state_records(rec: dict | None) -> dict[str, np.ndarray]:
    return {} if rec is None else {v: arr for v, arr in rec.items() if v != "spikes"}


def _run_layer(net: Net, name: str, a_in: np.ndarray, rec: dict | None) -> np.ndarray:
    """Every step of population `name` from its input over all steps (its model's kernel)."""
    pop = net.neurons[name]
    batch, steps, _ = a_in.shape
    out = _emission_array(net, name, batch, steps)
    pop.model.run_layer(pop.params, a_in, out, _state_records(rec))
    if rec is not None and "spikes" in rec:
        rec["spikes"][...] = out
    return out


def _fusable(net: Net, name: str, incoming: list[Synapses]) -> bool:
    """One binary Dense projection without delay, within the int32 bound, into a population
    whose model has a fused kernel: fused kernel."""
    pop = net.neurons[name]
    if not net.fixed or len(incoming) != 1 or not hasattr(pop.model, "run_dense_layer"):
        return False
    if net.ports.get(name, 1) != 1:
        return False
    syn = incoming[0]
    return (
        syn.kind == "dense"
        and not syn.graded
        and len(syn.groups) == 1
        and syn.groups[0][0] == 0
        and _out_bound(syn) <= _INT32_LIMIT
    )


_NO_LISTS = (np.zeros((0, 0, 0), dtype=np.int32), np.zeros((0, 0), dtype=np.int32))


def _emitted_lists(net: Net, name: str, batch: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Arrays for a fused kernel to emit `name`'s spikes as lists into, when some projection
    reads them with an event-driven integer kernel (that kernel then need not list them);
    else `_NO_LISTS`. At most 4 bytes a neuron and step (`_per_sample_bytes` counts 16)."""
    if not any(s.src == name and s.kind in ("conv", "dense", "sparse") for s in net.synapses):
        return _NO_LISTS
    n = net.sizes[name]
    return np.empty((batch, steps, n), dtype=np.int32), np.zeros((batch, steps), dtype=np.int32)


def _run_dense_layer(
    net: Net, name: str, syn: Synapses, trains: _Trains, rec: dict | None
) -> np.ndarray | None:
    """The model's fused dense kernel (None when it declines the population)."""
    pop = net.neurons[name]
    src = trains.data[syn.src]
    batch, steps, _ = src.shape
    weight_t, weight, max_abs, scale = _compact(syn, 0, syn.groups[0][1])
    records = _state_records(rec)
    use_dot = _use_dot(src, syn.n_dst)
    # the population padded as its weights are, unless its state is recorded or its sums are
    # dot products (one per neuron: padding would add as many): the kernel then runs it
    # unpadded, and the weights' extra columns are never read
    width = syn.n_dst if records or use_dot else weight_t.shape[1]
    # the fused kernel writes every spike of every step (a memset of it cost 2.5 ms of P1's 87)
    out = _emission_array(net, name, batch, steps, width, zeroed=False)
    rs, ls = _sum_shifts(scale, syn.weight_exp)
    listed = trains.lists.get(syn.src, _NO_LISTS)
    weights = (weight_t, weight, use_dot, max_abs, rs, ls, listed)
    if not pop.model.run_dense_layer(pop.params, src, weights, out, records):
        return None
    if width != syn.n_dst:
        out = np.ascontiguousarray(out[:, :, : syn.n_dst])
    if rec is not None and "spikes" in rec:
        rec["spikes"][...] = out
    return out


def _run_conv_layer(
    net: Net, name: str, incoming: list[Synapses], trains: _Trains, rec: dict | None
) -> np.ndarray | None:
    """The model's fused convolution kernel, for a population whose input is one event-driven
    fixed-point convolution (or several that `conv_events.merge` makes one) with sums within int32;
    None when that does not hold or the model declines."""
    pop = net.neurons[name]
    if not hasattr(pop.model, "run_conv_layer"):
        return None
    convs = conv_events.merge(incoming, trains.data)
    if len(convs) != 1 or convs[0][0].kind != "conv":
        return None
    syn, merged = convs[0]
    src = trains.data[syn.src]
    if not conv_events.exact_as_events(syn, src):
        return None
    args, bound = conv_events.event_args(syn, src, merged)
    if bound > _INT32_LIMIT:
        return None
    wrap = 0 if merged is not None or bound < conv_events.CONV_WRAP else 1
    c_out = syn.dst_shape[0]
    # sums are channels last: position k of channel o is sum k * C_out + o, neuron o * HW + k
    order = np.arange(syn.n_dst).reshape(c_out, -1).T.ravel()
    batch, steps, _ = src.shape
    out = _emission_array(net, name, batch, steps)
    listed = trains.lists.get(syn.src, _NO_LISTS)
    emit = _emitted_lists(net, name, batch, steps)
    conv = (*args[1:], wrap, listed)
    if not pop.model.run_conv_layer(pop.params, src, conv, order, out, emit, _state_records(rec)):
        return None
    if emit[1].size:
        trains.lists[name] = emit
    if rec is not None and "spikes" in rec:
        rec["spikes"][...] = out
    return out


def _run_cycle(
    net: Net,
    comp: list[str],
    external: dict[str, np.ndarray],
    trains: _Trains,
    recs: dict[str, dict[str, np.ndarray]],
) -> None:
    """A component with cycles: step by step, reference arithmetic for its internal projections."""
    members = set(comp)
    batch, steps = next(iter(external.values())).shape[:2]
    dtype = np.int64 if net.fixed else np.float64
    internal = {n: [s for s in net.incoming(n) if s.src in members] for n in comp}
    for n in comp:
        trains.data[n] = _emission_array(net, n, batch, steps)
    state = {n: net.neurons[n].model.initial_state(net.neurons[n].params, batch) for n in comp}
    for t in range(1, steps + 1):
        fired = {}
        for n in comp:
            a = external[n][:, t - 1].astype(dtype)  # a copy: the internal sums add to it
            for syn in internal[n]:
                src = trains.data[syn.src]

                def lagged(k: int, src=src, t=t) -> np.ndarray:
                    i = t - 2 - k
                    return (
                        src[:, i].astype(dtype)
                        if i >= 0
                        else np.zeros((batch, src.shape[2]), dtype=dtype)
                    )

                a[:, syn.columns()] += reference.connection_output(syn, lagged, batch)
            if net.fixed:
                a = kernels.wrap32(a)
            s = reference.neuron_step(net.neurons[n], state[n], a, t)
            fired[n] = s
            r = recs.get(n)
            if r is not None:
                for var, arr in r.items():
                    if var != "spikes":
                        arr[:, t - 1] = state[n][var]
        for n, s in fired.items():
            trains.data[n][:, t - 1] = s
            r = recs.get(n)
            if r is not None and "spikes" in r:
                r["spikes"][:, t - 1] = s


def _per_sample_bytes(net: Net, steps: int) -> int:
    return steps * sum(net.sizes.values()) * 16  # trains, currents, records


def _chunk_size(net: Net, batch: int, steps: int) -> int:
    """Samples per chunk: a working set of at most MEMORY_BUDGET_BYTES, and at most half of the
    command's memory budget (`ir.budget`; the input and the recordings need the rest)."""
    from ir.budget import max_load_bytes

    limit = min(MEMORY_BUDGET_BYTES, max_load_bytes() // 2)
    return max(1, min(batch, limit // max(_per_sample_bytes(net, steps), 1)))


def working_set_bytes(net: Net, batch: int, steps: int) -> int:
    """What a run allocates besides its input and its recordings: one chunk of the batch at a
    time (at most MEMORY_BUDGET_BYTES unless one sample needs more)."""
    return _chunk_size(net, batch, steps) * _per_sample_bytes(net, steps)


def simulate(
    net: Net, inputs: np.ndarray, steps: int, probes: Sequence[Probe]
) -> dict[str, dict[str, np.ndarray]]:
    """Same result as `reference.simulate`, computed layer at a time."""
    batch = inputs.shape[0]
    records = reference.record_arrays(net, probes, batch, steps)
    comps = components(net)
    chunk = _chunk_size(net, batch, steps)
    for start in range(0, batch, chunk):
        stop = min(batch, start + chunk)
        recs = {p: {v: arr[start:stop] for v, arr in r.items()} for p, r in records.items()}
        _simulate_chunk(net, inputs[start:stop], steps, comps, recs)
    return records


def _simulate_chunk(
    net: Net,
    inputs: np.ndarray,
    steps: int,
    comps: list[list[str]],
    recs: dict[str, dict[str, np.ndarray]],
) -> None:
    batch = inputs.shape[0]
    trains = _Trains(net, inputs, steps)
    for comp in comps:
        members = set(comp)
        cyclic = len(comp) > 1 or any(s.src == comp[0] for s in net.incoming(comp[0]))
        if cyclic:
            external = {
                n: _input_current(
                    net,
                    [s for s in net.incoming(n) if s.src not in members],
                    trains,
                    batch,
                    steps,
                    net.input_width(n),
                )
                for n in comp
            }
            _run_cycle(net, comp, external, trains, recs)
            continue
        n = comp[0]
        # Record views of one batch chunk are C-contiguous, so the kernels write them in place.
        incoming = net.incoming(n)
        if net.fixed and sum(_out_bound(s) for s in incoming) <= _INT32_LIMIT:
            merged = _merge_dense([_as_dense(s) for s in incoming])
            fused = None
            if _fusable(net, n, merged):
                fused = _run_dense_layer(net, n, merged[0], trains, recs.get(n))
            else:
                fused = _run_conv_layer(net, n, incoming, trains, recs.get(n))
            if fused is not None:
                trains.data[n] = fused
                continue
        external = _input_current(net, incoming, trains, batch, steps, net.input_width(n))
        trains.data[n] = _run_layer(net, n, external, recs.get(n))
