"""Reading a lava-dl netx file (HDF5, the layout SLAYER's `export_hdf5` writes) into plain data.

    /layer/<i>            i = 0 .. n-1, one group per layer, in network order
        type              'input' | 'flatten' | 'dense' | 'dense_rec' | 'dense_comp' | 'conv' |
                          'pool' | 'convT' | 'unpool' | 'average' | 'concat'
        shape             the layer's output shape, (C, H, W) or (n,)
        weight, weight_rec, bias, delay, stride, padding, dilation, groups, ...
        neuron/           {type, vThMant, iDecay, vDecay, refDelay, gradedSpike, ...}
    /simulation           optional {Ts, tSample}

Everything HDF5 goes through `compiler.nir.reader.read_hdf5` (the one place that decides what
snnc trusts in an HDF5 file: hard links only, numeric or text datasets, sizes bounded before
reading). This module only checks the netx structure: a `layer` group whose members are exactly
"0".."n-1", each with a `type`; values are checked per layer type by the importer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from compiler.nir.reader import read_hdf5
from ir.errors import ModelFormatError

__all__ = ["MAX_LAYERS", "NetxFile", "NetxLayer", "read_netx", "text_field"]

# A network with more layers than Loihi 2 systems have cores is not a netx file anyone wrote.
MAX_LAYERS = 1 << 16


@dataclass(frozen=True, eq=False)
class NetxLayer:
    """One `layer/<index>` group: its type and its other members as read (numpy arrays, `str`,
    lists of `str`, or dicts for sub-groups such as `neuron`)."""

    index: int
    type: str
    fields: dict[str, Any]
    neuron: dict[str, Any] | None = None

    @property
    def where(self) -> str:
        return f"layer {self.index} ({self.type})"


@dataclass(frozen=True, eq=False)
class NetxFile:
    path: str
    sha256: str
    layers: tuple[NetxLayer, ...]
    simulation: dict[str, Any] = field(default_factory=dict)


def read_netx(path: str | os.PathLike) -> NetxFile:
    """Read and structurally check a netx file; ModelFormatError on any problem."""
    label = str(path)

    def walk(handle: Any, reader: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if "layer" not in handle or not isinstance(handle.get("layer"), reader.h5py.Group):
            raise ModelFormatError(label, None, "no /layer group; not a lava-dl netx file")
        layers = reader.value(handle, "layer", "file")
        simulation: dict[str, Any] = {}
        if "simulation" in handle:
            sim = reader.value(handle, "simulation", "file")
            simulation = sim if isinstance(sim, dict) else {}
        return layers, simulation

    (raw, simulation), digest = read_hdf5(path, "lava-dl netx files are HDF5", walk)
    return NetxFile(label, digest, _layers(label, raw), simulation)


def _layers(label: str, raw: dict[str, Any]) -> tuple[NetxLayer, ...]:
    if len(raw) > MAX_LAYERS:
        raise ModelFormatError(
            label, "layer", f"{len(raw)} layers, more than the {MAX_LAYERS} snnc reads"
        )
    expected = [str(i) for i in range(len(raw))]
    if sorted(raw, key=_index_key) != expected:
        names = ", ".join(sorted(raw, key=_index_key)[:8])
        raise ModelFormatError(
            label,
            "layer",
            f"members must be named 0..{len(raw) - 1} (netx reads layer/<i> in order), found "
            f"{names}",
        )
    if not raw:
        raise ModelFormatError(label, "layer", "is empty; a netx network needs at least one layer")
    layers = []
    for i in range(len(raw)):
        group = raw[str(i)]
        where = f"layer/{i}"
        if not isinstance(group, dict):
            raise ModelFormatError(label, where, "should be a group")
        type_name = text_field(group.get("type"))
        if type_name is None:
            raise ModelFormatError(label, f"{where}/type", "missing or not a string")
        neuron = group.get("neuron")
        if neuron is not None and not isinstance(neuron, dict):
            raise ModelFormatError(label, f"{where}/neuron", "should be a group")
        fields = {k: v for k, v in group.items() if k not in ("type", "neuron")}
        layers.append(NetxLayer(i, type_name, fields, neuron))
    return tuple(layers)


def _index_key(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 62, name)


def text_field(value: Any) -> str | None:
    """A netx string: a scalar, or (as SLAYER writes `type`) an array of one (NetDict reads [0])."""
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None
