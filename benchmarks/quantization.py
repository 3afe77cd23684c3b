"""Quantization: deployed (bit-accurate) vs float SNN accuracy of converted networks.

For each network the float SNN (float backend) and the compiled program (snnc's compile
pipeline, cpu backend: Lava fixed_pt semantics) classify the whole test split from the *same*
input spikes: same T, same input seeds (sample i of the split is always encoded with
`encode(spec, x_i, T, seed, first_index=i)`). The difference is what quantization costs.

Networks:
- the conversion trainer's models (`trainers.conversion`, what `snnc train conversion` writes):
  digits MLP, Fashion-MNIST MLP 784-512-256-10 and CNN, at its default settings;
- "plain": bias-free ReLU MLPs trained here with PyTorch and converted by a plain per-layer
  conversion (integrate-and-fire, reset to 0, current cleared every step, thresholds 1 with the
  weights normalised by the 99.9th percentile of each layer's training activations, rate-coded
  inputs at max rate 1, spike-count readout with ties broken by the summed output potential).

    python benchmarks/quantization.py                 # every network, full test splits, 3 seeds
    python benchmarks/quantization.py --quick         # 1000 test samples, 1 seed (a smoke run)
    python benchmarks/quantization.py --only plain    # networks whose name contains "plain"

Split-exactness (issue 20): a compiled program now means the same however it is cut into blocks,
so a projection whose source population is cut gets whole activation units per synapse
(`compiler.passes.split_exact`). Where that changed a variant's program, the same variant is
also measured as snnc compiled it before (quantize alone: what the cpu backend ran), and the
section lists both: what split-exactness costs in accuracy.

Trained models are cached in benchmarks/.cache (training is deterministic; delete to retrain).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.evaluation import evaluate
from benchmarks._results import machine_line, update_section
from compiler.compile import CompileOptions, compile_model, compile_passes
from compiler.passes.base import PassContext
from compiler.pipeline import run_pipeline
from ir import LIF, Dense, Graph, Input, load_graph, load_hw, save_graph

SECTION = "quantization"
# name: (source, dataset, architecture, T); plain MLPs: (hidden sizes, epochs) as architecture
NETWORKS: dict[str, tuple[str, str, Any, int]] = {
    "digits MLP (conversion trainer)": ("conversion", "digits", "mlp", 64),
    "Fashion-MNIST MLP 784-512-256-10 (conversion trainer)": (
        "conversion",
        "fashion-mnist",
        "mlp",
        128,
    ),
    "Fashion-MNIST CNN (conversion trainer)": ("conversion", "fashion-mnist", "cnn", 128),
    "digits MLP 64-256-10 (plain)": ("plain", "digits", ((256,), 60), 64),
    "Fashion-MNIST MLP 784-512-256-10 (plain)": ("plain", "fashion-mnist", ((512, 256), 10), 128),
}
SEEDS = (0, 1, 2)
PERCENTILE = 99.9


CACHE = Path(__file__).resolve().parent / ".cache"
VARIANTS = {
    "per-layer": CompileOptions(),
    "per-channel": CompileOptions(granularity="per-channel"),
    "per-layer, split signs": CompileOptions(split_signs=True),
}


def trained_mlp(
    dataset: str, hidden: tuple[int, ...], epochs: int, seed: int = 0
) -> tuple[list[np.ndarray], float]:
    """train_mlp, cached in benchmarks/.cache (training is deterministic: it only saves time)."""
    path = CACHE / f"mlp-{dataset}-{'-'.join(map(str, hidden))}-e{epochs}-s{seed}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return [z[f"w{i}"] for i in range(len(hidden) + 1)], float(z["ann"])
    weights, ann = train_mlp(dataset, hidden, epochs, seed)
    CACHE.mkdir(exist_ok=True)
    np.savez(path, ann=ann, **{f"w{i}": w for i, w in enumerate(weights)})
    return weights, ann


def train_mlp(
    dataset: str, hidden: tuple[int, ...], epochs: int, seed: int = 0
) -> tuple[list[np.ndarray], float]:
    """A bias-free ReLU MLP (PyTorch, CPU, deterministic); returns the weight matrices (out, in)
    and the ANN's test accuracy."""
    import torch

    from trainers.datasets import load_dataset

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    data = load_dataset(dataset)
    x = torch.tensor(data.x_train.reshape(len(data.x_train), -1))
    y = torch.tensor(data.y_train)
    sizes = [x.shape[1], *hidden, data.n_classes]
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b, bias=False))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(128):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    weights = [
        m.weight.detach().numpy().astype(np.float64) for m in net if isinstance(m, torch.nn.Linear)
    ]
    x_test = data.x_test.reshape(len(data.x_test), -1)
    with torch.no_grad():
        acc = float((net(torch.tensor(x_test)).argmax(1).numpy() == data.y_test).mean())
    return weights, acc


def convert(weights: list[np.ndarray], dataset: str, steps: int, hidden: tuple[int, ...]) -> Graph:
    """Per-layer data-based normalisation (Diehl et al. 2015, Rueckauer et al. 2017): with
    lambda_l the 99.9th percentile of layer l's ReLU activations on training data,
    W_l' = W_l lambda_{l-1} / lambda_l and every threshold 1."""
    from trainers.datasets import load_dataset

    data = load_dataset(dataset)
    a = data.x_train.reshape(len(data.x_train), -1)[:10000].astype(np.float64)
    lam_prev = 1.0
    pops: dict = {"in": Input((a.shape[1],))}
    projs: dict = {}
    prev = "in"
    for i, w in enumerate(weights):
        a = np.maximum(a @ w.T, 0.0)
        lam = float(np.percentile(a, PERCENTILE))
        name = "out" if i == len(weights) - 1 else f"h{i + 1}"
        pops[name] = LIF((w.shape[0],), tau_syn=0.0, tau_mem=math.inf, v_th=1.0)
        projs[f"fc{i + 1}"] = Dense(prev, name, weight=w * lam_prev / lam)
        prev, lam_prev = name, lam
    meta = {
        "task": {"kind": "classification", "dataset": dataset, "n_classes": 10},
        "encoding": {"kind": "rate", "max_rate": 1.0, "steps": steps, "seed": 0},
        "readout": {"kind": "spike_count", "population": "out", "tie_break": "v_sum"},
        "trainer": {
            "name": "benchmarks/quantization.py plain conversion",
            "hidden": list(hidden),
            "percentile": PERCENTILE,
            "seed": 0,
        },
    }
    return Graph(populations=pops, projections=projs, dt=1e-3, metadata=meta)


def conversion_model(dataset: str, arch: str, steps: int) -> tuple[Graph, float]:
    """The conversion trainer's model at its defaults (cached), and its ANN's test accuracy."""
    path = CACHE / f"conversion-{dataset}-{arch}-T{steps}.snnc"
    info = path.with_suffix(".json")
    if path.is_file() and info.is_file():
        return load_graph(path), float(json.loads(info.read_text())["ann_test_accuracy"])
    from trainers.conversion.chain import chain_logits
    from trainers.conversion.trainer import ConversionOptions, train_conversion
    from trainers.datasets import load_dataset

    result, _ = train_conversion(
        ConversionOptions(dataset=dataset, arch=arch, steps=steps, threads=2)
    )
    data = load_dataset(dataset)
    ann = float((chain_logits(result.ann.chain, data.x_test).argmax(1) == data.y_test).mean())
    CACHE.mkdir(exist_ok=True)
    save_graph(result.graph, path)
    info.write_text(json.dumps({"ann_test_accuracy": ann}))
    return result.graph, ann


def build_network(source: str, dataset: str, arch: Any, steps: int) -> tuple[Graph, float]:
    if source == "conversion":
        return conversion_model(dataset, arch, steps)
    hidden, epochs = arch
    weights, ann = trained_mlp(dataset, hidden, epochs)
    return convert(weights, dataset, steps, hidden), ann


def unconstrained(model: Graph, hw, options: CompileOptions) -> Graph:
    """The program as snnc compiled it before split-exactness, as the cpu backend ran it:
    quantized with no constraint from the partition (placement does not change a cpu run)."""
    passes = [p for p in compile_passes(options) if p.name in ("split-signs", "quantize")]
    return run_pipeline(model, passes, PassContext(hw=hw, seed=options.seed))


def accuracy(
    graph: Graph, hw, backend: str, dataset: str, samples: int | None, steps: int, seed: int
) -> float:
    from trainers.datasets import load_dataset

    x, y = load_dataset(dataset).split("test")
    if samples is not None:
        x, y = x[:samples], y[:samples]
    result = evaluate(
        graph,
        hw,
        backend,
        x,
        y,
        graph.metadata["encoding"],
        graph.metadata["readout"],
        steps,
        seed,
        batch_size=250,
    )
    return result["accuracy"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1000 test samples, one input seed")
    parser.add_argument("--only", default="", help="networks whose name contains this text")
    parser.add_argument(
        "--split-exact",
        action="store_true",
        help="only what split-exactness costs: each variant before and after, on the cpu "
        "backend (its own RESULTS section)",
    )
    parser.add_argument(
        "--variants", default=";".join(VARIANTS), help="with --split-exact; ';' between names"
    )
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="with --split-exact")
    args = parser.parse_args()
    if args.split_exact:
        return split_exact_cost(args)
    samples, seeds = (1000, SEEDS[:1]) if args.quick else (None, SEEDS)
    have_conversion = importlib.util.find_spec("trainers.conversion") is not None
    hw = load_hw("loihi2")
    rows = []
    details = []
    skipped = []
    exact_rows: list[list[str]] = []
    for label, (source, dataset, arch, steps) in NETWORKS.items():
        if args.only not in label:
            continue
        if source == "conversion" and not have_conversion:
            skipped.append(label)
            continue
        t0 = time.perf_counter()
        model, ann = build_network(source, dataset, arch, steps)
        programs = {k: compile_model(model, hw, opts) for k, opts in VARIANTS.items()}
        acc = {"float": [accuracy(model, None, "float", dataset, samples, steps, s) for s in seeds]}
        for k, (program, _) in programs.items():
            acc[k] = [accuracy(program, hw, "cpu", dataset, samples, steps, s) for s in seeds]
        for k, (_program, report) in programs.items():
            made = report["split_exact"]["projections"]
            was = None
            if made:
                before = unconstrained(model, hw, VARIANTS[k])
                was = [accuracy(before, hw, "cpu", dataset, samples, steps, s) for s in seeds]
            exact_rows.append(_split_exact_cells(label, k, made, was, acc[k]))
        f = np.array(acc["float"])
        cells = [label, f"{ann:.2%}", str(steps), f"{f.mean():.2%} ± {f.std():.2%}"]
        for k in VARIANTS:
            d = np.array(acc[k])
            cells += [
                f"{d.mean():.2%} ± {d.std():.2%}",
                f"{100 * (d - f).mean():+.2f} pp (seeds {100 * (d - f).min():+.2f} to "
                f"{100 * (d - f).max():+.2f})",
            ]
        rows.append(cells)
        for k, (_, report) in programs.items():
            q = report["quantization"]
            errs = ", ".join(
                f"{n} {p['rel_error']:.2%} "
                f"(exp {'/'.join(str(x['weight_exp']) for x in p['parts'])})"
                for n, p in q["projections"].items()
            )
            vths = ", ".join(f"{n} {p['vth']}" for n, p in q["populations"].items())
            details.append(f"- {label}, {k}: relative weight error {errs}; vth {vths}")
        per_seed = "; ".join(
            f"seed {s}: " + ", ".join(f"{k} {v[i]:.2%}" for k, v in acc.items())
            for i, s in enumerate(seeds)
        )
        details.append(f"- {label} per seed: {per_seed} ({time.perf_counter() - t0:.0f} s)")
        print(" | ".join(rows[-1]), flush=True)
    n_text = "the whole test split" if samples is None else f"the first {samples} test samples"
    notes = (
        [f"- not measured: {', '.join(skipped)} (trainers.conversion is not installed)"]
        if skipped
        else []
    )
    body = "\n".join(
        [
            machine_line(),
            "",
            f"Accuracy on {n_text} (mean ± std over input seeds {', '.join(map(str, seeds))}); "
            "float SNN on the float backend; deployed = compiled for loihi2 (8-bit weights) and "
            "run bit-accurately on the cpu backend, from the same input spikes. The networks are "
            "described in benchmarks/quantization.py.",
            "",
            "| network | ANN | T | float SNN | "
            + " | ".join(f"deployed {k} | deployed - float" for k in VARIANTS)
            + " |",
            "|---|---|---|---|" + "---|---|" * len(VARIANTS),
            *("| " + " | ".join(r) + " |" for r in rows),
            "",
            *details,
            *notes,
            "",
            "**Split-exactness** (issue 20): every program above means the same cut into blocks "
            "as whole. Projections from populations that the partition cuts (compiled for "
            "loihi2) were quantized to whole activation units where they had negative "
            "exponents; this is what that cost against the program snnc compiled before "
            "(quantize alone, the cpu backend's meaning then), same inputs:",
            "",
            *SPLIT_EXACT_HEAD,
            *("| " + " | ".join(r) + " |" for r in exact_rows),
        ]
    )
    update_section(SECTION, "Quantization: deployed vs float SNN accuracy", body)
    return 0


SPLIT_EXACT_HEAD = (
    "| network | variant | projections made split-exact | before | split-exact | cost |",
    "|---|---|---|---|---|---|",
)


def _split_exact_cells(
    label: str, variant: str, made: list, was: list | None, now: list | None
) -> list[str]:
    """One row of the split-exactness table: the projections split-exactness changed, and the
    accuracy before and after (per input seed) with its difference."""
    if not made:
        return [label, variant, "none", "", "", "the same program"]
    d = np.array(now) - np.array(was)
    what = ", ".join(
        f"{m['projection']} ({m['source']}: {m['pieces']} blocks; rel.err "
        f"{m.get('rel_error_unconstrained', 0):.2%} -> {m.get('rel_error', 0):.2%})"
        for m in made
    )
    return [
        label,
        variant,
        what,
        f"{np.mean(was):.2%}",
        f"{np.mean(now):.2%}",
        f"{100 * d.mean():+.2f} pp (seeds {100 * d.min():+.2f} to {100 * d.max():+.2f})",
    ]


def split_exact_cost(args: argparse.Namespace) -> int:
    """What split-exactness costs in accuracy (issue 20), measured alone: for each network and
    variant whose program it changed, the program as snnc compiled it before (quantize alone)
    and now, on the whole test split, the same input seeds. Writes the "quantization-split-exact"
    section of RESULTS.md."""
    hw = load_hw("loihi2")
    variants = [v.strip() for v in args.variants.split(";") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {'; '.join(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    lines = []
    for label, (source, dataset, arch, steps) in NETWORKS.items():
        if args.only not in label:
            continue
        t0 = time.perf_counter()
        model, _ = build_network(source, dataset, arch, steps)
        for k in variants:
            program, report = compile_model(model, hw, VARIANTS[k])
            made = report["split_exact"]["projections"]
            was = now = None
            if made:
                before = unconstrained(model, hw, VARIANTS[k])
                was = [accuracy(before, hw, "cpu", dataset, None, steps, s) for s in seeds]
                now = [accuracy(program, hw, "cpu", dataset, None, steps, s) for s in seeds]
            lines.append("| " + " | ".join(_split_exact_cells(label, k, made, was, now)) + " |")
            print(lines[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)
    body = "\n".join(
        [
            machine_line(),
            "",
            "`python benchmarks/quantization.py --split-exact "
            + " ".join(
                f"--{k} {v!r}" for k, v in (("only", args.only), ("variants", args.variants),
                                             ("seeds", args.seeds)) if v
            )
            + "`. Every program means the same cut into blocks as whole (issue 20): projections "
            "from populations the partition cuts (compiled for loihi2) are quantized to whole "
            "activation units where they had negative exponents. Accuracy on the whole test "
            "split, deployed on the cpu backend (bit-exact), before (quantize alone, what snnc "
            "compiled until issue 20) and split-exact, the same input spikes (mean over the input "
            "seeds):",
            "",
            *SPLIT_EXACT_HEAD,
            *lines,
        ]
    )
    update_section("quantization-split-exact", "Quantization: what split-exactness costs", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
