"""`snnc sweep` (issue 27): the 24-point digits conversion sweep, serial vs Ray, and what the
Fashion-MNIST conversion CNN benchmark would take on a 64-core Ray cluster.

The sweep: the conversion MLP of `snnc train conversion --dataset digits` (trained once, not
timed), compiled for loihi2 at 4 weight widths x 2 granularities and run bit-accurately (cpu
backend) on the whole digits test split (450 images) at T = 16, 32, 64: 24 points.

1. CLI, as a user runs it: `snnc sweep SPEC -o DIR` in a fresh process, `--executor local`
   (one process, one point at a time), `--executor ray --workers 1` and `--workers 2` (a local
   Ray cluster started and stopped by the command: its start-up is part of the wall time).
   The three are run in rotated order, RUNS times; medians, and the machine's load.
2. In process, with a warm Ray cluster (started once, workers warmed by one sweep): the same
   sweep through `app.sweep.run_sweep` on local, Ray with 1 and with 2 workers. This is the
   parallel efficiency without Ray's start-up.
3. The CNN estimate: one epoch of the CNN ANN, conversion + tuning on two small numbers of
   validation images (its fixed and per-image cost), one calibrated compile, and the
   bit-accurate (cpu) and float runs of a few test images at T = 256 are measured here on one
   thread (what a Ray task of one CPU gets); scaled to the conversion benchmark's CNN work
   (benchmarks/conversion.py: 4 variants, tuned at T = 32 on 1000 validation images, 3 input
   seeds x 10,000 test images at T up to 256), serially and on 64 cores.

Every results.csv must be byte-identical (the script stops otherwise).

    python benchmarks/sweep.py [--runs N] [--workdir DIR] [--no-cnn] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, update_section  # noqa: E402

RUNS = 3
GRID = {
    "compile.weight-bits": [2, 3, 4, 8],
    "eval.steps": [16, 32, 64],
    "compile.granularity": ["per-layer", "per-channel"],
}
CONFIGS = {
    "local": ["--executor", "local"],
    "ray, 1 worker": ["--executor", "ray", "--workers", "1"],
    "ray, 2 workers": ["--executor", "ray", "--workers", "2"],
}
CLUSTER_CORES = 64
# The CNN part of benchmarks/conversion.py (ARCH_SETTINGS["cnn"], VARIANTS, SEEDS, STEPS).
CNN_EPOCHS = 30
CNN_TUNE_SAMPLES = 1000
CNN_TEST_IMAGES = 10_000
TUNE_PROBE_SAMPLES = (40, 120)  # two sizes: the tuning's fixed and per-image cost
EVAL_PROBE_IMAGES = 24


def bench_cnn_spikes() -> str:
    """The trained CNN's spikes per inference at T = 256 (variant none), as benchmarks/
    conversion.py recorded it in RESULTS.md; "not recorded" if that section has none."""
    from benchmarks._results import RESULTS

    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    cnn = text[text.find("### cnn"):] if "### cnn" in text else ""
    table = cnn[cnn.find("| spikes per inference |"):] if "| spikes per inference |" in cnn else ""
    for line in table.splitlines():
        if line.startswith("| none |"):
            return f"{int(line.strip(' |').split('|')[-1]):,}"
    return "not recorded"


def log(msg: str) -> None:
    print(f"[sweep] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def snnc(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SNNC_PROGRESS": "0"}
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"snnc {' '.join(args[:2])} failed: {proc.stderr.strip()[-800:]}")
    return proc


def write_spec(work: Path) -> Path:
    import yaml

    model = work / "digits.snnc"
    if not model.exists():
        log("train the digits conversion model (not timed)")
        snnc("train", "conversion", "--dataset", "digits", "-o", str(model))
    spec = {"model": model.name, "target": "loihi2",
            "eval": {"dataset": "digits", "backend": "cpu"}, "grid": GRID}
    path = work / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def cli_runs(work: Path, spec: Path, runs: int) -> dict[str, Any]:
    walls: dict[str, list[float]] = {name: [] for name in CONFIGS}
    loads: list[float] = []
    csvs: set[bytes] = set()
    per_point: list[float] = []
    cpu_local: list[float] = []  # CPU seconds per point, in the local process (2 numba threads)
    cpu_ray: list[float] = []  # and in a Ray task (1 thread)
    names = list(CONFIGS)
    for r in range(runs):
        for name in names[r % len(names):] + names[: r % len(names)]:
            out = work / f"cli-{r}-{name.replace(', ', '-').replace(' ', '')}"
            loads.append(os.getloadavg()[0])
            t0 = time.perf_counter()
            snnc("sweep", str(spec), "-o", str(out), *CONFIGS[name])
            walls[name].append(time.perf_counter() - t0)
            loads.append(os.getloadavg()[0])
            csvs.add((out / "results.csv").read_bytes())
            if name == "local":
                points = json.loads((out / "results.json").read_text())["points"]
                per_point += [p["seconds"]["compile"] + p["seconds"]["eval"] for p in points]
                cpu_local += [p["seconds"]["cpu"] for p in points]
            elif name == "ray, 1 worker":
                points = json.loads((out / "results.json").read_text())["points"]
                cpu_ray += [p["seconds"]["cpu"] for p in points]
            log(f"CLI run {r + 1} {name}: {walls[name][-1]:.1f} s")
    if len(csvs) != 1:
        raise SystemExit("results.csv differs between runs or executors")
    return {"walls": walls, "loads": loads, "per_point_s": per_point, "cpu_local": cpu_local,
            "cpu_ray": cpu_ray,
            "csv": next(iter(csvs)).decode()}


def in_process_runs(work: Path, spec_path: Path, runs: int) -> dict[str, Any]:
    from app.executors import RayExecutor
    from app.sweep import load_spec, run_sweep

    spec = load_spec(spec_path)
    walls: dict[str, list[float]] = {"local": [], "ray, 1 worker": [], "ray, 2 workers": []}
    loads: list[float] = []
    csvs: set[bytes] = set()
    with RayExecutor(workers=2):
        t0 = time.perf_counter()
        run_sweep(spec, work / "warm", executor="ray", workers=2)  # start workers, load numba
        warm = time.perf_counter() - t0
        log(f"warm-up sweep on the new cluster: {warm:.1f} s")
        run_sweep(spec, work / "warm-local", executor="local")
        for r in range(runs):
            for name, (executor, workers) in {"local": ("local", None),
                                              "ray, 1 worker": ("ray", 1),
                                              "ray, 2 workers": ("ray", 2)}.items():
                out = work / f"inproc-{r}-{executor}-{workers}"
                loads.append(os.getloadavg()[0])
                t0 = time.perf_counter()
                run_sweep(spec, out, executor=executor, workers=workers)
                walls[name].append(time.perf_counter() - t0)
                loads.append(os.getloadavg()[0])
                csvs.add((out / "results.csv").read_bytes())
                log(f"in-process run {r + 1} {name}: {walls[name][-1]:.1f} s")
    if len(csvs) != 1:
        raise SystemExit("results.csv differs between in-process runs")
    return {"walls": walls, "loads": loads, "warmup_s": warm}


def cnn_costs(work: Path) -> dict[str, Any]:
    """One-thread costs of the pieces of the conversion benchmark's CNN work (cached)."""
    path = work / "cnn-costs.json"
    if path.exists():
        return json.loads(path.read_text())
    import numba
    import torch

    from app.compiling import compile_from_args
    from app.evaluation import evaluate
    from app.sweep.spec import parse_step
    from benchmarks.conversion import COMPILE_FLAGS, STEPS
    from ir.hardware import load_hw
    from trainers.conversion.convert import build_snn
    from trainers.conversion.fastsim import simulate
    from trainers.conversion.trainer import ConversionOptions, convert_tuned, train_ann_for
    from trainers.datasets import load_dataset
    from trainers.encoders import encode

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    cpu: dict[str, float] = {}  # CPU seconds of this (one-thread) process: what a task costs
    wall: dict[str, float] = {}  # and the wall time, which the machine's load stretches

    def timed(name: str, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall[name], cpu[name] = time.perf_counter() - w0, time.process_time() - c0
        return result

    load0 = os.getloadavg()[0]
    data = load_dataset("fashion-mnist")
    opts = ConversionOptions(dataset="fashion-mnist", arch="cnn", epochs=1, steps=32, threads=1)
    log("CNN: one epoch of the ANN")
    ann = timed("epoch", lambda: train_ann_for(opts, data))
    for n in TUNE_PROBE_SAMPLES:  # calibration (fixed) + tuning (per validation image)
        log(f"CNN: convert + tune on {n} validation images")
        res = timed(f"tune{n}", lambda n=n: convert_tuned(ann, data, replace(opts, tune_samples=n)))
    n0, n1 = TUNE_PROBE_SAMPLES
    tune_per_image = (cpu[f"tune{n1}"] - cpu[f"tune{n0}"]) / (n1 - n0)
    tune_fixed = max(0.0, cpu[f"tune{n0}"] - n0 * tune_per_image)
    log(f"CNN: compile ({' '.join(COMPILE_FLAGS)})")
    hw = load_hw("loihi2")
    flags = [f for f in COMPILE_FLAGS if f not in ("--target", "loihi2")]
    args = parse_step("compile", None, flags)
    program, report = timed("compile", lambda: compile_from_args(args, res.graph, "cnn", hw))
    x, y = data.x_test[:EVAL_PROBE_IMAGES], data.y_test[:EVAL_PROBE_IMAGES]
    enc, readout = program.metadata["encoding"], program.metadata["readout"]
    evaluate(program, hw, "cpu", x[:2], y[:2], enc, readout, 16, 0)  # numba's kernels load
    log(f"CNN: {EVAL_PROBE_IMAGES} test images, T = 256, cpu backend and float")
    dep = timed("deployed", lambda: evaluate(program, hw, "cpu", x, y, enc, readout, STEPS[-1],
                                             0, batch_size=8, count_spikes=True))
    snn = build_snn(res.calibration, res.params)
    spikes = encode(enc, x, STEPS[-1], 0)
    timed("float", lambda: [simulate(snn, spikes[lo : lo + 8], STEPS, dtype="float64")
                            for lo in range(0, len(x), 8)])
    out = {
        "cpu_s": cpu,
        "wall_s": wall,
        "epoch_s": cpu["epoch"],
        "tune_s": tune_fixed + CNN_TUNE_SAMPLES * tune_per_image,
        "tune_probe_s": {str(n): cpu[f"tune{n}"] for n in TUNE_PROBE_SAMPLES},
        "tune_fixed_s": tune_fixed,
        "tune_per_image_s": tune_per_image,
        "compile_s": cpu["compile"],
        "deployed_per_image_s": cpu["deployed"] / len(x),
        "float_per_image_s": cpu["float"] / len(x),
        "probe_images": len(x),
        "probe_accuracy": dep["accuracy"],
        "spikes_per_inference": dep["spikes_per_inference"],
        "cores_used": report.get("cores_used"),
        "load": [load0, os.getloadavg()[0]],
    }
    path.write_text(json.dumps(out, indent=1))
    return out


def _med(values: list[float]) -> float:
    return statistics.median(values)


def _hms(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(cnn: dict[str, Any], efficiency: float) -> list[str]:
    """The worked estimate, as markdown lines."""
    from benchmarks.conversion import SEEDS, VARIANTS

    n_var, n_seed = len(VARIANTS), len(SEEDS)
    ann = CNN_EPOCHS * cnn["epoch_s"]
    tune = cnn["tune_s"]
    comp = cnn["compile_s"]
    runs = n_var * n_seed * CNN_TEST_IMAGES  # image runs at T = 256, deployed and float each
    per_image = cnn["deployed_per_image_s"] + cnn["float_per_image_s"]
    evals = runs * per_image
    serial = ann + n_var * (tune + comp) + evals
    cores = CLUSTER_CORES * efficiency
    # stages depend on each other: ANN -> 4 tunings at once -> 4 compiles at once -> image runs
    # sharded over every core
    cluster = ann + tune + comp + evals / cores
    sharded_tune = (ann + cnn["tune_fixed_s"] + CNN_TUNE_SAMPLES * cnn["tune_per_image_s"] / cores
                    + comp + evals / cores)
    return [
        "Measured here in CPU seconds of one thread (what a Ray task of one CPU gets; CPU time, "
        "not wall time, because this shared machine's load average was "
        f"{cnn['load'][0]:.0f}-{cnn['load'][1]:.0f}), on a CNN of the benchmark's architecture "
        "trained for one epoch: its bit-accurate runs make "
        f"{cnn['spikes_per_inference']:,.0f} spikes per inference at T = 256, the benchmark's "
        f"trained CNN {bench_cnn_spikes()} (RESULTS.md, conversion section; the event-driven "
        "simulator's cost grows with the spikes):",
        "",
        "| piece | measured | per unit |",
        "|---|---|---|",
        f"| one ANN epoch (55,000 images) | {cnn['epoch_s']:.0f} s | x{CNN_EPOCHS} epochs |",
        "| conversion + tuning (T = 32, variant none) on "
        + " and ".join(f"{k} validation images: {v:.0f} s" for k, v in cnn["tune_probe_s"].items())
        + f" | {cnn['tune_fixed_s']:.0f} s + {cnn['tune_per_image_s']:.2f} s per image |",
        "| `snnc compile` with calibration (500 images) and split signs | "
        f"{cnn['compile_s']:.0f} s | {cnn['cores_used']} cores |",
        f"| bit-accurate run (cpu backend), T = 256 | {cnn['probe_images']} images | "
        f"{cnn['deployed_per_image_s']:.2f} s per image |",
        f"| float SNN (fastsim, float64), T = 256 | {cnn['probe_images']} images | "
        f"{cnn['float_per_image_s']:.2f} s per image |",
        "",
        f"The CNN benchmark's work: the ANN ({CNN_EPOCHS} epochs), {n_var} variants each tuned on "
        f"{CNN_TUNE_SAMPLES} validation images and compiled, then {n_var} variants x {n_seed} "
        f"seeds x {CNN_TEST_IMAGES:,} test images at T = 256 (T = 16..128 are prefixes of the "
        f"same run), bit-accurate and float: {runs:,} image runs of each.",
        "",
        "| | arithmetic | estimate |",
        "|---|---|---|",
        f"| ANN training (one task: it is one sequence of epochs) | {CNN_EPOCHS} x "
        f"{cnn['epoch_s']:.0f} s | {_hms(ann)} |",
        f"| one tuning | {cnn['tune_fixed_s']:.0f} s + {CNN_TUNE_SAMPLES} x "
        f"{cnn['tune_per_image_s']:.2f} s | {_hms(tune)} |",
        f"| image runs, all | {runs:,} x ({cnn['deployed_per_image_s']:.2f} + "
        f"{cnn['float_per_image_s']:.2f}) s | {_hms(evals)} of one core |",
        f"| **serial, one core** | ANN + {n_var} x (tuning + compile) + image runs | "
        f"**{_hms(serial)}** |",
        f"| **{CLUSTER_CORES}-core Ray cluster** | ANN + tuning + compile (the variants at once) + "
        f"image runs / ({CLUSTER_CORES} x {efficiency:.2f} efficiency) | **{_hms(cluster)}** "
        f"({serial / cluster:.0f}x) |",
        f"| {CLUSTER_CORES} cores, tuning's validation runs sharded too | ANN + tuning's fixed "
        f"part + its per-image part / {cores:.0f} + compile + image runs / {cores:.0f} | "
        f"{_hms(sharded_tune)} "
        f"({serial / sharded_tune:.0f}x) |",
        "",
        f"The efficiency {efficiency:.2f} is the measured 2-worker speed-up of the warm in-process "
        "sweep above divided by 2 (a 2-core machine cannot show more; tasks of minutes amortize "
        "Ray's per-task cost better than the digits points of a second or less). On a cluster "
        "the ANN training and one tuning are the critical path: the image runs, "
        f"{_hms(evals)} of one core, shrink to {_hms(evals / cores)}. Today `snnc sweep` runs a "
        "tuning as one task; sharding its validation evaluations (as `snnc eval --shards` "
        "does) would take the last row's time.",
    ]


def render(cli: dict[str, Any], inproc: dict[str, Any], cnn: dict[str, Any] | None) -> str:
    n_points = 1
    for values in GRID.values():
        n_points *= len(values)
    base = _med(cli["walls"]["local"])
    lines = [
        machine_line(),
        "",
        f"The sweep (`benchmarks/sweep.py`, spec as in `examples/sweep-digits.yaml` but with the "
        f"model trained once beforehand): the digits conversion MLP, {n_points} points = "
        f"{' x '.join(str(len(v)) for v in GRID.values())} ({', '.join(GRID)}), each compiled for "
        "loihi2 and run bit-accurately (cpu backend) on the 450 test images. Every run wrote the "
        "same results.csv bytes. Per point (compile + evaluation, from results.json), median: "
        f"{_med(cli['per_point_s']):.2f} s wall in the local runs (range "
        f"{min(cli['per_point_s']):.2f}-{max(cli['per_point_s']):.2f} s); CPU "
        f"{_med(cli['cpu_local']):.2f} s in the local process (numba's kernels on both cores), "
        f"{_med(cli['cpu_ray']):.2f} s in a Ray task (one thread). CPU time is what the load "
        "does not stretch.",
        "",
        f"**CLI** (`snnc sweep SPEC -o DIR`, a fresh process each; {len(cli['walls']['local'])} "
        "runs each, rotated order; Ray's runs include starting and stopping the local cluster; "
        f"load average {min(cli['loads']):.1f}-{max(cli['loads']):.1f} on this shared 2-core "
        "machine):",
        "",
        "| executor | wall time, median (min-max) | speed-up vs local |",
        "|---|---|---|",
    ]
    for name, walls in cli["walls"].items():
        lines.append(f"| {name} | {_med(walls):.1f} s ({min(walls):.1f}-{max(walls):.1f}) | "
                     f"{base / _med(walls):.2f}x |")
    ibase = _med(inproc["walls"]["local"])
    lines += [
        "",
        f"**In process, warm cluster** (`app.sweep.run_sweep`; the Ray cluster started once and "
        f"its workers warmed by one sweep of {inproc['warmup_s']:.1f} s; "
        f"{len(inproc['walls']['local'])} runs each; load "
        f"{min(inproc['loads']):.1f}-{max(inproc['loads']):.1f}):",
        "",
        "| executor | wall time, median (min-max) | speed-up vs local |",
        "|---|---|---|",
    ]
    for name, walls in inproc["walls"].items():
        lines.append(f"| {name} | {_med(walls):.1f} s ({min(walls):.1f}-{max(walls):.1f}) | "
                     f"{ibase / _med(walls):.2f}x |")
    speedup2 = _med(inproc["walls"]["ray, 1 worker"]) / _med(inproc["walls"]["ray, 2 workers"])
    lines += [
        "",
        f"Ray with 2 workers against Ray with 1: {speedup2:.2f}x (warm). The local executor's "
        "numba kernels use both cores within a point (`prange`); a Ray task of one CPU runs them "
        "on one thread, so 2 workers gain over local less than over 1 worker. The CLI's Ray "
        "runs also pay the cluster's start-up and each new worker's imports (numpy, numba's "
        "kernels): on a sweep this short that outweighs the parallelism.",
        "",
    ]
    if cnn is not None:
        lines += ["### Estimate: the Fashion-MNIST conversion CNN benchmark on a 64-core Ray "
                  "cluster", ""]
        lines += estimate(cnn, min(1.0, speedup2 / 2))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--workdir", default=None, help="keep the work here (CNN costs cached)")
    parser.add_argument("--no-cnn", action="store_true", help="skip the CNN measurements")
    parser.add_argument("--no-write", action="store_true", help="print instead of RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for old in work.glob("cli-*"):
            shutil.rmtree(old)
        spec = write_spec(work)
        log(f"load {os.getloadavg()[0]:.1f}")
        cli = cli_runs(work, spec, args.runs)
        for old in list(work.glob("inproc-*")) + list(work.glob("warm*")):
            shutil.rmtree(old)
        inproc = in_process_runs(work, spec, args.runs)
        cnn = None if args.no_cnn else cnn_costs(work)
        body = render(cli, inproc, cnn)
    if args.no_write:
        print(body)
    else:
        update_section("sweep", "Sweeps on Ray (issue 27): the digits conversion sweep, and the "
                       "CNN benchmark on 64 cores", body)
        log("wrote the sweep section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
