"""Running the `snnc` CLI from tests: each returns (exit status, stdout, stderr)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_cli", "run_in_process"]


def run_cli(
    *args: object,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
) -> tuple[int, str, str]:
    """In a fresh interpreter, as a user runs it (exit status, no traceback)."""
    proc = subprocess.run(
        [sys.executable, "-m", "compiler.cli", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def run_in_process(*args: object) -> tuple[int, str, str]:
    """In this process (faster): main() prints an SnncError as one line and returns 1; any
    other exception propagates and fails the test."""
    from compiler.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()
