"""netx's layer types, each as the snnc synapse (and neurons) netx 0.6.0 builds: `LAYER_TYPES`.

A handler reads one layer's fields (`compiler.netx.fields`) and adds its neurons
(`compiler.netx.neuron_params`) and projection to the graph being built
(`compiler.netx.builder`); the table of what each type becomes is the docstring of
`compiler.netx.importer`. The dense layers are `compiler.netx.dense`, the convolution-family
ones `compiler.netx.conv`; this module holds the layers that make no synapse of their own
(input, flatten, concat, average) and the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from compiler.netx.builder import GraphBuilder, LayerOutput
from compiler.netx.conv import conv_layer, pool_layer, transposed_layer
from compiler.netx.dense import dense_layer
from compiler.netx.neuron_params import netx_neuron
from compiler.netx.reader import NetxLayer
from ir.nodes import QSparse
from neurons import model_of

__all__ = ["DELTA_INPUT_BITS", "LAYER_TYPES"]

# A delta encoder's input port is int32 with precision 24 (lava proc/sdn/models.py
# PyDeltaModelFixed a_in): the host input of an SDNN input layer is that wide.
DELTA_INPUT_BITS = 24


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


# netx 0.6.0 type -> handler; order as in netx's `_create`.
LAYER_TYPES: dict[str, Callable[[GraphBuilder, NetxLayer], None]] = {
    "input": _input,
    "flatten": _flatten,
    "dense": dense_layer,
    "dense_rec": lambda imp, layer: dense_layer(imp, layer, recurrent=True),
    "conv": conv_layer,
    "pool": pool_layer,
    "convT": transposed_layer,
    "unpool": transposed_layer,
    "dense_comp": dense_layer,
    "average": _average,
    "concat": _concat,
}
