"""The snnc graph a netx import builds, layer by layer: `GraphBuilder`.

It holds the populations and projections made so far and the output the next layer reads
(`LayerOutput`: a population, or the parts a `concat` layer joins); the layer handlers
(`compiler.netx.layers`) add to it. A projection reading a `concat` becomes one projection per
joined population (`connect`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.netx.fields import LayerFields
from compiler.netx.reader import NetxLayer
from compiler.netx.weights import dense_conv_weight
from ir.nodes import Input, Population, Projection, QConv2d, QDense, QSparse

__all__ = ["GraphBuilder", "LayerOutput"]


@dataclass
class LayerOutput:
    """The population the next layer reads: its name and (C, H, W) or (n,) shape."""

    name: str
    shape: tuple[int, ...]
    parts: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """For a `concat` layer: the populations it joins along channels (or flat), in order."""


@dataclass
class GraphBuilder(LayerFields):
    """The graph so far, the output the next layer reads, and what the layers said."""

    input_shape: tuple[int, ...] | None = None
    pops: dict[str, Population] = field(default_factory=dict)
    projs: dict[str, Projection] = field(default_factory=dict)
    prev: LayerOutput | None = None
    flatten: bool = False
    latency: int = 0
    # What each layer's output is (and whether it is flattened), for `input` and `concat`.
    outputs: dict[int, tuple[LayerOutput, bool]] = field(default_factory=dict)
    concats: dict[str, LayerOutput] = field(default_factory=dict)
    readout: dict[str, Any] | None = None

    # ------------------------------------------------------------------ populations

    def add_input(self, shape: tuple[int, ...], message_bits: int = 0) -> LayerOutput:
        self.pops["input"] = Input(shape=shape, message_bits=message_bits)
        return LayerOutput("input", shape)

    def source(
        self,
        layer: NetxLayer,
        n_in: int | None = None,
        conv_in: Callable[[], tuple[int, ...]] | None = None,
    ) -> LayerOutput:
        """The population this layer reads, creating the host input if this is the first layer."""
        if self.prev is not None:
            return self.prev
        if self.input_shape is not None:
            return self.add_input(tuple(self.input_shape))
        if conv_in is not None:
            return self.add_input(conv_in())
        assert n_in is not None
        return self.add_input((n_in,))

    def add_layer(
        self, layer: NetxLayer, pop: Population, proj: Projection | None, name: str
    ) -> None:
        self.pops[name] = pop
        if proj is not None:
            self.connect(layer, f"{name}.in", proj)
        self.prev = LayerOutput(name, pop.shape)
        self.flatten = False

    def connect(self, layer: NetxLayer, name: str, proj: Projection) -> None:
        """Add a projection; one reading a `concat` becomes one projection per joined
        population (`_split`: the columns, or input channels, that population gives)."""
        joined = self.concats.get(proj.src)
        if joined is None:
            self.projs[name] = proj
            return
        start = 0
        for part, shape in joined.parts:
            n = shape[0] if isinstance(proj, QConv2d) else math.prod(shape)
            self.projs[f"{name}.{part}"] = _split(proj, part, start, start + n)
            start += n

    def layer_output(self, layer: NetxLayer, value: np.ndarray) -> tuple[LayerOutput, bool]:
        """The output of the layer a field names by index (snnc's `input`/`concat` layout)."""
        flat = value.reshape(-1)
        if flat.size != 1 or flat[0] != np.round(flat[0]):
            raise self.fail(
                layer, "input", f"= {flat.tolist()}; expected the index of one earlier layer"
            )
        index = int(flat[0])
        if index not in self.outputs or index >= layer.index:
            raise self.fail(layer, "input", f"= {index}: not an earlier layer with an output "
                                            f"(those are {sorted(self.outputs) or 'none'})")
        return self.outputs[index]

    def flat_source(self, layer: NetxLayer, n_in: int) -> LayerOutput:
        """The source of a dense-like layer: flat, through a flatten layer if it is spatial."""
        src = self.source(layer, n_in=n_in)
        if len(src.shape) > 1 and not self.flatten and src.name != "input":
            raise self.fail(
                layer,
                None,
                f"reads the {src.shape} output of {src.name!r} without a flatten layer; "
                "netx 0.6.0 cannot connect them",
            )
        if math.prod(src.shape) != n_in:
            raise self.fail(
                layer,
                "weight",
                f"has {n_in} inputs, its source {src.name!r} has {math.prod(src.shape)} neurons",
            )
        return src

    def spatial_source(self, layer: NetxLayer, infer: Callable[[], tuple[int, ...]]) -> LayerOutput:
        src = self.source(layer, conv_in=infer)
        if len(src.shape) != 3:
            raise self.fail(
                layer,
                None,
                f"needs a (C, H, W) input; its source {src.name!r} has shape {src.shape}",
            )
        return src

    def check_shape(self, layer: NetxLayer, computed: tuple[int, ...]) -> tuple[int, ...]:
        declared = self.shape(layer)
        if declared != computed:
            raise self.fail(
                layer,
                "shape",
                f"= {list(declared)}, but its input and kernel give {list(computed)}",
            )
        return declared


def _split(proj: Projection, part: str, start: int, stop: int) -> Projection:
    """The synapses of `proj` (reading a concat) from the columns, or input channels,
    start..stop that population `part` gives, as a projection from `part`. A part's sum is a
    part of the layer's sum: netx's weight formats are whole multiples of 2^-weight_exp, so
    each part shifts exactly."""
    if isinstance(proj, QDense):
        return proj.replace(src=part, weight=proj.weight[:, start:stop])  # type: ignore[return-value]
    if isinstance(proj, QSparse):
        keep = (proj.cols >= start) & (proj.cols < stop)
        return proj.replace(src=part, rows=proj.rows[keep], cols=proj.cols[keep] - start,  # type: ignore[return-value]
                            values=proj.values[keep])
    assert isinstance(proj, QConv2d)
    # A grouped convolution (a pool: one kernel per channel) as the groups = 1 convolution that
    # computes the same, zero where an output channel reads another group's inputs.
    return proj.replace(
        src=part, weight=dense_conv_weight(proj.weight, proj.groups)[:, start:stop], groups=1
    )  # type: ignore[return-value]
