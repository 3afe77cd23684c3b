"""`snnc inspect MODEL|BUILD`: print the graph (the IR text form)."""

from __future__ import annotations

import argparse

import numpy as np

from compiler.model_io import load_model
from ir.printer import print_graph


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
    for line in tau_notes(graph):
        print(line)
    return 0


def _values(a: np.ndarray) -> str:
    lo, hi = float(np.min(a)), float(np.max(a))
    return f"{lo:.6g}" if lo == hi else f"{lo:.6g}..{hi:.6g}"


def tau_notes(graph) -> list[str]:
    """For a graph imported from NIR with Euler discretization: the time constants above are
    snnc's exponential form (alpha = exp(-dt/tau)), not the file's numbers; say so, with the
    file's value next to each (`compiler.nir.discretize.nir_tau` inverts the conversion)."""
    from compiler.nir.discretize import nir_tau

    info = graph.metadata.get("import")
    if not isinstance(info, dict) or info.get("format") != "nir":
        return []
    method = info.get("discretization")
    if method == "exp":
        return ["# tau_syn and tau_mem are the file's NIR time constants (--discretization exp: "
                "snnc's own form, alpha = exp(-dt/tau))"]
    pairs = []
    for name, pop in graph.populations.items():
        for field in ("tau_syn", "tau_mem"):
            tau = getattr(pop, field, None)
            if tau is None:
                continue
            tau = np.asarray(tau, dtype=np.float64)
            finite = np.isfinite(tau) & (tau > 0)
            if not finite.any():
                continue
            file_tau = nir_tau(tau[finite], graph.dt, method)
            pairs.append(f"{name}.{field} {_values(file_tau)} -> {_values(tau[finite])}")
    if not pairs:
        return []
    return [
        f"# tau_syn and tau_mem above are converted to snnc's exponential form (alpha = "
        f"exp(-dt/tau)) from the file's {method} time constants (alpha = 1 - dt/tau_file, dt = "
        f"{graph.dt!r} s); file -> snnc:",
        *(f"#   {p}" for p in pairs),
    ]
