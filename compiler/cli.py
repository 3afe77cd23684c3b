"""The `snnc` command line.

Each verb lives in `compiler/commands/<verb>.py` with `register(subparsers)` (argument
definitions; module-level imports stay light) and a handler set as the parser's `func`.
Exit status: 0 success, 1 user error (one line on stderr), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from collections.abc import Sequence

from ir.errors import SnncError

__all__ = ["VERBS", "build_parser", "main"]

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


def _version() -> str:
    try:
        from importlib.metadata import version

        v = version("snnc")
    except Exception:  # not installed as a distribution (running from a source tree)
        v = "0.1.0+src"
    return f"snnc {v} (semantics profile lava_fixed_pt; Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SnncError as e:
        print(f"snnc: error: {e}", file=sys.stderr)
        return 1
    except Terminated:
        print("snnc: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. `snnc hw show loihi2 | head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`), raised where the process is, so atomic writes clean up as on Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def entry() -> None:
    import signal

    signal.signal(signal.SIGTERM, _raise_terminated)
    sys.exit(main())


if __name__ == "__main__":
    entry()
