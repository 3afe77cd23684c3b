"""Outputs: a file appears whole or not at all; a folder gets snnc's files and keeps everyone
else's.

Files. Everything snnc writes goes to a hidden temporary name next to the target and is renamed
into place once complete (rename is atomic within a filesystem). On any exception, including
KeyboardInterrupt, the temporary is removed and the previous output, if any, is left as it
was. Several files that belong together (`atomic_outputs`: a HIL report and the trace it
recorded) are staged the same way and renamed together at the end, or not at all.

Folders (BUILD, report, demo). A folder snnc writes holds a manifest, `MANIFEST`
(`.snnc-manifest.json`), listing every file snnc put there with its sha256. Writing into a
folder that exists replaces only files the manifest lists whose bytes are still the ones snnc
wrote, removes only such files that the new output no longer has, and never touches anything
else: a user's notes, a decoder file docs/trainers.md says to keep beside the program, a paper next
to a report. A file in the way that snnc did not write (or that was changed since) stops the
command with one line before anything is replaced (`check_output_dir` says so before the
command does its work, the commit checks again). A new folder is built under a temporary name
and renamed into place whole; into an existing one, the new files are staged beside it, then
renamed in one step with SIGINT/SIGTERM held (`ir.signals`), the manifest listing old and new
hashes while that happens, so even a crash in the middle leaves a folder snnc can replace.

Output paths are checked before a command runs (`check_output_path`, `check_outputs`): not a
folder where a file is wanted (or the reverse), a parent that is a folder and writable, a name
the filesystem accepts, and never one of the command's inputs (the same file through a symlink
or a hard link included) or a folder holding one. Anything the operating system still refuses
while writing (a full disk, a read-only folder) is an `OutputError` naming the output.

Test hook: with `SNNC_TEST_PAUSE_BEFORE_RENAME=SECONDS` in the environment, every output waits
that long, complete under its temporary name, before the rename; tests use it to interrupt snnc
mid-write (tests/robust/test_interrupt.py). Unset, or not a number, it does nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ir.errors import ModelFormatError, OutputError
from ir.signals import deferred_signals

__all__ = [
    "MANIFEST",
    "atomic_output_dir",
    "atomic_output_file",
    "atomic_outputs",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_dir",
    "check_output_path",
    "check_outputs",
]

MANIFEST = ".snnc-manifest.json"
MANIFEST_FORMAT = "snnc-output-folder"
MANIFEST_VERSION = 1
# Longest file name (bytes) Linux filesystems accept (NAME_MAX).
NAME_MAX = 255
_counter = itertools.count()


def _pause_before_rename() -> None:
    try:
        seconds = float(os.environ.get("SNNC_TEST_PAUSE_BEFORE_RENAME", "0"))
    except ValueError:
        return
    if seconds > 0:
        time.sleep(seconds)


def _temp_name(path: Path, tag: str) -> Path:
    """A hidden name beside `path`: `.NAME.TAG-PID-N`, with NAME cut so the whole name stays
    within NAME_MAX bytes (a legal 254-byte output name must still get a temporary)."""
    suffix = f".{tag}-{os.getpid()}-{next(_counter)}"
    room = NAME_MAX - 1 - len(suffix.encode())
    name = path.name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return path.parent / f".{name}{suffix}"


def _output_error(path: Path, e: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {e.strerror or type(e).__name__}")


# ----------------------------------------------------------------------------- files


@contextlib.contextmanager
def atomic_output_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes `path` when the block succeeds."""
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _output_error(final, e) from None
    tmp = _temp_name(final, "tmp")
    try:
        try:
            yield tmp
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            _pause_before_rename()
            os.replace(tmp, final)
        except OSError as e:
            raise _output_error(final, e) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


class _Staged:
    """Files staged under temporary names, renamed into place together (`atomic_outputs`)."""

    def __init__(self) -> None:
        self.pairs: list[tuple[Path, Path]] = []

    def stage(self, path: str | os.PathLike) -> Path:
        """A temporary path beside `path`: write the output there (any writer, even an atomic
        one); it becomes `path` when the `atomic_outputs` block succeeds."""
        final = Path(path)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _output_error(final, e) from None
        tmp = _temp_name(final, "stage")
        self.pairs.append((tmp, final))
        return tmp


@contextlib.contextmanager
def atomic_outputs() -> Iterator[_Staged]:
    """Several outputs that appear together or not at all: `stage(path)` each, write them; they
    are renamed into place when the block succeeds, and removed when it fails."""
    staged = _Staged()
    try:
        yield staged
        _pause_before_rename()
        with deferred_signals():
            for tmp, final in staged.pairs:
                try:
                    os.replace(tmp, final)
                except OSError as e:
                    raise _output_error(final, e) from None
    except BaseException:
        for tmp, _ in staged.pairs:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                tmp.unlink()
        raise


# ----------------------------------------------------------------------------- folders


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict[str, list[str]]:
    """{relative path: [sha256 it may have]} of the files snnc wrote in `folder` ({} if none)."""
    from ir.safe_json import loads

    path = folder / MANIFEST
    if not path.exists() and not path.is_symlink():
        return {}
    label = str(path)
    damaged = (
        "snnc cannot tell which files it wrote here; move the folder away or choose another -o"
    )
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 16 << 20:
        raise OutputError(f"{label}: not a manifest snnc wrote; {damaged}")
    try:
        data = loads(path.read_bytes(), label)
    except ModelFormatError as e:
        raise OutputError(f"{e}; {damaged}") from None
    ok = (
        isinstance(data, dict)
        and data.get("format") == MANIFEST_FORMAT
        and data.get("format_version") == MANIFEST_VERSION
    )
    files = data.get("files") if ok else None
    if not isinstance(files, dict) or not all(
        isinstance(k, str)
        and k
        and not Path(k).is_absolute()
        and ".." not in Path(k).parts
        and isinstance(v, list)
        and all(isinstance(h, str) for h in v)
        for k, v in files.items()
    ):
        raise OutputError(f"{label}: damaged; {damaged}")
    return {k: list(v) for k, v in files.items()}


def _manifest_bytes(files: Mapping[str, Iterable[str]]) -> bytes:
    data = {"format": MANIFEST_FORMAT, "format_version": MANIFEST_VERSION,
            "files": {k: sorted(set(v)) for k, v in sorted(files.items())}}
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _owned(path: Path, hashes: list[str] | None) -> bool:
    """Whether `path` is a regular file snnc wrote and nobody changed since."""
    if hashes is None or path.is_symlink() or not path.is_file():
        return False
    return _sha256(path) in hashes


def _in_the_way(final: Path, names: Iterable[str], old: Mapping[str, list[str]]) -> str | None:
    """The first of `names` (relative to `final`) snnc may not replace, in words; None if none."""
    for rel in sorted(names):
        dest = final / rel
        for parent in list(dest.relative_to(final).parents)[-2::-1]:  # final/a, final/a/b, ...
            where = final / parent
            if where.is_symlink() or (where.exists() and not where.is_dir()):
                return f"{where} is in the way (snnc needs a folder there)"
        if dest.is_symlink() or dest.exists():
            if not _owned(dest, old.get(rel)):
                listed = (
                    f"listed in {MANIFEST}"
                    if (final / MANIFEST).exists()
                    else f"listed in a {MANIFEST}, which this folder lacks: an older snnc did not "
                    "write one"
                )
                return (
                    f"{dest} exists and snnc did not write it (or it was changed since); snnc "
                    f"replaces only the files it wrote there ({listed}): move it away or choose "
                    "another -o"
                )
    return None


def check_output_dir(path: str | os.PathLike, names: Iterable[str] = ()) -> None:
    """Before a command works: `path` can receive an output folder holding `names` (module
    docstring). Writing again checks everything the command actually writes."""
    final = Path(path)
    check_output_path(final, "folder")
    if not final.is_dir():
        return
    problem = _in_the_way(final, names, _read_manifest(final))
    if problem:
        raise OutputError(problem)


def _files_under(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    )


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging folder; when the block succeeds its files become `path`'s (a new
    folder appears whole; an existing one gets snnc's files replaced and keeps the rest)."""
    final = Path(path)
    check_output_path(final, "folder")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_name(final, "tmp")
        tmp.mkdir()
    except OSError as e:
        raise _output_error(final, e) from None
    try:
        try:
            yield tmp
        except OSError as e:  # writing the staged files (not whatever else the block did)
            if e.filename is not None and Path(os.fsdecode(e.filename)).is_relative_to(tmp):
                raise _output_error(final, e) from None
            raise
        new = {rel: _sha256(tmp / rel) for rel in _files_under(tmp) if rel != MANIFEST}
        _pause_before_rename()
        try:
            if final.exists() or final.is_symlink():
                _commit_into(final, tmp, new)
            else:
                (tmp / MANIFEST).write_bytes(_manifest_bytes({k: [v] for k, v in new.items()}))
                os.rename(tmp, final)
        except OSError as e:
            raise _output_error(final, e) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _commit_into(final: Path, tmp: Path, new: dict[str, str]) -> None:
    """Move the staged files into the existing folder `final` (module docstring)."""
    check_output_path(final, "folder")
    old = _read_manifest(final)
    problem = _in_the_way(final, new, old)
    if problem:
        raise OutputError(problem)
    stale = [rel for rel in old if rel not in new and _owned(final / rel, old[rel])]
    with deferred_signals():
        during = {rel: [*old.get(rel, []), h] for rel, h in new.items()} | {
            rel: old[rel] for rel in stale
        }
        _replace_bytes(final / MANIFEST, _manifest_bytes(during))
        for rel in new:
            (final / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, final / rel)
        for rel in stale:
            with contextlib.suppress(FileNotFoundError):
                (final / rel).unlink()
        _replace_bytes(final / MANIFEST, _manifest_bytes({k: [v] for k, v in new.items()}))


def _replace_bytes(path: Path, data: bytes) -> None:
    tmp = _temp_name(path, "tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# ----------------------------------------------------------------------------- output paths


def check_output_path(path: str | os.PathLike, kind: str) -> None:
    """OutputError unless `path` can become a `kind` ("file" or "folder") output: the right kind
    if it exists, a parent that is (or can become) a writable folder, a name of at most NAME_MAX
    bytes."""
    p = Path(path)
    for part in p.parts:
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise OutputError(
                f"{part[:40]}...: a name of {len(part.encode('utf-8', 'surrogateescape'))} bytes; "
                f"the limit is {NAME_MAX}"
            )
    if p.exists() and kind == "file" and p.is_dir():
        raise OutputError(f"{p} is a folder; give the name of a file to write")
    if p.exists() and kind == "folder" and not p.is_dir():
        raise OutputError(f"{p} exists and is not a folder")
    if p.is_dir() and kind == "folder" and not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: cannot write in it (permission denied or a read-only file system)")
    parent = p.absolute().parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():
            break
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{p}: cannot write in {parent} (permission denied or a read-only file system)"
        )


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(outputs: Mapping[str, tuple[str, str]], inputs: Iterable[str]) -> None:
    """`outputs`: {option: (path, "file" | "folder")}. OutputError when an output is one of the
    `inputs` (by path, symlink or hard link), a folder output holds an input, two outputs are
    the same path, or an output path cannot be written (`check_output_path`)."""
    ins = [Path(i) for i in inputs if os.path.exists(i)]
    seen: dict[str, str] = {}
    for option, (path, kind) in outputs.items():
        out = Path(path)
        real = os.path.realpath(out)
        if real in seen:
            raise OutputError(
                f"{option} {path} and {seen[real]} name the same file; give each output its own "
                "name"
            )
        seen[real] = f"{option} {path}"
        for i in ins:
            if os.path.realpath(i) == real or _same(i, out):
                raise OutputError(
                    f"{option} {path} is the input {i}; snnc never writes over its inputs: choose "
                    "another name"
                )
            if kind == "folder" and Path(os.path.realpath(i)).is_relative_to(real):
                raise OutputError(
                    f"{option} {path} holds the input {i}; snnc never writes where it reads: "
                    "choose another folder"
                )
        check_output_path(out, kind)
