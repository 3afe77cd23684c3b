"""`snnc inspect MODEL|BUILD`: print the graph (the IR text form)."""

from __future__ import annotations

import argparse

from ir.printer import print_graph

from compiler.model_io import load_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print a model or compiled program as IR text")
    p.add_argument("model", metavar="MODEL|BUILD")
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds for formats without one (.nir)"
    )
    p.add_argument(
        "--full-metadata",
        action="store_true",
        help="print the metadata whole (default: one line per key, cut at 160 characters)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    graph = load_model(args.model, dt=args.dt)
    print(print_graph(graph, metadata_width=None if args.full_metadata else 160), end="")
    return 0
