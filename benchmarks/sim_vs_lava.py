"""snnc's cpu backend against Lava fixed_pt on the COMPASS P1 reference workload.

Workload: 784 -> 256 -> 10 LIF (du = 1024, dv = 256, vth = 10000 in Lava units, i.e. an
effective threshold of 10000 << 6), Dense projections with even integer weights (8-bit mixed
sign, weight_exp 0), Bernoulli(0.1) input spikes, T = 100 steps. One compiled program and one
input array are run by both backends in the same process:

- Lava: `backends.lava` (Loihi2SimCfg fixed_pt) on the first `--lava-samples` samples in one
  long run (one compile and start, the samples played one after another); the per-sample time
  is the median of the per-sample run times (compile/start and the state resets between
  samples are reported separately and not counted);
- snnc: `backends.cpu` (fast engine) on the batch of 256 samples, once after each Lava sample
  (Lava is paused then), so that the two are timed under the same machine load; the per-sample
  time is the median wall time of a whole `run` call (validation included) divided by 256;
- the output spikes of every Lava sample must equal snnc's for the same sample.

Run: `python benchmarks/sim_vs_lava.py` (add `--quick` for a smoke run). Writes its section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import get_backend
from backends.base import Probe
from benchmarks._results import machine_line, update_section
from ir import QLIF, Graph, Input, QDense

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


def measure(batch: int, steps: int, lava_samples: int) -> dict:
    """Interleaved: after each Lava sample (Lava paused), one snnc run of the whole batch, so
    that each pair of timings sees the same machine load."""
    program = compass_p1()
    x = bernoulli_inputs(batch, steps)
    cpu = get_backend("cpu")
    probes = [Probe("out")]
    start = time.perf_counter()
    cpu(program, x[:2], probes=probes, engine="fast")  # compiles (or loads) the numba kernels
    warmup_s = time.perf_counter() - start
    trace = cpu(program, x, probes=probes, engine="fast")
    snnc_runs: list[float] = []

    def snnc_run(_sample: int) -> None:
        begin = time.perf_counter()
        again = cpu(program, x, probes=probes, engine="fast")
        snnc_runs.append(time.perf_counter() - begin)
        assert np.array_equal(again.get("out"), trace.get("out"))

    lava = get_backend("lava")(program, x[:lava_samples], probes=probes, on_sample=snnc_run)
    agree = bool(np.array_equal(lava.get("out"), trace.get("out")[:lava_samples]))
    lava_runs = lava.info["sample_s"]
    start = time.perf_counter()
    ref = cpu(program, x[:8], probes=probes, engine="reference")
    reference_sample = (time.perf_counter() - start) / 8
    assert np.array_equal(ref.get("out"), trace.get("out")[:8])
    hidden = cpu(program, x[:32], probes=[Probe("hidden")], engine="fast").get("hidden").mean()
    snnc_sample = statistics.median(snnc_runs) / batch
    lava_sample = statistics.median(lava_runs)
    ratios = [lv / (sn / batch) for lv, sn in zip(lava_runs, snnc_runs, strict=True)]
    return {
        "batch": batch,
        "steps": steps,
        "lava_samples": lava_samples,
        "snnc_ms": snnc_sample * 1e3,
        "snnc_runs_s": snnc_runs,
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


def report(r: dict) -> str:
    loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    snnc_runs = ", ".join(f"{t:.3f}" for t in r["snnc_runs_s"])
    lava_runs = ", ".join(f"{t:.3f}" for t in r["lava_runs_s"])
    n = r["lava_samples"]
    lines = [
        machine_line() + f" Load average at the end of the run: {loadavg:.1f}.",
        "",
        "COMPASS P1 workload: 784 -> 256 -> 10 LIF (du=1024, dv=256, vth=10000), even 8-bit "
        f"weights, Bernoulli({r['input_rate']:.3f}) inputs, T={r['steps']}; hidden firing rate "
        f"{r['hidden_rate']:.3f} spikes/neuron/step, {r['out_spikes']} output spikes in the batch.",
        "",
        "| backend | per-sample time | how measured |",
        "|---|---|---|",
        f"| snnc cpu, fast engine | {r['snnc_ms']:.3f} ms | batch {r['batch']}: median of "
        f"{len(r['snnc_runs_s'])} runs ({snnc_runs} s) / {r['batch']} |",
        f"| snnc cpu, reference engine | {r['reference_ms']:.2f} ms | batch 8, one run |",
        f"| Lava 0.10 Loihi2SimCfg fixed_pt | {r['lava_ms']:.1f} ms | one run of {n} samples: "
        f"median per-sample run time ({lava_runs} s); compile+start "
        f"{r['lava_startup_s']:.1f} s and resets {r['lava_reset_s']:.1f} s not counted |",
        "",
        f"**snnc is {r['speedup']:.0f}x faster than Lava per sample** (median over median; median "
        f"of the {n} paired ratios: {r['paired_speedup']:.0f}x). Each snnc run follows one Lava "
        "sample while Lava is paused, so both see the same machine load. Output spikes of all "
        f"{n} Lava samples equal snnc's: **{r['agree']}**. numba kernels loaded/compiled in "
        f"{r['warmup_s']:.1f} s on the first call (not counted).",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lava-samples", type=int, default=12)
    parser.add_argument(
        "--quick", action="store_true", help="small smoke run; does not write RESULTS.md"
    )
    args = parser.parse_args()
    if args.quick:
        args.batch, args.lava_samples = 16, 2
    r = measure(args.batch, args.steps, args.lava_samples)
    text = report(r)
    print(text)
    if not r["agree"]:
        print("error: Lava and snnc output spikes differ", file=sys.stderr)
        return 1
    if not args.quick:
        update_section("sim_vs_lava", "Simulator vs Lava (COMPASS P1 workload)", text)
    return 0


if __name__ == "__main__":
    status = main()
    if status:
        sys.exit(status)
