"""`snnc export MODEL -o MODEL.nir [--discretization {euler,exp}]` (NIR, float models) and
`snnc export MODEL|BUILD --format netx -o FILE.net` (lava-dl netx, fixed-point programs)."""

from __future__ import annotations

import argparse

from compiler.model_io import load_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a float snnc model as a NIR file (.nir), or a fixed-point "
        "program as a lava-dl netx file (.net)",
    )
    p.add_argument("model", metavar="MODEL|BUILD")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="NIR (.nir) or netx (.net) file to write",
    )
    p.add_argument(
        "--format",
        choices=("nir", "netx"),
        default=None,
        help="file format (default: netx when FILE ends in .net, else nir)",
    )
    p.add_argument(
        "--discretization",
        choices=("euler", "exp"),
        default="euler",
        help="which discretization the written time constants assume (recorded in the file; "
        "default euler, what snnTorch and Norse read)",
    )
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds when MODEL is a .nir file"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fmt = args.format or ("netx" if args.output.lower().endswith(".net") else "nir")
    if fmt == "netx":
        return _run_netx(args)
    from compiler.nir.exporter import export_nir

    graph = load_model(args.model, dt=args.dt)
    tree = export_nir(graph, args.output, discretization=args.discretization)
    kinds: dict[str, int] = {}
    for node in tree["nodes"].values():
        kinds[node["type"]] = kinds.get(node["type"], 0) + 1
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"exported {args.model} -> {args.output}")
    print(
        f"  dt {graph.dt!r} s, discretization {args.discretization} (both recorded in the file's "
        "metadata)"
    )
    print(f"  {len(tree['nodes'])} NIR nodes ({counts}), {len(tree['edges'])} edges")
    return 0


def _run_netx(args: argparse.Namespace) -> int:
    from compiler.netx.exporter import export_netx

    graph = load_model(args.model, dt=args.dt)
    summary = export_netx(graph, args.output)
    print(f"exported {args.model} -> {args.output}")
    print(
        f"  lava-dl netx network, {len(summary.layers)} layers ({', '.join(summary.layers)}), "
        "for lava.lib.dl.netx.hdf5.Network (0.6.0)"
    )
    if summary.latency:
        print(
            f"  latency: netx's output step t is this program's step t + {summary.latency} (its "
            "input neurons "
            "take the input without a synapse step); feed them through net.in_layer.neuron.a_in"
        )
    if summary.input_message_bits:
        print(
            "  graded input: load it with hdf5.Network(..., "
            f"input_message_bits={summary.input_message_bits})"
        )
    return 0
