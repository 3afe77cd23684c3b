"""snnc's cpu backend against Lava fixed_pt on the COMPASS P1 reference workload.

Workload: 784 -> 256 -> 10 LIF (du = 1024, dv = 256, vth = 10000 in Lava units, i.e. an
effective threshold of 10000 << 6), Dense projections with even integer weights (8-bit mixed
sign, weight_exp 0), Bernoulli(0.1) input spikes, T = 100 steps. One compiled program and one
input array are run by both backends in the same process:

- Lava: `backends.lava` (Loihi2SimCfg fixed_pt) on the first `--lava-samples` samples in one
  long run (one compile and start, the samples played one after another); the per-sample time
  is the median of the per-sample run times (compile/start and the state resets between
  samples are reported separately and not counted);
- snnc in process: `backends.cpu` (fast engine) on the batch (1024 samples), once after each
  Lava sample (Lava is paused then), so that the two are timed under the same machine load; the
  per-sample time is the median wall time of a whole `run` call (validation included) divided by
  the batch;
- snnc through the CLI: after each in-process run, one `snnc run` process on 8 samples and one
  on the whole batch (uint8 IN.npy files); the per-sample time is the marginal cost between the
  two (difference of the median wall times over the difference in samples), so that what every
  process pays once (interpreter, imports, kernel loading) cancels;
- peak memory: the peak RSS of one 1024-sample and one 8-sample `snnc run` process, against
  the input file plus the outputs;
- the output spikes of every Lava sample must equal snnc's for the same sample, and the CLI's
  OUT.npz the in-process run's.

Run: `python benchmarks/sim_vs_lava.py` (add `--quick` for a smoke run). Writes its section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import get_backend
from backends.base import Probe
from benchmarks._results import machine_line, update_section
from ir import QLIF, Graph, Input, QDense, save_graph
from ir.arrays_io import read_npz

SEED = 20240601


def compass_p1(seed: int = SEED) -> Graph:
    """The 784 -> 256 -> 10 program with seeded even integer weights in [-256, 254]."""
    rng = np.random.default_rng(seed)

    def even(shape, mean, std):
        return np.clip(2 * np.round(rng.normal(mean, std, shape) / 2), -256, 254).astype(np.int64)

    lif = dict(du=1024, dv=256, vth=10000)
    return Graph(
        populations={"in": Input((784,)), "hidden": QLIF((256,), **lif), "out": QLIF((10,), **lif)},
        projections={
            "w1": QDense("in", "hidden", weight=even((256, 784), 4, 40)),
            "w2": QDense("hidden", "out", weight=even((10, 256), 8, 60)),
        },
        metadata={"benchmark": "COMPASS P1", "seed": seed},
    )


def bernoulli_inputs(batch: int, steps: int, seed: int = SEED + 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps, 784)) < 0.1).astype(np.uint8)


def _snnc_command() -> list[str]:
    exe = Path(sys.executable).with_name("snnc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "compiler.cli"]


def _cli(program_file: Path, inputs: Path, out: Path) -> list[str]:
    cmd = [*_snnc_command(), "run", str(program_file), "--input", str(inputs), "-o", str(out)]
    return [*cmd, "--engine", "fast"]


def cli_run(program_file: Path, inputs: Path, out: Path) -> tuple[float, str]:
    """One `snnc run -v` process: (wall seconds, the time split it printed)."""
    begin = time.perf_counter()
    done = subprocess.run(
        [*_cli(program_file, inputs, out), "-v"], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - begin, done.stdout.strip().splitlines()[-1]


def measure(batch: int, steps: int, lava_samples: int, small: int = 8) -> dict:
    """Interleaved: after each Lava sample (Lava paused), one snnc run of the whole batch in
    process, then one `snnc run` process on `small` samples and one on `batch` samples, so that
    every timing sees the same machine load."""
    program = compass_p1()
    x = bernoulli_inputs(batch, steps)
    cpu = get_backend("cpu")
    probes = [Probe("out")]
    start = time.perf_counter()
    cpu(program, x[:2], probes=probes, engine="fast")  # compiles (or loads) the numba kernels
    warmup_s = time.perf_counter() - start
    trace = cpu(program, x, probes=probes, engine="fast")
    work = Path(tempfile.mkdtemp(prefix="snnc-sim-vs-lava-"))
    save_graph(program, work / "p1.snnc")
    np.save(work / "small.npy", x[:small])
    np.save(work / "large.npy", x)
    cli_run(work / "p1.snnc", work / "small.npy", work / "small.npz")  # kernels cached on disk
    snnc_runs: list[float] = []
    cli_small: list[float] = []
    cli_large: list[float] = []
    cli_split: list[str] = []

    def snnc_run(_sample: int) -> None:
        begin = time.perf_counter()
        again = cpu(program, x, probes=probes, engine="fast")
        snnc_runs.append(time.perf_counter() - begin)
        assert np.array_equal(again.get("out"), trace.get("out"))
        cli_small.append(cli_run(work / "p1.snnc", work / "small.npy", work / "small.npz")[0])
        wall, split = cli_run(work / "p1.snnc", work / "large.npy", work / "large.npz")
        cli_large.append(wall)
        cli_split.append(split)

    lava = get_backend("lava")(program, x[:lava_samples], probes=probes, on_sample=snnc_run)
    agree = bool(np.array_equal(lava.get("out"), trace.get("out")[:lava_samples]))
    cli_out = read_npz(work / "large.npz")["out"]
    cli_agree = bool(np.array_equal(cli_out, trace.get("out")))
    # Peak memory: a fresh process each, after the timed runs (RUSAGE_CHILDREN keeps a maximum).
    peak_small = _peak_in_child(work / "p1.snnc", work / "small.npy", work / "small.npz")
    peak_large = _peak_in_child(work / "p1.snnc", work / "large.npy", work / "large.npz")
    input_bytes = (work / "large.npy").stat().st_size
    output_bytes = int(cli_out.nbytes)
    start = time.perf_counter()
    ref = cpu(program, x[:8], probes=probes, engine="reference")
    reference_sample = (time.perf_counter() - start) / 8
    assert np.array_equal(ref.get("out"), trace.get("out")[:8])
    hidden = cpu(program, x[:32], probes=[Probe("hidden")], engine="fast").get("hidden").mean()
    shutil.rmtree(work, ignore_errors=True)
    snnc_sample = statistics.median(snnc_runs) / batch
    lava_sample = statistics.median(lava_runs := lava.info["sample_s"])
    cli_sample = (statistics.median(cli_large) - statistics.median(cli_small)) / (batch - small)
    ratios = [lv / (sn / batch) for lv, sn in zip(lava_runs, snnc_runs, strict=True)]
    cli_ratios = [
        lv / ((lg - sm) / (batch - small))
        for lv, lg, sm in zip(lava_runs, cli_large, cli_small, strict=True)
    ]
    return {
        "batch": batch,
        "small": small,
        "steps": steps,
        "lava_samples": lava_samples,
        "snnc_ms": snnc_sample * 1e3,
        "snnc_runs_s": snnc_runs,
        "cli_ms": cli_sample * 1e3,
        "cli_small_s": cli_small,
        "cli_large_s": cli_large,
        "cli_split": cli_split[len(cli_split) // 2],
        "cli_speedup": lava_sample / cli_sample,
        "cli_paired_speedup": statistics.median(cli_ratios),
        "cli_agree": cli_agree,
        "peak_small_mb": peak_small / 2**20,
        "peak_large_mb": peak_large / 2**20,
        "input_mb": input_bytes / 2**20,
        "output_mb": output_bytes / 2**20,
        "warmup_s": warmup_s,
        "reference_ms": reference_sample * 1e3,
        "lava_ms": lava_sample * 1e3,
        "lava_runs_s": lava_runs,
        "lava_startup_s": lava.info["startup_s"],
        "lava_reset_s": lava.info["reset_s"],
        "speedup": lava_sample / snnc_sample,
        "paired_speedup": statistics.median(ratios),
        "agree": agree,
        "out_spikes": int(trace.get("out").sum()),
        "hidden_rate": float(hidden),
        "input_rate": float(x.mean()),
    }


def _peak_in_child(program_file: Path, inputs: Path, out: Path) -> int:
    """Peak RSS (bytes) of one `snnc run` process, read by a fresh Python parent so that no
    earlier child's maximum is mixed in (RUSAGE_CHILDREN keeps the largest)."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *_cli(program_file, inputs, out)],
        capture_output=True, text=True, check=True,
    )
    return int(done.stdout.split()[-1]) * 1024  # ru_maxrss is in KiB on Linux


def report(r: dict) -> str:
    loadavg = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    snnc_runs = ", ".join(f"{t:.3f}" for t in r["snnc_runs_s"])
    lava_runs = ", ".join(f"{t:.3f}" for t in r["lava_runs_s"])
    small_runs = ", ".join(f"{t:.2f}" for t in r["cli_small_s"])
    large_runs = ", ".join(f"{t:.2f}" for t in r["cli_large_s"])
    n = r["lava_samples"]
    io_mb = r["input_mb"] + r["output_mb"]
    own_mb = r["peak_large_mb"] - r["peak_small_mb"]
    lines = [
        machine_line()
        + " Load average (1, 5, 15 min) at the end of the run: "
        + ", ".join(f"{v:.1f}" for v in loadavg)
        + " (the machine is shared).",
        "",
        "COMPASS P1 workload: 784 -> 256 -> 10 LIF (du=1024, dv=256, vth=10000), even 8-bit "
        f"weights, Bernoulli({r['input_rate']:.3f}) inputs, T={r['steps']}; hidden firing rate "
        f"{r['hidden_rate']:.3f} spikes/neuron/step, {r['out_spikes']} output spikes in the batch.",
        "",
        "| backend | per-sample time | x Lava | how measured |",
        "|---|---|---|---|",
        f"| snnc cpu, fast engine, in process | {r['snnc_ms']:.3f} ms | {r['speedup']:.0f}x | "
        f"batch {r['batch']}: median of {len(r['snnc_runs_s'])} runs ({snnc_runs} s) / "
        f"{r['batch']} |",
        f"| snnc cpu through the CLI (`snnc run`) | {r['cli_ms']:.3f} ms | "
        f"{r['cli_speedup']:.0f}x | marginal cost per sample: (median wall time of `snnc run` "
        f"on {r['batch']} samples ({large_runs} s) - median on {r['small']} samples "
        f"({small_runs} s)) / {r['batch'] - r['small']}; whole processes, uint8 IN.npy |",
        f"| snnc cpu, reference engine | {r['reference_ms']:.2f} ms | "
        f"{r['lava_ms'] / r['reference_ms']:.0f}x | batch 8, one run |",
        f"| Lava 0.10 Loihi2SimCfg fixed_pt | {r['lava_ms']:.1f} ms | 1x | one run of {n} "
        f"samples: median per-sample run time ({lava_runs} s); compile+start "
        f"{r['lava_startup_s']:.1f} s and resets {r['lava_reset_s']:.1f} s not counted |",
        "",
        f"**In process snnc is {r['speedup']:.0f}x faster than Lava per sample, through the CLI "
        f"{r['cli_speedup']:.0f}x** (median over median; medians of the {n} paired ratios: "
        f"{r['paired_speedup']:.0f}x and {r['cli_paired_speedup']:.0f}x). After each Lava sample, "
        "while Lava is paused, one in-process run and one pair of `snnc run` processes follow, so "
        f"all see the same machine load. Output spikes of all {n} Lava samples equal snnc's: "
        f"**{r['agree']}**; the CLI's OUT.npz equals the in-process run: **{r['cli_agree']}**. "
        f"numba kernels loaded/compiled in {r['warmup_s']:.1f} s on the first in-process call "
        "(not counted; every `snnc run` process loads them from the on-disk cache, about a "
        "constant per process, which the marginal cost cancels).",
        "",
        f"`snnc run -v` of the {r['batch']}-sample run (median run): `{r['cli_split']}`.",
        "",
        f"Memory of a {r['batch']}-sample `snnc run` (peak RSS of the process): "
        f"{r['peak_large_mb']:.0f} MB, for an input file of {r['input_mb']:.1f} MB and outputs of "
        f"{r['output_mb']:.1f} MB ({io_mb:.1f} MB together). A {r['small']}-sample run peaks at "
        f"{r['peak_small_mb']:.0f} MB (Python, numpy, scipy and numba's runtime, whatever the "
        f"input); the run's own memory above it is {own_mb:.0f} MB = "
        f"**{own_mb / io_mb:.2f}x input + outputs** (whole process: "
        f"{r['peak_large_mb'] / io_mb:.2f}x).",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lava-samples", type=int, default=12)
    parser.add_argument(
        "--quick", action="store_true", help="small smoke run; does not write RESULTS.md"
    )
    args = parser.parse_args()
    if args.quick:
        args.batch, args.lava_samples = 64, 2
    r = measure(args.batch, args.steps, args.lava_samples)
    text = report(r)
    print(text)
    if not (r["agree"] and r["cli_agree"]):
        print("error: Lava, snnc and snnc's CLI output spikes differ", file=sys.stderr)
        return 1
    if not args.quick:
        update_section("sim_vs_lava", "Simulator vs Lava (COMPASS P1 workload)", text)
    return 0


if __name__ == "__main__":
    status = main()
    if status:
        sys.exit(status)
