"""The cpu backend on the Fashion-MNIST conversion CNN's shapes: ms per sample-step.

Network (the shapes of `snnc train conversion --arch cnn` on Fashion-MNIST, compiled with
`--split-signs`; see benchmarks/conversion.py): input 1x28x28 -> conv 5x5 pad 2 -> 16x28x28 LIF
-> (2x2 average pool folded into) conv 6x6 stride 2 pad 2 -> 20x14x14 LIF -> dense -> 10 LIF,
each projection split into an excitatory and an inhibitory part with 8-bit magnitudes. The
weights are seeded random (training the CNN and tuning it takes about an hour here), scaled so
that the hidden layers fire at rates like the trained model's; the inputs are Fashion-MNIST test
images, rate-encoded (`trainers.encoders`, Bernoulli with the pixel intensity).

Measured side by side in one run, medians of repeated alternating runs: the fast engine as it
is; the fast engine with its convolutions forced through the im2col product (what it did for
every convolution before they were event-driven, and still does for float graphs and sums
beyond 2^53; `--no-im2col` skips it); the reference engine on a few samples. Every engine's
spikes and membrane voltages must be equal.

    python benchmarks/conv_sim.py [--samples N] [--steps T] [--repeats R] [--quick]
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


def fmnist_cnn(seed: int = SEED, vth: tuple[int, int, int] = (2500, 3000, 2000)) -> Graph:
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


def fmnist_inputs(samples: int, steps: int, seed: int = SEED) -> np.ndarray:
    from trainers.datasets import load_dataset
    from trainers.encoders import encode

    x, _ = load_dataset("fashion-mnist").split("test")
    return encode({"kind": "rate"}, x[:samples], steps, seed).reshape(samples, steps, 784)


def _timed(fn, repeats: int) -> tuple[list[float], object]:
    runs, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return runs, result


def measure(samples: int, steps: int, repeats: int, im2col: bool, ref_samples: int) -> dict:
    """Timed runs record the output spikes (what an evaluation reads), alternating between
    the engines so that each sees the same machine load; one more run of each records every
    population's spikes and voltages, which must be equal."""
    from backends.cpu import fast
    from backends.cpu.simulator import run

    graph = fmnist_cnn()
    x = fmnist_inputs(samples, steps)
    original = fast._conv_events

    def dense(*_args) -> bool:
        return False  # every convolution as the im2col product (float64/float32 BLAS)

    def fast_run(probes, as_im2col=False):
        fast._conv_events = dense if as_im2col else original
        try:
            return run(graph, x, probes=probes, engine="fast")
        finally:
            fast._conv_events = original

    out = [Probe("out")]
    fast_run(out)  # numba kernels loaded
    names = ["fast engine, event-driven convolutions"]
    if im2col:
        names.append("fast engine, convolutions as im2col products")
    runs: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(repeats):
        for k in names:
            start = time.perf_counter()
            fast_run(out, as_im2col="im2col" in k)
            runs[k].append(time.perf_counter() - start)
    every = [Probe(p, ("spikes", "v")) for p in ("c1", "c2", "out")]
    trace = fast_run(every)
    same = {}
    if im2col:
        other = fast_run(every, as_im2col=True)
        same["im2col"] = all(
            np.array_equal(trace.get(p.population, v), other.get(p.population, v))
            for p in every for v in p.variables
        )
    start = time.perf_counter()
    ref = run(graph, x[:ref_samples], probes=every, engine="reference")
    ref_s = time.perf_counter() - start
    same["reference"] = all(
        np.array_equal(trace.get(p.population, v)[:ref_samples], ref.get(p.population, v))
        for p in every for v in p.variables
    )
    per_step = {k: [r / (samples * steps) * 1e3 for r in v] for k, v in runs.items()}
    per_step["reference engine"] = [ref_s / (ref_samples * steps) * 1e3]
    return {
        "samples": samples,
        "steps": steps,
        "ref_samples": ref_samples,
        "ms": {k: statistics.median(v) for k, v in per_step.items()},
        "runs": per_step,
        "same": same,
        "rates": {p: float(trace.get(p).mean()) for p in ("c1", "c2", "out")},
        "input_rate": float(x.mean()),
    }


def report(r: dict) -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    fast_ms = r["ms"]["fast engine, event-driven convolutions"]
    lines = [
        machine_line() + f" Load average (1, 5, 15 min) at the end: {load} (shared machine).",
        "",
        "Fashion-MNIST conversion CNN shapes (1x28x28 -> conv5x5 -> 16x28x28 -> pool+conv3x3 as "
        "one 6x6/2 conv -> 20x14x14 -> 10; split signs; seeded random 8-bit weights, not the "
        "trained model), rate-encoded Fashion-MNIST test images: input rate "
        f"{r['input_rate']:.3f}, firing rates "
        + ", ".join(f"{p} {v:.3f}" for p, v in r["rates"].items())
        + f" spikes/neuron/step; {r['samples']} samples x {r['steps']} steps.",
        "",
        "| engine | ms per sample-step (median) | runs | vs fast |",
        "|---|---|---|---|",
    ]
    for k, v in r["ms"].items():
        runs = ", ".join(f"{t:.4f}" for t in r["runs"][k])
        lines.append(f"| {k} | {v:.4f} | {runs} | {v / fast_ms:.1f}x |")
    lines += [
        "",
        "Spikes and voltages of every population equal: "
        + ", ".join(f"fast vs {k}: **{v}**" for k, v in r["same"].items())
        + f" (reference on the first {r['ref_samples']} samples).",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ref-samples", type=int, default=2)
    parser.add_argument("--no-im2col", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run; RESULTS.md untouched")
    args = parser.parse_args()
    # the run budget counts the im2col engine's (B, T, n) current buffers: 64 x 64 passes 1 GiB
    os.environ.setdefault("SNNC_MAX_LOAD_BYTES", str(8 << 30))
    if args.quick:
        args.samples, args.steps, args.repeats, args.ref_samples = 4, 16, 1, 1
    r = measure(args.samples, args.steps, args.repeats, not args.no_im2col, args.ref_samples)
    text = report(r)
    print(text)
    if not all(r["same"].values()):
        print("error: the engines differ", file=sys.stderr)
        return 1
    if not args.quick:
        title = "Convolutions on the cpu backend (Fashion-MNIST CNN shapes)"
        update_section("conv_sim", title, text)
    return 0


if __name__ == "__main__":
    status = main()
    if status:  # run_all.py runs this module in its own process: exit only on failure
        sys.exit(status)
