"""Training a model from `snnc train TRAINER` options (an argparse Namespace of that trainer's
parser), without writing it: the same function the command calls, returning the graph.

Only trainers whose models `snnc eval` scores by a spike-count readout are listed: the VIB
trainer's models are evaluated through their decoder (trainers/vib), not by accuracy of a class.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ir.graph import Graph

__all__ = ["SWEEP_TRAINERS", "train_from_args"]


def _conversion(args: argparse.Namespace) -> Graph:
    from trainers.conversion.cli import train

    return train(args)[0].graph


def _tem(args: argparse.Namespace) -> Graph:
    from trainers.tem.cli import train

    return train(args)[0]


SWEEP_TRAINERS: dict[str, Callable[[argparse.Namespace], Graph]] = {
    "conversion": _conversion,
    "tem": _tem,
}


def train_from_args(trainer: str, args: argparse.Namespace) -> Graph:
    return SWEEP_TRAINERS[trainer](args)
