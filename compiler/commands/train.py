"""`snnc train TRAINER ...`: each trainer registers its own sub-verb from its own module.

A trainer module listed in `trainers.TRAINERS` provides `register(subparsers)`, adding one
sub-parser that sets `func`. Its heavy imports (torch) happen inside the handler.
"""

from __future__ import annotations

import argparse
import importlib

from trainers import TRAINERS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a network and write an snnc model")
    trainers = p.add_subparsers(dest="trainer", metavar="{" + ",".join(TRAINERS) + "}")
    trainers.required = True
    for module in TRAINERS.values():
        importlib.import_module(module).register(trainers)
