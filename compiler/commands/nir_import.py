"""`snnc import MODEL.nir [--dt DT] [--discretization {euler,exp}] -o MODEL`."""

from __future__ import annotations

import argparse

import numpy as np

from ir.nodes import Input
from ir.serialize import save_graph
from neurons import model_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="convert a NIR file (.nir) into an snnc model")
    p.add_argument("nir_file", metavar="MODEL.nir")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="snnc model file to write")
    p.add_argument("--dt", type=float, default=None,
                   help="time step in seconds (default: the file's metadata, else 1e-4 with a warning)")
    p.add_argument("--discretization", choices=("euler", "exp"), default=None,
                   help="how continuous-time parameters become per-step ones (default: the file's metadata, "
                        "else euler, the convention of snnTorch and Norse)")
    p.set_defaults(func=run)


def describe(graph) -> list[str]:
    """Short lines describing an imported graph (populations, projections, outputs)."""
    pops = []
    for name, pop in graph.populations.items():
        if isinstance(pop, Input):
            pops.append(f"{name} (input, {pop.size})")
        else:
            model = model_of(pop)
            cuba = model.to_cuba(pop, graph.dt)
            kind = "non-spiking" if cuba is not None and np.all(np.isinf(cuba["v_th"])) else model.label
            pops.append(f"{name} ({kind}, {pop.size})")
    projs = [f"{name} ({type(p).__name__} {p.src} -> {p.dst})" for name, p in graph.projections.items()]
    return [f"  populations: {', '.join(pops)}", f"  projections: {', '.join(projs) or '-'}",
            f"  outputs: {', '.join(graph.output_names) or '-'}"]


def run(args: argparse.Namespace) -> int:
    from compiler.nir.importer import import_nir

    graph = import_nir(args.nir_file, dt=args.dt, discretization=args.discretization)
    save_graph(graph, args.output)
    info = graph.metadata.get("import", {})
    print(f"imported {args.nir_file} -> {args.output}")
    if info:
        print(f"  dt {graph.dt!r} s ({info.get('dt_source')}), discretization {info.get('discretization')} "
              f"({info.get('discretization_source')})")
    else:
        print(f"  dt {graph.dt!r} s (written by snnc; exact snnc parameters restored)")
    for line in describe(graph):
        print(line)
    return 0
