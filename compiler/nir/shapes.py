"""Shapes of a NIR graph's signals, inferred from its Inputs and its nodes' parameters.

Every node's output shape follows from its input's (Affine/Linear: the weight's rows; Conv and
pooling: `conv_output_shape`; Flatten; neurons: their parameters' size or their input's), and
every edge is checked to carry as many values as its destination takes. Convolutions and
pooling record their (C, H, W) input, kernel, stride, padding and dilation in
`params["_geometry"]` for the importer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from compiler.nir.ops import conv_output_shape
from compiler.nir.parsed import NEURON_TYPES, ParsedNode, node_label
from ir.errors import ModelFormatError

__all__ = ["ShapeInference", "flatten_shape"]


class ShapeInference:
    """`ShapeInference(nodes, preds, fail).infer()`: {node name: output shape}."""

    def __init__(
        self,
        nodes: Mapping[str, ParsedNode],
        preds: Mapping[str, list[str]],
        fail: Callable[[str | None, str], ModelFormatError],
    ) -> None:
        self.nodes, self.preds, self.fail = nodes, preds, fail

    def infer(self) -> dict[str, tuple[int, ...]]:
        """Output shape of every node, propagated from Inputs and neuron parameters."""
        shapes: dict[str, tuple[int, ...]] = {}
        order = list(self.nodes)
        changed = True
        while changed:
            changed = False
            for name in order:
                if name in shapes:
                    continue
                node = self.nodes[name]
                known = [p for p in self.preds[name] if p in shapes]
                if self.preds[name] and not known:
                    continue  # its input decides its shape (and is checked against its parameters)
                in_shape = shapes[known[0]] if known else None
                out = self.node_shape(node, in_shape)
                if out is not None:
                    shapes[name] = out
                    changed = True
        for name, node in self.nodes.items():
            if name not in shapes:
                raise self.fail(
                    node_label(node), "its shape cannot be inferred (no path from an Input)"
                )
        for name, node in self.nodes.items():
            for p in self.preds[name]:
                got, want = math.prod(shapes[p]), self.in_size(node, shapes)
                if got != want:
                    raise self.fail(
                        f"edge ({p!r}, {name!r})", f"carries {got} values, {name!r} takes {want}"
                    )
        return shapes

    def in_size(self, node: ParsedNode, shapes: dict[str, tuple[int, ...]]) -> int:
        p = node.params
        if node.type in ("Affine", "Linear"):
            return int(p["weight"].shape[1])
        preds = self.preds[node.name]
        if preds:
            return math.prod(shapes[preds[0]])
        return math.prod(shapes[node.name])

    def node_shape(
        self, node: ParsedNode, in_shape: tuple[int, ...] | None
    ) -> tuple[int, ...] | None:
        p, t, where = node.params, node.type, node_label(node)
        if t == "Input":
            shape = tuple(int(d) for d in p["shape"].reshape(-1))
            while len(shape) > 3 and shape[0] == 1:  # a batch dimension some exporters keep
                shape = shape[1:]
            if not shape or len(shape) > 3 or min(shape) <= 0:
                raise self.fail(
                    f"{where}.shape", f"expected 1 to 3 positive sizes, got {list(shape)}"
                )
            return shape
        if t in NEURON_TYPES:
            return self.neuron_shape(node, in_shape)
        if in_shape is None:
            return None
        if t == "Output":
            return in_shape
        if t in ("Affine", "Linear"):
            w = p["weight"]
            if w.ndim != 2:
                raise self.fail(
                    f"{where}.weight", f"expected a 2-D (out, in) matrix, got shape {w.shape}"
                )
            if t == "Affine" and p["bias"].size not in (1, w.shape[0]):
                raise self.fail(
                    f"{where}.bias", f"expected {w.shape[0]} values, got {p['bias'].size}"
                )
            return (int(w.shape[0]),)
        if t in ("Scale", "Delay"):
            key = "scale" if t == "Scale" else "delay"
            if p[key].size not in (1, math.prod(in_shape)):
                raise self.fail(
                    f"{where}.{key}", f"has {p[key].size} values for a signal of shape {in_shape}"
                )
            return in_shape
        if t == "Flatten":
            return flatten_shape(in_shape, p["start_dim"], p["end_dim"])
        return self.spatial_shape(node, in_shape)

    def neuron_shape(self, node: ParsedNode, in_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        arrays = [v for v in node.params.values() if isinstance(v, np.ndarray)]
        sizes = {a.size for a in arrays} - {1}
        if len(sizes) > 1:
            raise self.fail(node_label(node), f"parameters have different sizes {sorted(sizes)}")
        if in_shape is not None:
            if sizes and sizes != {math.prod(in_shape)}:
                raise self.fail(
                    node_label(node),
                    f"has {sizes.pop()} neurons but receives {math.prod(in_shape)} values",
                )
            return in_shape
        full = [a for a in arrays if a.size > 1]
        shape = tuple(full[0].shape) if full else (1,)
        while len(shape) > 3 and shape[0] == 1:
            shape = shape[1:]
        return shape or (1,)

    def spatial_shape(self, node: ParsedNode, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        p, t, where = node.params, node.type, node_label(node)
        size = math.prod(in_shape)
        if t == "Conv1d":
            w = p["weight"]
            if w.ndim != 3:
                raise self.fail(
                    f"{where}.weight", f"expected (C_out, C_in/groups, k), got shape {w.shape}"
                )
            c_in = w.shape[1] * p["groups"]
            if size % c_in:
                raise self.fail(where, f"input of {size} values is not {c_in} channels")
            shape3 = (c_in, 1, size // c_in)
            kernel = (1, int(w.shape[2]))
            stride, dilation = (
                (1, self.one(p["stride"], where, "stride")),
                (1, self.one(p["dilation"], where, "dilation")),
            )
            padding = (0, self.padding_1d(p["padding"], kernel[1], dilation[1], stride[1], where))
            c_out = int(w.shape[0])
        else:
            if t == "Conv2d":
                w = p["weight"]
                if w.ndim != 4:
                    raise self.fail(
                        f"{where}.weight",
                        f"expected (C_out, C_in/groups, kH, kW), got shape {w.shape}",
                    )
                c_in, c_out, kernel = (
                    int(w.shape[1] * p["groups"]),
                    int(w.shape[0]),
                    (int(w.shape[2]), int(w.shape[3])),
                )
                stride, dilation = (
                    self.pair(p["stride"], where, "stride"),
                    self.pair(p["dilation"], where, "dilation"),
                )
            else:
                kernel = self.pair(p["kernel_size"], where, "kernel_size")
                stride, dilation = self.pair(p["stride"], where, "stride"), (1, 1)
                c_in = in_shape[0] if len(in_shape) == 3 else None
                c_out = c_in
            shape3 = self.spatial_input(node, in_shape, c_in)
            c_out = c_out if c_out is not None else shape3[0]
            padding = self.padding_2d(p["padding"], kernel, dilation, stride, where)
        if shape3[0] != (c_in if c_in is not None else shape3[0]):
            raise self.fail(where, f"expects {c_in} input channels, receives shape {shape3}")
        out = conv_output_shape(shape3, c_out, kernel, stride, padding, dilation)
        if min(out[1:]) <= 0:
            raise self.fail(where, f"output would be empty for input {shape3}")
        node.params["_geometry"] = (shape3, kernel, stride, padding, dilation)
        return out

    def spatial_input(
        self, node: ParsedNode, in_shape: tuple[int, ...], c_in: int | None
    ) -> tuple[int, int, int]:
        where = node_label(node)
        if len(in_shape) == 3:
            return in_shape  # type: ignore[return-value]
        hint = node.params.get("input_shape")
        if (
            hint is not None
            and c_in is not None
            and hint.size == 2
            and c_in * int(np.prod(hint)) == math.prod(in_shape)
        ):
            return (c_in, int(hint[0]), int(hint[1]))
        if len(in_shape) == 2 and c_in in (None, 1):
            return (1, *in_shape)  # type: ignore[return-value]
        raise self.fail(where, f"needs a (C, H, W) input, receives shape {in_shape}")

    def pair(self, value: Any, where: str, key: str, minimum: int = 1) -> tuple[int, int]:
        arr = np.asarray(value).reshape(-1)
        if arr.size == 1:
            arr = np.repeat(arr, 2)
        if arr.size != 2 or arr.min() < minimum:
            raise self.fail(
                f"{where}.{key}", f"expected one or two integers >= {minimum}, got {arr.tolist()}"
            )
        return int(arr[0]), int(arr[1])

    def one(self, value: Any, where: str, key: str, minimum: int = 1) -> int:
        arr = np.asarray(value).reshape(-1)
        if arr.size != 1 or arr[0] < minimum:
            raise self.fail(
                f"{where}.{key}", f"expected one integer >= {minimum}, got {arr.tolist()}"
            )
        return int(arr[0])

    def padding_2d(self, pad: Any, kernel, dilation, stride, where: str) -> tuple[int, int]:
        if isinstance(pad, str):
            return tuple(
                self.padding_1d(pad, k, d, s, where)
                for k, d, s in zip(kernel, dilation, stride, strict=True)
            )  # type: ignore[return-value]
        return self.pair(pad, where, "padding", minimum=0)

    def padding_1d(self, pad: Any, k: int, d: int, s: int, where: str) -> int:
        if isinstance(pad, str):
            if pad == "valid":
                return 0
            total = d * (k - 1)
            if s != 1 or total % 2:
                raise self.fail(
                    f"{where}.padding",
                    "'same' padding is asymmetric here (even kernel or stride > 1); "
                    "snnc's convolutions pad both sides equally",
                )
            return total // 2
        return self.one(pad, where, "padding", minimum=0)


def flatten_shape(shape: tuple[int, ...], start: int, end: int) -> tuple[int, ...]:
    nd = len(shape)
    s = start + nd if start < 0 else start
    e = end + nd if end < 0 else end
    s, e = max(0, min(s, nd - 1)), max(0, min(e, nd - 1))
    if s > e:
        return shape
    return (*shape[:s], math.prod(shape[s:e + 1]), *shape[e + 1:])
