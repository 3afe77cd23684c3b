"""Atomic outputs: a file or folder appears whole under its final name, or not at all.

Everything snnc writes goes to a hidden temporary name next to the target and is renamed into
place once complete (rename is atomic within a filesystem). On any exception, including
KeyboardInterrupt, the temporary is removed and the previous output, if any, is left as it was.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output_dir", "atomic_output_file", "atomic_write_bytes", "atomic_write_text"]

_counter = itertools.count()


def _temp_name(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{os.getpid()}-{next(_counter)}"


@contextlib.contextmanager
def atomic_output_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes `path` when the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(final, "tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder; it replaces `path` when the block succeeds.

    An existing folder at `path` is swapped out and removed only after the new one is in place.
    """
    final = Path(path)
    if final.exists() and not final.is_dir():
        raise FileExistsError(f"{final} exists and is not a folder")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(final, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if final.exists():
            old = _temp_name(final, "old")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
