"""Array files users hand to snnc (IN.npy) and get back (OUT.npz), read and written safely.

`read_spike_array` checks an input before it is used: a real .npy (never pickled objects),
integer dtype, 3-D (batch, T, n), the expected n, values in range, and a size limit checked from
the header before any data is read. `write_npz` writes deterministically and atomically.
"""

from __future__ import annotations

import math
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ir.atomic import atomic_write_bytes
from ir.budget import Tally, check_bytes, loaded_array_bytes
from ir.errors import InputError
from ir.serialize import NPY_HEADER_ERRORS, ZIP_ERRORS

__all__ = ["MAX_INPUT_ELEMENTS", "MAX_STEPS", "check_steps", "read_npz", "read_spike_array", "write_npz"]

MAX_INPUT_ELEMENTS = 1 << 32
# Time steps of one run (--steps, metadata.encoding.steps): every backend allocates (batch, T, n)
# recordings, so an absurd T must fail before anything is allocated. 2^20 steps is 17 minutes of
# Loihi's fastest 1 ms time step, far beyond any run snnc's trainers make.
MAX_STEPS = 1 << 20
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _header(fh, label: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fh)
        raise ValueError(f"unsupported .npy version {version}")
    except NPY_HEADER_ERRORS as e:
        raise InputError(f"{label}: not a .npy array file ({type(e).__name__})") from None


def read_spike_array(
    path: str | os.PathLike, n_inputs: int, *, message_bits: int = 0, label: str | None = None
) -> np.ndarray:
    """Load input spikes (batch, T, n_inputs) as int64, checking everything first.

    Binary inputs (`message_bits == 0`) must be 0/1; graded ones must fit a signed
    `message_bits`-bit payload.
    """
    label = label or str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{label}: no such file" if not p.exists() else f"{label}: not a regular file")
    with open(p, "rb") as fh:
        shape, fortran, dtype = _header(fh, label)
        if dtype.kind not in "iub":
            raise InputError(f"{label}: expected integer spikes, got dtype {dtype}")
        if len(shape) != 3:
            raise InputError(f"{label}: expected shape (batch, T, n_inputs), got {shape}")
        count = math.prod(shape)
        if count > MAX_INPUT_ELEMENTS:
            raise InputError(f"{label}: {shape} is larger than {MAX_INPUT_ELEMENTS} elements")
        if shape[2] != n_inputs:
            raise InputError(f"{label}: has {shape[2]} inputs per step, the model has {n_inputs}")
        if 0 in shape:
            raise InputError(f"{label}: empty array {shape}")
        check_bytes(loaded_array_bytes(count, count * dtype.itemsize), f"{label} (shape {shape}, {dtype})")
        expected = count * dtype.itemsize
        remaining = p.stat().st_size - fh.tell()
        if remaining < expected:
            raise InputError(f"{label}: truncated ({remaining} of {expected} data bytes)")
        fh.seek(0)
        try:
            arr = np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise InputError(f"{label}: cannot read ({e})") from None
    return check_spikes(arr, n_inputs, message_bits=message_bits, label=label)


def check_steps(steps: object, what: str) -> int:
    """A run's step count: a positive integer up to MAX_STEPS, or an InputError naming `what`."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise InputError(f"{what} must be a whole number of steps, got {steps!r}")
    if steps <= 0:
        raise InputError(f"{what} must be positive, got {steps}")
    if steps > MAX_STEPS:
        raise InputError(f"{what} = {steps} is more than the {MAX_STEPS} steps a run may have (ir.arrays_io.MAX_STEPS)")
    return int(steps)


def check_spikes(arr: np.ndarray, n_inputs: int, *, message_bits: int = 0, label: str = "input") -> np.ndarray:
    """Validate an in-memory spike array the same way; returns it as int64."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iub":
        raise InputError(f"{label}: expected integer spikes, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[2] != n_inputs:
        raise InputError(f"{label}: expected shape (batch, T, {n_inputs}), got {arr.shape}")
    arr = arr.astype(np.int64, copy=False)
    if message_bits == 0:
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise InputError(f"{label}: binary spikes must be 0 or 1 (found {int(arr.min())}..{int(arr.max())}); graded inputs need an Input with message_bits > 0")
    else:
        half = 1 << (message_bits - 1)
        if arr.size and (arr.min() < -half or arr.max() > half - 1):
            raise InputError(f"{label}: graded payloads must fit signed {message_bits} bits [{-half}, {half - 1}]")
    return arr


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an .npz (readable by np.load), same arrays -> same bytes, atomically."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key in arrays:
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    atomic_write_bytes(path, buf.getvalue())


def read_npz(path: str | os.PathLike, *, label: str | None = None) -> dict[str, np.ndarray]:
    """Read an .npz without pickles, checking every entry's size (from its .npy header, streamed
    before the entry is inflated) against the memory budget (`ir.budget`)."""
    label = label or str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{label}: no such file" if not p.exists() else f"{label}: not a regular file")
    tally = Tally(label)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            check_bytes(sum(i.file_size for i in infos), f"{label}: its {len(infos)} entries, inflated,")
            out = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise InputError(f"{label}: unexpected entry {info.filename!r}")
                where = f"{label}:{info.filename}"
                with zf.open(info) as stream:
                    shape, _, dtype = _header(stream, where)
                    offset = stream.tell()
                if dtype.kind not in "iubf":
                    raise InputError(f"{label}: {info.filename}: dtype {dtype} not allowed")
                need = math.prod(shape) * dtype.itemsize
                if info.file_size - offset != need:
                    raise InputError(f"{label}: {info.filename} is truncated")
                tally.add(loaded_array_bytes(math.prod(shape), info.file_size), f"{info.filename} (shape {shape})")
                raw = zf.read(info)
                fh = io.BytesIO(raw)
                if len(raw) - offset != need:
                    raise InputError(f"{label}: {info.filename} is truncated")
                out[info.filename[:-4]] = np.load(fh, allow_pickle=False)
            return out
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except ZIP_ERRORS as e:
        raise InputError(f"{label}: not a readable .npz ({type(e).__name__})") from None
