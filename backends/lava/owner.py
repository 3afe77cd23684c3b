"""One Lava run's processes, shared memory and temporary folder, owned by this process.

Lava 0.10 starts its process models as workers forked from this process, with a
multiprocessing manager (another forked process) holding their shared-memory channels
(lava/magma/runtime/message_infrastructure/multiprocessing.py), and stops them cooperatively:
`Runtime.stop` sends STOP to every runtime service and waits for TERMINATED, then joins every
worker (lava/magma/runtime/runtime.py). That protocol cannot survive an interruption: a
Ctrl-C that lands while the host waits for a step's DONE leaves a response in flight, so a
later `stop()` reads DONE instead of TERMINATED ("Runtime Received [-6.]") or waits forever
for a worker that is waiting for its next command; an interruption during start-up leaves
workers that never got a command at all, and Python's exit then joins them forever.

`lava_session()` owns all of it instead:

- start-up (`Session.start`: compile, fork the workers, start the manager) runs with SIGINT and
  SIGTERM held (`ir.signals.deferred_signals`, a second signal escalates). The workers and
  the manager inherit the holding handler, which ignores both signals in them, so a Ctrl-C sent
  to the whole process group (what a terminal does) or a `kill` of the group reaches only this
  process; a signal held during start-up is delivered as soon as the workers exist.
- a clean end (`Session.stop`) is Lava's own cooperative stop.
- any exception in between (KeyboardInterrupt, Terminated, a Lava error) ends the run by force,
  with further signals held until the clean-up is done: every worker this run forked is killed
  (SIGKILL: it cannot print a traceback or block), the shared-memory manager is shut down so it
  unlinks its segments (killed if it does not answer within a second), segments the host still
  maps are unlinked, Lava's runtime is marked stopped (its `__del__` would otherwise run the
  cooperative stop again at exit and wait forever), multiprocessing's resource tracker is
  stopped if this run started it, and the run's `snnc-lava-*` folder is removed. Then the
  exception goes on to the CLI, which prints one line.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ir.signals import deferred_signals

__all__ = ["Session", "lava_session"]

# How long the manager gets to unlink its segments and exit when the run is ended by force.
_MANAGER_GRACE_S = 1.0


def _tracker_pid() -> int | None:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)  # noqa: SLF001


class Session:
    """What one Lava run started (see the module docstring)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="snnc-lava-"))
        self._children_before = {p.pid for p in multiprocessing.active_children()}
        self._tracker_before = _tracker_pid()
        self._process: Any = None  # the Lava process the runtime was created for

    def start(self, process: Any, run_cfg: Any) -> None:
        """Compile and start Lava's processes for `process` (and everything connected to it)."""
        self._process = process
        with deferred_signals(escalate=True):
            process.create_runtime(run_cfg=run_cfg)

    def stop(self) -> None:
        """Lava's cooperative stop, once the run is complete."""
        if self._process is not None and self._process.runtime is not None:
            self._process.stop()
        self._process = None

    # ------------------------------------------------------------------ ending by force

    def _runtime(self) -> Any:
        return getattr(self._process, "runtime", None) if self._process is not None else None

    def _manager(self) -> Any:
        infra = getattr(self._runtime(), "_messaging_infrastructure", None)
        smm = getattr(infra, "_smm", None)
        return smm, getattr(smm, "_manager", None)

    def kill(self) -> None:
        runtime = self._runtime()
        smm, manager = self._manager()
        manager_process = getattr(manager, "_process", None)
        mine = [p for p in multiprocessing.active_children() if p.pid not in self._children_before]
        for p in mine:
            if p is not manager_process:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
        for p in mine:
            if p is not manager_process:
                p.join()
        self._stop_manager(manager, manager_process)
        for handle in getattr(smm, "_shared_memory_handles", ()):  # the segments the host maps
            with contextlib.suppress(Exception):
                handle.close()
            with contextlib.suppress(FileNotFoundError):
                handle.unlink()
        if runtime is not None:  # its __del__ must not start Lava's cooperative stop again
            runtime._is_started = runtime._is_running = False  # noqa: SLF001
        for p in multiprocessing.active_children():  # anything else this run started
            if p.pid not in self._children_before:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
                p.join()

    def _stop_manager(self, manager: Any, process: Any) -> None:
        if process is None:
            return
        shutdown = getattr(manager, "shutdown", None)
        if shutdown is not None and process.is_alive():
            with contextlib.suppress(Exception):
                shutdown()  # the server unlinks every segment it created, then exits
        process.join(_MANAGER_GRACE_S)
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.join()

    def close(self) -> None:
        """Remove the run's folder and the resource tracker this run started."""
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._tracker_before is None and _tracker_pid() is not None:
            from multiprocessing import resource_tracker

            with contextlib.suppress(Exception):
                resource_tracker._resource_tracker._stop()  # noqa: SLF001


@contextlib.contextmanager
def lava_session() -> Iterator[Session]:
    """A `Session` that is cleaned up however the block ends (module docstring)."""
    with deferred_signals():
        session = Session()
    try:
        yield session
    except BaseException:
        with deferred_signals():
            session.kill()
            session.close()
        raise
    with deferred_signals():
        session.close()
