"""netx's convolution-family layers as snnc synapses: `conv_layer` (the QConv2d netx builds),
`pool_layer` (SLAYER's sum pooling as a grouped QConv2d) and `transposed_layer` (convT and
unpool unrolled into a QSparse); netx 0.6.0 refuses the last two.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.netx.builder import GraphBuilder
from compiler.netx.dense import format_notes
from compiler.netx.neuron_params import netx_neuron
from compiler.netx.reader import NetxLayer
from compiler.netx.weights import lava_sign_mode, netx_dense_format
from ir.nodes import QConv2d, QSparse, conv2d_output_hw

__all__ = ["MAX_SYNAPSES", "conv_layer", "pool_layer", "transposed_layer"]

# pool/unpool/convT lowerings hold one value per synapse; 2^26 int64 values is 512 MiB.
MAX_SYNAPSES = 1 << 26


def conv_layer(imp: GraphBuilder, layer: NetxLayer) -> None:
    weight = _kernel(imp, layer, "(C_out, C_in/groups, kH, kW[, 1])")
    stride, padding, dilation = (
        imp.pair(layer, "stride"),
        imp.pair(layer, "padding"),
        imp.pair(layer, "dilation"),
    )
    groups = imp.scalar(layer, "groups", None, 1, max(1, weight.shape[0]))
    c_out, c_in_g, kh, kw = weight.shape
    declared = imp.shape(layer)

    def infer() -> tuple[int, ...]:
        return _conv_input(
            imp, layer, declared, c_in_g * groups, (kh, kw), stride, padding, dilation
        )

    src = imp.spatial_source(layer, infer)
    if src.shape[0] != c_in_g * groups:
        raise imp.fail(
            layer,
            "weight",
            f"expects {c_in_g * groups} input channels (groups {groups}), "
            f"its source {src.name!r} has {src.shape[0]}",
        )
    out = (c_out, *conv2d_output_hw(src.shape[1:], (kh, kw), stride, padding, dilation))  # type: ignore[arg-type]
    shape = imp.check_shape(layer, out)
    if "delay" in layer.fields:
        imp.note(
            layer,
            "delay",
            "netx 0.6.0 ignores the delays of conv layers (hdf5.py create_conv); "
            "snnc computes what netx computes",
        )
    name = f"conv{layer.index}"
    bias = imp.integers(layer, "bias") if "bias" in layer.fields else None
    pop = netx_neuron(imp, layer, shape, bias)
    proj = QConv2d(
        src=src.name,
        dst=name,
        weight=weight,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )
    imp.add_layer(layer, pop, proj, name)


def _conv_input(
    imp: GraphBuilder,
    layer: NetxLayer,
    out: tuple[int, ...],
    channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[int, ...]:
    """The input (C, H, W) of a first conv layer when the file has no input layer: unique only
    for stride 1 (netx itself then needs its `input_shape` argument)."""
    if len(out) != 3:
        raise imp.fail(layer, "shape", f"= {list(out)}; a conv layer's shape is (C, H, W)")
    sizes = []
    for n, k, s, p, d in zip(out[1:], kernel, stride, padding, dilation):
        if s != 1:
            raise imp.fail(
                layer,
                None,
                f"is the first layer and has stride {s}, so the input size is ambiguous; "
                "give it with `snnc import FILE --input-shape C,H,W`",
            )
        sizes.append(n - 1 - 2 * p + d * (k - 1) + 1)
    if min(sizes) <= 0:
        raise imp.fail(layer, "shape", f"= {list(out)} cannot come from any input")
    return (channels, *sizes)


def pool_layer(imp: GraphBuilder, layer: NetxLayer) -> None:
    """SLAYER's sum pooling: one (kH, kW) kernel applied to every channel; netx refuses it, snnc
    lowers it to a grouped QConv2d (groups = C, each channel its own copy of the kernel)."""
    kernel = _kernel(imp, layer, "(1, 1, kH, kW[, 1]): SLAYER pools with one kernel")
    if kernel.shape[:2] != (1, 1):
        raise imp.fail(
            layer, "weight", f"shape {kernel.shape}; SLAYER pools with one (1, 1, kH, kW) kernel"
        )
    src = imp.spatial_source(layer, lambda: _not_first(imp, layer))
    stride, padding, dilation = (
        imp.pair(layer, "stride"),
        imp.pair(layer, "padding"),
        imp.pair(layer, "dilation"),
    )
    c = src.shape[0]
    _check_synapses(imp, layer, c * kernel.size)
    out = (c, *conv2d_output_hw(src.shape[1:], kernel.shape[2:], stride, padding, dilation))  # type: ignore[arg-type]
    shape = imp.check_shape(layer, out)
    name = f"pool{layer.index}"
    pop = netx_neuron(
        imp, layer, shape, imp.integers(layer, "bias") if "bias" in layer.fields else None
    )
    proj = QConv2d(
        src=src.name,
        dst=name,
        weight=np.repeat(kernel, c, axis=0),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=c,
    )
    imp.add_layer(layer, pop, proj, name)


def _not_first(imp: GraphBuilder, layer: NetxLayer) -> tuple[int, ...]:
    raise imp.fail(
        layer,
        None,
        f"a {layer.type} layer cannot be the first layer (its input size is unknown); "
        "give it with `snnc import FILE --input-shape C,H,W`",
    )


def transposed_layer(imp: GraphBuilder, layer: NetxLayer) -> None:
    """convT (weight (C_in, C_out/groups, kH, kW), PyTorch's ConvTranspose) and unpool (one
    (1, 1, kH, kW) kernel for every channel); netx refuses both. snnc lowers them to a QSparse
    holding every (input, output) synapse, each input neuron (c, i, j) reaching output
    (c', i*s - p + a*d, j*s - p + b*d) with weight w[c, c', a, b], and netx's dense weight rule."""
    weight = _kernel(imp, layer, "(C_in, C_out/groups, kH, kW[, 1])")
    src = imp.spatial_source(layer, lambda: _not_first(imp, layer))
    c_in = src.shape[0]
    if layer.type == "unpool":
        if weight.shape[:2] != (1, 1):
            raise imp.fail(
                layer,
                "weight",
                f"shape {weight.shape}; SLAYER unpools with one (1, 1, kH, kW) kernel",
            )
        groups = c_in
        weight = np.repeat(weight, c_in, axis=0)
    else:
        groups = (
            imp.scalar(layer, "groups", None, 1, max(1, c_in)) if "groups" in layer.fields else 1
        )
    stride, padding, dilation = (
        imp.pair(layer, "stride"),
        imp.pair(layer, "padding"),
        imp.pair(layer, "dilation"),
    )
    if weight.shape[0] != c_in:
        raise imp.fail(
            layer,
            "weight",
            f"expects {weight.shape[0]} input channels, its source {src.name!r} has {c_in}",
        )
    shape = imp.shape(layer)
    c_out = weight.shape[1] * groups
    if len(shape) != 3 or shape[0] != c_out:
        raise imp.fail(layer, "shape", f"= {list(shape)}, expected {c_out} channels (C, H, W)")
    full = [
        (n - 1) * s - 2 * p + d * (k - 1) + 1
        for n, k, s, p, d in zip(src.shape[1:], weight.shape[2:], stride, padding, dilation)
    ]
    if any(not f <= n < f + s for f, n, s in zip(full, shape[1:], stride)):
        raise imp.fail(
            layer,
            "shape",
            f"= {list(shape)}, but its input and kernel give {[c_out, *full]} (plus at most stride "
            "- 1)",
        )
    _check_synapses(imp, layer, weight[0].size * math.prod(src.shape))
    rows, cols, values = _transposed_synapses(
        weight, src.shape, shape, groups, stride, padding, dilation
    )
    fmt = netx_dense_format(values)
    bits = format_notes(imp, layer, fmt)
    name = f"{layer.type}{layer.index}"
    pop = netx_neuron(
        imp, layer, shape, imp.integers(layer, "bias") if "bias" in layer.fields else None
    )
    proj = QSparse(
        src=src.name,
        dst=name,
        rows=rows,
        cols=cols,
        values=fmt.weight,
        weight_exp=fmt.weight_exp,
        num_weight_bits=bits,
        sign_mode=lava_sign_mode(fmt.weight),
    )
    imp.add_layer(layer, pop, proj, name)


def _transposed_synapses(
    weight: np.ndarray,
    src: tuple[int, ...],
    dst: tuple[int, ...],
    groups: int,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, values) of a transposed convolution, zero weights left out."""
    c_in, h_in, w_in = src
    c_out, h_out, w_out = dst
    per_group_out = weight.shape[1]
    per_group_in = c_in // groups
    ci, co_g, a, b, i, j = np.meshgrid(
        np.arange(c_in),
        np.arange(per_group_out),
        np.arange(weight.shape[2]),
        np.arange(weight.shape[3]),
        np.arange(h_in),
        np.arange(w_in),
        indexing="ij",
    )
    co = (ci // per_group_in) * per_group_out + co_g
    oi = i * stride[0] - padding[0] + a * dilation[0]
    oj = j * stride[1] - padding[1] + b * dilation[1]
    w = weight[ci, co_g, a, b]
    keep = (oi >= 0) & (oi < h_out) & (oj >= 0) & (oj < w_out) & (w != 0)
    rows = (co * h_out + oi) * w_out + oj
    cols = (ci * h_in + i) * w_in + j
    return rows[keep], cols[keep], w[keep]


def _kernel(imp: GraphBuilder, layer: NetxLayer, what: str) -> np.ndarray:
    """A 4-D kernel, as netx reshapes it (`weight.shape[:4]`: trailing sizes must be 1), with
    at most MAX_SYNAPSES values once repeated per channel or unrolled."""
    weight = imp.integers(layer, "weight")
    if weight.ndim < 4 or any(d != 1 for d in weight.shape[4:]) or weight.size == 0:
        raise imp.fail(layer, "weight", f"shape {weight.shape}; expected {what}")
    return weight.reshape(weight.shape[:4])


def _check_synapses(imp: GraphBuilder, layer: NetxLayer, count: int) -> None:
    if count > MAX_SYNAPSES:
        raise imp.fail(
            layer,
            "weight",
            f"unrolls to {count} synapses, more than the {MAX_SYNAPSES} snnc builds for one layer",
        )
