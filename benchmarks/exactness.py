"""Split-exactness and Lava at scale (issue 20).

Part 1, what split-exactness costs, on plain NIR MLPs as a new user would export them (LIF,
tau 20 ms, dt 1 ms, weights N(0, 2/sqrt(fan-in)), seed 0; `tests.nir.helpers.nir_lif_mlp`):
cores and weight error of the program snnc compiled before (quantize -> partition -> place,
where Lava's per-block run could differ from the cpu backend) against the split-exact one, and
how far each program's spikes are from the float model's on the same random inputs
(`app.float_reference`).

Part 2, Lava at scale: wall time of `snnc hil BUILD --input IN.npy` (2 samples x 20 steps,
reference cpu, target Lava's CPU models; the whole command, in a subprocess) on those programs
and on a program of more than 400 cores, with Lava's default lowering (one process per
population and per projection) and, where Lava can run it, `--lava-blocks` (one process per
block and per block pair); and how Lava's start-up grows with the number of processes.

    python benchmarks/exactness.py            # everything (about 15 minutes on 2 cores)
    python benchmarks/exactness.py --quick    # the small programs only, one run each
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, update_section  # noqa: E402

SECTION = "exactness"
# (sizes, target); the first two are issue 20's reproductions, the third its 93-core MLP, the
# last a program of more than 400 cores.
MLPS = [
    ([784, 1000, 10], "loihi2"),
    ([100, 1500, 10], "loihi1"),
    ([1024, 2048, 2048, 10], "loihi2"),
    ([2048, 3840, 3840, 10], "loihi1"),
]
SNNC = [sys.executable, "-m", "compiler.cli"]


def _before(model, hw):
    """The program as snnc compiled it before split-exactness (and its report)."""
    from compiler.compile import CompileOptions, compile_passes
    from compiler.passes.base import PassContext
    from compiler.pipeline import run_pipeline

    ctx = PassContext(hw=hw)
    passes = [p for p in compile_passes(CompileOptions()) if p.name != "split-exact"]
    return run_pipeline(model, passes, ctx), ctx.reports


def _agreement(model, program, inputs, hw, quant_report) -> str:
    from app.float_reference import compare_with_float

    scales = {n: q["scale"] for n, q in quant_report["populations"].items()}
    result = compare_with_float(model, program, inputs, target="cpu", hw=hw, scales=scales)
    cells = []
    for p in result.populations:
        corr = "-" if p.count_correlation is None else f"{p.count_correlation:.3f}"
        v = "-" if p.v_rel_error is None else f"{100 * p.v_rel_error:.1f}%"
        cells.append(
            f"{p.population} {100 * p.spike_agreement:.3f}% / r {corr} / rate "
            f"{p.rate_deployed:.4f} / v {v}"
        )
    return "; ".join(cells)


def cost_rows(folder: Path, mlps) -> list[str]:
    from compiler.compile import compile_model
    from compiler.model_io import load_model
    from ir import load_hw
    from tests.nir.helpers import nir_lif_mlp

    rows = []
    for sizes, target in mlps:
        name = "-".join(map(str, sizes))
        path = nir_lif_mlp(folder / f"{name}.nir", sizes, seed=0)
        model = load_model(path, dt=1e-3)
        hw = load_hw(target)
        old, old_reports = _before(model, hw)
        new, report = compile_model(model, hw)
        made = report["split_exact"]["projections"]
        errs = ", ".join(
            f"{m['projection']} {m['rel_error_unconstrained']:.2%} -> {m['rel_error']:.2%}"
            for m in made
        ) or "none"
        rng = np.random.default_rng(0)
        x = (rng.random((4, 100, sizes[0])) < 0.5).astype(np.int64)
        rows.append(
            f"| {name} | {target} | {old.placement.n_cores} | {new.placement.n_cores} | {errs} | "
            f"{_agreement(model, old, x, hw, old_reports['quantize'])} | "
            f"{_agreement(model, new, x, hw, report['quantization'])} |"
        )
        print(rows[-1], flush=True)
    return rows


def _hil_seconds(build: Path, inputs: Path, extra: list[str], runs: int) -> tuple[list[float], str]:
    times, last = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [*SNNC, "hil", str(build), "--input", str(inputs), *extra,
             "--report", str(build.parent / "hil.json")],
            capture_output=True, text=True, cwd=ROOT,
        )
        times.append(time.perf_counter() - start)
        if proc.returncode == 0:
            last = (proc.stdout.strip().splitlines() or [""])[-1]
        else:
            last = proc.stderr.strip()
    return times, last


def scale_rows(folder: Path, mlps, runs: int) -> list[str]:
    from backends.blocks import piece_pairs
    from compiler.build import read_build
    from compiler.passes.split_exact import placement_pieces
    from tests.nir.helpers import nir_lif_mlp

    rows = []
    for sizes, target in mlps:
        name = "-".join(map(str, sizes))
        path = nir_lif_mlp(folder / f"{name}.nir", sizes, seed=0)
        build = folder / f"{name}.build"
        subprocess.run(
            [*SNNC, "compile", str(path), "--dt", "0.001", "--target", target, "-o", str(build)],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        program = read_build(build).program
        pieces = placement_pieces(program)
        blocks = sum(len(pieces[n]) for n in program.populations)
        per_block = 1 + blocks + piece_pairs(program, pieces)
        per_pop = 1 + len(program.populations) + len(program.projections)
        rng = np.random.default_rng(0)
        inputs = folder / f"{name}.npy"
        np.save(inputs, (rng.random((2, 20, sizes[0])) < 0.2).astype(np.int64))
        cells = []
        for extra, n in (([], per_pop), (["--lava-blocks"], per_block)):
            times, last = _hil_seconds(build, inputs, extra, runs)
            med = statistics.median(times)
            cells.append(f"{n} | {med:.1f} s ({', '.join(f'{t:.1f}' for t in times)}): {last}")
            print(name, extra, n, times, last, flush=True)
        rows.append(
            f"| {name} | {target} | {program.placement.n_cores} | {cells[0]} | {cells[1]} |"
        )
    return rows


def partition_suite_line() -> str:
    """The partition benchmark's networks (fixed-point as built there): projections that a cut
    could change. With none, partition (which keeps such sources whole) and split-exact change
    nothing, so their cores in the "Partition and place" section stand."""
    from benchmarks.partition import stress, suite
    from compiler.passes.split_exact import exactness_risks

    counts = [
        f"{name} {len(exactness_risks(build()))}" for _, name, build in suite(True) + stress(True)
    ]
    return ", ".join(counts)


def startup_rows(counts: list[int]) -> list[str]:
    """Lava start-up against process count: chains of k 4-neuron LIF processes, each a block of
    its own (k LIF + k connections + RingBuffer + recorder)."""
    from backends.base import Probe
    from backends.lava.run import run as lava_run
    from ir import QLIF, Block, Graph, Input, Placement, QDense

    rows = []
    for k in counts:
        pops: dict = {"in": Input((4,))}
        projs: dict = {}
        prev = "in"
        for i in range(k):
            pops[f"a{i}"] = QLIF((4,), du=100, dv=100, vth=10)
            projs[f"p{i}"] = QDense(prev, f"a{i}", weight=np.full((4, 4), 50))
            prev = f"a{i}"
        blocks = tuple(Block.from_range(f"a{i}", 0, 4, i) for i in range(k))
        graph = Graph(pops, projs, placement=Placement(blocks, np.zeros(k, dtype=np.int64), "x"))
        x = (np.random.default_rng(0).random((1, 10, 4)) < 0.5).astype(np.int64)
        start = time.perf_counter()
        trace = lava_run(graph, x, probes=[Probe(f"a{k - 1}")], lowering="blocks")
        total = time.perf_counter() - start
        n = trace.info["processes"]
        rows.append(
            f"| {n} | {trace.info['startup_s']:.1f} s | {1000 * trace.info['startup_s'] / n:.0f} "
            "ms "
            f"| {trace.info['sample_s'][0]:.2f} s | {total:.1f} s |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the two small MLPs, one run each")
    args = parser.parse_args()
    mlps = MLPS[:2] if args.quick else MLPS
    runs = 1 if args.quick else 3
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="snnc-exactness-") as tmp:
        folder = Path(tmp)
        cost = cost_rows(folder, mlps)
        scale = scale_rows(folder, mlps, runs)
    suite_risks = partition_suite_line()
    startup = startup_rows([25, 50, 100, 200] if args.quick else [25, 50, 100, 200, 400])
    load_end = os.getloadavg()[0]
    body = "\n".join(
        [
            machine_line() + f" 1-minute load average {load_start:.1f} at the start, "
            f"{load_end:.1f} at the end (a machine shared with other jobs: wall times include "
            "waiting for a core).",
            "",
            "NIR MLPs as a new user exports them (LIF tau 20 ms, dt 1 ms, weights "
            "N(0, 2/sqrt(fan-in)), seed 0), compiled at the defaults. *Before*: the pipeline "
            "without split-exactness (what snnc compiled until issue 20; the cpu backend ran "
            "it whole, Lava block by block, and they diverged). *Split-exact*: `snnc compile` "
            "now. Float vs deployed: `app.float_reference` on 4 samples x 100 steps of random "
            "spikes at rate 0.5, per population: spike agreement / count correlation / deployed "
            "rate (spikes per neuron per step) / v relative error (||v_deployed / S - v_float|| / "
            "||v_float||).",
            "",
            "| MLP | target | cores before | cores split-exact | weight error of the projections "
            "made split-exact | float vs deployed, before | float vs deployed, split-exact |",
            "|---|---|---|---|---|---|---|",
            *cost,
            "",
            "Cores: split-exact compiles used no more cores than before on these MLPs (fewer: "
            "before, partition gave a cut source whose projection had a negative exponent a core "
            "of its own where it could, to keep it whole; once that projection is quantized "
            "split-exact nothing needs keeping whole). The partition benchmark's networks "
            "(`benchmarks/partition.py`, smallest size of each family; projections a cut "
            f"could change: {suite_risks}) have no such projection, so split-exact changes "
            'nothing there and the cores in the "Partition and place" section stand.',
            "",
            f"`snnc hil BUILD --input IN.npy` (2 samples x 20 steps, reference cpu, target Lava "
            f"CPU models), whole command in a subprocess, median of {runs} run(s) (each run in "
            "parentheses), and its last line; Lava processes include the RingBuffer and the "
            "recorder.",
            "",
            "| MLP | target | cores | default lowering: processes, wall time | --lava-blocks: "
            "processes, wall time |",
            "|---|---|---|---|---|",
            *scale,
            "",
            "Lava's start-up against its process count (`--lava-blocks` on chains of 4-neuron "
            "blocks; one run each; 10 steps):",
            "",
            "| processes | start-up | per process | 10 steps | whole run |",
            "|---|---|---|---|---|",
            *startup,
        ]
    )
    update_section(SECTION, "Split-exactness and Lava at scale (issue 20)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
