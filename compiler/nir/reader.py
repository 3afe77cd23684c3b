"""Reading a `.nir` file (HDF5, the layout `nir.write` produces) into a plain tree.

    /version            string
    /node               the root graph: {type: "NIRGraph", nodes/, edges, metadata/}
    /node/nodes/<name>  one group per node: {type, <parameter datasets>, metadata/}

The reader checks what it trusts: the file is HDF5 (a truncated or foreign file gives one line),
only hard links (no external files), only numeric or string datasets, nesting below
`MAX_DEPTH`. Before any data of a dataset is read, its storage is checked through its dataset
creation property list: the layout must keep the data inside this file (contiguous, chunked
or compact; never external raw files or a virtual dataset, which would read other local
files), its filters must be ones HDF5 and h5py carry (`_FILTERS`: never a plugin loaded from
disk), and its declared size (shape x itemsize, whether or not the data was ever written, and
however well it compresses) is added to the file's `ir.budget.Tally`. Any failure is a
`ModelFormatError` naming the file and the node's path ("sub.lif1"). Parameter meaning is
checked later, per node type (importer).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ir.budget import Tally, check_bytes, loaded_array_bytes
from ir.errors import BackendUnavailableError, ModelFormatError

__all__ = ["MAX_DEPTH", "NirFile", "RawNode", "read_hdf5", "read_nir"]

T = TypeVar("T")

MAX_DEPTH = 32
MAX_DATASET_ELEMENTS = 1 << 31
_HASH_CHUNK = 1 << 20
# HDF5 filters built into libhdf5 or h5py (H5Zpublic.h; h5py/h5z.pyx): deflate, shuffle,
# fletcher32, szip, nbit, scaleoffset, lzf. Any other id names a plugin HDF5 would load from
# HDF5_PLUGIN_PATH, i.e. code from outside the file.
_FILTERS = {
    1: "deflate",
    2: "shuffle",
    3: "fletcher32",
    4: "szip",
    5: "nbit",
    6: "scaleoffset",
    32000: "lzf",
}


@dataclass(frozen=True, eq=False)
class RawNode:
    """One NIR node as stored: its type name, parameter values and (graphs) children and edges.

    `name` is the dotted path from the root graph ("" for the root). Values are numpy arrays
    (numeric datasets), `str` (string scalars), lists of `str`, or dicts (sub-groups such as
    `metadata`).
    """

    name: str
    type: str
    fields: dict[str, Any]
    nodes: dict[str, RawNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.fields.get("metadata")
        return meta if isinstance(meta, dict) else {}


@dataclass(frozen=True, eq=False)
class NirFile:
    path: str
    version: str | None
    sha256: str
    root: RawNode


def read_nir(path: str | os.PathLike) -> NirFile:
    """Read and structurally check a .nir file; ModelFormatError on any problem."""
    label = str(path)

    def walk(handle: Any, reader: _Reader) -> tuple[str | None, RawNode]:
        version = reader.version(handle)
        link = _hard_link(handle, "node", reader.h5py)
        if link is None or not isinstance(handle.get("node"), reader.h5py.Group):
            raise ModelFormatError(label, None, "no /node group; not a NIR file")
        return version, reader.node(handle["node"], "", 0)

    (version, root), digest = read_hdf5(path, "NIR files are HDF5", walk)
    if root.type != "NIRGraph":
        raise ModelFormatError(
            label, "node", f"the root node is a {root.type}, expected a NIRGraph"
        )
    return NirFile(path=label, version=version, sha256=digest, root=root)


def read_hdf5(
    path: str | os.PathLike, expected: str, walk: Callable[[Any, Any], T]
) -> tuple[T, str]:
    """(walk(handle, reader), sha256 of the file) for the HDF5 file at `path`, with every check of
    this module: size, readability, and, through `reader` (whose `value`, `group`, `keys` and `obj`
    read what `walk` asks for), hard links only and bounded numeric or text datasets. `expected`
    ends the message for a file that is not HDF5 ("NIR files are HDF5"). Any problem is a
    ModelFormatError naming the file."""
    label = str(path)
    p = Path(path)
    if not p.is_file():
        raise ModelFormatError(
            label, None, "no such file" if not p.exists() else "not a regular file"
        )
    check_bytes(p.stat().st_size, label)
    try:
        import h5py
    except ImportError:
        raise BackendUnavailableError("reading HDF5 files needs h5py (pip install h5py)") from None
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
                digest.update(chunk)
    except OSError as e:
        raise ModelFormatError(label, None, f"cannot read ({e.strerror})") from None
    try:
        handle = h5py.File(p, "r")
    except (OSError, ValueError) as e:
        reason = _h5_reason(str(e))
        raise ModelFormatError(
            label, None, f"not a readable HDF5 file ({reason}); {expected}"
        ) from None
    with handle:
        reader = _Reader(label, h5py)
        try:
            result = walk(handle, reader)
        except ModelFormatError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            # Damage in HDF5's own structures (B-trees, heaps) found while walking the file.
            raise ModelFormatError(label, None, f"damaged HDF5 structure ({e})") from None
    return result, digest.hexdigest()


def _h5_reason(message: str) -> str:
    """The useful part of an h5py open error: 'truncated file: eof = 5000, ..., stored_eof =
    30208'."""
    inner = message[message.find("(") + 1: message.rfind(")")] if "(" in message else message
    if inner.startswith("truncated file"):
        parts = [p.strip() for p in inner.split(",") if "sblock" not in p]
        return ", ".join(parts)
    return inner or "unknown format"


def _hard_link(group: Any, key: str, h5py: Any) -> bool | None:
    """True for a hard link, None when missing; raises for soft/external links."""
    link = group.get(key, getlink=True)
    if link is None:
        return None
    return isinstance(link, h5py.HardLink)


class _Reader:
    def __init__(self, label: str, h5py: Any) -> None:
        self.label, self.h5py = label, h5py
        self.tally = Tally(label)

    def fail(self, where: str, message: str) -> ModelFormatError:
        return ModelFormatError(self.label, where, message)

    def version(self, handle: Any) -> str | None:
        if "version" not in handle:
            return None
        try:
            value = self.value(handle, "version", "version")
        except ModelFormatError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise self.fail("version", f"cannot be read ({e})") from None
        return value if isinstance(value, str) else None

    def node(self, group: Any, name: str, depth: int) -> RawNode:
        where = f"node {name!r}" if name else "root graph"
        if depth > MAX_DEPTH:
            raise self.fail(where, f"graphs nested more than {MAX_DEPTH} deep")
        try:
            keys = list(group.keys())
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise self.fail(where, f"cannot be read ({e})") from None
        if "type" not in keys:
            raise self.fail(where, "has no 'type'")
        type_name = self.value(group, "type", where)
        if not isinstance(type_name, str):
            raise self.fail(f"{where}.type", "expected a string")
        fields: dict[str, Any] = {}
        nodes: dict[str, RawNode] = {}
        edges: list[tuple[str, str]] = []
        for key in keys:
            if key == "type":
                continue
            if type_name == "NIRGraph" and key == "nodes":
                children = self.group(group, key, where)
                for child in self.keys(children, f"{where}.nodes"):
                    child_name = f"{name}.{child}" if name else child
                    sub = self.group(children, child, f"node {child_name!r}")
                    nodes[child] = self.node(sub, child_name, depth + 1)
            elif type_name == "NIRGraph" and key == "edges":
                edges = self.edges(group, where)
            else:
                fields[key] = self.value(group, key, where, depth)
        return RawNode(name=name, type=type_name, fields=fields, nodes=nodes, edges=edges)

    def keys(self, group: Any, where: str) -> list[str]:
        try:
            return list(group.keys())
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise self.fail(where, f"cannot be read ({e})") from None

    def group(self, parent: Any, key: str, where: str) -> Any:
        obj = self.obj(parent, key, where)
        if not isinstance(obj, self.h5py.Group):
            raise self.fail(where, f"{key!r} should be a group")
        return obj

    def obj(self, parent: Any, key: str, where: str) -> Any:
        try:
            hard = _hard_link(parent, key, self.h5py)
            if hard is None:
                raise self.fail(where, f"{key!r} is missing")
            if not hard:
                raise self.fail(
                    f"{where}.{key}", "soft and external links are not allowed in a NIR file"
                )
            return parent[key]
        except ModelFormatError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise self.fail(f"{where}.{key}", f"cannot be read ({e})") from None

    def value(self, parent: Any, key: str, where: str, depth: int = 0) -> Any:
        obj = self.obj(parent, key, where)
        if isinstance(obj, self.h5py.Group):
            if depth > MAX_DEPTH:
                raise self.fail(f"{where}.{key}", f"groups nested more than {MAX_DEPTH} deep")
            return {
                k: self.value(obj, k, f"{where}.{key}", depth + 1)
                for k in self.keys(obj, f"{where}.{key}")
            }
        if not isinstance(obj, self.h5py.Dataset):
            raise self.fail(f"{where}.{key}", f"unexpected HDF5 object {type(obj).__name__}")
        try:
            dtype, shape = obj.dtype, obj.shape
            if shape is None:
                return None
            count = math.prod(shape) if shape else 1
            if count > MAX_DATASET_ELEMENTS:
                raise self.fail(
                    f"{where}.{key}",
                    f"dataset of shape {shape} is larger than {MAX_DATASET_ELEMENTS} elements",
                )
            self.storage(obj, f"{where}.{key}")
            self.tally.add(
                loaded_array_bytes(count, count * dtype.itemsize),
                f"{where}.{key} (dataset of shape {shape}, {dtype})",
            )
            if self.h5py.check_string_dtype(dtype) is not None or dtype.kind == "S":
                data = obj[()]
                return _strings(data)
            if dtype.kind not in "biuf":
                raise self.fail(f"{where}.{key}", f"dataset dtype {dtype} is not numeric or text")
            return np.asarray(obj[()])
        except ModelFormatError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise self.fail(f"{where}.{key}", f"cannot be read ({e})") from None

    def storage(self, dataset: Any, where: str) -> None:
        """Refuse data stored outside this file or behind a filter plugin (module docstring)."""
        h5d = self.h5py.h5d
        dcpl = dataset.id.get_create_plist()
        layout = dcpl.get_layout()
        if layout == h5d.VIRTUAL:
            raise self.fail(
                where,
                "is a virtual dataset (its data is read from other files); snnc reads only data "
                "stored inside the NIR file",
            )
        if dcpl.get_external_count():
            raise self.fail(
                where,
                "is stored in external raw files (HDF5 external storage); snnc reads only data "
                "stored inside the NIR file",
            )
        if layout not in (h5d.CONTIGUOUS, h5d.CHUNKED, h5d.COMPACT):
            raise self.fail(
                where,
                f"has HDF5 storage layout {layout}; snnc reads contiguous, chunked or compact data",
            )
        for i in range(dcpl.get_nfilters()):
            code = dcpl.get_filter(i)[0]
            if code not in _FILTERS:
                raise self.fail(
                    where,
                    f"is encoded with HDF5 filter {code}, a plugin; snnc reads the filters "
                    f"HDF5 carries ({', '.join(_FILTERS.values())})",
                )

    def edges(self, group: Any, where: str) -> list[tuple[str, str]]:
        raw = self.value(group, "edges", where)
        if isinstance(raw, np.ndarray) and raw.size == 0:
            return []
        if isinstance(raw, list) and raw and all(isinstance(r, list) and len(r) == 2 for r in raw):
            return [(str(a), str(b)) for a, b in raw]
        if isinstance(raw, list) and not raw:
            return []
        raise self.fail(f"{where}.edges", "expected a list of (source, destination) name pairs")


def _strings(data: Any) -> Any:
    """h5py string data (bytes, str, or arrays of them) as str / nested lists of str."""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    if isinstance(data, str):
        return data
    if isinstance(data, np.ndarray):
        return [_strings(x) for x in data.tolist()] if data.ndim else _strings(data.item())
    if isinstance(data, list):
        return [_strings(x) for x in data]
    return str(data)
