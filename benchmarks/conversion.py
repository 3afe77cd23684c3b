"""Conversion trainer benchmark (issue 7): Fashion-MNIST MLP 784-512-256-10 and CNN, deployed.

For each architecture: train the ANN once; for the baseline and each L4 variant and each tuning
T in TUNE_TS, convert and tune on the validation split (the code path of `snnc train
conversion --steps T`); compile with `snnc compile` (COMPILE_FLAGS); run the compiled program
bit-accurately on the cpu backend over the test split with several input seeds. The model
tuned at 64 is read at T = 64, 128 and 256 from one 256-step run: the input spikes of a T-step
run are the first T steps of a longer one (each sample's encoder stream is a prefix) and the
simulation is causal. Also recorded: the float SNN on the same spikes (the quantization gap),
spikes per inference, and the ANN on the input spike counts of the same spikes (what the input
encoding alone leaves of the ANN's accuracy). The premise study and the regimes live in
`conversion_premise.py`.

    python benchmarks/conversion.py [--quick] [--workdir DIR] [--samples N] [--archs mlp,cnn]
                                    [--until STAGE] [--no-write]

Intermediate results are cached in the work folder (default: $TMPDIR/snnc-bench-conversion), so
an interrupted run resumes where it stopped. `--quick` is a small smoke run (not recorded).
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_line, update_section  # noqa: E402

VARIANTS = ("none", "rescale", "margin", "bias")
# How every Fashion-MNIST model is compiled: calibrated on validation images (its rates drive the
# quantizer's bias correction) and with split signs (each weight keeps all 8 bits of magnitude).
COMPILE_FLAGS = (
    "--target",
    "loihi2",
    "--calibrate",
    "fashion-mnist",
    "--split",
    "val",
    "--samples",
    "500",
    "--split-signs",
)
STEPS = (16, 32, 64, 128, 256)
SEEDS = (0, 1, 2)
# One model per tuning T: for the MLP, T=16 and T=32 get their own; T >= 64 use the model tuned at
# 64 (tuning at 256 steps costs 4x more; the thresholds hardly move beyond 64). The CNN's float
# simulation costs ~20x the MLP's per image (45 min per tuning at T=64 on 2000 images here), so
# each CNN variant is tuned once, at T=32 on 1000 validation images, and read at every T, and its
# test figures use the first `--cnn-samples` test images.
ARCH_SETTINGS: dict[str, dict[str, Any]] = {
    "mlp": {"tune_ts": (16, 32, 64), "tune_samples": 5000},
    "cnn": {"tune_ts": (32,), "tune_samples": 1000},
}
TUNE_TS = ARCH_SETTINGS["mlp"]["tune_ts"]
STAGES = ("ann", "models", "deployed")


def tuned_for(t: int, tune_ts: tuple[int, ...] = TUNE_TS) -> int:
    """The tuning T whose model is read at T = t: the largest not above t (else the smallest)."""
    return max((x for x in tune_ts if x <= t), default=min(tune_ts))


def log(msg: str) -> None:
    print(f"[conversion] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def cached_json(path: Path, compute) -> Any:
    from ir.atomic import atomic_write_text

    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    atomic_write_text(path, json.dumps(value, indent=1, sort_keys=True))
    return value


# ----------------------------------------------------------------------------- stages


def stage_ann(
    work: Path, data, opts, tag: str | None = None, spec=None
) -> tuple[Any, dict[str, Any]]:
    """Train (or reload) the ANN; its test accuracy is the reference for every SNN figure.
    `spec` overrides the default architecture of `opts.arch` (cached under `tag`)."""
    from ir.atomic import atomic_write_text
    from trainers.conversion.ann import TrainedAnn, default_spec, train_ann
    from trainers.conversion.chain import chain_logits, load_chain, save_chain
    from trainers.conversion.trainer import _train_settings

    tag = tag or opts.arch
    spec = spec or default_spec(opts.arch, data.name, data.image_shape, data.n_classes)
    path, info_path = work / f"ann-{tag}.npz", work / f"ann-{tag}.json"
    if not path.exists():
        log(f"train ANN {tag}")
        t0 = time.perf_counter()
        ann = train_ann(
            data.x_train, data.y_train, data.x_val, data.y_val, spec, _train_settings(opts)
        )
        secs = time.perf_counter() - t0
        info = {
            "test_accuracy": float(
                (chain_logits(ann.chain, data.x_test).argmax(1) == data.y_test).mean()
            ),
            "val_accuracy": float(
                (chain_logits(ann.chain, data.x_val).argmax(1) == data.y_val).mean()
            ),
            "train_s": secs,
            "history": ann.history,
        }
        atomic_write_text(info_path, json.dumps(info, indent=1))
        save_chain(ann.chain, path)
    info = json.loads(info_path.read_text())
    return TrainedAnn(spec, _train_settings(opts), load_chain(path), info["history"]), info


def stage_model(work: Path, ann, data, opts, tag: str):
    from ir.serialize import load_graph, save_graph
    from trainers.conversion.trainer import convert_tuned

    path = work / f"model-{tag}.snnc"
    if not path.exists():
        log(f"convert + tune {tag}")
        t0 = time.perf_counter()
        res = convert_tuned(ann, data, opts)
        log(
            f"  {tag}: val {res.val_accuracy:.4f}, sigma {list(res.params.sigma)}, strength "
            f"{res.params.strength} ({time.perf_counter() - t0:.0f} s)"
        )
        save_graph(res.graph, path)
    return load_graph(path)


def snn_from_model(ann, graph, data):
    """The model's SNN in fastsim form (pooled maps, cheaper than the folded graph), rebuilt from
    the ANN and the model's recorded conversion choices, and checked against the graph."""
    from trainers.conversion.convert import (
        ConversionParams,
        build_snn,
        calibrate,
        l4_rescale,
        to_graph,
    )
    from trainers.conversion.trainer import _calibration_subset

    tr = graph.metadata["trainer"]
    conv, tun, opts = tr["conversion"], tr["tuning"], tr["options"]
    alpha = tun["strength"] if tun["l4"] == "rescale" else 0.0
    cal = calibrate(
        l4_rescale(ann.chain, alpha),
        _calibration_subset(data, opts["calibration_samples"]),
        mode=conv["threshold"],
        percentile=conv["percentile"],
        max_rate=conv["max_rate"],
        balance_steps=opts["steps"],
        seed=opts["input_seed"],
    )
    snn = build_snn(cal, ConversionParams(tuple(tun["sigma"]), tun["l4"], tun["strength"]))
    rebuilt = to_graph(snn, ann.chain, {})
    for name, proj in graph.projections.items():
        if not np.array_equal(rebuilt.projections[name].weight, proj.weight):
            raise SystemExit(f"model {name}: rebuilt weights differ from the saved model")
    return snn


def stage_compile(work: Path, tag: str) -> Path:
    build = work / f"build-{tag}"
    if not (build / "program.snnc").exists():
        log(f"compile {tag}")
        cmd = [
            sys.executable,
            "-m",
            "compiler.cli",
            "compile",
            str(work / f"model-{tag}.snnc"),
            *COMPILE_FLAGS,
            "-o",
            str(build),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"snnc compile failed for {tag}: {proc.stderr.strip()}")
    return build


def _neuron_populations(graph) -> list[str]:
    from ir.nodes import Input

    return [n for n, p in graph.populations.items() if not isinstance(p, Input)]


def stage_deployed(
    work: Path,
    tag: str,
    build: Path,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    steps: tuple[int, ...],
    batch: int,
) -> dict[str, Any]:
    """Bit-accurate accuracy and spikes per inference at each T of `steps` (one run)."""

    def compute() -> dict[str, Any]:
        from backends import get_backend
        from backends.base import Probe, Trace
        from compiler.build import read_build
        from trainers.encoders import encode
        from trainers.readout import classify

        b = read_build(build)
        g = b.program
        run = get_backend("cpu")
        spec, enc = g.metadata["readout"], g.metadata["encoding"]
        pops = _neuron_populations(g)
        probes = [
            Probe(n, ("spikes", "u") if n == spec["population"] else ("spikes",)) for n in pops
        ]
        correct = dict.fromkeys(steps, 0)
        spikes = dict.fromkeys(steps, 0.0)
        t0 = time.perf_counter()
        for lo in range(0, len(y), batch):
            hi = min(lo + batch, len(y))
            inp = encode(enc, x[lo:hi], steps[-1], seed, first_index=lo)
            tr = run(g, inp, steps=steps[-1], probes=probes, hw=b.hw)
            for t in steps:
                cut = Trace(
                    tr.backend,
                    t,
                    hi - lo,
                    {p: {v: a[:, :t] for v, a in d.items()} for p, d in tr.data.items()},
                )
                correct[t] += int((classify(spec, cut) == y[lo:hi]).sum())
                spikes[t] += float(sum(int(cut.get(p).sum()) for p in pops))
        log(f"  deployed {tag} seed {seed}: {len(y)} samples ({time.perf_counter() - t0:.0f} s)")
        return {
            "accuracy": {str(t): correct[t] / len(y) for t in steps},
            "spikes": {str(t): spikes[t] / len(y) for t in steps},
            "samples": len(y),
            "seconds": time.perf_counter() - t0,
        }

    return cached_json(work / f"deployed-{tag}-s{seed}.json", compute)


def stage_input_bound(
    work: Path,
    tag: str,
    ann,
    encoding: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    batch: int,
) -> dict[str, Any]:
    """The ANN on what the SNN's input carries: each image replaced by its input spike counts over
    the first T steps divided by T * max_rate (the same spikes as the deployed runs, for each T in
    STEPS). What the input encoding alone leaves of the ANN's accuracy: a conversion that
    reproduced the ANN exactly on its input spikes would score this."""

    def compute() -> dict[str, Any]:
        from trainers.conversion.chain import chain_logits
        from trainers.encoders import encode

        correct = dict.fromkeys(STEPS, 0)
        for lo in range(0, len(y), batch):
            hi = min(lo + batch, len(y))
            spikes = encode(encoding, x[lo:hi], STEPS[-1], seed, first_index=lo)
            counts = np.zeros((hi - lo, spikes.shape[2]), dtype=np.float64)
            done = 0
            for t in STEPS:
                counts += spikes[:, done:t].sum(axis=1)
                done = t
                rates = counts / (t * encoding["max_rate"])
                logits = chain_logits(ann.chain, rates.reshape(x[lo:hi].shape))
                correct[t] += int((logits.argmax(1) == y[lo:hi]).sum())
        return {"accuracy": {str(t): correct[t] / len(y) for t in STEPS}, "samples": len(y)}

    return cached_json(work / f"inputbound-{tag}-s{seed}.json", compute)


def stage_float(
    work: Path,
    tag: str,
    snn,
    graph,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    steps: tuple[int, ...],
    batch: int,
) -> dict[str, Any]:
    """The float SNN (fastsim, float64) on the same input spikes as the deployed run."""

    def compute() -> dict[str, Any]:
        from trainers.conversion.fastsim import predict, simulate
        from trainers.encoders import encode

        enc = graph.metadata["encoding"]
        correct = dict.fromkeys(steps, 0)
        spikes = dict.fromkeys(steps, 0.0)
        for lo in range(0, len(y), batch):
            hi = min(lo + batch, len(y))
            res = simulate(
                snn, encode(enc, x[lo:hi], steps[-1], seed, first_index=lo), steps, dtype="float64"
            )
            for k, t in enumerate(steps):
                correct[t] += int((predict(res.counts[k], res.current[k]) == y[lo:hi]).sum())
                spikes[t] += float(res.spikes[k].sum())
        return {
            "accuracy": {str(t): correct[t] / len(y) for t in steps},
            "spikes": {str(t): spikes[t] / len(y) for t in steps},
            "samples": len(y),
        }

    return cached_json(work / f"float-{tag}-s{seed}.json", compute)


def stage_digits(work: Path, runs: int) -> dict[str, Any]:
    """`snnc train conversion --dataset digits` timed (wall clock, `runs` times), compiled, and
    its compiled program evaluated bit-accurately on the whole digits test split at T=64."""

    def compute() -> dict[str, Any]:
        from trainers.datasets import load_dataset

        model, build = work / "digits.snnc", work / "digits-build"
        wall = []
        for _ in range(runs):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "compiler.cli",
                    "train",
                    "conversion",
                    "--dataset",
                    "digits",
                    "-o",
                    str(model),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            wall.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise SystemExit(
                    f"snnc train conversion --dataset digits failed: {proc.stderr.strip()}"
                )
        log(f"digits: train {wall}")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "compiler.cli",
                "compile",
                str(model),
                "--target",
                "loihi2",
                "-o",
                str(build),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            raise SystemExit(f"snnc compile failed for digits: {proc.stderr.strip()}")
        data = load_dataset("digits")
        dep = [
            stage_deployed(work, "digits", build, data.x_test, data.y_test, s, (64,), 500)
            for s in SEEDS
        ]
        return {
            "train_wall_s": wall,
            "accuracy": [d["accuracy"]["64"] for d in dep],
            "samples": len(data.y_test),
            "spikes": [d["spikes"]["64"] for d in dep],
        }

    return cached_json(work / "digits.json", compute)


# ----------------------------------------------------------------------------- report


def _ms(values: list[float]) -> str:
    a = 100 * np.asarray(values, dtype=np.float64)
    return f"{a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2f}"


def _per_t(runs: dict[int, list[dict[str, Any]]], key: str, t: int) -> list[float]:
    return [r[key][str(t)] for r in runs[tuned_for(t, tuple(sorted(runs)))]]


def same_snn(a, b) -> bool:
    """Whether two fastsim SNN chains are the same network (weights, thresholds, biases)."""
    return (
        a.v_th == b.v_th
        and all(np.array_equal(x.weight, y.weight) for x, y in zip(a.maps, b.maps, strict=True))
        and all(np.array_equal(x, y) for x, y in zip(a.bias, b.bias, strict=True))
    )


def _choice(c: dict[str, Any]) -> str:
    return f"sigma {c['sigma']}, strength {c['strength']:g}, val {100 * c['val']:.2f}"


def _variant_table(title: str, variants: dict[str, Any], cell) -> list[str]:
    """One markdown table: a row per variant, a column per T in STEPS, `cell(variant, t)`.
    Ends with a blank line."""
    lines = [
        f"| {title} | " + " | ".join(f"T={t}" for t in STEPS) + " |",
        "|---|" + "---|" * len(STEPS),
    ]
    for variant, v in variants.items():
        lines.append(f"| {variant} | " + " | ".join(cell(v, t) for t in STEPS) + " |")
    return [*lines, ""]


def _gap_cell(v: dict[str, Any], t: int) -> str:
    """Deployed - float SNN on the same spikes, pp: mean over seeds (largest |gap|)."""
    gap = 100 * (
        np.asarray(_per_t(v["deployed"], "accuracy", t))
        - np.asarray(_per_t(v["float"], "accuracy", t))
    )
    return f"{gap.mean():+.2f} ({np.abs(gap).max():.2f})"


def render(
    results: dict[str, Any], n_test: int, seeds: tuple[int, ...], digits: dict[str, Any] | None
) -> str:
    lines = [machine_line(), ""]
    if digits:
        wall = digits["train_wall_s"]
        lines += [
            "`snnc train conversion --dataset digits` (defaults: MLP 64-128-64-10, tuned at T=64): "
            f"wall time {np.median(wall):.1f} s (median of {len(wall)} runs, "
            f"{min(wall):.1f}-{max(wall):.1f} s, on this shared machine); compiled program on the "
            f"cpu backend at T=64, whole test split ({digits['samples']} images), seeds "
            f"{list(seeds)}: {_ms(digits['accuracy'])}% accuracy, "
            f"{np.mean(digits['spikes']):.0f} spikes per inference.",
            "",
        ]
    lines += [
        f"Fashion-MNIST test split; input seeds {list(seeds)}. Each MLP model is "
        "tuned on the validation split (5000 images) at T = 16, 32 or 64 (T = 128 and 256 use the "
        "model tuned at 64); each CNN model once, at T = 32 on 1000 validation images (see "
        "ARCH_SETTINGS in the script: the CNN's tuning costs ~20x the MLP's); all "
        f"compiled with `snnc compile {' '.join(COMPILE_FLAGS)}` and run bit-accurately on the "
        "cpu backend. Readout: output spike count, ties broken by the summed output current "
        "(`u_sum`). Accuracy in %, mean ± std over the input seeds. Spikes: all neurons, per "
        "inference.",
        "",
    ]
    for arch, r in results.items():
        ann = 100 * r["ann"]["test_accuracy"]
        tune_ts = ARCH_SETTINGS[arch]["tune_ts"]
        first = next(iter(r["variants"].values()))["deployed"]
        n_arch = next(iter(first.values()))[0]["samples"]
        missing = r.get("missing", [])
        lines += [
            f"### {arch} ({r['sizes']}): ANN test accuracy {ann:.2f}% (all 10000 test images); "
            f"SNN figures on the first {n_arch} test images"
            + (f"; not measured (out of time): {', '.join(missing)}" if missing else ""),
            "",
        ]
        variants = r["variants"]
        deployed = _variant_table(
            "deployed", variants, lambda v, t: _ms(_per_t(v["deployed"], "accuracy", t))
        )
        if "input_bound" not in r:
            lines += deployed
        else:
            bound = r["input_bound"]
            lines += [
                *deployed[:-1],
                "| ANN on the input spike counts | "
                + " | ".join(_ms([b["accuracy"][str(t)] for b in bound]) for t in STEPS)
                + " |",
                "",
                "The last row is the ANN fed, for each image, its input spike counts over the "
                "first T steps divided by T (the same input spikes as the deployed runs): what "
                "is left of the ANN's accuracy after the input encoding alone. A conversion that "
                "reproduced the ANN exactly on its input spikes would score this row.",
                "",
            ]
        lines += _variant_table(
            "float SNN (same spikes)", variants, lambda v, t: _ms(_per_t(v["float"], "accuracy", t))
        )
        lines += _variant_table(
            "quantization gap: deployed - float, pp (max over seeds)", variants, _gap_cell
        )
        lines += _variant_table(
            "spikes per inference",
            variants,
            lambda v, t: f"{np.mean(_per_t(v['deployed'], 'spikes', t)):.0f}",
        )
        lines += [
            "Chosen on the validation split (threshold scales sigma per layer; L4 strength):",
            "",
            "| variant | " + " | ".join(f"tuned at T={t}" for t in tune_ts) + " |",
            "|---|" + "---|" * len(tune_ts),
        ]
        for variant, v in r["variants"].items():
            lines.append(
                f"| {variant} | " + " | ".join(_choice(v["choice"][t]) for t in tune_ts) + " |"
            )
        lines.append("")
        same = [
            f"{variant} (tuned at T={', '.join(map(str, v['same_as_none']))})"
            for variant, v in r["variants"].items()
            if v.get("same_as_none")
        ]
        if same:
            lines += [
                "Where validation chose strength 0 with the baseline's sigma, the variant is the "
                "baseline's network exactly, and its rows repeat the baseline's runs: "
                + "; ".join(same)
                + ".",
                "",
            ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="small smoke run; results are not recorded"
    )
    ap.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "snnc-bench-conversion")
    )
    ap.add_argument("--samples", type=int, default=None, help="test images (default: all 10000)")
    ap.add_argument(
        "--cnn-samples", type=int, default=2000, help="test images for the CNN (default: 2000)"
    )
    ap.add_argument("--archs", default="mlp,cnn")
    ap.add_argument("--until", choices=STAGES, default="deployed", help="stop after this stage")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--trained-only",
        action="store_true",
        help="leave out the variants whose models are not trained yet (the tables say which)",
    )
    args = ap.parse_args()

    from ir.errors import DatasetMissingError
    from trainers.conversion.ann import torch_threads
    from trainers.conversion.trainer import ConversionOptions
    from trainers.datasets import load_dataset

    try:
        data = load_dataset("fashion-mnist")
    except DatasetMissingError as e:
        print(f"conversion benchmark skipped: {e}", file=sys.stderr)
        return 0
    work = Path(args.workdir) / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    n_test = args.samples or (300 if args.quick else len(data.y_test))
    x_test, y_test = data.x_test[:n_test], data.y_test[:n_test]
    seeds = SEEDS[:2] if args.quick else SEEDS
    results: dict[str, Any] = {}
    digits = None if args.quick or args.until != "deployed" else stage_digits(work, runs=3)
    with torch_threads(1):
        for arch in args.archs.split(","):
            settings = ARCH_SETTINGS[arch]
            tune_samples = 200 if args.quick else settings["tune_samples"]
            n_arch = n_test if arch == "mlp" else min(n_test, args.cnn_samples)
            base = ConversionOptions(
                dataset="fashion-mnist",
                arch=arch,
                epochs=1 if args.quick else None,
                tune_samples=tune_samples,
                calibration_samples=1000 if args.quick else 5000,
            )
            ann, info = stage_ann(work, data, base)
            sizes = "-".join(str(m.n_in) for m in ann.chain.maps) + f"-{ann.chain.maps[-1].n_out}"
            results[arch] = {"ann": info, "sizes": sizes, "variants": {}}
            if args.until == "ann":
                continue
            batch = 500 if arch == "mlp" else 100
            for variant in VARIANTS:
                entry: dict[str, Any] = {"deployed": {}, "float": {}, "choice": {}}
                if args.trained_only and not all(
                    (work / f"model-{arch}-{variant}-T{t}.snnc").exists()
                    for t in settings["tune_ts"]
                ):
                    log(f"{arch} {variant}: not trained yet, left out")
                    results[arch].setdefault("missing", []).append(variant)
                    continue
                for t_tune in settings["tune_ts"]:
                    tag = f"{arch}-{variant}-T{t_tune}"
                    opts = ConversionOptions(**{**base.__dict__, "l4": variant, "steps": t_tune})
                    graph = stage_model(work, ann, data, opts, tag)
                    tun = graph.metadata["trainer"]["tuning"]
                    entry["choice"][t_tune] = {
                        "sigma": tun["sigma"],
                        "strength": tun["strength"],
                        "val": tun["val_accuracy"],
                    }
                    if args.until == "models":
                        continue
                    steps = tuple(t for t in STEPS if tuned_for(t, settings["tune_ts"]) == t_tune)
                    snn = snn_from_model(ann, graph, data)
                    base_entry = results[arch]["variants"].get("none")
                    if base_entry is not None and same_snn(snn, base_entry["snn"][t_tune]):
                        # Validation chose strength 0: the very network of the baseline, so the
                        # same spikes on the same inputs; its runs are reused, not repeated.
                        entry.setdefault("same_as_none", []).append(t_tune)
                        entry["deployed"][t_tune] = base_entry["deployed"][t_tune]
                        entry["float"][t_tune] = base_entry["float"][t_tune]
                        continue
                    entry.setdefault("snn", {})[t_tune] = snn
                    build = stage_compile(work, tag)
                    entry["deployed"][t_tune] = [
                        stage_deployed(
                            work, tag, build, x_test[:n_arch], y_test[:n_arch], s, steps, batch
                        )
                        for s in seeds
                    ]
                    entry["float"][t_tune] = [
                        stage_float(
                            work, tag, snn, graph, x_test[:n_arch], y_test[:n_arch], s, steps, batch
                        )
                        for s in seeds
                    ]
                results[arch]["variants"][variant] = entry
            if args.until == "deployed":
                encoding = {"kind": "rate", "max_rate": base.max_rate}
                results[arch]["input_bound"] = [
                    stage_input_bound(
                        work, arch, ann, encoding, x_test[:n_arch], y_test[:n_arch], s, batch
                    )
                    for s in seeds
                ]
    if args.until != "deployed":
        log(f"stopped after stage {args.until}")
        return 0
    body = render(results, n_test, seeds, digits)
    print(body)
    if not (args.quick or args.no_write):
        update_section("conversion", "Conversion trainer (issue 7): Fashion-MNIST, deployed", body)
    return 0


if __name__ == "__main__":
    status = main()
    if status:
        sys.exit(status)
