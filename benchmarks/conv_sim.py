"""The cpu backend on the Fashion-MNIST conversion CNN: ms per sample-step, before issue 26 and now.

Network: what `snnc train conversion --dataset fashion-mnist --arch cnn` produces at its defaults
(T = 64; `benchmarks.quantization.conversion_model`, cached in benchmarks/.cache: training and
tuning it takes an hour or more here), compiled as benchmarks/conversion.py compiles every
Fashion-MNIST model (loihi2, calibrated on 500 validation images, `--split-signs`): input
1x28x28 -> conv 5x5 pad 2 -> 16x28x28 IF -> (2x2 average pool folded into) conv 6x6 stride 2
pad 2 -> 20x14x14 IF -> dense -> 10, each projection split into an excitatory and an
inhibitory part with 8-bit magnitudes; with `--trained`. By default the same shapes with
seeded random weights, every threshold scaled by one factor (bisection) so that the network
makes as many spikes per inference as the trained model (`TRAINED_SPIKES`): the event-driven
kernels cost in proportion to the spikes, the im2col products of the engine before do not. The
inputs are Fashion-MNIST test images, encoded as the model's metadata says (rate: Bernoulli with
the pixel intensity).

Measured side by side in one run, medians of repeated alternating runs, wall and CPU time
(CPU: all threads; on a shared machine the wall time includes waiting for a core): the fast
engine now; the fast engine of the commit before issue 26 (`BEFORE`, extracted with `git
archive` into benchmarks/.cache and run in its own process on the same graph and inputs, timed
inside that process after a warm-up run: convolutions as float64/float32 im2col products); the
reference engine on a few samples. Output spikes must be equal across all three, and every
population's spikes and voltages between the fast and the reference engine.

    python benchmarks/conv_sim.py [--samples N] [--steps T] [--repeats R] [--trained] [--quick]
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

from backends.base import Probe  # noqa: E402
from benchmarks._results import machine_line, update_section  # noqa: E402
from ir import QLIF, Graph, Input, QConv2d, QDense  # noqa: E402

SEED = 20261206


def _split(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(w, 0), np.minimum(w, 0)


VTH = (2500, 3000, 2000)
# Spikes per inference (all neuron populations) of the trained, deployed Fashion-MNIST
# conversion CNN at T steps: benchmarks/RESULTS.md, conversion section ("none" row).
TRAINED_SPIKES = {16: 8123, 32: 18982, 64: 40585, 128: 83632, 256: 169564}
TUNE_SAMPLES = 32


def tuned_scale(steps: int) -> tuple[float, float]:
    """The factor on every threshold of `fmnist_cnn` (bisection on a log scale) that makes its
    spikes per inference at `steps` those of the trained model; and the spikes it makes."""
    from backends.cpu.simulator import run

    target = TRAINED_SPIKES[steps]
    pops = ("c1", "c2", "out")
    lo, hi, spikes = 0.25, 4.0, 0.0
    for _ in range(12):
        mid = (lo * hi) ** 0.5
        graph = fmnist_cnn(vth=tuple(int(round(v * mid)) for v in VTH))
        x = program_inputs(graph, TUNE_SAMPLES, steps)
        trace = run(graph, x, probes=[Probe(p) for p in pops], engine="fast")
        spikes = sum(float(trace.get(p).sum()) for p in pops) / TUNE_SAMPLES
        lo, hi = (mid, hi) if spikes > target else (lo, mid)
    return mid, spikes


def fmnist_cnn(seed: int = SEED, vth: tuple[int, int, int] = VTH) -> Graph:
    """The conversion CNN's shapes with seeded 8-bit weights, split into signs."""
    rng = np.random.default_rng(seed)

    def weights(shape, positive_bias):
        w = rng.normal(positive_bias, 1.0, shape)
        return np.clip(np.round(w / np.abs(w).max() * 255), -255, 255).astype(np.int64)

    c1 = weights((16, 1, 5, 5), 0.3)
    c2 = weights((20, 16, 6, 6), 0.05)
    d3 = weights((10, 3920), 0.02)
    lif = dict(du=4095, dv=0)
    pops = {
        "in": Input((1, 28, 28)),
        "c1": QLIF((16, 28, 28), vth=vth[0], **lif),
        "c2": QLIF((20, 14, 14), vth=vth[1], **lif),
        "out": QLIF((10,), vth=vth[2], **lif),
    }
    projs = {}
    for name, src, dst, w, geo in (
        ("w1", "in", "c1", c1, dict(padding=(2, 2))),
        ("w2", "c1", "c2", c2, dict(stride=(2, 2), padding=(2, 2))),
    ):
        exc, inh = _split(w)
        projs[f"{name}_exc"] = QConv2d(src, dst, weight=exc, **geo)
        projs[f"{name}_inh"] = QConv2d(src, dst, weight=inh, **geo)
    exc, inh = _split(d3)
    projs["w3_exc"] = QDense("c2", "out", weight=exc - exc % 2)
    projs["w3_inh"] = QDense("c2", "out", weight=inh - inh % 2)
    return Graph(populations=pops, projections=projs, metadata={"benchmark": "conv_sim"})


BEFORE = "a422637"  # main before issue 26's first commit (edfe015)
CACHE = Path(__file__).resolve().parent / ".cache"
ROOT = Path(__file__).resolve().parent.parent

# Runs in the extracted tree of BEFORE: rebuilds the graph from its nodes' fields, warms the
# numba kernels on one sample, then times one run of the whole batch.
_BEFORE_RUNNER = r"""
import json, sys, time
import numpy as np
tree, spec_path, arrays_path, x_path, out_path = sys.argv[1:6]
sys.path.insert(0, tree)
import ir.nodes as nodes
from backends.base import Probe
from backends.cpu.simulator import run
from ir import Graph
spec = json.load(open(spec_path))
arrays = np.load(arrays_path)
def value(key, v):
    if v == "@array":
        return arrays[key]
    return tuple(v) if isinstance(v, list) else v
def build(part):
    return {name: getattr(nodes, cls)(**{k: value(f"{name}/{k}", v) for k, v in fields.items()})
            for name, (cls, fields) in spec[part].items()}
graph = Graph(populations=build("populations"), projections=build("projections"))
x = np.load(x_path)
probes = [Probe(spec["probe"])]
run(graph, x[:1], probes=probes, engine="fast")
wall, cpu = time.perf_counter(), time.process_time()
trace = run(graph, x, probes=probes, engine="fast")
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
np.save(out_path, trace.get(spec["probe"]))
print(json.dumps({"wall": wall, "cpu": cpu}))
"""


def _node_fields(node) -> tuple[str, dict]:
    """A node's fields, less those at their default (fields added since BEFORE, such as a
    projection's `port`, are unknown there; at their default they mean what BEFORE did)."""
    from dataclasses import MISSING, fields

    out = {}
    for f in fields(node):
        v = getattr(node, f.name)
        if not isinstance(v, np.ndarray) and f.default is not MISSING and v == f.default:
            continue
        out[f.name] = "@array" if isinstance(v, np.ndarray) else v
    return type(node).__name__, out


def _export(graph: Graph, probe: str, work: Path) -> tuple[Path, Path]:
    """The graph's nodes as JSON fields and an npz of their arrays (no placement, no
    metadata: a cpu run does not read them), for the BEFORE tree to rebuild."""
    import json

    spec: dict = {"populations": {}, "projections": {}, "probe": probe}
    arrays = {}
    for part, items in (("populations", graph.populations), ("projections", graph.projections)):
        for name, node in items.items():
            cls, fields = _node_fields(node)
            spec[part][name] = (cls, fields)
            arrays.update({f"{name}/{k}": getattr(node, k) for k, v in fields.items()
                           if v == "@array"})
    (work / "graph.json").write_text(json.dumps(spec))
    np.savez(work / "arrays.npz", **arrays)
    return work / "graph.json", work / "arrays.npz"


def before_tree(commit: str = BEFORE) -> Path:
    """The repository at `commit` (git archive), extracted once into benchmarks/.cache."""
    import subprocess
    import tarfile

    tree = CACHE / f"engine-{commit}"
    if not (tree / "backends" / "cpu" / "fast.py").is_file():
        CACHE.mkdir(exist_ok=True)
        tar = CACHE / f"engine-{commit}.tar"
        subprocess.run(["git", "archive", "-o", str(tar), commit], cwd=ROOT, check=True)
        with tarfile.open(tar) as archive:
            archive.extractall(tree, filter="data")
        tar.unlink()
    return tree


def trained_program() -> Graph:
    """The trained conversion CNN (cached), compiled like benchmarks/conversion.py (cached)."""
    import subprocess

    from benchmarks.conversion import COMPILE_FLAGS
    from benchmarks.quantization import CACHE as MODELS
    from benchmarks.quantization import conversion_model
    from compiler.build import read_build

    conversion_model("fashion-mnist", "cnn", 64)  # trains and caches when missing
    model = MODELS / "conversion-fashion-mnist-cnn-T64.snnc"
    build = CACHE / "conv_sim-fashion-mnist-cnn-T64"
    if not (build / "program.snnc").is_file():
        cmd = [sys.executable, "-m", "compiler.cli", "compile", str(model), *COMPILE_FLAGS,
               "-o", str(build)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"snnc compile failed: {proc.stderr.strip()}")
    return read_build(build).program


def program_inputs(graph: Graph, samples: int, steps: int, seed: int = SEED) -> np.ndarray:
    from trainers.datasets import load_dataset
    from trainers.encoders import encode

    x, _ = load_dataset("fashion-mnist").split("test")
    spec = graph.metadata.get("encoding", {"kind": "rate"})
    return encode(spec, x[:samples], steps, seed).reshape(samples, steps, -1)


def _run_before(tree: Path, spec: Path, arrays: Path, x_path: Path, work: Path):
    import json
    import subprocess

    out = work / "before_out.npy"
    env = {**os.environ, "PYTHONPATH": str(tree), "SNNC_MAX_LOAD_BYTES": str(8 << 30)}
    proc = subprocess.run(
        [sys.executable, "-c", _BEFORE_RUNNER, str(tree), str(spec), str(arrays), str(x_path),
         str(out)],
        capture_output=True, text=True, cwd=tree, env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the engine of {BEFORE} failed: {proc.stderr.strip()[-2000:]}")
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    return times["wall"], times["cpu"], np.load(out)


def measure(graph: Graph, samples: int, steps: int, repeats: int, ref_samples: int) -> dict:
    """Timed runs record the output spikes (what an evaluation reads), alternating between
    the engines so that each sees the same machine load; one more run records every
    population's spikes and voltages, for the reference comparison."""
    import tempfile

    from backends.cpu.simulator import run

    neurons = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
    readout = graph.metadata.get("readout", {}).get("population", neurons[-1])
    x = program_inputs(graph, samples, steps)
    out = [Probe(readout)]
    run(graph, x[:1], probes=out, engine="fast")  # numba kernels loaded
    tree = before_tree()
    now_name, before_name = "fast engine now", f"fast engine before issue 26 ({BEFORE})"
    wall: dict[str, list[float]] = {now_name: [], before_name: []}
    cpu: dict[str, list[float]] = {now_name: [], before_name: []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec, arrays = _export(graph, readout, work)
        np.save(work / "x.npy", x)
        same_before = True
        for _ in range(repeats):
            w, c = time.perf_counter(), time.process_time()
            now = run(graph, x, probes=out, engine="fast")
            wall[now_name].append(time.perf_counter() - w)
            cpu[now_name].append(time.process_time() - c)
            w_b, c_b, spikes_b = _run_before(tree, spec, arrays, work / "x.npy", work)
            wall[before_name].append(w_b)
            cpu[before_name].append(c_b)
            same_before &= np.array_equal(now.get(readout), spikes_b)
    every = [Probe(p, ("spikes", "v")) for p in neurons]
    trace = run(graph, x[:ref_samples], probes=every, engine="fast")
    w, c = time.perf_counter(), time.process_time()
    ref = run(graph, x[:ref_samples], probes=every, engine="reference")
    ref_wall, ref_cpu = time.perf_counter() - w, time.process_time() - c
    same_ref = all(
        np.array_equal(trace.get(p.population, v), ref.get(p.population, v))
        for p in every for v in p.variables
    )
    scale = 1e3 / (samples * steps)
    rates = run(graph, x, probes=[Probe(p) for p in neurons], engine="fast")
    return {
        "samples": samples,
        "steps": steps,
        "ref_samples": ref_samples,
        "wall": {k: [t * scale for t in v] for k, v in wall.items()},
        "cpu": {k: [t * scale for t in v] for k, v in cpu.items()},
        "ref": (ref_wall * 1e3 / (ref_samples * steps), ref_cpu * 1e3 / (ref_samples * steps)),
        "same": {f"before ({BEFORE}), output spikes": bool(same_before),
                 "reference, every population's spikes and v": bool(same_ref)},
        "rates": {p: float(rates.get(p).mean()) for p in neurons},
        "input_rate": float(x.mean()),
        "now": now_name,
        "before": before_name,
    }


def report(r: dict, what: str) -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    med = {k: statistics.median(v) for k, v in r["wall"].items()}
    med_cpu = {k: statistics.median(v) for k, v in r["cpu"].items()}
    now, before = r["now"], r["before"]
    lines = [
        machine_line() + f" Load average (1, 5, 15 min) at the end: {load} (shared machine).",
        "",
        f"{what}; Fashion-MNIST test images encoded as the model says: input rate "
        f"{r['input_rate']:.3f}, firing rates "
        + ", ".join(f"{p} {v:.3f}" for p, v in r["rates"].items())
        + f" spikes/neuron/step; {r['samples']} samples x {r['steps']} steps, "
        f"{len(r['wall'][now])} alternating runs of each.",
        "",
        "| engine | wall ms per sample-step (median) | wall runs | CPU ms per sample-step "
        "(median) | CPU runs |",
        "|---|---|---|---|---|",
    ]
    for k in (now, before):
        lines.append(
            f"| {k} | {med[k]:.4f} | {', '.join(f'{t:.4f}' for t in r['wall'][k])} | "
            f"{med_cpu[k]:.4f} | {', '.join(f'{t:.4f}' for t in r['cpu'][k])} |"
        )
    lines.append(f"| reference engine ({r['ref_samples']} samples) | {r['ref'][0]:.4f} | | "
                 f"{r['ref'][1]:.4f} | |")
    lines += [
        "",
        f"Speed-up of the fast engine now over before issue 26: **{med[before] / med[now]:.1f}x** "
        f"wall, **{med_cpu[before] / med_cpu[now]:.1f}x** CPU (medians). Equal: "
        + ", ".join(f"{k}: **{v}**" for k, v in r["same"].items())
        + f" (reference on the first {r['ref_samples']} samples).",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--ref-samples", type=int, default=2)
    parser.add_argument("--trained", action="store_true",
                        help="the trained model (trained and cached when missing: about an "
                        "hour); default: its shapes with seeded weights, tuned to its spikes")
    parser.add_argument("--quick", action="store_true", help="smoke run; RESULTS.md untouched")
    args = parser.parse_args()
    # the run budget counts the im2col engine's (B, T, n) current buffers: 64 x 64 passes 1 GiB
    os.environ.setdefault("SNNC_MAX_LOAD_BYTES", str(8 << 30))
    if args.quick:
        args.samples, args.steps, args.repeats, args.ref_samples = 4, 16, 1, 1
    if not args.trained and args.steps not in TRAINED_SPIKES:
        parser.error(f"--steps must be one of {sorted(TRAINED_SPIKES)} (the trained model's "
                     "spike counts are known there), or use --trained")
    if not args.trained:
        scale, spikes = tuned_scale(args.steps) if not args.quick else (1.0, 0.0)
        graph = fmnist_cnn(vth=tuple(int(round(v * scale)) for v in VTH))
        what = ("Fashion-MNIST conversion CNN shapes (1x28x28 -> conv5x5 -> 16x28x28 -> "
                "pool+conv3x3 as one 6x6/2 conv -> 20x14x14 -> 10; split signs; seeded random "
                "8-bit weights, not the trained model: training and tuning it did not finish "
                "within this session on the shared machine), thresholds scaled by "
                f"{scale:.3f} so that the network makes {spikes:,.0f} spikes per inference "
                f"at T = {args.steps} (neuron populations, mean over {TUNE_SAMPLES} images), "
                f"the trained model's {TRAINED_SPIKES[args.steps]:,} (benchmarks/RESULTS.md, "
                "conversion section)")
    else:
        graph = trained_program()
        what = ("The trained Fashion-MNIST conversion CNN (`snnc train conversion --dataset "
                "fashion-mnist --arch cnn`, defaults, T = 64), compiled for loihi2 with "
                "calibration and --split-signs")
    r = measure(graph, args.samples, args.steps, args.repeats, args.ref_samples)
    text = report(r, what)
    print(text)
    if not all(r["same"].values()):
        print("error: the engines differ", file=sys.stderr)
        return 1
    if not args.quick:
        title = "Convolutions on the cpu backend (Fashion-MNIST conversion CNN)"
        update_section("conv_sim", title, text)
    return 0


if __name__ == "__main__":
    status = main()
    if status:  # run_all.py runs this module in its own process: exit only on failure
        sys.exit(status)
