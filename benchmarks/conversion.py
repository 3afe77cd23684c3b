"""Conversion trainer benchmark (issue 7): Fashion-MNIST MLP 784-512-256-10 and CNN, deployed.

For each architecture: train the ANN once; for the baseline and each L4 variant, convert and
tune on the validation split (`snnc train conversion`'s code path), compile with
`snnc compile --target loihi2`, and run the compiled program bit-accurately on the cpu backend
over the test split with several input seeds. One 256-step run per (model, seed) gives the
accuracy at every T in {16, ..., 256}: the input spikes of a T-step run are the first T steps of
a 256-step run (each sample's encoder stream is a prefix), and the simulation is causal.
Also: the float SNN (same spikes, `fastsim`) for the quantization gap, spike counts per
inference, the premise study (pre-firing potential spread vs ||w||_4 and ||w||_2) and the
regimes where the adjustment could matter (deeper net, CNN, lower input rate, Poisson counts).

    python benchmarks/conversion.py [--quick] [--workdir DIR] [--samples N] [--no-write]

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
STEPS = (16, 32, 64, 128, 256)
SEEDS = (0, 1, 2)
TUNE_T = 32


def log(msg: str) -> None:
    print(f"[conversion] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def _json(path: Path, compute) -> Any:
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    from ir.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(value, indent=1, sort_keys=True))
    return value


# ----------------------------------------------------------------------------- stages


def stage_ann(work: Path, data, arch: str, opts) -> tuple[Any, dict[str, Any]]:
    from trainers.conversion.ann import TrainedAnn, default_spec
    from trainers.conversion.chain import chain_logits, load_chain, save_chain
    from trainers.conversion.trainer import _train_settings, train_ann_for

    path, info_path = work / f"ann-{arch}.npz", work / f"ann-{arch}.json"
    if not path.exists():
        log(f"train ANN {arch}")
        t0 = time.perf_counter()
        ann = train_ann_for(opts, data)
        secs = time.perf_counter() - t0
        save_chain(ann.chain, path)
        test_acc = float((chain_logits(ann.chain, data.x_test).argmax(1) == data.y_test).mean())
        val_acc = float((chain_logits(ann.chain, data.x_val).argmax(1) == data.y_val).mean())
        from ir.atomic import atomic_write_text

        atomic_write_text(info_path, json.dumps({"test_accuracy": test_acc, "val_accuracy": val_acc,
                                                 "train_s": secs, "history": ann.history}, indent=1))
    info = json.loads(info_path.read_text())
    spec = default_spec(arch, data.name, data.image_shape, data.n_classes)
    return TrainedAnn(spec, _train_settings(opts), load_chain(path), info["history"]), info


def stage_model(work: Path, ann, data, opts, tag: str, evaluator=None):
    from ir.serialize import load_graph, save_graph
    from trainers.conversion.trainer import convert_tuned

    path = work / f"model-{tag}.snnc"
    if not path.exists():
        log(f"convert + tune {tag}")
        t0 = time.perf_counter()
        res = convert_tuned(ann, data, opts, evaluator=evaluator)
        log(f"  {tag}: val {res.val_accuracy:.4f} sigma {res.params.sigma} strength {res.params.strength} "
            f"({time.perf_counter() - t0:.0f} s)")
        save_graph(res.graph, path)
    return load_graph(path)


def stage_compile(work: Path, tag: str) -> Path:
    build = work / f"build-{tag}"
    if not (build / "program.snnc").exists():
        log(f"compile {tag}")
        cmd = [sys.executable, "-m", "compiler.cli", "compile", str(work / f"model-{tag}.snnc"),
               "--target", "loihi2", "-o", str(build)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"snnc compile failed for {tag}: {proc.stderr.strip()}")
    return build


def _population_order(graph) -> list[str]:
    from ir.nodes import Input

    return [n for n, p in graph.populations.items() if not isinstance(p, Input)]


def stage_deployed(work: Path, tag: str, build: Path, x: np.ndarray, y: np.ndarray, seed: int,
                   batch: int) -> dict[str, Any]:
    """Bit-accurate accuracy and spikes per inference at every T (one 256-step run)."""

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
        pops = _population_order(g)
        probes = [Probe(n, ("spikes", "u") if n == spec["population"] else ("spikes",)) for n in pops]
        correct = {t: 0 for t in STEPS}
        spikes_per = {t: 0.0 for t in STEPS}
        t0 = time.perf_counter()
        for lo in range(0, len(y), batch):
            hi = min(lo + batch, len(y))
            inp = encode(enc, x[lo:hi], STEPS[-1], seed, first_index=lo)
            tr = run(g, inp, steps=STEPS[-1], probes=probes, hw=b.hw)
            for t in STEPS:
                cut = Trace(tr.backend, t, hi - lo, {p: {v: a[:, :t] for v, a in d.items()} for p, d in tr.data.items()})
                correct[t] += int((classify(spec, cut) == y[lo:hi]).sum())
                spikes_per[t] += float(sum(cut.get(p).sum() for p in pops))
            log(f"  deployed {tag} seed {seed}: {hi}/{len(y)} ({time.perf_counter() - t0:.0f} s)")
        return {"accuracy": {str(t): correct[t] / len(y) for t in STEPS},
                "spikes": {str(t): spikes_per[t] / len(y) for t in STEPS},
                "samples": len(y), "seconds": time.perf_counter() - t0}

    return _json(work / f"deployed-{tag}-s{seed}.json", compute)


def _snn_chain(graph):
    """The float graph as a fastsim chain (weights, v_th, bias per layer, in order)."""
    from trainers.conversion.chain import LinearMap
    from trainers.conversion.fastsim import SnnChain
    from ir.nodes import Conv2d

    pops = _population_order(graph)
    maps, v_th, bias = [], [], []
    for proj in graph.projections.values():
        src, dst = graph.populations[proj.src], graph.populations[proj.dst]
        if isinstance(proj, Conv2d):
            maps.append(LinearMap("conv", proj.weight, src.shape, dst.shape, proj.stride, proj.padding))
        else:
            maps.append(LinearMap("dense", proj.weight, src.shape, dst.shape))
        v_th.append(float(dst.v_th))
        bias.append(np.asarray(dst.per_neuron("bias"), dtype=np.float64))
    assert [p.dst for p in graph.projections.values()] == pops
    return SnnChain(tuple(maps), tuple(v_th), tuple(bias))


def stage_float(work: Path, tag: str, graph, x: np.ndarray, y: np.ndarray, seed: int, batch: int,
                steps: tuple[int, ...] = STEPS, inputs: str = "bernoulli") -> dict[str, Any]:
    """The float SNN (fastsim, float64) on the same input spikes as the deployed run."""

    def compute() -> dict[str, Any]:
        from trainers.conversion.fastsim import predict, simulate
        from trainers.encoders import encode

        snn = _snn_chain(graph)
        enc = graph.metadata["encoding"]
        correct = {t: 0 for t in steps}
        spikes_per = {t: 0.0 for t in steps}
        for lo in range(0, len(y), batch):
            hi = min(lo + batch, len(y))
            inp = _inputs(enc, x[lo:hi], steps[-1], seed, lo, inputs)
            res = simulate(snn, inp, steps, dtype="float64")
            for k, t in enumerate(steps):
                correct[t] += int((predict(res.counts[k], res.current[k]) == y[lo:hi]).sum())
                spikes_per[t] += float(res.spikes[k].sum())
        return {"accuracy": {str(t): correct[t] / len(y) for t in steps},
                "spikes": {str(t): spikes_per[t] / len(y) for t in steps}, "samples": len(y)}

    return _json(work / f"float-{tag}-s{seed}.json", compute)


def _inputs(enc: dict[str, Any], x: np.ndarray, steps: int, seed: int, first: int, model: str) -> np.ndarray:
    from trainers.encoders import encode

    if model == "bernoulli":
        return encode(enc, x, steps, seed, first_index=first)
    # Poisson counts per step, one stream per sample as the encoder does (graded spikes).
    rate = float(enc.get("max_rate", 1.0))
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1) * rate
    out = np.empty((len(x), steps, flat.shape[1]), dtype=np.uint8)
    for i in range(len(x)):
        out[i] = np.random.default_rng([seed, first + i, 1]).poisson(flat[i], size=(steps, flat.shape[1]))
    return out


def stage_premise(work: Path, tag: str, graph, images: np.ndarray, model: str, max_rate: float) -> list[dict]:
    def compute() -> list[dict]:
        from trainers.conversion.premise import premise_study

        snn = _snn_chain(graph)
        res = premise_study(snn, images, realisations=200, window=16, max_rate=max_rate, model=model, seed=0)
        return [r.__dict__ for r in res]

    return _json(work / f"premise-{tag}-{model}.json", compute)


# ----------------------------------------------------------------------------- tables


def _ms(values: list[float], pct: bool = True) -> str:
    a = np.asarray(values, dtype=np.float64) * (100 if pct else 1)
    return f"{a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run; results are not recorded")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "snnc-bench-conversion"))
    ap.add_argument("--samples", type=int, default=None, help="test images (default: all 10000)")
    ap.add_argument("--archs", default="mlp,cnn")
    ap.add_argument("--no-write", action="store_true")
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
    seeds = SEEDS[:1] if args.quick else SEEDS
    archs = args.archs.split(",")
    results: dict[str, Any] = {}
    with torch_threads(1):
        for arch in archs:
            base = ConversionOptions(dataset="fashion-mnist", arch=arch, steps=TUNE_T,
                                     epochs=1 if args.quick else None,
                                     tune_samples=300 if args.quick else 5000,
                                     calibration_samples=1000 if args.quick else 5000)
            ann, info = stage_ann(work, data, arch, base)
            results[arch] = {"ann": info, "variants": {}}
            for variant in VARIANTS:
                tag = f"{arch}-{variant}"
                opts = ConversionOptions(**{**base.__dict__, "l4": variant})
                graph = stage_model(work, ann, data, opts, tag)
                build = stage_compile(work, tag)
                batch = 500 if arch == "mlp" else 100
                dep = [stage_deployed(work, tag, build, x_test, y_test, s, batch) for s in seeds]
                flt = [stage_float(work, tag, graph, x_test, y_test, s, batch) for s in seeds]
                tuning = graph.metadata["trainer"]["tuning"]
                results[arch]["variants"][variant] = {"deployed": dep, "float": flt, "sigma": tuning["sigma"],
                                                      "strength": tuning["strength"], "val": tuning["val_accuracy"]}
    body = render(results, n_test, seeds)
    print(body)
    if not (args.quick or args.no_write):
        update_section("conversion", "Conversion trainer (issue 7): Fashion-MNIST, deployed", body)
    return 0


def render(results: dict[str, Any], n_test: int, seeds: tuple[int, ...]) -> str:
    lines = [machine_line(), "",
             f"Test split: {n_test} images; input seeds {list(seeds)}; models tuned on the validation "
             f"split at T={TUNE_T}; compiled with `snnc compile --target loihi2`, run on the cpu backend "
             "(bit-accurate); readout: spike count, ties by summed output current (`u_sum`). "
             "Accuracy in %, mean ± std over seeds.", ""]
    for arch, r in results.items():
        lines.append(f"### {arch}: ANN test accuracy {100 * r['ann']['test_accuracy']:.2f}%")
        lines.append("")
        lines.append("| variant | sigma / strength | " + " | ".join(f"T={t}" for t in STEPS) + " |")
        lines.append("|---|---|" + "---|" * len(STEPS))
        for variant, v in r["variants"].items():
            accs = [_ms([d["accuracy"][str(t)] for d in v["deployed"]]) for t in STEPS]
            lines.append(f"| {variant} | {v['sigma']} / {v['strength']} | " + " | ".join(accs) + " |")
        lines.append("")
        lines.append("Float SNN (same spikes) and spikes per inference (all layers, deployed):")
        lines.append("")
        lines.append("| variant | " + " | ".join(f"float T={t}" for t in STEPS) + " | " +
                     " | ".join(f"spikes T={t}" for t in STEPS) + " |")
        lines.append("|---|" + "---|" * (2 * len(STEPS)))
        for variant, v in r["variants"].items():
            fl = [_ms([d["accuracy"][str(t)] for d in v["float"]]) for t in STEPS]
            sp = [f"{np.mean([d['spikes'][str(t)] for d in v['deployed']]):.0f}" for t in STEPS]
            lines.append(f"| {variant} | " + " | ".join(fl) + " | " + " | ".join(sp) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
