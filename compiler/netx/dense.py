"""netx's dense layers as the synapses netx 0.6.0 builds: `dense_layer` (dense, dense_rec, and
SLAYER's complex dense into RF neurons), with the weight format netx derives from the file's
weights (`compiler.netx.weights`) and its per-synapse delays.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.netx.builder import GraphBuilder
from compiler.netx.neuron_params import netx_neuron
from compiler.netx.reader import NetxLayer, text_field
from compiler.netx.weights import DenseFormat, lava_sign_mode, netx_dense_format
from ir.fixed import LAVA_FIXED_PT
from ir.nodes import QDense

__all__ = ["NETX_MAX_DELAY", "dense_layer", "format_notes"]

# netx clips delays to this (hdf5.py create_dense: "Found max delay ... Clamping the delays").
NETX_MAX_DELAY = 62


def dense_layer(imp: GraphBuilder, layer: NetxLayer, recurrent: bool = False) -> None:
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
    bits = format_notes(imp, layer, fmt)
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
        bits = format_notes(imp, parts, fmt, label)
        projs.append(QDense(src=src.name, dst=name, weight=fmt.weight, weight_exp=fmt.weight_exp,
                            num_weight_bits=bits, sign_mode=lava_sign_mode(fmt.weight), port=port))
    imp.add_layer(layer, pop, projs[0], name)
    imp.connect(layer, f"{name}.imag", projs[1])


def format_notes(
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
