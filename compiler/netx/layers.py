"""netx's layer types, each as the snnc synapse (and neurons) netx 0.6.0 builds: `LAYER_TYPES`.

A handler reads one layer's fields (`compiler.netx.fields`) and adds its neurons
(`compiler.netx.neuron_params`) and projection to the graph being built
(`compiler.netx.builder`); the table of what each type becomes is the docstring of
`compiler.netx.importer`. Dense synapses take the format netx derives from the weights
(`compiler.netx.weights`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from compiler.netx.builder import GraphBuilder, LayerOutput
from compiler.netx.neuron_params import netx_neuron
from compiler.netx.reader import NetxLayer, text_field
from compiler.netx.weights import DenseFormat, lava_sign_mode, netx_dense_format
from ir.fixed import LAVA_FIXED_PT
from ir.nodes import QConv2d, QDense, QSparse, conv2d_output_hw
from neurons import model_of

__all__ = ["DELTA_INPUT_BITS", "LAYER_TYPES", "MAX_SYNAPSES", "NETX_MAX_DELAY"]

# netx clips delays to this (hdf5.py create_dense: "Found max delay ... Clamping the delays").
NETX_MAX_DELAY = 62
# A delta encoder's input port is int32 with precision 24 (lava proc/sdn/models.py
# PyDeltaModelFixed a_in): the host input of an SDNN input layer is that wide.
DELTA_INPUT_BITS = 24
# pool/unpool/convT lowerings hold one value per synapse; 2^26 int64 values is 512 MiB.
MAX_SYNAPSES = 1 << 26


def _input(imp: GraphBuilder, layer: NetxLayer) -> None:
    if imp.prev is not None:
        raise imp.fail(layer, None, "an input layer after other layers; netx reads it only first")
    if "shape" not in layer.fields and layer.neuron is None:
        return
    shape = tuple(imp.input_shape) if imp.input_shape is not None else imp.shape(layer)
    if layer.neuron is None:
        imp.prev = imp.add_input(shape)
        return
    for name in ("weight", "bias"):
        if name in layer.fields:
            imp.note(
                layer,
                name,
                "the input layer's transform: netx 0.6.0 stores it and never applies it; "
                "snnc computes what netx computes",
            )
    name = f"input{layer.index}"
    n = math.prod(shape)
    pop = netx_neuron(imp, layer, shape, None, first=True)
    # netx feeds the input neurons' a_in with the user's data: graded for a delta encoder.
    host = imp.add_input(shape, DELTA_INPUT_BITS if model_of(pop).graded else 0)
    one_to_one = QSparse(
        src=host.name,
        dst=name,
        rows=np.arange(n),
        cols=np.arange(n),
        values=np.ones(n, dtype=np.int64),
        weight_exp=0,
        num_weight_bits=8,
        sign_mode="excitatory",
    )
    imp.add_layer(layer, pop, one_to_one, name)
    imp.latency = 1


def _flatten(imp: GraphBuilder, layer: NetxLayer) -> None:
    imp.flatten = True


def _dense(imp: GraphBuilder, layer: NetxLayer, recurrent: bool = False) -> None:
    if isinstance(layer.fields.get("weight"), dict) or layer.type == "dense_comp":
        if recurrent:
            raise imp.fail(
                layer,
                "weight",
                "is complex (real/imag) in a dense_rec layer; neither SLAYER nor netx "
                "0.6.0 builds complex recurrent synapses",
            )
        _complex_dense(imp, layer)
        return
    kind = text_field((layer.neuron or {}).get("type"))
    if kind is not None and "RF" in kind:
        raise imp.fail(
            layer,
            "weight",
            f"is real, into {kind!r} neurons: netx 0.6.0 connects a real dense synapse "
            "to the neurons' a_in, which its RF processes have not (they take "
            "weight/real and weight/imag)",
        )
    n_out = math.prod(imp.shape(layer))
    weight = _matrix(imp, layer, "weight", n_out)
    src = imp.flat_source(layer, weight.shape[1])
    name = f"{layer.type}{layer.index}"
    rec = None
    if recurrent:
        rec = _matrix(imp, layer, "weight_rec", n_out)
        if rec.shape != (n_out, n_out):
            raise imp.fail(layer, "weight_rec", f"shape {rec.shape}, expected {(n_out, n_out)}")
        fmt = netx_dense_format(np.hstack([weight, rec]))
        w_in, w_rec = fmt.weight[:, : weight.shape[1]], fmt.weight[:, weight.shape[1]:]
    else:
        fmt = netx_dense_format(weight)
        w_in, w_rec = fmt.weight, None
    bits = _format_notes(imp, layer, fmt)
    delay = _dense_delay(imp, layer, w_in.shape)
    weight_exp = fmt.weight_exp
    if recurrent and delay is not None and weight_exp != 0:
        imp.note(
            layer,
            "weight_exp",
            "netx 0.6.0 builds delayed dense_rec synapses without the exponent it "
            "derived (blocks/process.py RecurrentDense); snnc computes what netx computes",
            str(weight_exp),
        )
        weight_exp = 0
    bias = imp.integers(layer, "bias") if "bias" in layer.fields else None
    pop = netx_neuron(imp, layer, (n_out,), bias)
    proj = QDense(src=src.name, dst=name, weight=w_in, weight_exp=weight_exp, num_weight_bits=bits,
                  sign_mode=lava_sign_mode(w_in), delay=0 if delay is None else delay)
    imp.add_layer(layer, pop, proj, name)
    if w_rec is not None:
        if delay is not None and delay.shape != w_rec.shape:
            raise imp.fail(
                layer,
                "delay",
                f"netx 0.6.0 gives the recurrent synapse the same delays, shape {delay.shape}, "
                f"which do not fit its {w_rec.shape} weights",
            )
        imp.projs[f"{name}.rec"] = QDense(
            src=name, dst=name, weight=w_rec, weight_exp=weight_exp, num_weight_bits=bits,
            sign_mode=lava_sign_mode(w_rec), delay=0 if delay is None else delay,
        )


def _complex_dense(imp: GraphBuilder, layer: NetxLayer) -> None:
    """SLAYER's complex dense block (`weight/real`, `weight/imag`, written as a `dense` layer):
    netx's ComplexDense (blocks/process.py), two synapses with their own formats
    (`optimize_weight_bits` each) into the RF neurons' a_real_in and a_imag_in: a QDense into
    the default ("real") port and one into the "imag" port. netx builds them without delays or
    bias."""
    weights = layer.fields.get("weight")
    if not isinstance(weights, dict) or not {"real", "imag"} <= set(weights):
        raise imp.fail(layer, "weight", "a complex dense layer needs weight/real and weight/imag")
    kind = text_field((layer.neuron or {}).get("type"))
    if kind is None or "RF" not in kind:
        raise imp.fail(
            layer,
            "neuron/type",
            f"= {kind!r}: complex weights feed the real and imaginary inputs of RF "
            "neurons; netx 0.6.0 connects them to a_real_in/a_imag_in, which "
            f"{kind or 'its default CUBA'} neurons have not",
        )
    if layer.type == "dense_comp":
        imp.notes.append(
            f"{imp.nf.path}: layer/{layer.index} (dense_comp): netx 0.6.0 cannot load this layer "
            "type (hdf5.py calls Network.create_complex_dense, which it does not define: "
            "AttributeError); snnc imports it as the complex dense layer SLAYER writes (type "
            "dense), which netx builds"
        )
    parts = NetxLayer(
        layer.index, layer.type, {"weight/real": weights["real"], "weight/imag": weights["imag"]}
    )
    n_out = math.prod(imp.shape(layer))
    real, imag = (
        _matrix(imp, parts, "weight/real", n_out),
        _matrix(imp, parts, "weight/imag", n_out),
    )
    if real.shape != imag.shape:
        raise imp.fail(
            layer, "weight/imag", f"shape {imag.shape} differs from weight/real's {real.shape}"
        )
    src = imp.flat_source(layer, real.shape[1])
    for dropped in ("delay", "bias"):
        if dropped in layer.fields:
            imp.note(
                layer,
                dropped,
                "netx 0.6.0 builds complex dense layers without it (hdf5.py create_dense "
                "passes it only to real Dense blocks); snnc computes what netx computes",
            )
    name = f"{layer.type}{layer.index}"
    pop = netx_neuron(imp, layer, (n_out,), None)
    projs = []
    for label, weight, port in (("weight/real", real, None), ("weight/imag", imag, "imag")):
        fmt = netx_dense_format(weight)
        bits = _format_notes(imp, parts, fmt, label)
        projs.append(QDense(src=src.name, dst=name, weight=fmt.weight, weight_exp=fmt.weight_exp,
                            num_weight_bits=bits, sign_mode=lava_sign_mode(fmt.weight), port=port))
    imp.add_layer(layer, pop, projs[0], name)
    imp.connect(layer, f"{name}.imag", projs[1])


def _format_notes(
    imp: GraphBuilder, layer: NetxLayer, fmt: DenseFormat, label: str = "weight"
) -> int:
    """Say what netx did to the weights, and return num_weight_bits for the IR. Refuse the one
    format Lava's Python model runs that the 8-bit synapse cannot hold: num_weight_bits = 9, odd
    mixed-sign weights beyond +-127 (after netx's clipping; SLAYER's weights are even). Weights
    netx zeroed compute 0 with any bit count: 8 then."""
    if fmt.note:
        imp.notes.append(f"{imp.nf.path}: layer/{layer.index} ({layer.type}) {label}: {fmt.note}")
    if not fmt.weight.any():
        return min(fmt.num_weight_bits, LAVA_FIXED_PT.max_weight_bits)
    if fmt.num_weight_bits > LAVA_FIXED_PT.max_weight_bits:
        raise imp.fail(
            layer,
            label,
            f"netx derives num_weight_bits = {fmt.num_weight_bits} (odd mixed-sign weights "
            f"up to {int(np.abs(fmt.weight).max())}), beyond the "
            f"{LAVA_FIXED_PT.max_weight_bits}-bit synapse ({LAVA_FIXED_PT.name})",
        )
    return fmt.num_weight_bits


def _matrix(imp: GraphBuilder, layer: NetxLayer, name: str, n_out: int) -> np.ndarray:
    """A dense weight matrix (n_out, n_in); netx reshapes a flat one to (n_out, -1)."""
    weight = imp.integers(layer, name)
    if weight.ndim == 1 and weight.size and weight.size % n_out == 0:
        weight = weight.reshape(n_out, -1)
    if weight.ndim != 2 or weight.shape[0] != n_out or weight.size == 0:
        raise imp.fail(layer, name, f"shape {weight.shape} does not give {n_out} outputs")
    return weight


def _kernel(imp: GraphBuilder, layer: NetxLayer, what: str) -> np.ndarray:
    """A 4-D kernel, as netx reshapes it (`weight.shape[:4]`: trailing sizes must be 1), with
    at most MAX_SYNAPSES values once repeated per channel or unrolled."""
    weight = imp.integers(layer, "weight")
    if weight.ndim < 4 or any(d != 1 for d in weight.shape[4:]) or weight.size == 0:
        raise imp.fail(layer, "weight", f"shape {weight.shape}; expected {what}")
    return weight.reshape(weight.shape[:4])


def _dense_delay(imp: GraphBuilder, layer: NetxLayer, shape: tuple[int, int]) -> np.ndarray | None:
    """netx's per-synapse delays (hdf5.py create_dense): a scalar for all, n_out values per row,
    n_in per column (rows win when both match), or the full matrix; clipped to 62."""
    if "delay" not in layer.fields:
        return None
    raw = imp.array(layer, "delay")
    delay = raw.astype(np.int64)
    if raw.dtype.kind == "f" and np.any(delay != raw):
        imp.note(
            layer,
            "delay",
            "non-integer delays truncated toward zero, as Lava's DelayDense (astype(int))",
        )
    if delay.size and delay.min() < 0:
        raise imp.fail(layer, "delay", f"= {int(delay.min())}; delays must be >= 0")
    if delay.size and delay.max() > NETX_MAX_DELAY:
        imp.note(
            layer,
            "delay",
            f"clipped to {NETX_MAX_DELAY}, as netx 0.6.0 does",
            f"up to {int(delay.max())}",
        )
        delay = np.clip(delay, 0, NETX_MAX_DELAY)
    n_out, n_in = shape
    if delay.ndim == 0:
        return np.full(shape, int(delay), dtype=np.int64)
    if delay.ndim == 1:
        if delay.size == n_out:
            return np.repeat(delay.reshape(-1, 1), n_in, axis=1)
        if delay.size == n_in:
            return np.repeat(delay.reshape(1, -1), n_out, axis=0)
        raise imp.fail(
            layer,
            "delay",
            f"has {delay.size} values; netx 0.6.0 needs {n_out} (per output) or {n_in} (per input)",
        )
    if delay.shape != shape:
        raise imp.fail(layer, "delay", f"shape {delay.shape} does not match the weights {shape}")
    return delay


def _conv(imp: GraphBuilder, layer: NetxLayer) -> None:
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


def _pool(imp: GraphBuilder, layer: NetxLayer) -> None:
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


def _transposed(imp: GraphBuilder, layer: NetxLayer) -> None:
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
    bits = _format_notes(imp, layer, fmt)
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


def _concat(imp: GraphBuilder, layer: NetxLayer) -> None:
    """snnc's `concat` layer (docs/netx.md; no lava-dl 0.6.0 block writes one and netx reads
    none of its fields): `inputs` names earlier layers by index, whose outputs it joins along
    channels ((C, H, W) parts of equal H, W) or end to end (flat, or flattened, parts), as
    torch.cat(dim=1) of SLAYER's (N, C, H, W, T) outputs. It makes no neurons: the next layer
    reads the joined output, its synapse cut into one projection per part."""
    if "inputs" not in layer.fields:
        raise imp.fail(
            layer, "inputs", "missing; a concat layer names the layers it joins by index"
        )
    indices = imp.array(layer, "inputs").reshape(-1)
    if indices.size < 2:
        raise imp.fail(
            layer, "inputs", f"= {indices.tolist()}; a concat layer joins two or more layers"
        )
    outs = [imp.layer_output(layer, np.asarray(i)) for i in indices]
    parts: list[tuple[str, tuple[int, ...]]] = []
    for prev, flattened in outs:
        for part in prev.parts or ((prev.name, prev.shape),):
            parts.append((part[0], (math.prod(part[1]),) if flattened else part[1]))
    names = [p for p, _ in parts]
    if len(set(names)) != len(names):
        raise imp.fail(layer, "inputs", f"joins {names}: a population twice")
    spatial = {len(shape) for _, shape in parts} == {3}
    if spatial:
        hw = {shape[1:] for _, shape in parts}
        if len(hw) != 1:
            raise imp.fail(
                layer,
                "inputs",
                f"joins (C, H, W) outputs of different sizes {sorted(hw)}; channels "
                "join only over equal H, W (flatten them first)",
            )
        shape: tuple[int, ...] = (sum(s[0] for _, s in parts), *parts[0][1][1:])
    else:
        if any(len(s) > 1 for _, s in parts):
            raise imp.fail(
                layer, "inputs", "joins flat and (C, H, W) outputs; flatten the spatial ones first"
            )
        shape = (sum(math.prod(s) for _, s in parts),)
    declared = imp.shape(layer) if "shape" in layer.fields else shape
    if math.prod(declared) != math.prod(shape) or (spatial and tuple(declared) != shape):
        raise imp.fail(
            layer, "shape", f"= {list(declared)}, but the joined outputs give {list(shape)}"
        )
    name = f"concat{layer.index}"
    imp.prev = LayerOutput(name, shape, tuple(parts))
    imp.concats[name] = imp.prev
    imp.flatten = False




def _average(imp: GraphBuilder, layer: NetxLayer) -> None:
    """SLAYER's Average block (block/base.py AbstractAverage): the mean of the previous layer's
    output over `num_outputs` equal groups of consecutive neurons, per step, with no neurons
    and no step of its own. netx refuses it; on a chip it is what the host computes from the
    output spikes, so snnc imports it as that: a `group_mean` readout in the graph's metadata
    (`snnc run` adds the means beside the spikes, `app.readouts.group_means`). SLAYER's own
    export of the block fails (it writes `shape` from a neuron the block has not); as SLAYER
    means it, `shape` is (num_outputs, 1, 1)."""
    if imp.prev is None or imp.prev.parts or imp.prev.name == "input":
        raise imp.fail(layer, None, "averages no layer of neurons (it must follow one)")
    groups = imp.shape(layer)
    if len(groups) == 3 and groups[1:] != (1, 1) or len(groups) == 2:
        raise imp.fail(layer, "shape", f"= {list(groups)}; SLAYER's average is (num_outputs, 1, 1)")
    k = groups[0]
    n = math.prod(imp.prev.shape)
    if n % k:
        raise imp.fail(
            layer,
            "shape",
            f"= {list(groups)}: {n} neurons of {imp.prev.name!r} do not make {k} equal groups",
        )
    imp.readout = {
        "kind": "group_mean",
        "population": imp.prev.name,
        "groups": k,
        "layer": layer.index,
    }


def _check_synapses(imp: GraphBuilder, layer: NetxLayer, count: int) -> None:
    if count > MAX_SYNAPSES:
        raise imp.fail(
            layer,
            "weight",
            f"unrolls to {count} synapses, more than the {MAX_SYNAPSES} snnc builds for one layer",
        )


# netx 0.6.0 type -> handler; order as in netx's `_create`.
LAYER_TYPES: dict[str, Callable[[GraphBuilder, NetxLayer], None]] = {
    "input": _input,
    "flatten": _flatten,
    "dense": _dense,
    "dense_rec": lambda imp, layer: _dense(imp, layer, recurrent=True),
    "conv": _conv,
    "pool": _pool,
    "convT": _transposed,
    "unpool": _transposed,
    "dense_comp": _dense,
    "average": _average,
    "concat": _concat,
}
