"""Reading whatever a user names as MODEL or BUILD: an snnc graph file, a BUILD folder, or a
file of a format an importer handles (by suffix, e.g. `.nir`)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

from ir.errors import ModelFormatError
from ir.graph import Graph
from ir.serialize import is_graph_file, load_graph

from compiler.build import is_build, read_build

__all__ = ["IMPORTERS", "load_model"]

# suffix -> "module:function(path, dt) -> Graph"; modules are imported only when used.
IMPORTERS: dict[str, str] = {
    ".nir": "compiler.nir.importer:load",
}


def _importer(suffix: str) -> Callable[[Path, float | None], Graph] | None:
    spec = IMPORTERS.get(suffix)
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
    if not p.is_file():  # a FIFO or a device would block or never end
        raise ModelFormatError(str(p), None, "not a regular file or a folder")
    importer = _importer(p.suffix.lower())
    if importer is not None:
        return importer(p, dt)
    if not is_graph_file(p):
        known = ", ".join(sorted(IMPORTERS)) or "none"
        raise ModelFormatError(
            str(p), None, f"not an snnc model (a zip with snnc.json) or a BUILD folder; importable suffixes: {known}"
        )
    if dt is not None:
        raise ModelFormatError(str(p), None, "--dt applies only to imported formats such as .nir; snnc models carry their dt")
    return load_graph(p)
