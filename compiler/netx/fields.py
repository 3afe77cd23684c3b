"""A netx layer's fields as netx 0.6.0 reads them, checked: `LayerFields`.

Every value a layer handler (`compiler.netx.layers`) or the neuron parameters
(`compiler.netx.neuron_params`) take from the file goes through here: numbers that are finite
and fit 64-bit integers, netx's `.astype(int)` truncation, per-neuron values broadcast as netx
broadcasts them against Lava's (W, H, C) or (n,) neurons. A value snnc cannot take is one
`ModelFormatError` naming the layer and the field (`fail`); what netx does to a value that snnc
then does too is one warning line per field (`note`, `warnings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.netx.reader import NetxFile, NetxLayer
from ir.errors import ModelFormatError

__all__ = ["LayerFields", "span"]


@dataclass
class LayerFields:
    """The file's layers read and checked, with the notes the import reports."""

    nf: NetxFile
    # (field, what netx does) -> [(layer index, value or "")], reported as one warning line each.
    ignored: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        lines = list(self.notes)
        for (name, what), layers in self.ignored.items():
            where = ", ".join(f"{i} = {v}" if v else str(i) for i, v in layers)
            lines.append(
                f"{self.nf.path}: {name} (layer{'s' if len(layers) > 1 else ''} {where}): {what}"
            )
        return lines

    def fail(self, layer: NetxLayer, fieldname: str | None, message: str) -> ModelFormatError:
        where = f"layer/{layer.index} ({layer.type})" + (f" {fieldname}" if fieldname else "")
        return ModelFormatError(self.nf.path, where, message)

    def note(self, layer: NetxLayer, fieldname: str, what: str, value: str = "") -> None:
        self.ignored.setdefault((fieldname, what), []).append((layer.index, value))

    # ------------------------------------------------------------------ values

    def array(
        self, layer: NetxLayer, name: str, container: dict[str, Any] | None = None
    ) -> np.ndarray:
        value = (layer.fields if container is None else container).get(name)
        label = name if container is None else f"neuron/{name}"
        if value is None:
            raise self.fail(layer, label, "missing")
        if not isinstance(value, np.ndarray):
            raise self.fail(layer, label, f"expected numbers, got {type(value).__name__}")
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise self.fail(layer, label, "has NaN or infinite values")
        if value.dtype.kind in "fu" and value.size and np.abs(value).max() >= 2.0**63:
            raise self.fail(layer, label, f"has {np.abs(value).max():g}, beyond 64-bit integers")
        return value

    def integers(
        self, layer: NetxLayer, name: str, container: dict[str, Any] | None = None
    ) -> np.ndarray:
        """netx's `.astype(int)` of a weight-like member (truncates toward zero), with a note when
        that changes a value."""
        value = self.array(layer, name, container)
        out = value.astype(np.int64)
        if value.dtype.kind == "f" and np.any(out != value):
            self.note(
                layer,
                name,
                "non-integer values truncated toward zero, as netx 0.6.0 does (NetDict "
                ".astype(int))",
            )
        return out

    def scalar(
        self, layer: NetxLayer, name: str, container: dict[str, Any] | None, lo: int, hi: int
    ) -> int:
        """An integer layer parameter with one value (groups)."""
        value = self.array(layer, name, container)
        label = name if container is None else f"neuron/{name}"
        flat = value.reshape(-1)
        if flat.size == 0:
            raise self.fail(layer, label, "is empty")
        if np.any(flat != flat[0]):
            raise self.fail(layer, label, f"varies ({span(flat)}); netx takes one value")
        return self.checked(layer, label, flat[:1], lo, hi)[0]

    def checked(
        self, layer: NetxLayer, label: str, values: np.ndarray, lo: int, hi: int
    ) -> list[int]:
        if np.any(values != np.round(values)):
            raise self.fail(layer, label, f"= {span(values)} is not an integer")
        ints = values.astype(np.int64)
        if ints.min() < lo or ints.max() > hi:
            bad = int(ints.min()) if ints.min() < lo else int(ints.max())
            raise self.fail(layer, label, f"= {bad} is outside [{lo}, {hi}]")
        return [int(v) for v in ints.reshape(-1)]

    def per_neuron(
        self,
        layer: NetxLayer,
        name: str,
        cfg: dict[str, Any],
        shape: tuple[int, ...],
        lo: int,
        hi: int,
    ) -> Any:
        """A neuron parameter as netx hands it to Lava (numpy broadcasting against the neurons'
        (W, H, C) or (n,) state): an int when uniform, else an array in snnc's (C, H, W) order."""
        value = self.array(layer, name, cfg)
        label = f"neuron/{name}"
        if value.size == 0:
            raise self.fail(layer, label, "is empty")
        self.checked(layer, label, value.reshape(-1), lo, hi)
        full = self.broadcast(layer, label, value.astype(np.int64), shape)
        flat = full.reshape(-1)
        return int(flat[0]) if np.all(flat == flat[0]) else full

    def broadcast(
        self, layer: NetxLayer, label: str, value: np.ndarray, shape: tuple[int, ...]
    ) -> np.ndarray:
        """Per-neuron values in snnc's order from what netx gives Lava: one value; n values (a
        dense layer); C values, one per channel, or a (W, H, C) array (a conv layer)."""
        n = math.prod(shape)
        if value.size == 1:
            return np.full(shape, value.reshape(-1)[0], dtype=np.int64)
        if len(shape) == 1:
            if value.size != n:
                raise self.fail(layer, label, f"has {value.size} values for {n} neurons")
            return value.reshape(shape)
        c, h, w = shape
        if value.shape == (w, h, c):
            return value.transpose(2, 1, 0)
        if value.reshape(-1).size == c:
            return np.broadcast_to(value.reshape(c, 1, 1), shape).copy()
        raise self.fail(
            layer,
            label,
            f"shape {value.shape} is neither one per channel ({c},) nor per neuron "
            f"(W, H, C) = {(w, h, c)}",
        )

    def pair(self, layer: NetxLayer, name: str) -> tuple[int, int]:
        """stride/padding/dilation: a scalar for both axes or (H, W), as SLAYER writes them
        (netx reverses them into Lava's (X, Y))."""
        value = self.integers(layer, name).reshape(-1)
        if value.size == 1:
            return int(value[0]), int(value[0])
        if value.size != 2:
            raise self.fail(layer, name, f"expected one or two integers, got {value.size}")
        return int(value[0]), int(value[1])

    def shape(self, layer: NetxLayer) -> tuple[int, ...]:
        value = self.integers(layer, "shape").reshape(-1)
        if not 1 <= value.size <= 3 or np.any(value <= 0):
            raise self.fail(layer, "shape", f"expected 1 to 3 positive sizes, got {value.tolist()}")
        return tuple(int(v) for v in value)


def span(values: np.ndarray) -> str:
    lo, hi = values.min(), values.max()
    return f"{lo}" if lo == hi else f"{lo}..{hi}"
