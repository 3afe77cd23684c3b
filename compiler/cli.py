"""The `snnc` command line.

Each verb lives in `compiler/commands/<verb>.py` with `register(subparsers)` (argument
definitions; module-level imports stay light) and a handler set as the parser's `func`.
Exit status: 0 success, 1 user error (one line on stderr), 2 usage error, 130 interrupted
(SIGINT), 143 terminated (SIGTERM).

This module is the boundary where everything a command can run into becomes one line:
- `SnncError` (bad input, an output that may not be written), any `OSError` the operating system
  still raises (a full disk, a vanished folder) and `MemoryError`: `snnc: error: ...`, exit 1;
- SIGINT / SIGTERM at any moment, from the first statement of `entry()` (this module imports
  only the standard library, so the handlers are installed before snnc's own modules load) to
  the end of the interpreter's exit: `snnc: interrupted` (130) / `snnc: terminated` (143);
- outputs are checked before the command runs (`OUTPUTS`, `ir.atomic.check_outputs`): never
  one of the inputs, a writable place of the right kind;
- what snnc prints passes through `_Escaped`, which shows control characters (terminal escape
  sequences in a node name, a hardware name, an error message) as `\\xNN` instead of sending
  them to the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import TextIO

# Only the standard library's lightest modules here: entry() must own the signals as early as
# possible; everything else is imported inside main().
import atexit
import os
import signal
import sys
import time

__all__ = ["OUTPUTS", "VERBS", "Terminated", "build_parser", "entry", "main"]

# verb -> module; the order is the order of `snnc --help`.
VERBS: dict[str, str] = {
    "hw": "compiler.commands.hw",
    "inspect": "compiler.commands.inspect",
    "compile": "compiler.commands.compile",
    "import": "compiler.commands.nir_import",
    "export": "compiler.commands.nir_export",
    "train": "compiler.commands.train",
    "run": "compiler.commands.run",
    "eval": "compiler.commands.eval",
    "hil": "compiler.commands.hil",
    "identify": "compiler.commands.identify",
    "report": "compiler.commands.report",
    "demo": "compiler.commands.demo",
    "sweep": "compiler.commands.sweep",
}
# The arguments that name outputs, per verb (argparse dest -> "file" | "folder"); every other
# argument naming an existing path is an input.
OUTPUTS: dict[str, dict[str, str]] = {
    "compile": {"output": "folder"},
    "report": {"output": "folder"},
    "demo": {"output": "folder"},
    "import": {"output": "file"},
    "export": {"output": "file"},
    "run": {"output": "file"},
    "train": {"output": "file"},
    "hil": {"report": "file", "record": "file"},
}


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`), raised where the process is, so atomic writes clean up as on Ctrl-C."""


# Signals `entry()`'s handlers received: an exception that follows one (an import cut in half,
# a library that turns the interrupt into its own error) is reported as the interruption.
_received: list[int] = []
# While a C extension module initialises, a signal is held (`_HeldExtensionLoader`).
_holding: list[int] = []  # nesting depth, as a list of markers
_pending: list[int] = []


# Once `entry()` has main()'s status, a signal is noted here, not raised: nothing is left for
# it to stop, and `_late_signal_status` turns it into the status at exit.
_finished: list[int] = []
_after_finish: list[int] = []


def _on_signal(signum: int, frame: object) -> None:
    _received.append(signum)
    if _finished:
        _after_finish.append(signum)
        return
    if _holding:
        _pending.append(signum)
        return
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def _redeliver(unraisable: object) -> None:
    """sys.unraisablehook: an interrupt raised inside a finalizer (`__del__`, a weakref
    callback) is swallowed by Python with a printed traceback; send the signal again a moment
    later, from another thread, so that it lands in the command once the finalizer is done (a
    signal raised here, synchronously, would be swallowed in this hook in turn)."""
    if isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt) and _received:
        import threading

        threading.Timer(0.01, os.kill, (os.getpid(), _received[-1])).start()
        return
    if getattr(getattr(unraisable, "exc_value", None), "raised_again", False):
        return  # its raiser raises it again (backends.lava.owner.LavaWorkerDied)
    sys.__unraisablehook__(unraisable)  # type: ignore[arg-type]


def _hold_signals_for_extensions() -> None:
    """Hold SIGINT/SIGTERM while each C extension module initialises (its PyInit function runs
    Python code, where the interrupt would be raised): numpy's `_multiarray_umath` cut in half
    by a Ctrl-C was measured to crash the process (SIGSEGV) instead of stopping it. The signal
    is delivered as soon as the extension is loaded."""
    import importlib.machinery as machinery

    class _HeldExtensionLoader(machinery.ExtensionFileLoader):
        def create_module(self, spec):  # type: ignore[no-untyped-def]
            with _held():
                return super().create_module(spec)

        def exec_module(self, module):  # type: ignore[no-untyped-def]
            with _held():
                super().exec_module(module)

    class _Finder:
        @staticmethod
        def find_spec(fullname, path, target=None):  # type: ignore[no-untyped-def]
            spec = machinery.PathFinder.find_spec(fullname, path)
            if spec is None or type(spec.loader) is not machinery.ExtensionFileLoader:
                return None  # the usual finders take it from here
            spec.loader = _HeldExtensionLoader(spec.loader.name, spec.loader.path)
            return spec

    sys.meta_path.insert(0, _Finder)


class _held:
    def __enter__(self) -> None:
        _holding.append(1)

    def __exit__(self, *exc: object) -> None:
        _holding.pop()
        if not _holding and _pending:
            signum = _pending[0]
            _pending.clear()
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


_printed: list[bool] = []  # the interruption's line has been printed


def _interrupted_status(signum: int) -> int:
    terminated = signum == signal.SIGTERM
    print("snnc: terminated" if terminated else "snnc: interrupted", file=sys.stderr)
    _printed.append(True)
    return 143 if terminated else 130


def _version() -> str:
    import platform

    try:
        from importlib.metadata import version

        v = version("snnc")
    except Exception:  # not installed as a distribution (running from a source tree)
        v = "0.1.0+src"
    return f"snnc {v} (semantics profile lava_fixed_pt; Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    import argparse
    import importlib

    parser = argparse.ArgumentParser(
        prog="snnc",
        description="Compile trained spiking neural networks for neuromorphic hardware, "
        "simulate them bit-exactly, and check a target against the reference.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for module in VERBS.values():
        importlib.import_module(module).register(sub)
    return parser


# ----------------------------------------------------------------------------- printing

# C0 controls but tab and newline, DEL, C1 controls (ESC starts every terminal escape sequence;
# U+009B is a one-character CSI).
_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"


class _Escaped:
    """A text stream that writes control characters as visible `\\xNN` escapes."""

    def __init__(self, stream: TextIO) -> None:
        import re

        self.unescaped = stream  # for tqdm's progress bar, which draws with \r
        self._control = re.compile(_CONTROL)

    def write(self, text: str) -> int:
        self.unescaped.write(self._control.sub(lambda m: f"\\x{ord(m.group()):02x}", text))
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self.unescaped, name)


def _os_error_line(e: OSError) -> str:
    where = f"{os.fsdecode(e.filename)}: " if e.filename is not None else ""
    return f"{where}{e.strerror or type(e).__name__}"


# ----------------------------------------------------------------------------- running


def _paths(args: argparse.Namespace, verb: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """(outputs {option: (path, kind)}, inputs) named by the parsed arguments."""
    from compiler.build import HW, PROGRAM, REPORT, is_build

    kinds = OUTPUTS.get(verb, {})
    outputs, inputs = {}, []
    for dest, value in vars(args).items():
        if not isinstance(value, str) or not value:
            continue
        if dest in kinds:
            outputs[f"--{dest}" if dest != "output" else "-o"] = (value, kinds[dest])
        elif os.path.exists(value):
            inputs.append(value)
            if os.path.isdir(value) and is_build(value):  # what reading a BUILD reads
                inputs += [os.path.join(value, m) for m in (PROGRAM, HW, REPORT)]
    return outputs, inputs


def _run(argv: Sequence[str] | None) -> int:
    from ir.atomic import check_outputs
    from ir.budget import max_load_bytes
    from ir.errors import SnncError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        max_load_bytes()  # a bad SNNC_MAX_LOAD_BYTES fails here, whatever the command
        check_outputs(*_paths(args, args.verb))
        return int(args.func(args) or 0)
    except SnncError as e:
        print(f"snnc: error: {e}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (argparse's usage errors exit 2 themselves)."""
    streams = sys.stdout, sys.stderr
    try:
        sys.stdout, sys.stderr = _Escaped(streams[0]), _Escaped(streams[1])
        return _run(argv)
    except KeyboardInterrupt as e:
        return _interrupted_status(signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)
    except BrokenPipeError:
        # stdout closed early (e.g. `snnc hw show loihi2 | head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, streams[0].fileno())
        return 0
    except OSError as e:
        print(f"snnc: error: {_os_error_line(e)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            "snnc: error: out of memory (lower the batch, steps or samples, or "
            "SNNC_MAX_LOAD_BYTES)",
            file=sys.stderr,
        )
        return 1
    except Exception:
        if _received:  # the failure of something the signal cut short
            return _interrupted_status(_received[-1])
        raise
    finally:
        sys.stdout, sys.stderr = streams


def entry() -> None:
    """The `snnc` console script: `main()` with SIGINT/SIGTERM owned from the first statement
    to the last (module docstring)."""
    atexit.register(_late_signal_status)  # registered first, so it runs last at exit
    signal.signal(signal.SIGTERM, _on_signal)
    # not a background job's SIG_IGN
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    sys.unraisablehook = _redeliver
    _hold_signals_for_extensions()
    # Python runs a signal handler only after a call returns or a loop jumps back, so a signal
    # just after main() returns is raised inside the `try` (reported below), and one after the
    # `append` that ends each branch is noted by `_on_signal`.
    try:
        _finished.append(main())
    except SystemExit as e:  # argparse: --help, --version, usage errors
        _finished.append(e.code if isinstance(e.code, int) else (0 if e.code is None else 2))
    # a signal main() did not report: just before it returned, or a second one
    except KeyboardInterrupt as e:
        _finished.append(143 if e.__class__ is Terminated else 130)  # no call before the append
        if not _printed:
            os.write(2, b"snnc: terminated\n" if _finished[0] == 143 else b"snnc: interrupted\n")
    sys.exit(_finished[0])


def _checkpoint() -> None:
    """A Python-level call: the interpreter runs signal handlers that are due before its body."""


def _late_signal_status() -> None:
    """The last thing at exit, after everything else (Lava's helpers joined, temporaries
    removed): the process ends here with the command's status, or with the status of a signal
    that arrived once the command was done (and one line): the output is whole then, but the
    user asked to stop and is told the command did not end normally. Python's own teardown
    after this point would restore the default handlers, so a signal then would kill the
    process silently; it ends here instead, with the signals blocked and any that came in
    meanwhile (pending) counted. A signal the kernel delivers after `os._exit` has begun
    (microseconds) cannot change a status any more; a sender sees it as one sent to a
    process that has ended."""
    if not _finished:  # entry() did not get as far as main()'s end: let Python finish as it would
        return
    for stream in (sys.stdout, sys.stderr):  # signals are still noted meanwhile (`_on_signal`)
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGINT, signal.SIGTERM))
    # A signal sent to the process just before the block may have been taken by another thread
    # (numpy's BLAS threads do not block signals): Python then runs its handler in this thread at
    # the next check, which a moment's wait and a Python-level call give it.
    time.sleep(0.005)
    _checkpoint()
    pending = [s for s in (signal.SIGTERM, signal.SIGINT) if s in signal.sigpending()]
    code, signals = _finished[0], _after_finish + pending
    if signals and code not in (130, 143):
        code = 143 if signals[0] == signal.SIGTERM else 130
        os.write(2, b"snnc: terminated\n" if code == 143 else b"snnc: interrupted\n")
    os._exit(code)


if __name__ == "__main__":
    entry()
