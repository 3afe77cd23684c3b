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

Every results.csv must be byte-identical (the script stops otherwise). The raw measurements
are saved in WORKDIR/sweep-timings.json (and the CNN's in cnn-costs.json); `--render-only`
rewrites the RESULTS section from them without measuring anything.

    python benchmarks/sweep.py [--runs N] [--workdir DIR] [--no-cnn] [--no-write] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
    samples: set[int] = set()
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
                samples |= {p["metrics"]["samples"] for p in points}
            elif name == "ray, 1 worker":
                points = json.loads((out / "results.json").read_text())["points"]
                cpu_ray += [p["seconds"]["cpu"] for p in points]
            log(f"CLI run {r + 1} {name}: {walls[name][-1]:.1f} s")
    if len(csvs) != 1:
        raise SystemExit("results.csv differs between runs or executors")
    return {"walls": walls, "loads": loads, "per_point_s": per_point, "cpu_local": cpu_local,
            "cpu_ray": cpu_ray, "samples": sorted(samples), "csv": next(iter(csvs)).decode()}


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
    return {"walls": walls, "loads": loads, "warmup_s": warm, "csv": next(iter(csvs)).decode()}


def cnn_costs(work: Path) -> dict[str, Any]:
    """One-thread costs of the pieces of the conversion benchmark's CNN work (cached)."""
    path = work / "cnn-costs.json"
    if path.exists():
        saved = json.loads(path.read_text())
        # costs saved before the date was: the file's own date is when they were measured
        saved.setdefault("measured", time.strftime("%Y-%m-%d",
                                                   time.localtime(path.stat().st_mtime)))
        return saved
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
        "train_images": len(data.x_train),
        "measured": time.strftime("%Y-%m-%d"),
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


def _spike_ratio_sentence(probe: float) -> str:
    """What the probe CNN's spike count says about its bit-accurate cost per image, from the
    trained CNN's count in RESULTS.md (the cpu backend's integer kernels are event-driven:
    backends/cpu/fast.py, so their cost grows with the spikes)."""
    recorded = bench_cnn_spikes()
    if recorded == "not recorded":
        return ("the benchmark's trained CNN has no spike count in RESULTS.md to compare with, so "
                "how far its bit-accurate cost differs is unknown")
    ratio = probe / int(recorded.replace(",", ""))
    head = (f"{ratio:.1f}x the {recorded} of the benchmark's trained CNN (RESULTS.md, conversion "
            "section); the cpu backend's event-driven kernels cost more with more spikes, so the "
            "bit-accurate figures below are likely ")
    if ratio > 1.2:
        return head + "upper bounds"
    if ratio < 1 / 1.2:
        return head + "lower bounds"
    return f"{ratio:.2f}x the {recorded} of the benchmark's trained CNN: a like-for-like probe"


def _compile_flags_words() -> str:
    from benchmarks.conversion import COMPILE_FLAGS

    flags = list(COMPILE_FLAGS)
    words = []
    if "--calibrate" in flags:
        n = flags[flags.index("--samples") + 1] if "--samples" in flags else "default"
        words.append(f"calibration ({n} images)")
    if "--split-signs" in flags:
        words.append("split signs")
    return " and ".join(words) or "the benchmark's flags"


def _train_images(cnn: dict[str, Any]) -> int:
    if "train_images" in cnn:
        return cnn["train_images"]
    from trainers.datasets import load_dataset  # costs saved before the count was: look it up

    return len(load_dataset("fashion-mnist").x_train)


def estimate(cnn: dict[str, Any], efficiency: float, speedup2: float, cores_here: int) -> list[str]:
    """The worked estimate, as markdown lines."""
    from benchmarks.conversion import SEEDS, STEPS, VARIANTS

    n_var, n_seed = len(VARIANTS), len(SEEDS)
    ann = CNN_EPOCHS * cnn["epoch_s"]
    tune = cnn["tune_s"]
    comp = cnn["compile_s"]
    runs = n_var * n_seed * CNN_TEST_IMAGES  # image runs at the longest T, deployed and float
    per_image = cnn["deployed_per_image_s"] + cnn["float_per_image_s"]
    evals = runs * per_image
    serial = ann + n_var * (tune + comp) + evals
    cores = CLUSTER_CORES * efficiency
    # stages depend on each other: ANN -> 4 tunings at once -> 4 compiles at once -> image runs
    # sharded over every core
    cluster = ann + tune + comp + evals / cores
    sharded_tune = (ann + cnn["tune_fixed_s"] + CNN_TUNE_SAMPLES * cnn["tune_per_image_s"] / cores
                    + comp + evals / cores)
    lo, hi = min(cnn["load"]), max(cnn["load"])
    t_max = STEPS[-1]
    stages = sorted([(ann, "the ANN training"), (tune, "one tuning"), (comp, "one compile"),
                     (evals / cores, "the image runs")], reverse=True)
    order = ", ".join(f"{name} {_hms(sec)}" for sec, name in stages)
    when = (f" on {cnn['measured']}" if "measured" in cnn else "")
    capped = (f", capped at 1 (the measured speed-up, {speedup2:.2f}x, is more than 2 workers "
              "can give)" if speedup2 / 2 > 1 else "")
    return [
        f"Measured here{when} in CPU seconds of one thread (what a Ray task of one CPU gets; CPU "
        "time, not wall time, because wall time counts the waits for a core: the load average "
        f"was {lo:.0f}-{hi:.0f} on {cores_here} cores), on a CNN of the benchmark's architecture "
        "trained for one epoch. Its bit-accurate runs make "
        f"{cnn['spikes_per_inference']:,.0f} spikes per inference at T = {t_max}, "
        f"{_spike_ratio_sentence(cnn['spikes_per_inference'])}:",
        "",
        "| piece | measured | per unit |",
        "|---|---|---|",
        f"| one ANN epoch ({_train_images(cnn):,} images) | {cnn['epoch_s']:.0f} s | "
        f"x{CNN_EPOCHS} epochs |",
        "| conversion + tuning (T = 32, variant none) on "
        + " and ".join(f"{k} validation images: {v:.0f} s" for k, v in cnn["tune_probe_s"].items())
        + f" | {cnn['tune_fixed_s']:.0f} s + {cnn['tune_per_image_s']:.2f} s per image |",
        f"| `snnc compile` with {_compile_flags_words()} | "
        f"{cnn['compile_s']:.0f} s | {cnn['cores_used']} cores |",
        f"| bit-accurate run (cpu backend), T = {t_max} | {cnn['probe_images']} images | "
        f"{cnn['deployed_per_image_s']:.2f} s per image |",
        f"| float SNN (fastsim, float64), T = {t_max} | {cnn['probe_images']} images | "
        f"{cnn['float_per_image_s']:.2f} s per image |",
        "",
        f"The CNN benchmark's work: the ANN ({CNN_EPOCHS} epochs), {n_var} variants each tuned on "
        f"{CNN_TUNE_SAMPLES} validation images and compiled, then {n_var} variants x {n_seed} "
        f"seeds x {CNN_TEST_IMAGES:,} test images at T = {t_max} (T = "
        f"{', '.join(str(t) for t in STEPS[:-1])} are prefixes of the same run), bit-accurate "
        f"and float: {runs:,} image runs of each.",
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
        f"The efficiency {efficiency:.2f} is the warm in-process speed-up of 2 Ray workers over 1 "
        f"above divided by 2{capped}: a 2-core machine can measure no more workers than that, and "
        f"the estimate assumes {CLUSTER_CORES} keep it. On the cluster the image runs, "
        f"{_hms(evals)} of one core, take {_hms(evals / cores)}; the stages, longest first: "
        f"{order}. `snnc sweep` runs a "
        "tuning as one task; sharding its validation evaluations as `snnc eval --shards` shards "
        "a test set would bring the estimate to the last row's.",
    ]


def _csv_runs(cli: dict[str, Any], inproc: dict[str, Any]) -> int:
    return sum(len(w) for part in (cli, inproc) for w in part["walls"].values())


def _example_grid() -> dict[str, Any] | None:
    import yaml

    path = ROOT / "examples" / "sweep-digits.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("grid") if path.exists() else None


def _timing_sentences(cli: dict[str, Any], inproc: dict[str, Any], cores: int) -> str:
    """The paragraph under the tables: each sentence a comparison of the figures measured."""
    local_c, ray2_c = _med(cli["walls"]["local"]), _med(cli["walls"]["ray, 2 workers"])
    local_i, ray1, ray2 = (_med(inproc["walls"][k]) for k in CONFIGS)
    cpu_local, cpu_ray = _med(cli["cpu_local"]), _med(cli["cpu_ray"])
    text = [f"Warm, in process, 2 Ray workers ran {ray1 / ray2:.2f}x as fast as 1 and "
            f"{local_i / ray2:.2f}x as fast as the local executor."]
    ratio = cpu_local / cpu_ray
    if ratio > 1.05:
        text.append(
            f"A point took {ratio:.2f}x the CPU in the local process ({cpu_local:.2f} s, numba's "
            f"kernels on {cores} threads) that it took in a one-thread Ray task ({cpu_ray:.2f} s)"
            ": the same work, so the difference is what splitting each point's small layers over "
            "threads (`prange`) costs.")
    elif ratio < 1 / 1.05:
        text.append(
            f"A point took {cpu_ray:.2f} s of CPU in a one-thread Ray task, {1 / ratio:.2f}x the "
            f"{cpu_local:.2f} s in the local process (numba's kernels on {cores} threads).")
    else:
        text.append(f"A point took about the same CPU in the local process ({cpu_local:.2f} s) "
                    f"and in a one-thread Ray task ({cpu_ray:.2f} s).")
    if ray1 < local_i:
        text.append(f"Even one Ray worker ({ray1:.1f} s) beat the local executor ({local_i:.1f} s) "
                    "in process.")
    startup = (ray2_c - ray2) - (local_c - local_i)
    if startup > 0:
        text.append(
            f"From the CLI, Ray with 2 workers took {ray2_c - ray2:.1f} s more than warm in "
            f"process and local {local_c - local_i:.1f} s more: about {startup:.1f} s a run is "
            "Ray's own start-up (the cluster, each new worker's imports and numba kernels; the "
            f"first sweep on a new cluster took {inproc['warmup_s']:.1f} s against {ray2:.1f} s "
            "warm).")
    else:
        text.append(
            f"The CLI and in-process medians (Ray with 2 workers {ray2_c:.1f} s against "
            f"{ray2:.1f} s, local {local_c:.1f} s against {local_i:.1f} s) do not separate Ray's "
            "start-up from the load's variation; the first sweep on a new cluster took "
            f"{inproc['warmup_s']:.1f} s against {ray2:.1f} s warm.")
    cli_gain = local_c / ray2_c
    if cli_gain < 1:
        text.append(f"On a sweep this short ({local_c:.1f} s locally) that outweighs the "
                    f"parallelism: from the CLI, 2 Ray workers ran at {cli_gain:.2f}x of local.")
    elif cli_gain < local_i / ray2:
        text.append(f"It cuts the CLI's gain from 2 Ray workers to {cli_gain:.2f}x of local.")
    else:
        text.append(f"From the CLI, 2 Ray workers still ran {cli_gain:.2f}x as fast as local.")
    loads = cli["loads"] + inproc["loads"]
    lo, hi = min(loads), max(loads)
    if hi > cores:
        text.append(
            f"The load average was {lo:.1f}-{hi:.1f} on {cores} cores"
            + (" throughout" if lo > cores else " at times")
            + ": the wall times include waits for a core, so these speed-ups are indicative "
            "(the min-max ranges show how much they moved); the CPU seconds exclude the waits.")
    else:
        text.append(f"The load average stayed within {lo:.1f}-{hi:.1f} on {cores} cores.")
    return " ".join(text)


def render(cli: dict[str, Any], inproc: dict[str, Any], cnn: dict[str, Any] | None,
           machine: str) -> str:
    cores = int(re.search(r" with (\d+) cores", machine).group(1))  # benchmarks/_results.py
    n_points = 1
    for values in GRID.values():
        n_points *= len(values)
    samples = " / ".join(str(n) for n in cli["samples"])
    spec_words = ("the grid of `examples/sweep-digits.yaml`, with the model trained once "
                  "beforehand" if _example_grid() == GRID else "a grid of its own")
    base = _med(cli["walls"]["local"])
    lines = [
        machine,
        "",
        f"The sweep (`benchmarks/sweep.py`, {spec_words}): the digits conversion MLP, "
        f"{n_points} points = {' x '.join(str(len(v)) for v in GRID.values())} "
        f"({', '.join(GRID)}), each compiled for loihi2 and run bit-accurately (cpu backend) on "
        f"{samples} test images. All {_csv_runs(cli, inproc)} timed runs below (CLI and in "
        "process, every executor) wrote the same results.csv bytes. Per point (compile + "
        f"evaluation, from results.json), median: {_med(cli['per_point_s']):.2f} s wall in the "
        f"local runs (range {min(cli['per_point_s']):.2f}-{max(cli['per_point_s']):.2f} s); CPU "
        f"{_med(cli['cpu_local']):.2f} s in the local process (numba's kernels on {cores} "
        f"threads), {_med(cli['cpu_ray']):.2f} s in a Ray task (one thread).",
        "",
        f"**CLI** (`snnc sweep SPEC -o DIR`, a fresh process each; {len(cli['walls']['local'])} "
        "runs each, rotated order; Ray's runs include starting and stopping the local cluster; "
        f"load average {min(cli['loads']):.1f}-{max(cli['loads']):.1f}):",
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
    lines += ["", _timing_sentences(cli, inproc, cores), ""]
    if cnn is not None:
        speedup2 = _med(inproc["walls"]["ray, 1 worker"]) / _med(inproc["walls"]["ray, 2 workers"])
        lines += ["### Estimate: the Fashion-MNIST conversion CNN benchmark on a "
                  f"{CLUSTER_CORES}-core Ray cluster", ""]
        lines += estimate(cnn, min(1.0, speedup2 / 2), speedup2, cores)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--workdir", default=None, help="keep the work here (CNN costs cached)")
    parser.add_argument("--no-cnn", action="store_true", help="skip the CNN measurements")
    parser.add_argument("--no-write", action="store_true", help="print instead of RESULTS.md")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the section from the timings saved in --workdir")
    args = parser.parse_args()
    if args.render_only and not args.workdir:
        parser.error("--render-only needs the --workdir of an earlier run")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        saved = work / "sweep-timings.json"  # the raw measurements, which --render-only reads
        if args.render_only:
            if not saved.exists():
                parser.error(f"{saved}: no saved measurements (run without --render-only first)")
            timings = json.loads(saved.read_text())
        else:
            work.mkdir(parents=True, exist_ok=True)
            for old in work.glob("cli-*"):
                shutil.rmtree(old)
            saved.unlink(missing_ok=True)
            spec = write_spec(work)
            log(f"load {os.getloadavg()[0]:.1f}")
            timings = {"cli": cli_runs(work, spec, args.runs)}
            for old in list(work.glob("inproc-*")) + list(work.glob("warm*")):
                shutil.rmtree(old)
            timings["inproc"] = in_process_runs(work, spec, args.runs)
            if timings["inproc"]["csv"] != timings["cli"]["csv"]:
                raise SystemExit("results.csv differs between the CLI and in-process runs")
            timings["machine"] = machine_line()  # the day measured, not the day rendered
            saved.write_text(json.dumps(timings, indent=1))
        cli, inproc = timings["cli"], timings["inproc"]
        cnn = None
        if args.render_only and not (work / "cnn-costs.json").exists():
            log("no saved CNN costs in the workdir: the section leaves the estimate out")
        elif not args.no_cnn:
            cnn = cnn_costs(work)
        body = render(cli, inproc, cnn, timings["machine"])
    if args.no_write:
        print(body)
    else:
        update_section("sweep", "Sweeps on Ray (issue 27): the digits conversion sweep, and the "
                       "CNN benchmark on 64 cores", body)
        log("wrote the sweep section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
