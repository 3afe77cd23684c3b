"""Atomic outputs: a file or folder appears whole under its final name, or not at all.

Everything snnc writes goes to a hidden temporary name next to the target and is renamed into
place once complete (rename is atomic within a filesystem). On any exception, including
KeyboardInterrupt, the temporary is removed and the previous output, if any, is left as it was.

Test hook: with `SNNC_TEST_PAUSE_BEFORE_RENAME=SECONDS` in the environment, every output waits
that long, complete under its temporary name, before the rename; tests use it to interrupt snnc
mid-write (tests/robust/test_interrupt.py). Unset, or not a number, it does nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output_dir", "atomic_output_file", "atomic_write_bytes", "atomic_write_text"]

_counter = itertools.count()


def _pause_before_rename() -> None:
    try:
        seconds = float(os.environ.get("SNNC_TEST_PAUSE_BEFORE_RENAME", "0"))
    except ValueError:
        return
    if seconds > 0:
        time.sleep(seconds)


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
        _pause_before_rename()
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
    old: Path | None = None
    tmp.mkdir()
    try:
        yield tmp
        _pause_before_rename()
        if final.exists():
            old = _temp_name(final, "old")
            os.replace(final, old)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not final.exists():  # interrupted between the two renames
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
