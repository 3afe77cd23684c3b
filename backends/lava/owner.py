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
  SIGTERM held (`ir.signals.deferred_signals`; a second signal, or one held for 3 s, is
  delivered at once). The workers and
  the manager inherit the holding handler, which ignores both signals in them, so a Ctrl-C sent
  to the whole process group (what a terminal does) or a `kill` of the group reaches only this
  process; a signal held during start-up is delivered as soon as the workers exist.
- while it runs, a thread watches the workers: one killed from outside (the OOM killer, a
  stray `kill -9`) would leave Lava waiting for it forever; the run ends instead, by force, with
  one line naming the worker and the signal that killed it (`LavaWorkerDied`).
- a clean end (`Session.stop`) is Lava's own cooperative stop, with the signals held as at start-up;
  from its first line on, the watcher reports nothing (Lava's workers end there on purpose).
- any exception in between (KeyboardInterrupt, Terminated, a Lava error) ends the run by force,
  with further signals held until the clean-up is done: every worker this run forked is killed
  (SIGKILL: it cannot print a traceback or block), the shared-memory manager is shut down so it
  unlinks its segments (killed if it does not answer within a second, its answer awaited in a
  thread), segments the host still
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
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ir.errors import BackendUnavailableError
from ir.signals import deferred_signals

__all__ = ["LavaWorkerDied", "Session", "lava_session"]

# How long the manager gets to unlink its segments and exit when the run is ended by force.
_MANAGER_GRACE_S = 1.0
# How long a signal waits for Lava's start-up: it normally takes about a second; one that waits
# on a worker that died (killed for memory, say) would otherwise never end.
_STARTUP_HOLD_S = 3.0
# How often the watcher looks at the workers.
_WATCH_S = 0.25


class LavaWorkerDied(BackendUnavailableError):
    """One of Lava's workers ended during the run (killed from outside, most likely for memory)."""

    # Raised by a SIGUSR1 handler, it can land where Python swallows exceptions (an at-fork hook,
    # a finalizer); the watcher raises it again until the run's end begins, so the CLI's
    # unraisable hook (`compiler.cli._redeliver`) need not print the swallowed one.
    raised_again = True


def _tracker_pid() -> int | None:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)  # noqa: SLF001


class Session:
    """What one Lava run started (see the module docstring)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="snnc-lava-"))
        self._children_before = set(_children(os.getpid(), set()))
        # Lava's processes, once its start-up has forked them all; until then (None) every new
        # child is one of them. A child the caller starts during the run (a `snnc run` process
        # from a per-sample callback, as benchmarks/sim_vs_lava.py does) is not Lava's, and its
        # end is no worker's death.
        self._lava_pids: frozenset[int] | None = None
        self._tracker_before = _tracker_pid()
        self._mp_tempdir_before = _multiprocessing_tempdir()
        self._process: Any = None  # the Lava process the runtime was created for
        # The watcher (see _watch_workers). `_lock` orders its report against the run's end:
        # once `_ending` is set (the first line of stop, kill and close) it reports nothing.
        self._lock = threading.Lock()
        self._ending = False
        # set by `_end`'s first statement, in the thread that runs Lava
        self._ended_in_caller = False
        self._pending: LavaWorkerDied | None = None  # reported, until the run's end begins
        self._wakeup = threading.Event()
        self._watcher: threading.Thread | None = None
        self._caller: threading.Thread | None = None
        self._usr1: Any = None  # the SIGUSR1 handler before the run's, put back by close()

    def start(self, process: Any, run_cfg: Any) -> None:
        """Compile and start Lava's processes for `process` (and everything connected to it)."""
        self._process = process
        self._watch_workers()
        with deferred_signals(escalate_after=_STARTUP_HOLD_S):
            process.create_runtime(run_cfg=run_cfg)
        self._lava_pids = frozenset(_children(os.getpid(), self._children_before))

    def stop(self) -> None:
        """Lava's cooperative stop, once the run is complete. A worker that died before it began
        would never answer it: that raises `LavaWorkerDied` instead (the run then ends by force)."""
        died = self._end()
        if died is not None:
            raise died
        # Held like the start-up: a signal that cut Lava's stop in half (its manager already shut
        # down, its workers not yet joined) left the segments to the resource tracker's warning
        # at exit and the `pymp-*` folder behind (`make fuzz`, lava-signals, hil SIGINT 2.8 s
        # after the workers); a stop that does not end in 3 s is still interrupted.
        with deferred_signals(escalate_after=_STARTUP_HOLD_S):
            if self._process is not None and self._process.runtime is not None:
                self._process.stop()
            self._process = None

    # ------------------------------------------------------------------ a worker that dies

    def _watch_workers(self) -> None:
        """A worker killed from outside (the kernel's OOM killer, a stray `kill -9`) never answers,
        and Lava would wait for it forever, at start-up as in a run. From before the first fork
        until the cooperative stop none of Lava's processes ends, so a thread lists them four
        times a second (/proc: during start-up every new child of this process, after it the
        children start-up left, not those the caller starts meanwhile; and Lava's own list of
        its workers, whose exit code is kept once multiprocessing has reaped them: it reaps
        finished children whenever it starts another)
        and, when one has ended, raises `LavaWorkerDied` in the thread that runs Lava, which
        waits on Lava's channels (threading.Condition waits in
        lava/magma/compiler/channels/pypychannel.py: CspRecvQueue.get, CspSelector.select, the
        send port's BoundedSemaphore):
        - in the main thread, through SIGUSR1 sent to it: a signal interrupts a lock wait there
          (Python re-checks its handlers on EINTR), and the handler raises;
        - in another thread (no signal handler can be installed from there, and a signal only
          interrupts the main thread), as an asynchronous exception
          (PyThreadState_SetAsyncExc), which is raised when that thread next runs Python code:
          the watcher wakes it by notifying the conditions of the runtime's channel ports,
          again every tick until the run's end begins."""
        self._caller = threading.current_thread()
        if self._caller is threading.main_thread():
            self._usr1 = signal.signal(signal.SIGUSR1, self._on_usr1)
        self._watcher = threading.Thread(target=self._watch, name="snnc-lava-watcher", daemon=True)
        self._watcher.start()

    def _on_usr1(self, signum: int, frame: object) -> None:
        died = self._pending
        # None: a SIGUSR1 from elsewhere, or a report the run's end withdrew. Once `_end` has
        # begun (it runs in this thread), a SIGUSR1 sent meanwhile must not cut it short.
        if died is not None and not self._ended_in_caller:
            raise died

    def _watch(self) -> None:
        seen: set[int] = set()
        while not self._wakeup.wait(_WATCH_S):
            children = _children(os.getpid(), self._children_before)
            lava = self._lava_pids
            if lava is not None:
                children = {pid: c for pid, c in children.items() if pid in lava}
                seen &= lava
            ended = [(pid, sig) for pid, (zombie, sig) in children.items() if zombie]
            ended += [(pid, 0) for pid in seen - set(children)]
            for actor in list(
                getattr(getattr(self._runtime(), "_messaging_infrastructure", None), "actors", ())
            ):
                code = actor.exitcode  # set once reaped, whoever reaped it
                if code is not None:
                    ended.append((actor.pid, -code if code < 0 else 0))
            if ended:
                self._report(*ended[0])
                break
            seen |= set(children)
        if self._caller is threading.main_thread():
            # Measured: the SIGUSR1 that raises it can land in logging's at-fork hook while Lava
            # forks its workers, where Python swallows the exception; send it again every tick
            # until the run's end begins (`_end` sets `_wakeup`).
            while not self._wakeup.wait(_WATCH_S):
                with self._lock:
                    if not self._ending and self._pending is not None:
                        signal.pthread_kill(self._caller.ident, signal.SIGUSR1)
            return
        # the caller may be between two waits: wake it until it is out
        while not self._wakeup.wait(0.05):
            self._wake_caller()

    def _report(self, pid: int, sig: int) -> None:
        how = f"was killed by {_signal_name(sig)}" if sig else "ended"
        died = LavaWorkerDied(
            f"Lava's worker process {pid} {how} (out of memory?); the run cannot go on"
        )
        with self._lock:
            if self._ending:
                return
            self._pending = died
            if self._caller is threading.main_thread():
                signal.pthread_kill(self._caller.ident, signal.SIGUSR1)
            else:
                _set_async_exc(
                    self._caller,
                    type(
                        "LavaWorkerDied",
                        (LavaWorkerDied,),
                        {"__init__": lambda e: LavaWorkerDied.__init__(e, str(died))},
                    ),
                )
                self._wake_caller()

    def _wake_caller(self) -> None:
        runtime = self._runtime()
        for port in [
            *getattr(runtime, "service_to_runtime", ()),
            *getattr(runtime, "runtime_to_service", ()),
        ]:
            for condition in (getattr(getattr(port, "_queue", None), "not_empty", None),
                              getattr(getattr(port, "_semaphore", None), "_cond", None)):
                if condition is not None:
                    with condition:
                        condition.notify_all()
            observer = getattr(port, "observer", None)  # a CspSelector waiting on it
            if observer is not None:
                with contextlib.suppress(Exception):
                    observer()

    def _end(self) -> LavaWorkerDied | None:
        """The run's end begins: the watcher stops, and a worker's death it reported but that was
        not raised yet is withdrawn and returned. Called in the thread that runs Lava."""
        self._ended_in_caller = True
        with self._lock:
            self._ending = True
            died, self._pending = self._pending, None
            if (
                died is not None
                and self._caller is not None
                and self._caller is not threading.main_thread()
            ):
                _set_async_exc(self._caller, None)
        self._wakeup.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
        return died

    # ------------------------------------------------------------------ ending by force

    def _runtime(self) -> Any:
        return getattr(self._process, "runtime", None) if self._process is not None else None

    def _manager(self) -> Any:
        infra = getattr(self._runtime(), "_messaging_infrastructure", None)
        smm = getattr(infra, "_smm", None)
        return smm, getattr(smm, "_manager", None)

    def kill(self) -> None:
        self._end()
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
        for p in multiprocessing.active_children():  # anything else multiprocessing knows
            if p.pid not in self._children_before:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
                p.join()
        # A worker forked just as the run was cut short is not in multiprocessing's list yet
        # (Process.start adds it after the fork returns): every child of this process the run
        # made, found in /proc, but the resource tracker (stopped in close()).
        for pid in set(_children(os.getpid(), self._children_before)) - {_tracker_pid()}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def _stop_manager(self, manager: Any, process: Any) -> None:
        if process is None:
            return
        shutdown = getattr(manager, "shutdown", None)
        if shutdown is not None and process.is_alive():
            # The server unlinks every segment it created, then exits; its answer is awaited
            # in a thread, so that a server that does not answer cannot hold this up.
            asking = threading.Thread(target=_quietly, args=(shutdown,), daemon=True)
            asking.start()
            asking.join(_MANAGER_GRACE_S)
        else:
            asking = None
        process.join(_MANAGER_GRACE_S)
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.join()
        if asking is not None:
            asking.join()  # the server is gone: its connection has ended, and the question with it

    def close(self) -> None:
        """Remove the run's folder and the resource tracker this run started; put SIGUSR1's
        handler back."""
        self._end()
        if self._usr1 is not None:
            signal.signal(signal.SIGUSR1, self._usr1)
            self._usr1 = None
        if self._mp_tempdir_before is None:
            _remove_multiprocessing_tempdir()
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._tracker_before is None and _tracker_pid() is not None:
            from multiprocessing import resource_tracker

            # It ends when every holder of its pipe has closed it; waited for in a thread, so
            # that a holder this run could not find cannot hold up the exit.
            stopping = threading.Thread(
                target=_quietly,
                args=(resource_tracker._resource_tracker._stop,),  # noqa: SLF001
                daemon=True,
            )
            stopping.start()
            stopping.join(_MANAGER_GRACE_S)
            tracker = _tracker_pid()
            if stopping.is_alive() and tracker is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(tracker, signal.SIGKILL)
                stopping.join()


def _multiprocessing_tempdir() -> str | None:
    from multiprocessing import process

    return process.current_process()._config.get("tempdir")  # noqa: SLF001


def _remove_multiprocessing_tempdir() -> None:
    """The `pymp-*` folder multiprocessing made for the run's manager (its socket), removed now
    through the finalizer it registered (multiprocessing/util.py get_temp_dir), which also
    forgets it: the next use makes a new one, and Python's exit does not remove it again. (It
    stays in TMPDIR itself: inside the run's folder its socket's path could pass the 108 bytes
    a Unix socket address may have.)"""
    from multiprocessing import util

    if _multiprocessing_tempdir() is None:
        return
    for finalizer in list(util._finalizer_registry.values()):  # noqa: SLF001
        if getattr(finalizer, "_callback", None) is util._remove_temp_dir:  # noqa: SLF001
            finalizer()


def _children(parent: int, exclude: set[int]) -> dict[int, tuple[bool, int]]:
    """{pid: (a zombie?, the signal that killed it or 0)} of the children of `parent` (from
    /proc/PID/stat: the state, and the exit code, its last field)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found[int(entry.name)] = (fields[0] == "Z", int(fields[-1]) & 0x7F)
    return found


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _set_async_exc(thread: threading.Thread, exc: type[BaseException] | None) -> None:
    """Raise `exc` in `thread` when it next runs Python code (None: withdraw one not raised yet)."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(exc) if exc else None
    )


def _quietly(fn: Any) -> None:
    with contextlib.suppress(Exception):
        fn()


@contextlib.contextmanager
def lava_session() -> Iterator[Session]:
    """A `Session` that is cleaned up however the block ends (module docstring)."""
    with deferred_signals():
        session = Session()
    try:
        yield session
    except BaseException:
        with deferred_signals():
            try:
                session.kill()
            except LavaWorkerDied:  # reported just before kill() withdrew it; no other can follow
                session.kill()
            session.close()
        raise
    with deferred_signals():
        session.close()
