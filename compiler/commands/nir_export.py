"""`snnc export MODEL -o MODEL.nir [--discretization {euler,exp}]`."""

from __future__ import annotations

import argparse

from compiler.model_io import load_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a float snnc model as a NIR file (.nir)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.nir", help="NIR file to write")
    p.add_argument("--discretization", choices=("euler", "exp"), default="euler",
                   help="which discretization the written time constants assume (recorded in the file; "
                        "default euler, what snnTorch and Norse read)")
    p.add_argument("--dt", type=float, default=None, help="time step in seconds when MODEL is a .nir file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compiler.nir.exporter import export_nir

    graph = load_model(args.model, dt=args.dt)
    tree = export_nir(graph, args.output, discretization=args.discretization)
    kinds: dict[str, int] = {}
    for node in tree["nodes"].values():
        kinds[node["type"]] = kinds.get(node["type"], 0) + 1
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"exported {args.model} -> {args.output}")
    print(f"  dt {graph.dt!r} s, discretization {args.discretization} (both recorded in the file's metadata)")
    print(f"  {len(tree['nodes'])} NIR nodes ({counts}), {len(tree['edges'])} edges")
    return 0
