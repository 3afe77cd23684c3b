"""Saving and loading graphs: a versioned, deterministic, pickle-free file.

The file is a zip archive (written with fixed timestamps and entry order, so the same graph
always gives the same bytes) holding:
- `snnc.json`: {"format": "snnc-graph", "format_version": 1, ...} with every node's type and
  scalar fields, and references to its arrays;
- `arrays/NNNNNN.npy`: one `.npy` per array, in the smallest dtype that holds it exactly.

Loading checks everything before it trusts it: archive structure, the header's types, every
array's dtype and shape (from its `.npy` header, before reading data, against size limits),
node fields (through the node constructors) and finally `ir.verify`. Any problem raises
`ModelFormatError` naming the file and the field. Arrays are read with `allow_pickle=False`.
Memory: every array's size is read from its `.npy` header (streamed from the archive, before
the entry is inflated) and added to the file's `ir.budget.Tally`; the header JSON is parsed by
`ir.safe_json` (bounded depth and integers).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ir.atomic import atomic_write_bytes
from ir.budget import Tally, check_bytes, loaded_array_bytes
from ir.errors import IRVerifyError, ModelFormatError
from ir.graph import Graph
from ir.nodes import NODE_TYPES, Node
from ir.placement import Block, Placement
from ir.safe_json import loads as parse_json
from ir.verify import verify

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "graph_from_bytes",
    "graph_to_bytes",
    "is_graph_file",
    "load_graph",
    "save_graph",
]

FORMAT = "snnc-graph"
FORMAT_VERSION = 1
HEADER = "snnc.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Limits checked before allocating (the total is ir.budget's: SNNC_MAX_LOAD_BYTES).
MAX_HEADER_BYTES = 64 << 20
MAX_ARRAY_ELEMENTS = 1 << 31
MAX_ENTRIES = 1 << 20
_ALLOWED_DTYPES = {
    np.dtype(t) for t in ("<i1", "<i2", "<i4", "<i8", "<f4", "<f8", "|i1", "|u1", "<u2")
}
_TUPLE_FIELDS = {"shape", "stride", "padding", "dilation"}
# Everything zipfile raises on a damaged archive: bad structure, unsupported versions or
# compression methods (NotImplementedError), encryption (RuntimeError), bad deflate streams.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    ValueError,
    EOFError,
    OSError,
    struct.error,
    zlib.error,
    UnicodeDecodeError,
)
# What numpy's .npy header parser raises on a malformed header (it literal_evals a dict).
NPY_HEADER_ERRORS = (
    ValueError,
    EOFError,
    SyntaxError,
    TypeError,
    KeyError,
    OverflowError,
    RecursionError,
    MemoryError,
)


# ----------------------------------------------------------------------------- writing


def _compact(arr: np.ndarray) -> np.ndarray:
    """The smallest little-endian dtype that holds `arr` exactly."""
    if arr.dtype.kind == "f":
        f32 = arr.astype("<f4")
        with np.errstate(invalid="ignore"):
            exact = np.array_equal(f32.astype(np.float64), arr, equal_nan=True)
        return f32 if exact else arr.astype("<f8")
    lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
    for t in ("<i1", "<i2", "<i4"):
        info = np.iinfo(np.dtype(t))
        if info.min <= lo and hi <= info.max:
            return arr.astype(t)
    return arr.astype("<i8")


class _Writer:
    def __init__(self) -> None:
        self.arrays: list[tuple[str, np.ndarray]] = []

    def add(self, arr: np.ndarray) -> dict[str, str]:
        entry = f"arrays/{len(self.arrays):06d}.npy"
        self.arrays.append((entry, _compact(np.asarray(arr))))
        return {"array": entry}

    def node(self, name: str, node: Node) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(node):  # type: ignore[arg-type]
            value = getattr(node, f.name)
            if f.name == "port" and value is None:
                # A projection into the first input port is written as before ports existed:
                # files of format version 1 without ports load, and write, byte for byte.
                continue
            if "array" in f.metadata or isinstance(value, np.ndarray):
                # A parameter field shared by every neuron stays a JSON number.
                fields[f.name] = self.add(value)
            elif isinstance(value, tuple):
                fields[f.name] = list(value)
            else:
                fields[f.name] = value
        return {"name": name, "type": type(node).__name__, "fields": fields}


def graph_to_bytes(graph: Graph) -> bytes:
    """The file contents for `graph` (deterministic: same graph, same bytes)."""
    w = _Writer()
    header: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dt": graph.dt,
        "outputs": list(graph.outputs),
        "metadata": dict(graph.metadata),
        "populations": [w.node(n, p) for n, p in graph.populations.items()],
        "projections": [w.node(n, p) for n, p in graph.projections.items()],
        "placement": None,
    }
    if graph.placement is not None:
        pl = graph.placement
        blocks = []
        for b in pl.blocks:
            rng = b.range()
            neurons = {"range": list(rng)} if rng else w.add(b.neurons)
            blocks.append({"population": b.population, "core": b.core, "neurons": neurons})
        header["placement"] = {
            "target": pl.target,
            "core_chip": w.add(pl.core_chip),
            "blocks": blocks,
        }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _write_entry(
            zf, HEADER, json.dumps(header, sort_keys=True, indent=1, allow_nan=False).encode()
        )
        for entry, arr in w.arrays:
            data = io.BytesIO()
            np.lib.format.write_array(data, arr, version=(1, 0), allow_pickle=False)
            _write_entry(zf, entry, data.getvalue())
    return buf.getvalue()


def _write_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)


def save_graph(graph: Graph, path: str | os.PathLike) -> None:
    """Write `graph` to `path` atomically."""
    atomic_write_bytes(path, graph_to_bytes(graph))


# ----------------------------------------------------------------------------- reading


def is_graph_file(path: str | os.PathLike) -> bool:
    """True when `path` looks like an snnc graph file (a zip holding snnc.json)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return HEADER in zf.namelist()
    except ZIP_ERRORS:
        return False


def load_graph(path: str | os.PathLike) -> Graph:
    """Read and verify a graph file; ModelFormatError on any problem."""
    label = str(path)
    p = Path(path)
    if not p.is_file():
        why = "no such file" if not p.exists() else "not a regular file"
        raise ModelFormatError(label, None, why)
    try:
        check_bytes(p.stat().st_size, label)
        data = p.read_bytes()
    except OSError as e:
        raise ModelFormatError(label, None, f"cannot read ({e.strerror})") from None
    return graph_from_bytes(data, label)


def graph_from_bytes(data: bytes, label: str = "<bytes>") -> Graph:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS:
        raise ModelFormatError(
            label, None, "not an snnc graph file (not a zip archive; truncated or another format)"
        ) from None
    with zf:
        return _Reader(zf, label).graph()


def _npy_header(stream: Any) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) of a .npy stream, reading only its header."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"npy version {version}")
    return shape, dtype, stream.tell()


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, label: str) -> None:
        self.zf, self.label = zf, label
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ModelFormatError(
                label, None, f"{len(infos)} archive entries is more than {MAX_ENTRIES}"
            )
        self.infos = {i.filename: i for i in infos}
        self.tally = Tally(label)
        check_bytes(
            sum(i.file_size for i in infos), f"{label}: its {len(infos)} archive entries, inflated,"
        )

    def fail(self, field: str | None, message: str) -> ModelFormatError:
        return ModelFormatError(self.label, field, message)

    def read(self, entry: str, field: str) -> bytes:
        info = self.infos.get(entry)
        if info is None:
            raise self.fail(field, f"archive entry {entry!r} is missing")
        try:
            return self.zf.read(info)
        except ZIP_ERRORS as e:
            raise self.fail(field, f"archive entry {entry!r} is damaged ({e})") from None

    def header(self) -> dict[str, Any]:
        info = self.infos.get(HEADER)
        if info is None:
            raise self.fail(None, f"not an snnc graph file (no {HEADER})")
        if info.file_size > MAX_HEADER_BYTES:
            raise self.fail(HEADER, f"{info.file_size} bytes is too large")
        head = parse_json(self.read(HEADER, HEADER), self.label, HEADER)
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise self.fail("format", f"expected {FORMAT!r}")
        version = head.get("format_version")
        if version != FORMAT_VERSION:
            raise self.fail(
                "format_version",
                f"this snnc reads version {FORMAT_VERSION}, the file has {version!r}",
            )
        return head

    def array(self, ref: Any, field: str) -> np.ndarray:
        if not isinstance(ref, dict) or not isinstance(ref.get("array"), str):
            raise self.fail(field, 'expected an array reference {"array": "arrays/....npy"}')
        entry = ref["array"]
        info = self.infos.get(entry)
        if info is None:
            raise self.fail(field, f"archive entry {entry!r} is missing")
        try:  # the header alone, streamed: the entry is inflated only once its size is accepted
            with self.zf.open(info) as stream:
                shape, dtype, offset = _npy_header(stream)
        except NPY_HEADER_ERRORS as e:
            raise self.fail(
                field, f"array {entry!r} has a bad .npy header ({type(e).__name__})"
            ) from None
        except ZIP_ERRORS as e:
            raise self.fail(
                field, f"archive entry {entry!r} is damaged ({type(e).__name__})"
            ) from None
        if dtype not in _ALLOWED_DTYPES:
            raise self.fail(
                field,
                f"array dtype {dtype} is not allowed (integers or floats only; never objects)",
            )
        count = math.prod(shape) if shape else 1
        if count > MAX_ARRAY_ELEMENTS or count < 0:
            raise self.fail(
                field, f"array of shape {shape} is larger than {MAX_ARRAY_ELEMENTS} elements"
            )
        truncated = (
            f"array {entry!r} is truncated (shape {shape} needs {count * dtype.itemsize} bytes)"
        )
        if info.file_size - offset != count * dtype.itemsize:
            raise self.fail(field, truncated)
        self.tally.add(
            loaded_array_bytes(count, info.file_size), f"{field} (array of shape {shape})"
        )
        raw = self.read(entry, field)
        fh = io.BytesIO(raw)
        if len(raw) - offset != count * dtype.itemsize:
            raise self.fail(field, truncated)
        fh.seek(0)
        try:
            arr = np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise self.fail(field, f"array {entry!r} cannot be read ({e})") from None
        return arr.astype(np.float64 if arr.dtype.kind == "f" else np.int64)

    def node(self, spec: Any, kind: str, index: int) -> tuple[str, Node]:
        where = f"{kind}[{index}]"
        if not isinstance(spec, dict):
            raise self.fail(where, "expected an object")
        name, typename, fields = spec.get("name"), spec.get("type"), spec.get("fields")
        if not isinstance(name, str):
            raise self.fail(f"{where}.name", "expected a string")
        where = f"{kind} {name!r}"
        cls = NODE_TYPES.get(typename) if isinstance(typename, str) else None
        if cls is None:
            raise self.fail(
                f"{where}.type",
                f"unknown node type {typename!r}; known: {', '.join(NODE_TYPES)} "
                "(neuron models other than LIF register theirs when `neurons` is imported)",
            )
        if not isinstance(fields, dict):
            raise self.fail(f"{where}.fields", "expected an object")
        known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(fields) - set(known))
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}", f"unknown field for {typename}")
        kwargs: dict[str, Any] = {}
        for fname, value in fields.items():
            f = known[fname]
            if "array" in f.metadata or ("param" in f.metadata and isinstance(value, dict)):
                kwargs[fname] = self.array(value, f"{where}.{fname}")
            elif fname in _TUPLE_FIELDS:
                if not isinstance(value, list) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value
                ):
                    raise self.fail(
                        f"{where}.{fname}", f"expected a list of integers, got {value!r}"
                    )
                kwargs[fname] = tuple(value)
            else:
                if not isinstance(value, (int, float, str)) or isinstance(value, bool):
                    raise self.fail(
                        f"{where}.{fname}", f"expected a number or string, got {value!r}"
                    )
                kwargs[fname] = value
        try:
            return name, cls(**kwargs)
        except IRVerifyError as e:
            raise self.fail(where, str(e)) from None
        except TypeError as e:
            raise self.fail(where, f"missing or invalid fields ({e})") from None

    def placement(self, spec: Any, sizes: dict[str, int]) -> Placement | None:
        if spec is None:
            return None
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("target"), str)
            or not isinstance(spec.get("blocks"), list)
        ):
            raise self.fail("placement", "expected {target, core_chip, blocks}")
        core_chip = self.array(spec.get("core_chip"), "placement.core_chip")
        if core_chip.dtype.kind != "i":
            raise self.fail("placement.core_chip", "expected integers")
        blocks = []
        for i, b in enumerate(spec["blocks"]):
            where = f"placement.blocks[{i}]"
            if not isinstance(b, dict) or not isinstance(b.get("population"), str):
                raise self.fail(where, "expected {population, core, neurons}")
            core = b.get("core")
            if not isinstance(core, int) or isinstance(core, bool):
                raise self.fail(f"{where}.core", "expected an integer")
            neurons = b.get("neurons")
            if isinstance(neurons, dict) and "range" in neurons:
                rng = neurons["range"]
                size = sizes.get(b["population"], 0)  # an unknown population fails in ir.verify
                if (
                    not isinstance(rng, list)
                    or len(rng) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in rng)
                    or not 0 <= rng[0] < rng[1] <= max(size, 1)
                ):
                    raise self.fail(
                        f"{where}.neurons",
                        f"bad range {rng!r} for population {b['population']!r} of {size} neurons",
                    )
                self.tally.add(loaded_array_bytes(rng[1] - rng[0], 0), f"{where}.neurons")
                idx = np.arange(rng[0], rng[1], dtype=np.int64)
            else:
                idx = self.array(neurons, f"{where}.neurons")
            try:
                blocks.append(Block(b["population"], idx, core))
            except IRVerifyError as e:
                raise self.fail(where, str(e)) from None
        return Placement(tuple(blocks), core_chip, spec["target"])

    def graph(self) -> Graph:
        head = self.header()
        for key, typ in (
            ("populations", list),
            ("projections", list),
            ("outputs", list),
            ("metadata", dict),
        ):
            if not isinstance(head.get(key), typ):
                raise self.fail(key, f"expected a JSON {typ.__name__}")
        dt = head.get("dt")
        if not isinstance(dt, (int, float)) or isinstance(dt, bool):
            raise self.fail("dt", f"expected a number, got {dt!r}")
        pops = dict(self.node(s, "population", i) for i, s in enumerate(head["populations"]))
        projs = dict(self.node(s, "projection", i) for i, s in enumerate(head["projections"]))
        if len(pops) != len(head["populations"]) or len(projs) != len(head["projections"]):
            raise self.fail(None, "duplicate node names")
        if not all(isinstance(o, str) for o in head["outputs"]):
            raise self.fail("outputs", "expected a list of population names")
        try:
            graph = Graph(
                populations=pops,
                projections=projs,
                dt=dt,
                outputs=tuple(head["outputs"]),
                placement=self.placement(
                    head.get("placement"), {n: p.size for n, p in pops.items()}
                ),
                metadata=head["metadata"],
            )
            return verify(graph)
        except IRVerifyError as e:
            raise self.fail(None, str(e)) from None
