"""Lowering a compiled program to Lava processes: a table keyed by IR node type.

The input is a *block graph* (`backends.blocks.expand_blocks`): each population is one placed
block, each projection one (source block, destination block) pair. So the lowering is one
process per node:

    Input    -> io.source.RingBuffer  (fixed_pt model: int32 data; column t-1 at step t)
    QLIF     -> lif.LIF, or lif.LIFReset when reset_interval > 0
    QDense   -> dense.Dense, or dense.DelayDense when the delay is per synapse or non-zero
    QSparse  -> sparse.Sparse, or sparse.DelaySparse (same rule)
    QConv2d  -> conv.Conv (weights flipped and re-ordered; see `_lava_conv_weight`)

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

from ir.errors import IRVerifyError, UnsupportedNodeError
from ir.graph import Graph
from ir.nodes import QLIF, Input, Node, QConv2d, QDense, QSparse

from backends.cpu.network import is_delayed

__all__ = ["LOWERING", "LavaProgram", "lower"]

# Lava's DelayDense/DelaySparse fixed models reject delays above 63 (6-bit delays on Loihi 2,
# lava proc/dense/models.py PyDelayDenseModelBitAcc).
LAVA_MAX_DELAY = 63
# Conv stores kernel_size, stride, padding, dilation and groups as int8 Vars (conv/models.py).
LAVA_CONV_INT8 = 127


@dataclass
class LavaProgram:
    """The Lava processes of one block graph.

    `neurons` and `sources` map population names to processes, `connections` projection names;
    `state` lists the (Var, shape) pairs holding state that a new sample must start from zero
    (LIF u and v, every connection's activation buffer)."""

    graph: Graph
    neurons: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    connections: dict[str, Any] = field(default_factory=dict)
    state: list[tuple[Any, tuple[int, ...]]] = field(default_factory=list)


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
    return pop.message_bits if isinstance(pop, Input) else 0


def _lower_input(name: str, node: Input, prog: LavaProgram, data: np.ndarray) -> Any:
    from lava.proc.io.source import RingBuffer

    return RingBuffer(data=np.ascontiguousarray(data, dtype=np.int32))


def _lower_lif(name: str, node: QLIF, prog: LavaProgram, data: Any) -> Any:
    from lava.proc.lif.process import LIF, LIFReset

    n = node.size
    params = dict(
        shape=(n,),
        du=node.du,
        dv=node.dv,
        vth=node.vth,
        bias_mant=node.per_neuron("bias_mant").astype(np.int32),
        bias_exp=node.per_neuron("bias_exp").astype(np.int32),
        name=name,
    )
    if node.reset_interval:
        proc = LIFReset(
            reset_interval=node.reset_interval, reset_offset=node.reset_offset, **params
        )
    else:
        proc = LIF(**params)
    prog.state += [(proc.u, (n,)), (proc.v, (n,))]
    return proc


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


def _lower_dense(name: str, node: QDense, prog: LavaProgram, data: Any) -> Any:
    from lava.proc.dense.process import DelayDense, Dense

    weights = node.weight.astype(np.int32)
    fmt = _synapse_format(node, prog)
    if is_delayed(node):
        top = _check_delay(prog, name, node.delay)
        delays = node.delay.astype(np.int64) if node.delay.ndim else int(node.delay)
        proc = DelayDense(weights=weights, delays=delays, max_delay=top, name=name, **fmt)
        prog.state.append((proc.a_buff, (weights.shape[0], top + 1)))
    else:
        proc = Dense(weights=weights, name=name, **fmt)
        prog.state.append((proc.a_buff, (weights.shape[0],)))
    _connect(prog, node, proc)
    return proc


def _lower_sparse(name: str, node: QSparse, prog: LavaProgram, data: Any) -> Any:
    from lava.proc.sparse.process import DelaySparse, Sparse
    from scipy.sparse import csr_matrix

    n_dst = prog.graph.populations[node.dst].size
    n_src = prog.graph.populations[node.src].size
    weights = csr_matrix(
        (node.values.astype(np.int32), (node.rows, node.cols)), shape=(n_dst, n_src)
    )
    fmt = _synapse_format(node, prog)
    if is_delayed(node):
        top = _check_delay(prog, name, node.delay)
        per_synapse = np.broadcast_to(node.delay, node.values.shape).astype(np.int64)
        # Delays as a matrix with the weights' pattern (an int would become a full matrix).
        delays = csr_matrix(
            (per_synapse, (node.rows, node.cols)), shape=(n_dst, n_src), dtype=np.int64
        )
        proc = DelaySparse(weights=weights, delays=delays, max_delay=top, name=name, **fmt)
        prog.state.append((proc.a_buff, (n_dst, top + 1)))
    else:
        proc = Sparse(weights=weights, name=name, **fmt)
        prog.state.append((proc.a_buff, (n_dst,)))
    _connect(prog, node, proc)
    return proc


def _lava_conv_weight(weight: np.ndarray) -> np.ndarray:
    """PyTorch cross-correlation weights (C_out, C_in/g, kH, kW) as Lava's Conv expects them:
    (C_out, kW, kH, C_in/g), spatially flipped, because Lava convolves with
    scipy.signal.convolve2d (a true convolution) over (X, Y) = (W, H) (lava proc/conv/utils.py
    conv_scipy)."""
    return np.ascontiguousarray(weight.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :]).astype(np.int32)


def _lower_conv(name: str, node: QConv2d, prog: LavaProgram, data: Any) -> Any:
    from lava.proc.conv.process import Conv

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
    src = _source(prog, node.src)
    src.s_out.reshape(src_shape).transpose([2, 1, 0]).connect(proc.s_in)
    proc.a_out.transpose([2, 1, 0]).reshape((int(np.prod(dst_shape)),)).connect(
        prog.neurons[node.dst].a_in
    )
    prog.state.append((proc.a_buf, (dst_shape[2], dst_shape[1], dst_shape[0])))
    return proc


def _source(prog: LavaProgram, name: str) -> Any:
    return prog.neurons[name] if name in prog.neurons else prog.sources[name]


def _connect(prog: LavaProgram, node: QDense | QSparse, proc: Any) -> None:
    _source(prog, node.src).s_out.connect(proc.s_in)
    proc.a_out.connect(prog.neurons[node.dst].a_in)


LowerFn = Callable[[str, Any, LavaProgram, Any], Any]
LOWERING: dict[type[Node], LowerFn] = {
    Input: _lower_input,
    QLIF: _lower_lif,
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
    """Build the Lava processes of block graph `graph`.

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
