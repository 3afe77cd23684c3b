"""backends.lava.owner: a Lava worker killed from outside (as the OOM killer kills) ends the run
with `LavaWorkerDied` instead of a wait that never ends, in the main thread and in any other; a
clean stop is never reported; nothing is left behind (SIGUSR1's handler, threads, processes).

Most tests use a stand-in for Lava's process (forked workers, and a host port that waits on a
threading.Condition as Lava's CspRecvQueue.get does), so they need no Lava; one runs Lava."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from backends.lava.owner import LavaWorkerDied, lava_session


class _Process:
    """Stands in for the Lava process a run is started for: `create_runtime` forks two workers
    that sleep; the host's port waits on a Condition until something arrives (never)."""

    runtime = None

    def __init__(self, stop_takes: float = 0.0) -> None:
        self.stop_takes = stop_takes
        self.workers: list = []

    def create_runtime(self, run_cfg: object) -> None:
        ctx = multiprocessing.get_context("fork")
        self.workers = [ctx.Process(target=time.sleep, args=(60,), daemon=True) for _ in range(2)]
        for w in self.workers:
            w.start()
        port = SimpleNamespace(_queue=queue.Queue())
        self.runtime = SimpleNamespace(
            _messaging_infrastructure=SimpleNamespace(actors=self.workers),
            service_to_runtime=[port],
            runtime_to_service=[],
        )

    def wait_for_a_step(self) -> None:
        self.runtime.service_to_runtime[0]._queue.get()

    def stop(self) -> None:
        """The cooperative stop: the workers end on purpose, and that takes a while."""
        for w in self.workers:  # (they ignore SIGTERM: forked while start-up held it)
            w.kill()
            w.join()
        time.sleep(self.stop_takes)


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("snnc-")]


def _call(run, in_thread: bool) -> None:
    """run() in this (the main) thread, or in another thread, waited for (30 s at most)."""
    if in_thread:
        caller = threading.Thread(target=run)
        caller.start()
        caller.join(30)
    else:
        run()


def _run_and_kill_a_worker(result: dict) -> None:
    process = _Process()
    try:
        with lava_session() as session:
            session.start(process, None)
            threading.Timer(0.2, os.kill, (process.workers[1].pid, signal.SIGKILL)).start()
            start = time.monotonic()
            try:
                process.wait_for_a_step()  # waits forever without the watcher
            finally:
                result["seconds"] = time.monotonic() - start
    except BaseException as e:  # noqa: BLE001 - what the run ended with is the result
        result["error"] = e
    result["workers alive"] = [w.pid for w in process.workers if w.is_alive()]


def test_a_killed_worker_ends_the_run_in_the_main_thread():
    before = signal.getsignal(signal.SIGUSR1)
    result: dict = {}
    _run_and_kill_a_worker(result)
    assert isinstance(result.get("error"), LavaWorkerDied), result
    assert str(result["error"]).endswith(
        "was killed by SIGKILL (out of memory?); the run cannot go on"
    )
    assert result["seconds"] < 2.0
    assert result["workers alive"] == []
    assert signal.getsignal(signal.SIGUSR1) is before
    assert _threads() == []


def test_a_killed_worker_ends_the_run_in_another_thread():
    before = signal.getsignal(signal.SIGUSR1)
    result: dict = {}
    caller = threading.Thread(target=_run_and_kill_a_worker, args=(result,))
    caller.start()
    caller.join(30)
    assert not caller.is_alive(), "the run never ended"
    assert isinstance(result.get("error"), LavaWorkerDied), result
    assert "was killed by SIGKILL" in str(result["error"])
    assert result["seconds"] < 2.0
    assert result["workers alive"] == []
    assert signal.getsignal(signal.SIGUSR1) is before  # a thread cannot install one: none was
    assert _threads() == []


@pytest.mark.parametrize("in_thread", [False, True])
def test_a_clean_stop_is_not_reported(in_thread):
    """Lava's cooperative stop ends every worker; the watcher (four looks a second) must say
    nothing about it, during the stop or after, and leave nothing behind."""
    before = signal.getsignal(signal.SIGUSR1)
    errors: list[BaseException] = []

    def run() -> None:
        process = _Process(stop_takes=0.4)
        try:
            with lava_session() as session:
                session.start(process, None)
                time.sleep(0.1)
                session.stop()
                time.sleep(0.4)  # the workers have ended: a watcher still looking would see it
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    _call(run, in_thread)
    assert errors == []
    assert signal.getsignal(signal.SIGUSR1) is before
    assert _threads() == []


@pytest.mark.parametrize("in_thread", [False, True])
def test_a_process_the_caller_starts_during_the_run_is_not_a_worker(in_thread):
    """Found running benchmarks/sim_vs_lava.py, whose per-sample callback runs `snnc run`
    processes while Lava is paused: each one that ended was reported as a dead Lava worker. Only
    the processes Lava's start-up forked are watched; the caller's own children come and go."""
    import subprocess
    import sys

    errors: list[BaseException] = []

    def run() -> None:
        process = _Process()
        try:
            with lava_session() as session:
                session.start(process, None)
                for _ in range(3):  # each outlives a watcher's look, then ends and is reaped
                    subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)"],
                                   check=True)
                    time.sleep(0.3)
                    assert session._pending is None  # noqa: SLF001 - nothing was reported
                session.stop()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    _call(run, in_thread)
    assert errors == []
    assert _threads() == []


def test_a_signal_held_during_start_up_is_delivered_after_a_while(monkeypatch):
    """Start-up holds SIGINT (the workers must exist before anything is killed), but not past
    `_STARTUP_HOLD_S`: a start-up that waits on a dead worker can still be stopped."""
    from backends.lava import owner

    class _Stuck(_Process):
        def create_runtime(self, run_cfg: object) -> None:
            super().create_runtime(run_cfg)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(60)

    monkeypatch.setattr(owner, "_STARTUP_HOLD_S", 0.5)
    process = _Stuck()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with lava_session() as session:
            session.start(process, None)
    assert owner._STARTUP_HOLD_S <= time.monotonic() - start < owner._STARTUP_HOLD_S + 1.5
    assert [w.pid for w in process.workers if w.is_alive()] == []
    assert _threads() == []


@pytest.mark.lava
def test_a_lava_worker_killed_between_samples_ends_the_run():
    """Lava itself: a worker SIGKILLed while the run is paused after its first sample; the
    next sample would wait for it forever."""
    from backends.lava import compat
    from backends.lava import run as lava_run
    from ir import QLIF, Graph, Input, QDense

    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    program = Graph(populations={"in": Input((3,)), "o": QLIF((2,), du=100, dv=100, vth=10)},
                    projections={"w": QDense("in", "o", weight=[[40, 4, -8], [8, 80, 8]])})
    before = signal.getsignal(signal.SIGUSR1)
    children_before = {p.pid for p in multiprocessing.active_children()}
    killed: list[float] = []
    mapped: set[str] = set()

    def kill_a_worker(b: int) -> None:
        if b == 0:
            mine = sorted(
                p.pid for p in multiprocessing.active_children() if p.pid not in children_before
            )
            for line in open("/proc/self/maps").read().splitlines():
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith("/dev/shm/"):
                    mapped.add(fields[5].removesuffix(" (deleted)"))
            os.kill(mine[-1], signal.SIGKILL)  # the last forked: a worker (the manager comes first)
            killed.append(time.monotonic())

    with pytest.raises(LavaWorkerDied, match=r"worker process \d+ was killed by SIGKILL"):
        lava_run.run(program, np.ones((2, 5, 3), dtype=np.uint8), on_sample=kill_a_worker)
    assert killed and time.monotonic() - killed[0] < 3.0
    assert {p.pid for p in multiprocessing.active_children()} <= children_before
    assert signal.getsignal(signal.SIGUSR1) is before
    assert _threads() == []
    assert mapped, "the run mapped no shared memory: the check below checks nothing"
    assert [p for p in mapped if os.path.exists(p)] == []  # the segments of Lava's channels
