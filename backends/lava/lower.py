"""Lowering a compiled program to Lava processes: a table keyed by IR node type, neuron
populations through the neuron-model table (`neurons`).

The input is a *piece graph* (`backends.blocks.expand_pieces`): each population is one piece (a
whole population by default, a placed block with `--lava-blocks`), each projection one (source
piece, destination piece) pair. So the lowering is one
process per node:

    Input    -> io.source.RingBuffer  (fixed_pt model: int32 data; column t-1 at step t)
    neurons  -> the model's process (`NeuronModel.lava_process`; QLIF: lif.LIF, or
                lif.LIFReset when reset_interval > 0)
    QDense   -> dense.Dense, or dense.DelayDense when the delay is per synapse or non-zero
    QSparse  -> sparse.Sparse, or sparse.DelaySparse (same rule)
    QConv2d  -> conv.Conv (weights flipped and re-ordered; see `_lava_conv_weight`)

Parameter groups. Lava's neuron processes hold some registers as one value per process (LIF:
du, dv, vth). A piece whose neurons differ in them becomes one process per parameter group
(`NeuronModel.parameter_groups`: every distinct combination its own group), each of the
piece's whole shape: the group's neurons act, every other neuron is silent (no input, no bias:
it stays at rest and sends nothing). A projection into the piece becomes one connection process
per destination group holding only that group's rows (a convolution becomes per-group sparse
connections, as for a cut destination); every group process of the source feeds each of them
(Lava adds what an InPort receives from several OutPorts), so the source's spikes reach one sum
per destination neuron exactly as in the unsplit piece: groups change no result and add no
split hazard (`compiler.passes.split_exact`; a convolution into several groups is checked for
24-bit wraps). Probes read each group's neurons from its own process.

A projection into a population's second input port (`Projection.port`: RF's "imag") connects
to that port's Lava InPort (`LavaNeurons.input`: `a_imag_in`), every other to the first.

Neuron processes are flat (n,) vectors in the IR's C-order neuron numbering; a Conv connects
to them through Lava reshape and transpose ports ((C, H, W) <-> Lava's (W, H, C)).

Parameters go to Lava exactly as the IR holds them (integer weights before clipping, the sign
mode, num_weight_bits, weight_exp, num_message_bits), so that Lava's own models apply their
clipping, truncation, shifts and wraps; the differential tests compare the result with the
cpu backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.blocks import conv_as_sparse
from backends.cpu.network import is_delayed
from compiler.passes.split_exact import exactness_risks
from ir.errors import IRVerifyError, UnsupportedNodeError
from ir.graph import Graph
from ir.nodes import Input, Node, Population, QConv2d, QDense, QSparse
from neurons import BY_NODE, model_of
from neurons.base import LavaNeurons

__all__ = ["LOWERING", "LavaProgram", "lower"]

# Lava's DelayDense/DelaySparse fixed models reject delays above 63 (6-bit delays on Loihi 2,
# lava proc/dense/models.py PyDelayDenseModelBitAcc).
LAVA_MAX_DELAY = 63
# Conv stores kernel_size, stride, padding, dilation and groups as int8 Vars (conv/models.py).
LAVA_CONV_INT8 = 127


@dataclass
class LavaProgram:
    """The Lava processes of one piece graph.

    `neurons[population]` lists its processes with the neurons each acts for (one entry, all
    neurons, unless the piece has several parameter groups); `sources` maps input populations
    to their RingBuffers, `connections` projection names to their processes (a list when split
    per destination group); `state` lists (Var, value) pairs that put every process back in its
    initial state between samples (neuron state, every connection's activation buffer)."""

    graph: Graph
    neurons: dict[str, list[tuple[LavaNeurons, np.ndarray]]] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    connections: dict[str, Any] = field(default_factory=dict)
    state: list[tuple[Any, np.ndarray]] = field(default_factory=list)

    @property
    def process_count(self) -> int:
        conns = sum(len(c) if isinstance(c, list) else 1 for c in self.connections.values())
        return sum(len(g) for g in self.neurons.values()) + len(self.sources) + conns


def _where(graph: Graph, name: str) -> str:
    node = graph.projections.get(name)
    return (
        f"projection {name!r} ({node.src} -> {node.dst})"
        if node is not None
        else f"population {name!r}"
    )


def _sign_mode(mode: str):
    from lava.utils.weightutils import SignMode

    return {
        "mixed": SignMode.MIXED,
        "excitatory": SignMode.EXCITATORY,
        "inhibitory": SignMode.INHIBITORY,
    }[mode]


def _message_bits(graph: Graph, src: str) -> int:
    pop = graph.populations[src]
    if isinstance(pop, Input):
        return pop.message_bits
    return model_of(pop).message_bits


def _lower_input(name: str, node: Input, prog: LavaProgram, data: np.ndarray) -> Any:
    from lava.proc.io.source import RingBuffer

    return RingBuffer(data=np.ascontiguousarray(data, dtype=np.int32))


def _lower_neurons(name: str, node: Population, prog: LavaProgram, data: Any) -> Any:
    """One process per parameter group of the piece (module docstring)."""
    model = model_of(node, f"population {name!r}", "the lava backend")
    groups = model.parameter_groups(node)
    out = []
    per_neuron = any(np.ndim(getattr(node, f)) for f in node.per_process)
    for k, members in enumerate(groups):
        # The group's registers as the process's scalars (also when one group holds them all).
        part = model.group_node(node, members) if per_neuron else node
        neurons = model.lava_process(part, name if len(groups) == 1 else f"{name}.g{k}")
        prog.state += neurons.reset
        out.append((neurons, members))
    return out


def _check_delay(prog: LavaProgram, name: str, delay: np.ndarray) -> int:
    top = int(delay.max(initial=0))
    if top > LAVA_MAX_DELAY:
        raise IRVerifyError(
            _where(prog.graph, name),
            f"delay = {top} exceeds {LAVA_MAX_DELAY}, the "
            "largest delay of Lava's DelayDense/DelaySparse (6-bit delays)",
        )
    return top


def _synapse_format(node: QDense | QSparse, prog: LavaProgram) -> dict[str, Any]:
    return dict(
        weight_exp=node.weight_exp,
        num_weight_bits=node.num_weight_bits,
        sign_mode=_sign_mode(node.sign_mode),
        num_message_bits=_message_bits(prog.graph, node.src),
    )


def _per_group(name: str, node: QDense | QSparse, prog: LavaProgram, build) -> Any:
    """One connection process (`build(node restricted to rows, name)`) per destination group;
    the process itself when the destination has one group."""
    groups = prog.neurons[node.dst]
    procs = []
    for k, (neurons, members) in enumerate(groups):
        part = node if len(groups) == 1 else _rows(node, members)
        proc = build(part, name if len(groups) == 1 else f"{name}.g{k}")
        for port in _outputs(prog, node.src):
            port.connect(proc.s_in)
        proc.a_out.connect(neurons.input(_port_index(prog, node)))
        procs.append(proc)
    return procs[0] if len(procs) == 1 else procs


def _port_index(prog: LavaProgram, node: Any) -> int:
    """Which input port of its destination projection `node` feeds (0: the first)."""
    if node.port is None:
        return 0
    return prog.graph.populations[node.dst].input_ports.index(node.port)


def _rows(node: QDense | QSparse, members: np.ndarray) -> QDense | QSparse:
    """The projection with only the synapses onto `members` (same shape; zero rows elsewhere)."""
    if isinstance(node, QDense):
        keep = np.zeros(node.weight.shape[0], dtype=bool)
        keep[members] = True
        return node.replace(weight=np.where(keep[:, None], node.weight, 0))  # type: ignore[return-value]
    mask = np.isin(node.rows, members)
    delay = node.delay[mask] if node.delay.ndim else node.delay
    return node.replace(  # type: ignore[return-value]
        rows=node.rows[mask], cols=node.cols[mask], values=node.values[mask], delay=delay
    )


def _lower_dense(name: str, node: QDense, prog: LavaProgram, data: Any) -> Any:
    from lava.proc.dense.process import DelayDense, Dense

    fmt = _synapse_format(node, prog)

    def build(part: QDense, proc_name: str) -> Any:
        weights = part.weight.astype(np.int32)
        if is_delayed(part):
            top = _check_delay(prog, name, part.delay)
            delays = part.delay.astype(np.int64) if part.delay.ndim else int(part.delay)
            proc = DelayDense(weights=weights, delays=delays, max_delay=top, name=proc_name, **fmt)
            prog.state.append((proc.a_buff, np.zeros((weights.shape[0], top + 1), dtype=np.int64)))
        else:
            proc = Dense(weights=weights, name=proc_name, **fmt)
            prog.state.append((proc.a_buff, np.zeros((weights.shape[0],), dtype=np.int64)))
        return proc

    return _per_group(name, node, prog, build)


def _lower_sparse(name: str, node: QSparse, prog: LavaProgram, data: Any) -> Any:
    from lava.proc.sparse.process import DelaySparse, Sparse
    from scipy.sparse import csr_matrix

    n_dst = prog.graph.populations[node.dst].size
    n_src = prog.graph.populations[node.src].size
    fmt = _synapse_format(node, prog)

    def build(part: QSparse, proc_name: str) -> Any:
        weights = csr_matrix(
            (part.values.astype(np.int32), (part.rows, part.cols)), shape=(n_dst, n_src)
        )
        if is_delayed(part):
            top = _check_delay(prog, name, part.delay)
            per_synapse = np.broadcast_to(part.delay, part.values.shape).astype(np.int64)
            # Delays as a matrix with the weights' pattern (an int would become a full matrix).
            delays = csr_matrix(
                (per_synapse, (part.rows, part.cols)), shape=(n_dst, n_src), dtype=np.int64
            )
            proc = DelaySparse(
                weights=weights, delays=delays, max_delay=top, name=proc_name, **fmt
            )
            prog.state.append((proc.a_buff, np.zeros((n_dst, top + 1), dtype=np.int64)))
        else:
            proc = Sparse(weights=weights, name=proc_name, **fmt)
            prog.state.append((proc.a_buff, np.zeros((n_dst,), dtype=np.int64)))
        return proc

    return _per_group(name, node, prog, build)


def _lava_conv_weight(weight: np.ndarray) -> np.ndarray:
    """PyTorch cross-correlation weights (C_out, C_in/g, kH, kW) as Lava's Conv expects them:
    (C_out, kW, kH, C_in/g), spatially flipped, because Lava convolves with
    scipy.signal.convolve2d (a true convolution) over (X, Y) = (W, H) (lava proc/conv/utils.py
    conv_scipy)."""
    return np.ascontiguousarray(weight.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :]).astype(np.int32)


def _lower_conv(name: str, node: QConv2d, prog: LavaProgram, data: Any) -> Any:
    from lava.proc.conv.process import Conv

    if len(prog.neurons[node.dst]) > 1:
        # A Conv's output cannot be split by rows: per-group sparse connections instead, exact
        # while no 24-bit wrap can happen (the "conv-wrap" risk of compiler.passes.split_exact).
        risk = exactness_risks(prog.graph).get(name)
        if risk is not None and risk.on_destination:
            raise IRVerifyError(
                f"projection {name!r} ({node.src} -> {node.dst})",
                f"{node.dst!r} runs as {len(prog.neurons[node.dst])} parameter groups and its "
                f"{risk.reason}",
            )
        return _lower_sparse(name, conv_as_sparse(prog.graph, node), prog, data)  # type: ignore[arg-type]
    src_shape = prog.graph.populations[node.src].shape
    dst_shape = prog.graph.populations[node.dst].shape
    kh, kw = node.weight.shape[2:]
    too_big = {
        "kernel": max(kh, kw),
        "stride": max(node.stride),
        "padding": max(node.padding),
        "dilation": max(node.dilation),
        "groups": node.groups,
    }
    for what, value in too_big.items():
        if value > LAVA_CONV_INT8:
            raise IRVerifyError(
                _where(prog.graph, name),
                f"{what} = {value} exceeds {LAVA_CONV_INT8}; Lava's Conv stores it as an int8 Var",
            )
    c, h, w = src_shape
    proc = Conv(
        weight=_lava_conv_weight(node.weight),
        input_shape=(w, h, c),
        padding=node.padding[::-1],
        stride=node.stride[::-1],
        dilation=node.dilation[::-1],
        groups=node.groups,
        num_message_bits=_message_bits(prog.graph, node.src),
        name=name,
    )
    for port in _outputs(prog, node.src):
        port.reshape(src_shape).transpose([2, 1, 0]).connect(proc.s_in)
    proc.a_out.transpose([2, 1, 0]).reshape((int(np.prod(dst_shape)),)).connect(
        prog.neurons[node.dst][0][0].input(_port_index(prog, node))
    )
    a_buf = np.zeros((dst_shape[2], dst_shape[1], dst_shape[0]), dtype=np.int64)
    prog.state.append((proc.a_buf, a_buf))
    return proc


def _outputs(prog: LavaProgram, name: str) -> list[Any]:
    """The output ports that carry population `name`'s spikes (one per parameter group)."""
    if name in prog.neurons:
        return [neurons.output_port for neurons, _ in prog.neurons[name]]
    return [prog.sources[name].s_out]


LowerFn = Callable[[str, Any, LavaProgram, Any], Any]
LOWERING: dict[type[Node], LowerFn] = {
    Input: _lower_input,
    # Every fixed-point neuron node of the model table.
    **{t: _lower_neurons for t in BY_NODE if t.domain == "fixed"},
    QDense: _lower_dense,
    QSparse: _lower_sparse,
    QConv2d: _lower_conv,
}


def _lowering(graph: Graph, name: str, node: Node) -> LowerFn:
    fn = LOWERING.get(type(node))
    if fn is None:
        raise UnsupportedNodeError(
            name, type(node).__name__, sorted(t.__name__ for t in LOWERING), "the lava backend"
        )
    return fn


def lower(
    graph: Graph, input_data: Mapping[str, np.ndarray], keep: set[str] | None = None
) -> LavaProgram:
    """Build the Lava processes of piece graph `graph`.

    `input_data[name]` is the RingBuffer data (n, steps) of each input population. `keep`, if
    given, limits the lowering to those populations and the projections between them.
    """
    prog = LavaProgram(graph)
    for name, pop in graph.populations.items():
        if keep is not None and name not in keep:
            continue
        proc = _lowering(graph, name, pop)(name, pop, prog, input_data.get(name))
        (prog.sources if isinstance(pop, Input) else prog.neurons)[name] = proc
    for name, proj in graph.projections.items():
        if keep is not None and proj.dst not in keep:
            continue
        prog.connections[name] = _lowering(graph, name, proj)(name, proj, prog, None)
    return prog
