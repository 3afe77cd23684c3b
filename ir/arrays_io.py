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

from ir.atomic import atomic_output_file
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
# Entries larger than this need zip64 headers, which a streamed entry must ask for up front.
_ZIP64_LIMIT = (1 << 31) - (1 << 20)
# Elements per min/max pass of the input check: a slice that stays in cache for both reductions.
_RANGE_CHUNK_ELEMENTS = 1 << 20


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
    """Load input spikes (batch, T, n_inputs) in their file's integer dtype, checking everything
    first.

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


def _value_range(arr: np.ndarray) -> tuple[int, int]:
    """(min, max) of an integer array without a widened copy: numpy's reductions keep the
    dtype, and run over chunks of the first axis so that no temporary grows with the input."""
    if arr.dtype.kind == "b":
        arr = arr.view(np.uint8)
    lo, hi = None, None
    rows = max(1, _RANGE_CHUNK_ELEMENTS // max(arr[:1].size, 1))
    for start in range(0, arr.shape[0], rows):
        part = arr[start : start + rows]
        a, b = int(part.min()), int(part.max())
        lo = a if lo is None else min(lo, a)
        hi = b if hi is None else max(hi, b)
    assert lo is not None and hi is not None
    return lo, hi


def check_spikes(arr: np.ndarray, n_inputs: int, *, message_bits: int = 0, label: str = "input") -> np.ndarray:
    """Validate an in-memory spike array the same way; returns it unchanged (no copy: uint8,
    bool and int8 spikes stay in their dtype, which every backend accepts)."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iub":
        raise InputError(f"{label}: expected integer spikes, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[2] != n_inputs:
        raise InputError(f"{label}: expected shape (batch, T, {n_inputs}), got {arr.shape}")
    if not arr.size:
        return arr
    lo, hi = _value_range(arr)
    if message_bits == 0:
        if lo < 0 or hi > 1:
            raise InputError(f"{label}: binary spikes must be 0 or 1 (found {lo}..{hi}); graded inputs need an Input with message_bits > 0")
    else:
        half = 1 << (message_bits - 1)
        if lo < -half or hi > half - 1:
            raise InputError(f"{label}: graded payloads must fit signed {message_bits} bits [{-half}, {half - 1}]")
    return arr


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an .npz (readable by np.load), same arrays -> same bytes, atomically.

    Each array streams into its compressed entry of the temporary file (numpy writes it in
    bounded buffers), so writing costs no copy of the outputs in memory."""
    with atomic_output_file(path) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for key in arrays:
            arr = np.asarray(arrays[key])
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = 1  # what ZipFile.writestr sets from its compresslevel argument
            with zf.open(info, "w", force_zip64=arr.nbytes > _ZIP64_LIMIT) as entry:
                np.lib.format.write_array(entry, arr, allow_pickle=False)


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
