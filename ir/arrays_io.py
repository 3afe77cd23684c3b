"""Array files users hand to snnc (IN.npy) and get back (OUT.npz), read and written safely.

`read_spike_array` checks an input before it is used: a real .npy (never pickled objects),
integer or bool dtype (or float holding exact 0/1 or whole graded payloads), (batch, T, n) or
(batch, T, *input_shape) (T first with `time_major`), the expected n, values in range, and a
size limit checked from the header before any data is read. `write_npz` writes
deterministically and atomically.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ir.atomic import atomic_output_file
from ir.budget import Tally, check_bytes, loaded_array_bytes
from ir.errors import InputError
from ir.safe_json import loads as parse_json
from ir.serialize import NPY_HEADER_ERRORS, ZIP_ERRORS

__all__ = [
    "MAX_INPUT_ELEMENTS", "META_KEY", "MAX_STEPS", "check_steps", "meta_array", "read_graph_inputs",
    "read_npz", "read_spike_array", "split_meta", "write_npz",
]

MAX_INPUT_ELEMENTS = 1 << 32
# Time steps of one run (--steps, metadata.encoding.steps): every backend allocates (batch, T, n)
# recordings, so an absurd T must fail before anything is allocated. 2^20 steps is 17 minutes of
# Loihi's fastest 1 ms time step, far beyond any run snnc's trainers make.
MAX_STEPS = 1 << 20
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# The JSON header of an .npz snnc writes (OUT.npz of `snnc run`, trace files): UTF-8 bytes as a
# uint8 array, so the file stays loadable with np.load(allow_pickle=False); every other entry
# is a probed array.
META_KEY = "__meta__"
# Entries larger than this need zip64 headers, which a streamed entry must ask for up front.
_ZIP64_LIMIT = (1 << 31) - (1 << 20)
# Elements per min/max pass of the input check: a slice that stays in cache for both reductions.
_RANGE_CHUNK_ELEMENTS = 1 << 20
# value_range / max_value: one thread per _THREAD_BYTES of input, up to the usable cores
_THREAD_BYTES = 16 << 20
_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


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


def _expected_shapes(n_inputs: int, input_shape: tuple[int, ...] | None, time_major: bool,
                     input_name: str | None) -> str:
    """The shapes an input file may have, in words, for the one-line shape error."""
    lead = "(T, batch, " if time_major else "(batch, T, "
    text = f"{lead}{n_inputs})"
    if input_shape is not None and len(input_shape) > 1:
        dims = ", ".join(map(str, input_shape))
        order = "C, H, W" if len(input_shape) == 3 else "the population's axes"
        text += (f" or {lead}{dims}) ({order} of input population {input_name!r}, "
                 "flattened in C order)")
    return text


def _spike_shape(shape: tuple[int, ...], n_inputs: int, input_shape: tuple[int, ...] | None,
                 time_major: bool, input_name: str | None, label: str) -> None:
    """Accept (batch, T, n) or (batch, T, *input_shape) (time-major: T first); else one line
    that says what is expected."""
    if len(shape) == 3 and shape[2] == n_inputs:
        return
    if (
        input_shape is not None
        and len(shape) == 2 + len(input_shape)
        and tuple(shape[2:]) == tuple(input_shape)
    ):
        return
    expected = _expected_shapes(n_inputs, input_shape, time_major, input_name)
    has = f"has {shape[2]} inputs per step, the model has {n_inputs}: " if len(shape) == 3 else ""
    hint = "" if time_major else "; a (T, batch, ...) array needs --time-major"
    raise InputError(f"{label}: {has}expected shape {expected}, got {tuple(shape)}{hint}")


def _integral(arr: np.ndarray, message_bits: int, label: str) -> np.ndarray:
    """Float spikes as frameworks store them: exact 0/1 (binary) or whole numbers (graded)
    become integers (uint8, or the narrowest signed type holding `message_bits`); anything
    else is refused with one line."""
    if arr.dtype.kind != "f":
        return arr
    if message_bits == 0:
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            value = arr[bad].flat[0]
            raise InputError(
                f"{label}: float spikes must be exactly 0.0 or 1.0 (found {value!r} at index "
                f"{tuple(int(i) for i in np.argwhere(bad)[0])}); binary inputs take 0/1 only"
            )
        return arr.astype(np.uint8)
    whole = np.isfinite(arr) & (arr == np.round(arr))
    if not whole.all():
        value = arr[~whole].flat[0]
        raise InputError(f"{label}: graded float payloads must be whole numbers (found {value!r}); "
                         f"input payloads are signed {message_bits}-bit integers")
    half = 1 << (message_bits - 1)
    if arr.size and (arr.min() < -half or arr.max() > half - 1):
        raise InputError(
            f"{label}: graded payloads must fit signed {message_bits} bits [{-half}, {half - 1}]"
        )
    return arr.astype(
        np.int8 if message_bits <= 8 else np.int16 if message_bits <= 16 else np.int32
    )


def read_graph_inputs(path: str | os.PathLike, graph, *, time_major: bool = False,
                      label: str | None = None) -> np.ndarray:
    """`read_spike_array` for `graph`'s input populations: their payload width, and (for one
    input population) its shape, so (batch, T, C, H, W) files are accepted as well."""
    from ir.nodes import Input

    pops = [graph.populations[n] for n in graph.inputs]
    bits = max((p.message_bits for p in pops if isinstance(p, Input)), default=0)
    one = len(pops) == 1
    return read_spike_array(
        path, graph.n_inputs, message_bits=bits, label=label, time_major=time_major,
        input_shape=tuple(pops[0].shape) if one else None,
        input_name=graph.inputs[0] if one else None,
    )


def _input_load_bytes(count: int, dtype: np.dtype, time_major: bool) -> int:
    """What reading an input allocates at its peak: the array in its file's dtype (np.load
    reads into it; integers and bools are never widened), a copy when a time-major file is
    made (batch, T, n), and for floats the comparisons and the integer copy `_integral`
    makes (at most a float64 rounding and five bytes of masks and result per value)."""
    stored = count * dtype.itemsize
    need = stored * (2 if time_major else 1)
    if dtype.kind == "f":
        need += count * (8 + 5)
    return need


def read_spike_array(
    path: str | os.PathLike, n_inputs: int, *, message_bits: int = 0, label: str | None = None,
    input_shape: tuple[int, ...] | None = None, time_major: bool = False,
    input_name: str | None = None,
) -> np.ndarray:
    """Load input spikes (batch, T, n_inputs) in their file's integer dtype (floats: below),
    checking everything first.

    Binary inputs (`message_bits == 0`) must be 0/1; graded ones must fit a signed
    `message_bits`-bit payload. Integer and bool arrays are taken as they are; float arrays
    must hold exact 0/1 (binary) or whole numbers (graded), the way frameworks store spikes.
    (batch, T, *input_shape) is flattened to (batch, T, n) in C order (the input population's
    neuron order); `time_major`: the file is (T, batch, ...), as snnTorch and Norse lay it out.
    """
    label = label or str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"{label}: no such file" if not p.exists() else f"{label}: not a regular file"
        )
    with open(p, "rb") as fh:
        shape, fortran, dtype = _header(fh, label)
        if dtype.kind not in "iubf":
            raise InputError(
                f"{label}: expected integer, bool or float 0/1 spikes, got dtype {dtype}"
            )
        _spike_shape(shape, n_inputs, input_shape, time_major, input_name, label)
        count = math.prod(shape)
        if count > MAX_INPUT_ELEMENTS:
            raise InputError(f"{label}: {shape} is larger than {MAX_INPUT_ELEMENTS} elements")
        if 0 in shape:
            raise InputError(f"{label}: empty array {shape}")
        check_bytes(
            _input_load_bytes(count, dtype, time_major), f"{label} (shape {shape}, {dtype})"
        )
        expected = count * dtype.itemsize
        remaining = p.stat().st_size - fh.tell()
        if remaining < expected:
            raise InputError(f"{label}: truncated ({remaining} of {expected} data bytes)")
        fh.seek(0)
        try:
            arr = np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise InputError(f"{label}: cannot read ({e})") from None
    if time_major:
        arr = arr.swapaxes(0, 1)
    arr = _integral(arr, message_bits, label).reshape(arr.shape[0], arr.shape[1], n_inputs)
    return check_spikes(arr, n_inputs, message_bits=message_bits, label=label)


def check_steps(steps: object, what: str) -> int:
    """A run's step count: a positive integer up to MAX_STEPS, or an InputError naming `what`."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise InputError(f"{what} must be a whole number of steps, got {steps!r}")
    if steps <= 0:
        raise InputError(f"{what} must be positive, got {steps}")
    if steps > MAX_STEPS:
        raise InputError(
            f"{what} = {steps} is more than the {MAX_STEPS} steps a run may have "
            "(ir.arrays_io.MAX_STEPS)"
        )
    return int(steps)


def value_range(arr: np.ndarray) -> tuple[int, int]:
    """(min, max) of a non-empty integer or bool array, exactly, without a widened copy
    (numpy's reductions keep the dtype; see _in_parts)."""
    parts = _in_parts(_as_integers(arr), _chunk_range)
    return min(lo for lo, _ in parts), max(hi for _, hi in parts)


def max_value(arr: np.ndarray) -> int:
    """max of a non-empty integer or bool array (as value_range, one reduction)."""
    return max(_in_parts(_as_integers(arr), _chunk_max))


def _as_integers(arr: np.ndarray) -> np.ndarray:
    return arr.view(np.uint8) if arr.dtype.kind == "b" else arr


def _in_parts(arr: np.ndarray, reduce) -> list:
    """reduce applied to chunks of arr's first axis (no temporary grows with the input, and a
    chunk's second reduction reads it from cache); the chunks of an array of _THREAD_BYTES or
    more are dealt round-robin to up to _THREADS threads (numpy releases the GIL in its
    reductions; the work is memory-bound: measured on the 2-core machine, the max of 80 MB of
    uint8 5.6 -> 3.4 ms). An exception in a thread is raised here."""
    rows = max(1, _RANGE_CHUNK_ELEMENTS // max(arr[:1].size, 1))
    chunks = [arr[start : start + rows] for start in range(0, arr.shape[0], rows)]
    workers = min(_THREADS, len(chunks), arr.nbytes // _THREAD_BYTES)
    if workers <= 1:
        return [reduce(c) for c in chunks]
    import threading

    results: list[list] = [[] for _ in range(workers)]
    failed: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results[k] = [reduce(c) for c in chunks[k::workers]]
        except BaseException as exc:  # re-raised in the caller's thread below
            failed.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, workers)]
    for t in threads:
        t.start()
    work(0)
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    return [r for part in results for r in part]


def _chunk_range(chunk: np.ndarray) -> tuple[int, int]:
    return int(chunk.min()), int(chunk.max())


def _chunk_max(chunk: np.ndarray) -> int:
    return int(chunk.max())


def check_spikes(
    arr: np.ndarray, n_inputs: int, *, message_bits: int = 0, label: str = "input"
) -> np.ndarray:
    """Validate an in-memory spike array the same way; returns it unchanged (no copy: uint8,
    bool and int8 spikes stay in their dtype, which every backend accepts)."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iub":
        raise InputError(f"{label}: expected integer spikes, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[2] != n_inputs:
        raise InputError(f"{label}: expected shape (batch, T, {n_inputs}), got {arr.shape}")
    if not arr.size:
        return arr
    lo, hi = value_range(arr)
    if message_bits == 0:
        if lo < 0 or hi > 1:
            raise InputError(
                f"{label}: binary spikes must be 0 or 1 (found {lo}..{hi}); "
                "graded inputs need an Input with message_bits > 0"
            )
    else:
        half = 1 << (message_bits - 1)
        if lo < -half or hi > half - 1:
            raise InputError(
                f"{label}: graded payloads must fit signed {message_bits} bits "
                f"[{-half}, {half - 1}]"
            )
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
        raise InputError(
            f"{label}: no such file" if not p.exists() else f"{label}: not a regular file"
        )
    tally = Tally(label)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            check_bytes(
                sum(i.file_size for i in infos), f"{label}: its {len(infos)} entries, inflated,"
            )
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
                tally.add(
                    loaded_array_bytes(math.prod(shape), info.file_size),
                    f"{info.filename} (shape {shape})",
                )
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


def meta_array(meta: Mapping[str, object]) -> np.ndarray:
    """`meta` as the uint8 array stored under META_KEY (sorted keys: same meta, same bytes)."""
    return np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)


def split_meta(
    arrays: Mapping[str, np.ndarray], label: str
) -> tuple[dict[str, np.ndarray], dict | None]:
    """(the arrays without META_KEY, its JSON object or None when there is none)."""
    rest = {k: v for k, v in arrays.items() if k != META_KEY}
    raw = arrays.get(META_KEY)
    if raw is None:
        return rest, None
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise InputError(
            f"{label}: {META_KEY}: expected JSON bytes (uint8), got {raw.dtype} {raw.shape}"
        )
    meta = parse_json(raw.tobytes(), label, META_KEY)
    if not isinstance(meta, dict):
        raise InputError(f"{label}: {META_KEY}: expected a JSON object")
    return rest, meta
