"""Each SLAYER-exported netx fixture, imported, compiled for loihi2 and run on the cpu backend (and
with --lava on Lava), against netx's own output (SLAYER's forward where netx refuses the file).

    python -m tests.netx.fixture_check [--lava]      # from the repository root: a markdown table

The compiled program runs T + latency steps (latency 1 after netx input neurons, else 0) and its
steps latency .. latency + T - 1 are compared with the reference's 0 .. T - 1.
"""

from __future__ import annotations

import sys

import numpy as np

from backends.cpu.simulator import run as run_cpu
from compiler.compile import compile_model
from compiler.model_io import load_model
from ir.hardware import load_hw
from tests.netx.helpers import MEAN_ATOL, NETX_RUNS, REFUSED, fixture, program_output


def check(name: str, lava: bool) -> str:
    fx = fixture(name)
    graph = load_model(fx.path)
    latency = graph.metadata["import"]["latency"]
    program, _ = compile_model(graph, load_hw("loihi2"))
    padded = np.pad(fx.inputs, ((0, 0), (0, latency), (0, 0)))
    ref = fx.reference
    cells = []
    runs = [("cpu", lambda: run_cpu(program, padded, blocks=True))]
    if lava:
        from backends.lava.run import run as run_lava

        runs.append(("lava", lambda: run_lava(program, padded)))
    for _, go in runs:
        out = program_output(program, go().get(program.outputs[0]))[:, latency:]
        if out.dtype.kind == "f":
            cells.append(
                f"{int((np.abs(out - ref) > MEAN_ATOL).sum())} differ (max "
                f"{np.abs(out - ref).max():.1e})"
            )
        else:
            cells.append(f"{int((out != ref).sum())} differ")
    which = "netx" if fx.netx is not None else "SLAYER (netx refuses)"
    b, t, n = ref.shape
    return (
        f"| {name} | {', '.join(graph.metadata['import']['layers'])} | {which} | {b} x {t} x {n} | "
        f"{int(np.count_nonzero(ref))} | {latency} | " + " | ".join(cells) + " |"
    )


def main(argv: list[str]) -> None:
    lava = "--lava" in argv
    print(
        "| fixture | layers | reference | compared | nonzero outputs | latency | cpu"
        + (" | lava" if lava else "")
        + " |"
    )
    print("|---|---|---|---|---|---|---" + ("|---" if lava else "") + "|")
    for name in (*NETX_RUNS, *REFUSED):
        print(check(name, lava))


if __name__ == "__main__":
    main(sys.argv[1:])
