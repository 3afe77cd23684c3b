"""Cost benchmark (issue 28): accuracy against estimated energy and time per inference.

Networks, as the other benchmarks train and cache them (benchmarks/.cache):
- the digits demo network: `snnc demo`'s conversion MLP 64-128-64-10 (trained with seed 0,
  tuned at T = 64), compiled as the demo compiles it (calibrated on 64 validation images);
- the Fashion-MNIST MLP 784-512-256-10 of benchmarks/quantization.py's plain conversion (a
  bias-free ReLU MLP trained 10 epochs with PyTorch, seed 0, weights cached in
  benchmarks/.cache; integrate-and-fire neurons, thresholds 1 after per-layer normalisation by
  the 99.9th percentile of its activations; rate-coded input, T = 128), compiled as
  benchmarks/conversion.py compiles Fashion-MNIST models (calibrated on 500 validation images,
  split signs). (The conversion trainer's own Fashion-MNIST MLP, tuned at T = 64, costs an hour
  and a half of training and tuning on this 2-core machine; its accuracy at every T is in the
  "Conversion trainer (issue 7): Fashion-MNIST, deployed" section of RESULTS.md.)

Each network is one deployed program read at every T: the question is what running the same
program longer costs and buys (benchmarks/conversion.py tunes separate models for T = 16, 32).

Each is compiled with `snnc compile --weight-bits 8` and `--weight-bits 4` for every target in
TARGETS, run bit-exactly on the cpu backend over the whole test split (input seed 0) and read
at T = 16, 32, 64, 128 (one run at the largest T of each model: rate-coded inputs are prefixes),
its cost counted by `compiler.cost` and priced by the target's cost model (hw_configs/*.yaml).
Writes the "cost" section of RESULTS.md and benchmarks/figures/cost.png.

    python benchmarks/cost.py [--samples N] [--targets loihi2,loihi1] [--only TEXT] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, update_section  # noqa: E402

SECTION = "cost"
STEPS = (16, 32, 64, 128)
BITS = (8, 4)
TARGETS = ("loihi2", "loihi1")
SEED = 0
FIGURES = Path(__file__).resolve().parent / "figures"
CACHE = Path(__file__).resolve().parent / ".cache"
# name -> (dataset, {model tuning T: the T read from it}, compile flags)
NETWORKS: dict[str, tuple[str, dict[int, tuple[int, ...]], tuple[str, ...]]] = {
    "digits demo MLP 64-128-64-10": (
        "digits",
        {64: STEPS},
        ("--calibrate", "digits", "--split", "val", "--samples", "64"),
    ),
    "Fashion-MNIST MLP 784-512-256-10": (
        "fashion-mnist",
        {128: STEPS},
        ("--calibrate", "fashion-mnist", "--split", "val", "--samples", "500", "--split-signs"),
    ),
}


def log(msg: str) -> None:
    print(f"[cost] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def model_file(dataset: str, tuned_at: int) -> Path:
    """The cached model file: the demo's digits network, or the plain Fashion-MNIST MLP (T: its
    encoding's steps)."""
    from ir import save_graph

    if dataset == "digits":
        path = CACHE / "demo-digits-s0.snnc"
        if not path.is_file():
            from trainers.conversion.trainer import ConversionOptions, train_conversion

            log("train the demo's digits network")
            # app.demo trains exactly this (seed and input seed 0, T = 64).
            result, _ = train_conversion(ConversionOptions(dataset="digits", seed=0, input_seed=0))
            CACHE.mkdir(exist_ok=True)
            save_graph(result.graph, path)
        return path
    from benchmarks.quantization import build_network

    path = CACHE / f"plain-{dataset}-mlp-512-256-T{tuned_at}.snnc"
    if not path.is_file():  # (the weights are cached; training them is deterministic)
        graph, _ = build_network("plain", dataset, ((512, 256), 10), tuned_at)
        CACHE.mkdir(exist_ok=True)
        save_graph(graph, path)
    return path


def compile_build(model: Path, target: str, bits: int, flags: tuple[str, ...], out: Path):
    from compiler.build import read_build

    cmd = [sys.executable, "-m", "compiler.cli", "compile", str(model), "--target", target,
           "--weight-bits", str(bits), *flags, "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**os.environ, "SNNC_PROGRESS": "0"})
    if proc.returncode != 0:
        raise SystemExit(f"snnc compile failed: {proc.stderr.strip()}")
    return read_build(out)


def measure(build, x, y, steps: tuple[int, ...]) -> list[Any]:
    from app.cost import cost_vs_steps

    meta = build.program.metadata
    return cost_vs_steps(build.program, build.hw, x, y, meta["encoding"], meta["readout"],
                         steps, SEED, batch_size=250)


def _row(network: str, bits: int, tuned: int, points_by_target: dict[str, Any], t: int) -> dict:
    row: dict[str, Any] = {"network": network, "bits": bits, "steps": t, "tuned_at": tuned}
    for target, (point, cores) in points_by_target.items():
        c = point.cost
        est = c["estimate"]
        row[target] = {
            "accuracy": point.accuracy,
            "samples": point.samples,
            "cores": cores,
            "per_inference": c["per_inference"],
            "neurobench": c["neurobench"],
            "energy_j": est["energy_per_inference_j"],
            "time_s": est["time_per_inference_s"],
            "step_s": est["time_per_step_s"],
        }
    return row


def measured(model: Path, target: str, bits: int, flags: tuple[str, ...], x, y,
             steps: tuple[int, ...], work: Path) -> dict[int, tuple[Any, int]]:
    """{T: (CostPoint, cores)} of one compiled model, cached in benchmarks/.cache/cost/ (keyed by
    the model's bytes, the target, the bits, the samples and the T: everything is seeded)."""
    import hashlib

    from compiler.reporting.data import CostPoint

    digest = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    key = f"{model.stem}-{digest}-{target}-{bits}bit-n{len(x)}-T{'_'.join(map(str, steps))}"
    path = CACHE / "cost" / f"{key}.json"
    if not path.is_file():
        build = compile_build(model, target, bits, flags, work / key)
        t0 = time.perf_counter()
        points = measure(build, x, y, steps)
        log(f"{model.name}, {bits}-bit, {target}: {time.perf_counter() - t0:.0f} s")
        data = {"cores": build.program.placement.n_cores, "points": [p.to_json() for p in points]}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, sort_keys=True))
    data = json.loads(path.read_text())
    return {
        p["steps"]: (CostPoint(p["steps"], p["accuracy"], p["samples"], p["cost"]), data["cores"])
        for p in data["points"]
    }


def run(args) -> list[dict]:
    from trainers.datasets import load_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for network, (dataset, models, flags) in NETWORKS.items():
            if args.only not in network:
                continue
            data = load_dataset(dataset)
            x, y = data.split("test")
            if args.samples:
                x, y = x[: args.samples], y[: args.samples]
            for tuned, steps in models.items():
                model = model_file(dataset, tuned)
                for bits in BITS:
                    by_target = {
                        target: measured(model, target, bits, flags, x, y, steps, Path(tmp))
                        for target in args.targets
                    }
                    for t in steps:
                        at_t = {k: v[t] for k, v in by_target.items()}
                        rows.append(_row(network, bits, tuned, at_t, t))
    return rows


# ----------------------------------------------------------------------------- output


def _figure(rows: list[dict], targets: tuple[str, ...]) -> Path:
    """benchmarks/figures/cost.png: per network, accuracy against estimated energy per
    inference, one line per (target, weight bits)."""
    from compiler.reporting.data import CostPoint
    from compiler.reporting.figures import cost_comparison_figure, save_png

    groups: dict[str, dict[str, list[CostPoint]]] = {}
    for r in rows:
        for target in targets:
            m = r[target]
            cost = {"estimate": {"available": True, "energy_per_inference_j": m["energy_j"],
                                 "time_per_inference_s": m["time_s"]},
                    "per_inference": m["per_inference"]}
            point = CostPoint(r["steps"], m["accuracy"], m["samples"], cost)
            series = groups.setdefault(r["network"], {})
            series.setdefault(f"{target}, {r['bits']}-bit weights", []).append(point)
    for name, series in groups.items():  # target-major order: loihi2 8, 4-bit, loihi1 8, 4-bit
        groups[name] = dict(sorted(series.items(), key=lambda kv: (
            targets.index(kv[0].split(",")[0]), -int(kv[0].split(", ")[1].split("-")[0]))))
    fig = cost_comparison_figure(
        groups, f"Accuracy vs estimated energy per inference (test splits, T = "
        f"{', '.join(map(str, STEPS))})",
    )
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / "cost.png"
    save_png(fig, path)
    return path


def _table(rows: list[dict], targets: tuple[str, ...]) -> list[str]:
    head = ["network", "weights", "T (the model's own T)", "accuracy", "spikes", "synaptic ops",
            "msgs between cores"]
    for t in targets:
        head += [f"{t} cores", f"{t} energy (uJ)", f"{t} time (us)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        first = r[targets[0]]
        accs = {f"{100 * r[t]['accuracy']:.2f}%" for t in targets}
        p = first["per_inference"]
        cells = [r["network"], f"{r['bits']}-bit", f"{r['steps']} ({r['tuned_at']})",
                 " / ".join(sorted(accs)), f"{p['spikes']:.0f}", f"{p['synaptic_ops']:.4g}",
                 " / ".join(f"{r[t]['per_inference']['messages']['inter_core']:.4g}"
                            for t in targets)]
        for t in targets:
            m = r[t]
            cells += [
                str(m["cores"]),
                f"{1e6 * m['energy_j']['total']:.3g}",
                f"{1e6 * m['time_s']['total']:.3g}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=None, help="test images (default: all)")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--only", default="", help="networks whose name contains this text")
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = ap.parse_args()
    args.targets = tuple(t for t in args.targets.split(",") if t)
    t0 = time.perf_counter()
    rows = run(args)
    wall = time.perf_counter() - t0
    table = _table(rows, args.targets)
    print("\n".join(table))
    if args.no_write:
        return 0
    figure = _figure(rows, args.targets)
    (CACHE / "cost-rows.json").write_text(json.dumps(rows, indent=1, sort_keys=True))
    n = "the whole test split" if not args.samples else f"the first {args.samples} test images"
    body = "\n".join(
        [
            machine_line(),
            "",
            f"Accuracy and cost per inference on {n} (input seed {SEED}) of each network compiled "
            f"with 8- and 4-bit weights for {', '.join(args.targets)}, run bit-exactly on the cpu "
            "backend; counts from the program's own run (`compiler.cost`), energy and time from "
            "each target's cost model (`snnc hw show TARGET`: loihi1's per-operation figures are "
            "Davies et al. 2018 Table 2, loihi2's are estimates bounded by Hala Point's published "
            "power and rates). Accuracy is the same on every target (one quantized program, "
            "placed differently); messages between cores are per target (a / b). Networks and "
            "compile flags: benchmarks/cost.py.",
            "",
            *table,
            "",
            f"Figure: benchmarks/figures/{figure.name}. Wall time {wall:.0f} s (measurements "
            "cached "
            "in benchmarks/.cache/cost).",
        ]
    )
    update_section(SECTION, "Cost: accuracy vs estimated energy and time per inference", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
