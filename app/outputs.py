"""Output folders: a command replaces (atomically) only a previous output of its own kind."""

from __future__ import annotations

import os
from pathlib import Path

from ir.errors import InputError

__all__ = ["check_output_folder"]


def check_output_folder(path: str | os.PathLike, is_build, what: str = "a BUILD folder") -> None:
    """Refuse to replace anything but a previous output folder of the same kind (`is_build`
    recognises one; `what` names it): writing is atomic and replaces."""
    p = Path(path)
    if not p.exists():
        return
    if not p.is_dir():
        raise InputError(f"{p} exists and is not a folder")
    if any(p.iterdir()) and not is_build(p):
        raise InputError(
            f"{p} exists and is not {what}; refusing to replace it (choose another -o)"
        )
