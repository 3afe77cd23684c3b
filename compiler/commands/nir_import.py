"""`snnc import FILE -o MODEL`: a NIR file (`.nir`: [--dt DT] [--discretization {euler,exp}]) or a
lava-dl netx file (`.net`: [--input-shape C,H,W]), told apart by content."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ir.errors import InputError
from ir.nodes import Input
from ir.serialize import save_graph
from neurons import model_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="convert a NIR file (.nir) or a lava-dl netx file (.net) into an snnc model"
    )
    p.add_argument(
        "nir_file",
        metavar="FILE",
        help="a .nir or netx .net file (HDF5; the format is read from the content)",
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="MODEL", help="snnc model file to write"
    )
    p.add_argument(
        "--dt",
        type=float,
        default=None,
        help="time step in seconds (default: the file's metadata, else 1e-4 with a warning)",
    )
    p.add_argument(
        "--discretization",
        choices=("euler", "exp"),
        default=None,
        help="how continuous-time parameters become per-step ones (default: the file's metadata, "
        "else euler, the convention of snnTorch and Norse)",
    )
    p.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        metavar="C,H,W",
        help="netx: the input's shape, when the file has no input layer and its first conv "
        "is strided (netx's input_shape argument, in snnc's (C, H, W) order)",
    )
    p.set_defaults(func=run)


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 2,32,32, got {text!r}") from None
    if not 1 <= len(dims) <= 3 or min(dims) <= 0:
        raise argparse.ArgumentTypeError(f"expected 1 to 3 positive sizes, got {text!r}")
    return dims


def describe(graph) -> list[str]:
    """Short lines describing an imported graph (populations, projections, outputs)."""
    pops = []
    for name, pop in graph.populations.items():
        if isinstance(pop, Input):
            pops.append(f"{name} (input, {pop.size})")
        else:
            model = model_of(pop)
            # netx: fixed point
            cuba = model.to_cuba(pop, graph.dt) if pop.domain == "float" else None
            kind = (
                "non-spiking"
                if cuba is not None and np.all(np.isinf(cuba["v_th"]))
                else model.label
            )
            pops.append(f"{name} ({kind}, {pop.size})")
    projs = [
        f"{name} ({type(p).__name__} {p.src} -> {p.dst}{'' if p.port is None else '.' + p.port})"
        for name, p in graph.projections.items()
    ]
    from ir.latency import latency, latency_line

    readout = graph.metadata.get("readout") or {}
    outputs = ", ".join(graph.output_names) or "-"
    if readout.get("kind") == "group_mean":
        outputs += (
            f" (host readout: the mean of {readout.get('population')} over "
            f"{readout.get('groups')} groups per step; `snnc run` writes it as POP:group_mean)"
        )
    return [f"  populations: {', '.join(pops)}", f"  projections: {', '.join(projs) or '-'}",
            f"  outputs: {outputs}",
            f"  {latency_line(latency(graph))} (`snnc run --align` aligns them)"]


def run(args: argparse.Namespace) -> int:
    from compiler.model_io import hdf5_format

    if hdf5_format(Path(args.nir_file)) == ".net":
        return _run_netx(args)
    if args.input_shape is not None:
        raise InputError(f"{args.nir_file}: --input-shape applies to lava-dl netx files only")
    from compiler.nir.importer import import_nir

    graph = import_nir(args.nir_file, dt=args.dt, discretization=args.discretization)
    save_graph(graph, args.output)
    info = graph.metadata.get("import", {})
    print(f"imported {args.nir_file} -> {args.output}")
    if info:
        print(
            f"  dt {graph.dt!r} s ({info.get('dt_source')}), "
            f"discretization {info.get('discretization')} ({info.get('discretization_source')})"
        )
    else:
        print(f"  dt {graph.dt!r} s (written by snnc; exact snnc parameters restored)")
    for line in describe(graph):
        print(line)
    return 0


def _run_netx(args: argparse.Namespace) -> int:
    from compiler.netx.importer import import_netx

    if args.discretization is not None:
        raise InputError(
            f"{args.nir_file}: --discretization applies to NIR files only; "
            "a netx file is already fixed point"
        )
    graph = import_netx(args.nir_file, dt=args.dt, input_shape=args.input_shape)
    save_graph(graph, args.output)
    info = graph.metadata["import"]
    print(f"imported {args.nir_file} -> {args.output}")
    print(f"  lava-dl netx network, {len(info['layers'])} layers ({', '.join(info['layers'])}); "
          f"fixed point, netx {info['netx']}'s integers kept")
    if info["latency"]:
        print(
            f"  latency: output step t + {info['latency']} is netx's step t (netx's input neurons "
            "take the input without a synapse step)"
        )
    for line in describe(graph):
        print(line)
    return 0
