"""Reading whatever a user names as MODEL or BUILD: an snnc graph file, a BUILD folder, or a
file of a format an importer handles: NIR (`.nir`) and lava-dl netx (`.net`) are both HDF5 and
are told apart by content (a NIR file has a `/node` group, a netx file a `/layer` group), so a
file's suffix does not matter for them; other formats go by suffix."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

from compiler.build import read_build
from ir.errors import ModelFormatError
from ir.graph import Graph
from ir.serialize import is_graph_file, load_graph

__all__ = ["IMPORTERS", "load_model"]

# suffix -> "module:function(path, dt) -> Graph"; modules are imported only when used.
IMPORTERS: dict[str, str] = {
    ".nir": "compiler.nir.importer:load",
    ".net": "compiler.netx.importer:load",
}
# top-level HDF5 group -> the suffix of the format it marks
HDF5_FORMATS: dict[str, str] = {"node": ".nir", "layer": ".net"}
# HDF5's format signature, at offset 0 or (after a user block) 512, 1024, 2048, ...
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def hdf5_format(path: Path) -> str | None:
    """The IMPORTERS suffix of an HDF5 model file, by its top-level groups; None when the file is
    not HDF5 or has none of them (the suffix then decides, and the importer explains)."""
    if not path.is_file():
        return None  # folders, FIFOs, devices: never opened here
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            offset, found = 0, False
            while offset + len(_HDF5_SIGNATURE) <= size and not found:
                fh.seek(offset)
                found = fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
                offset = 512 if offset == 0 else offset * 2
        if not found:
            return None
        import h5py

        with h5py.File(path, "r") as f:
            keys = set(f.keys())
    except (OSError, ValueError, ImportError):
        return None
    hits = [suffix for group, suffix in HDF5_FORMATS.items() if group in keys]
    return hits[0] if len(hits) == 1 else None


def _importer(path: Path) -> Callable[[Path, float | None], Graph] | None:
    spec = IMPORTERS.get(hdf5_format(path) or path.suffix.lower())
    if spec is None:
        return None
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


def load_model(path: str | os.PathLike, dt: float | None = None) -> Graph:
    """The graph in `path`: a BUILD folder's program, an snnc file, or an importable format."""
    p = Path(path)
    if p.is_dir():
        return read_build(p).program
    if not p.exists():
        raise ModelFormatError(str(p), None, "no such file or folder")
    importer = _importer(p)
    if importer is not None:
        return importer(p, dt)
    if not is_graph_file(p):
        known = ", ".join(sorted(IMPORTERS)) or "none"
        raise ModelFormatError(
            str(p),
            None,
            "not an snnc model (a zip with snnc.json) or a BUILD folder; importable suffixes: "
            f"{known}",
        )
    if dt is not None:
        raise ModelFormatError(
            str(p),
            None,
            "--dt applies only to imported formats such as .nir and .net; snnc models carry their "
            "dt",
        )
    return load_graph(p)
