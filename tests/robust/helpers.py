"""Running `snnc` in a subprocess the way a user does, and interrupting it like Ctrl-C does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def snnc_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["SNNC_PROGRESS"] = "0"
    env.update(extra)
    return env


def snnc(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=snnc_env(**env), timeout=300)


def temporaries(folder: Path, name: str) -> list[Path]:
    """The hidden temporaries ir.atomic makes for output `name` in `folder`."""
    return sorted(folder.glob(f".{name}.tmp-*")) + sorted(folder.glob(f".{name}.old-*"))


def interrupt_when(args: list[str], ready: Callable[[], bool], *, timeout: float = 240.0,
                   sig: int = signal.SIGINT, **env: str) -> subprocess.CompletedProcess:
    """Start `snnc ARGS`, send `sig` (SIGINT: what Ctrl-C sends) once `ready()` holds, and wait."""
    # A shell starts background jobs with SIGINT ignored, and children inherit that: restore the
    # default so that snnc gets a KeyboardInterrupt however the test suite itself was started.
    proc = subprocess.Popen([sys.executable, "-m", "compiler.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=snnc_env(**env),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(
                    f"snnc ended (exit {proc.returncode}) before it was interrupted: {err}"
                )
            if time.monotonic() > deadline:
                raise AssertionError("snnc never reached the point to interrupt")
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
