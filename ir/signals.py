"""Holding SIGINT and SIGTERM while something must not be cut in half.

The CLI turns SIGINT into KeyboardInterrupt and SIGTERM into `compiler.cli.Terminated`, raised
wherever the main thread is. A few steps must finish once begun: renaming a finished output
into place (`ir.atomic`), cleaning up after Lava (`backends.lava.owner`), forking Lava's
workers. `deferred_signals()` holds the signals for the length of such a block and delivers
the first one held as the block ends, through the handler that was installed before it.

Processes forked inside the block inherit the holding handler; in them it ignores both
signals, since the process that forked them owns them and stops them itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

__all__ = ["SIGNALS", "deferred_signals"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def deferred_signals(*, escalate_after: float | None = None) -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then deliver the first one held.

    `escalate_after`: for blocks that wait on something outside this process (Lava's start-up
    waits on its workers), a signal held that long, or a second signal, is delivered at once,
    so that a block that never ends can still be stopped. Outside the main thread (where no
    handler can be installed) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    held: list[int] = []
    ended = threading.Event()
    timers: list[threading.Thread] = []

    def again(signum: int) -> None:  # the signal held, once more, `escalate_after` seconds later
        if not ended.wait(escalate_after):
            # main: it interrupts a wait there
            signal.pthread_kill(threading.main_thread().ident, signum)

    def hold(signum: int, frame: object) -> None:
        if os.getpid() != owner:
            return  # a forked child: its owner stops it
        if held and escalate_after is not None:
            _restore(previous)
            _deliver(previous, signum)
        held.append(signum)
        if escalate_after is not None and not timers:
            timers.append(
                threading.Thread(target=again, args=(signum,), name="snnc-held-signal", daemon=True)
            )
            timers[0].start()

    for s in SIGNALS:
        signal.signal(s, hold)
    try:
        yield
    finally:
        ended.set()
        for timer in timers:  # joined before the handlers go back: it cannot send after that
            timer.join()
        _restore(previous)
        if held:
            _deliver(previous, held[0])


def _restore(previous: dict) -> None:
    for s, handler in previous.items():
        signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def _deliver(previous: dict, signum: int) -> None:
    """What the signal would have done without the hold: call its Python handler (which raises
    KeyboardInterrupt or Terminated), or raise it again for the default action."""
    handler = previous[signum]
    if callable(handler):
        handler(signum, None)
    elif handler != signal.SIG_IGN:
        signal.raise_signal(signum)
