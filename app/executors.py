"""Where independent pieces of work run: in this process, or as Ray tasks.

    with open_executor("ray", address=None, workers=2) as ex:
        ref = ex.put(big_bytes)                       # shared by many calls
        for index, result in ex.map(fn, [(ref, 1), (ref, 2)]):
            ...                                       # in completion order

`fn` must be a module-level function (Ray ships it by reference: every worker imports snnc).
A call that raises gives its exception as its result (a Ray task's own exception, not Ray's
wrapper), so the caller decides whether one failure ends the work. Arguments and results travel
through Ray's object store; nothing assumes the workers see the driver's files.

`local` runs the calls one after the other in this process and never imports Ray. `ray` starts
a private local cluster (`workers` CPUs; its logs in a temporary folder removed on close) unless
an address is given (`--address` or RAY_ADDRESS), and then uses that cluster (or the one this
process already joined with `ray.init`, left running on close). Ray's own output
stays off the terminal: no dashboard, no worker logs forwarded, errors only.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import socket
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ir.errors import BackendUnavailableError, InputError, SnncError

__all__ = ["EXECUTORS", "LocalExecutor", "RayExecutor", "open_executor"]

EXECUTORS = ("local", "ray")
RAY_SPEC = "ray==2.60.0"
_AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


class LocalExecutor:
    """Every call in this process, one after the other, in order."""

    name = "local"
    workers = 1
    description = "local (this process)"

    def put(self, value: Any) -> Any:
        return value

    def map(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], label: str = "task"
    ) -> Iterator[tuple[int, Any]]:
        for i, args in enumerate(calls):
            try:
                result = fn(*args)
            except Exception as e:  # the caller decides (KeyboardInterrupt still ends the run)
                result = e
            yield i, result

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Failure:
    """A task's exception, as plain data: snnc's error classes take several constructor
    arguments and do not survive pickling; the message and the traceback text do."""

    user_error: bool
    message: str
    traceback: str

    def exception(self) -> Exception:
        if self.user_error:
            return SnncError(self.message)
        err = RuntimeError(self.message)
        err.add_note(f"in a Ray worker:\n{self.traceback}")
        return err


def _one_thread_call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run in a Ray worker that holds one CPU: numba's kernels use one thread there (Ray already
    sets OMP_NUM_THREADS=1 for such workers; numba's own pool defaults to every core)."""
    try:
        import numba

        if numba.get_num_threads() != 1:
            numba.set_num_threads(1)
    except ImportError:
        pass
    try:
        return fn(*args)
    except SnncError as e:
        return _Failure(True, str(e), "")
    except Exception as e:
        return _Failure(False, f"{type(e).__name__}: {e}", traceback.format_exc())


class RayExecutor:
    """Calls as Ray tasks of one CPU each, at most `workers` in flight."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self._saved_env: dict[str, str | None] = {}
        try:
            import ray
        except ImportError:
            self.close()
            raise BackendUnavailableError(
                f"--executor ray needs Ray: pip install {RAY_SPEC} (part of `make setup`)"
            ) from None
        if workers is not None and workers <= 0:
            raise InputError(f"--workers must be positive, got {workers}")
        self._ray = ray
        self._temp: str | None = None
        self._owned = False
        address = address or os.environ.get("RAY_ADDRESS") or None
        if ray.is_initialized():  # a program that called ray.init itself: use its cluster
            where = "Ray cluster of this process"
        else:
            self._owned = True
            try:
                where = self._start(address, workers)
            except BaseException:
                self.close()
                raise
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or cpus
        self.description = f"ray ({where}, {cpus} CPUs, {self.workers} workers)"
        self._task = ray.remote(num_cpus=1, max_retries=0)(_one_thread_call)

    def _setenv(self, name: str, value: str) -> None:
        """Set for this run only (close restores it); Ray's processes started here inherit it."""
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _start(self, address: str | None, workers: int | None) -> str:
        ray = self._ray
        quiet = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        self._setenv("RAY_USAGE_STATS_ENABLED", os.environ.get("RAY_USAGE_STATS_ENABLED", "0"))
        if address is None:
            # Ray (from 2.59) starts a local cluster with token authentication and saves a token
            # in ~/.ray/auth_token unless it finds one: give it a secret of this process instead.
            if not any(k in os.environ for k in _AUTH_VARIABLES):
                self._setenv("RAY_AUTH_TOKEN", _process_token())
            self._temp = tempfile.mkdtemp(prefix="snnc-ray-")
            try:
                ray.init(num_cpus=workers or os.cpu_count() or 1, _temp_dir=self._temp, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise InputError(f"cannot start a local Ray cluster: {_first_line(e)}") from None
            return "local Ray cluster"
        _check_reachable(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as e:
            # Ray 2.60 sends a token to an explicit address only when RAY_AUTH_MODE=token is set
            # when the process starts (`ray start` enables token authentication).
            hint = "" if os.environ.get("RAY_AUTH_MODE") == "token" else (
                "; if the cluster uses token authentication, run with RAY_AUTH_MODE=token "
                "(and RAY_AUTH_TOKEN, or the token in ~/.ray/auth_token)")
            raise InputError(
                f"cannot reach the Ray cluster at {address}: {_first_line(e)}{hint}"
            ) from None
        return f"Ray cluster at {address}"

    def put(self, value: Any) -> Any:
        return self._ray.put(value)

    def map(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], label: str = "task"
    ) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        pending: dict[Any, int] = {}
        todo = iter(enumerate(calls))
        try:
            while True:
                while len(pending) < self.workers:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    pending[self._task.remote(fn, *nxt[1])] = nxt[0]
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    index = pending.pop(ref)
                    yield index, self._result(ref)
        finally:  # interrupted, or the caller stopped early: nothing left running
            for ref in pending:
                ray.cancel(ref, force=True)

    def _result(self, ref: Any) -> Any:
        ray = self._ray
        try:
            result = ray.get(ref)
            return result.exception() if isinstance(result, _Failure) else result
        except ray.exceptions.RayTaskError as e:
            cause = e.cause
            return cause if isinstance(cause, BaseException) else RuntimeError(_first_line(e))
        except ray.exceptions.RayError as e:  # a worker died, the task was cancelled, ...
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            return RuntimeError(f"{type(e).__name__}: {first}")

    def close(self) -> None:
        if getattr(self, "_owned", False) and self._ray.is_initialized():
            self._ray.shutdown()
        if getattr(self, "_temp", None) is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.lru_cache(maxsize=1)
def _process_token() -> str:
    """One secret per process: Ray caches the token it first loads, so every cluster this
    process starts must get the same one."""
    return secrets.token_hex(32)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody answers at: Ray itself retries for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://...": Ray resolves those
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise InputError(
            f"cannot reach the Ray cluster at {address}: {e.strerror or e} "
            f"(no answer within {timeout:g} s)"
        ) from None


def open_executor(
    name: str, address: str | None = None, workers: int | None = None
) -> LocalExecutor | RayExecutor:
    """An executor by name; `address` and `workers` apply to `ray` only."""
    if name == "local":
        if address is not None:
            raise InputError("--address applies to --executor ray")
        if workers not in (None, 1):
            raise InputError(
                f"--workers {workers}: --executor local runs one point at a time in this "
                "process; use --executor ray for parallel workers"
            )
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address, workers)
    raise InputError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}")
