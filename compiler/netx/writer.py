"""Writing a netx file: `write_layers`, the layers as lava-dl SLAYER writes them (HDF5), read
back by `compiler.netx.reader` and netx 0.6.0's `hdf5.Network`."""

from __future__ import annotations

import os
from typing import Any

from ir.atomic import atomic_output_file
from ir.errors import BackendUnavailableError

__all__ = ["write_layers"]


def write_layers(layers: list[dict[str, Any]], path: str | os.PathLike) -> None:
    """HDF5 in SLAYER's layout (`type` as a 1-element S10 array, other strings variable length),
    atomically and deterministically (no timestamps, members in sorted order)."""
    try:
        import h5py
    except ImportError:
        raise BackendUnavailableError("writing .net files needs h5py (pip install h5py)") from None

    def put(group: Any, key: str, value: Any) -> None:
        if isinstance(value, dict):
            sub = group.create_group(key, track_order=False)
            for k in sorted(value):
                put(sub, k, value[k])
        elif key == "type" and group.name.count("/") == 2:  # layer/<i>/type
            group.create_dataset(key, (1,), "S10", [value.encode("ascii")], track_times=False)
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype(), track_times=False)
        else:
            group.create_dataset(key, data=value, track_times=False)

    with atomic_output_file(path) as tmp:
        with h5py.File(tmp, "w", track_order=False) as f:
            top = f.create_group("layer", track_order=False)
            for i, layer in enumerate(layers):
                put(top, str(i), layer)
