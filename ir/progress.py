"""Progress on stderr for long work (training, evaluation, large compiles).

Shown only when stderr is a terminal or SNNC_PROGRESS=1; SNNC_PROGRESS=0 silences it. Never on
stdout, which belongs to results.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["progress", "progress_enabled", "status"]

T = TypeVar("T")


def progress_enabled() -> bool:
    flag = os.environ.get("SNNC_PROGRESS")
    if flag is not None:
        return flag not in ("0", "", "false", "no")
    return sys.stderr.isatty()


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Iterate `items`, drawing a progress bar on stderr when enabled."""
    if not progress_enabled():
        yield from items
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield from items
        return
    # The CLI shows control characters in what it prints as escapes (compiler.cli._Escaped);
    # the bar itself draws with them, so it writes to the stream underneath.
    stream = getattr(sys.stderr, "unescaped", sys.stderr)
    yield from tqdm(items, desc=desc, total=total, file=stream, leave=False, dynamic_ncols=True)


def status(message: str) -> None:
    """One line of progress narration on stderr (when enabled)."""
    if progress_enabled():
        print(f"snnc: {message}", file=sys.stderr, flush=True)
