"""VIB benchmark: time vs rate decoding on both tasks, the beta sweep, and the deployed
(quantized, bit-accurate) pipeline next to the float one. Writes the "vib" section of
benchmarks/RESULTS.md.

Every model is trained with `trainers.vib` at the task's defaults (`trainers.vib.config.
TASK_DEFAULTS`) and the seed shown; every figure is measured on the test split (256 fresh
drifting-blob sequences of 100 steps; the 450 test digits), with seeded input spikes:
- "sampled": the float encoder with the Bernoulli readout it was trained with + the decoder
  trained with it (the training-time pipeline);
- "det., no refit": the deterministic readout snnc deploys (fires where sigmoid(v - v_th) > 1/2)
  + the same decoder;
- "float": the deterministic readout + the decoder refitted to it (the deployed decoder), on the
  float backend;
- "cpu": the same after `compile_model` for loihi2 (8-bit weights, Lava fixed point) on snnc's
  bit-accurate simulator;
- Lava: the compiled encoder on Lava's fixed-point models (Loihi2SimCfg fixed_pt) on a few
  samples, spikes compared with the cpu backend's.

    python benchmarks/vib.py          # the full run (about 20 minutes on 2 shared cores)
    python benchmarks/vib.py --quick  # a smoke run (1 seed, few epochs); does not write RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import machine_line, update_section
from trainers.vib.config import TASK_DEFAULTS

SEEDS = (0, 1, 2)
BETAS = {"digits": (0.0, 1e-3, 1e-2, 1e-1, 1.0), "predictive-coding": (0.0, 0.3, 1.0, 3.0)}
LAVA_SAMPLES = {"digits": 4, "predictive-coding": 2}
TASK_LABEL = {
    "predictive-coding": "predictive coding (pattern acc.)",
    "digits": "digits (classifier acc.)",
}


def _train(task: str, out: Path, quick: bool, **overrides):
    from trainers.vib.config import config_for
    from trainers.vib.export import write_model
    from trainers.vib.train import train_vib

    if quick:
        overrides.setdefault("epochs", 2)
        overrides.setdefault("refit_epochs", 1)
    cfg = config_for(task, **overrides)
    t0 = time.perf_counter()
    result = train_vib(cfg)
    seconds = time.perf_counter() - t0
    graph, _ = write_model(result, out)
    return cfg, result, graph, seconds


def _evaluate(graph, path: Path, program, hw, samples: int | None) -> dict[str, float]:
    from trainers.vib.evaluate import evaluate_vib

    kw = dict(split="test", samples=samples)
    sampled = evaluate_vib(graph, path, readout="sampled", variant="sampled", **kw)
    no_refit = evaluate_vib(graph, path, backend="float", variant="sampled", **kw)
    flt = evaluate_vib(graph, path, backend="float", **kw)
    row = {
        "sampled": sampled["accuracy"],
        "sampled_rate": sampled["readout_rate"],
        "no_refit": no_refit["accuracy"],
        "float": flt["accuracy"],
        "float_rate": flt["readout_rate"],
    }
    if program is not None:
        cpu = evaluate_vib(program, path, backend="cpu", hw=hw, **kw)
        row.update(cpu=cpu["accuracy"], cpu_rate=cpu["readout_rate"])
    return row


def _compile(graph):
    from compiler.compile import compile_model
    from ir.hardware import load_hw

    hw = load_hw("loihi2")
    program, report = compile_model(graph, hw)
    return program, hw, report


def _lava_check(program, hw, path: Path, task: str) -> dict[str, float]:
    """Run a few test samples on Lava and on the cpu backend; compare the readout spikes."""
    from trainers.vib.evaluate import evaluate_vib

    n = LAVA_SAMPLES[task]
    t0 = time.perf_counter()
    lava = evaluate_vib(
        program, path, backend="lava", hw=hw, split="test", samples=n, keep_spikes=True
    )
    seconds = time.perf_counter() - t0
    cpu = evaluate_vib(
        program, path, backend="cpu", hw=hw, split="test", samples=n, keep_spikes=True
    )
    same = bool(np.array_equal(lava["spikes"], cpu["spikes"]))
    return {"samples": n, "identical": same, "spikes": int(cpu["spikes"].sum()),
            "values": int(cpu["spikes"].size), "seconds": seconds}


def _fmt(values: list[float]) -> str:
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 1:
        return f"{arr[0]:.3f}"
    return f"{arr.mean():.3f} ± {arr.std(ddof=1):.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="1 seed, 2 epochs; print only (no RESULTS.md)"
    )
    ap.add_argument("--no-lava", action="store_true", help="skip the Lava comparison")
    args = ap.parse_args(argv)
    seeds = SEEDS[:1] if args.quick else SEEDS
    samples = 32 if args.quick else None
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="snnc-vib-bench-"))
    rows: list[dict] = []
    lava_rows: list[dict] = []
    compile_notes: dict[str, dict] = {}
    for task in ("predictive-coding", "digits"):
        for rule, decodings, run_seeds in (
            ("score", ("time", "rate"), seeds),
            ("surrogate", ("time", "rate"), seeds[:1]),
        ):
            for decoding in decodings:
                for seed in run_seeds:
                    path = tmp / f"{task}-{rule}-{decoding}-{seed}.snnc"
                    _, _, graph, seconds = _train(
                        task, path, args.quick, decoding=decoding, rule=rule, seed=seed
                    )
                    program, hw, report = _compile(graph)
                    row = _evaluate(graph, path, program, hw, samples)
                    row.update(task=task, rule=rule, decoding=decoding, seed=seed, train_s=seconds)
                    rows.append(row)
                    print(
                        f"{task:18s} {rule:9s} {decoding:4s} seed {seed}: "
                        + " ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)),
                        flush=True,
                    )
                    if rule == "score" and decoding == "time" and seed == seeds[0]:
                        compile_notes[task] = report.get("quantization", {})
                        if not args.no_lava:
                            lava_rows.append({"task": task, **_lava_check(program, hw, path, task)})
                            print("  lava:", lava_rows[-1], flush=True)
    sweep: list[dict] = []
    for task, betas in BETAS.items():
        default_beta = TASK_DEFAULTS[task]["beta"]
        for beta in betas:
            done = [
                r
                for r in rows
                if (r["task"], r["rule"], r["decoding"], r["seed"]) == (task, "score", "time", 0)
            ]
            if beta == default_beta and done:  # the decoding comparison trained this one already
                row = {**done[0], "beta": beta, "r": TASK_DEFAULTS[task]["r"]}
            else:
                path = tmp / f"{task}-beta-{beta}.snnc"
                cfg, _, graph, _ = _train(task, path, args.quick, beta=beta, seed=0)
                row = _evaluate(graph, path, None, None, samples)
                row.update(task=task, beta=beta, r=cfg.r)
            sweep.append(row)
            print(
                f"beta {task:18s} {beta:g}: rate {row['sampled_rate']:.3f} (r {cfg.r}) "
                f"metric {row['sampled']:.3f}",
                flush=True,
            )
    minutes = (time.perf_counter() - started) / 60
    body = _render(rows, sweep, lava_rows, compile_notes, seeds, minutes)
    if args.quick:
        print(body)
        return 0
    update_section("vib", "VIB: SNN encoder + host decoder (information bottleneck)", body)
    print(f"wrote the vib section of benchmarks/RESULTS.md ({minutes:.1f} min)")
    return 0


def _render(rows, sweep, lava_rows, compile_notes, seeds, minutes) -> str:
    out = [machine_line() + f" Whole run: {minutes:.1f} min (`python benchmarks/vib.py`).", ""]
    out.append(
        "Test split; sampled readout = the trained Bernoulli readout + its decoder; det. = the "
        "deterministic readout snnc deploys (v > v_th, i.e. sigmoid(v - v_th) > 1/2) with the "
        "trained decoder (no refit) or the decoder refitted to it (float, cpu); cpu = compiled for "
        "loihi2 and run bit-accurately. Readout rates are spikes per neuron per step. "
        "Task settings: "
        + "; ".join(
            f"{t}: "
            + ", ".join(
                f"{k}={v}"
                for k, v in TASK_DEFAULTS[t].items()
                if k in ("hidden", "n_readout", "steps", "beta", "r", "epochs", "window")
            )
            for t in ("predictive-coding", "digits")
        )
        + "."
    )
    out.append("")
    out.append(
        f"### Time vs rate decoding (mean ± std over seeds {', '.join(map(str, seeds))} "
        f"for the score rule; seed {seeds[0]} for surrogate)"
    )
    out.append("")
    out.append(
        "| task | rule | decoding | sampled readout | det., no refit | det. float | "
        "det. cpu (loihi2) | rate sampled | rate deployed (cpu) | train s |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    keys = []
    for r in rows:
        k = (r["task"], r["rule"], r["decoding"])
        if k not in keys:
            keys.append(k)
    for task, rule, decoding in keys:
        sel = [r for r in rows if (r["task"], r["rule"], r["decoding"]) == (task, rule, decoding)]

        def col(name: str, sel: list[dict] = sel) -> str:
            return _fmt([r[name] for r in sel])

        out.append(
            f"| {TASK_LABEL[task]} | {rule} | {decoding} | {col('sampled')} | {col('no_refit')} | "
            f"{col('float')} | {col('cpu')} | {col('sampled_rate')} | {col('cpu_rate')} | "
            f"{np.median([r['train_s'] for r in sel]):.0f} |"
        )
    out.append("")
    out.append(
        "Per seed (score rule), time / rate, sampled readout: "
        + "; ".join(
            f"{task} seed {s}: "
            + " / ".join(
                f"{next(r['sampled'] for r in rows if (r['task'], r['rule'], r['decoding'], r['seed']) == (task, 'score', d, s)):.3f}"  # noqa: E501 (one replacement field; it cannot span lines before Python 3.12)
                for d in ("time", "rate")
            )
            for task in ("predictive-coding", "digits")
            for s in seeds
        )
        + "."
    )
    pairs = [(t, s) for t in ("predictive-coding", "digits") for s in seeds]

    def pick(task, decoding, seed, key):
        return next(
            r[key]
            for r in rows
            if (r["task"], r["rule"], r["decoding"], r["seed"]) == (task, "score", decoding, seed)
        )

    wins = sum(pick(t, "time", s, "sampled") > pick(t, "rate", s, "sampled") for t, s in pairs)
    out.append(
        f"Time decoding beats rate decoding (score rule, sampled readout) in {wins} of "
        f"{len(pairs)} (task, seed) pairs."
    )
    diffs = [abs(r["cpu"] - r["float"]) for r in rows]
    out.append(
        "Deployed bit-accurate vs float (same decoder, same spikes in): largest metric difference "
        f"over all {len(rows)} models {max(diffs):.3f}, median {np.median(diffs):.3f}."
    )
    gain = [r["float"] - r["sampled"] for r in rows]
    out.append(
        "Deterministic readout (with refitted decoder) minus sampled readout: median "
        f"{np.median(gain):+.3f}, range {min(gain):+.3f} to {max(gain):+.3f}; without the refit: "
        f"median {np.median([r['no_refit'] - r['sampled'] for r in rows]):+.3f}."
    )
    out.append("")
    out.append(
        "### Beta sweep (score rule, time decoding, seed 0): the readout rate moves toward r"
    )
    out.append("")
    out.append(
        "| task | beta | r | readout rate (sampled) | abs(rate - r) | "
        "sampled readout metric | det. float metric |"
    )
    out.append("|---|---|---|---|---|---|---|")
    for r in sweep:
        out.append(
            f"| {TASK_LABEL[r['task']]} | {r['beta']:g} | {r['r']:g} | {r['sampled_rate']:.3f} | "
            f"{abs(r['sampled_rate'] - r['r']):.3f} | {r['sampled']:.3f} | {r['float']:.3f} |"
        )
    out.append("")
    out.append(
        "### Quantization of the deployed encoders (loihi2, score rule, time decoding, seed 0)"
    )
    out.append("")
    out.append("| task | projection | weight bits | weight_exp | rel. weight error | clipped |")
    out.append("|---|---|---|---|---|---|")
    for task, quant in compile_notes.items():
        for name, proj in quant.get("projections", {}).items():
            part = proj.get("parts", [{}])[0]
            out.append(
                f"| {TASK_LABEL[task]} | {name} | {part.get('num_weight_bits')} | "
                f"{part.get('weight_exp')} | {proj.get('rel_error', float('nan')):.4f} | "
                f"{proj.get('clipped_fraction', float('nan')):.4f} |"
            )
    out.append("")
    for task, quant in compile_notes.items():
        ro = quant.get("populations", {}).get("readout", {})
        out.append(
            f"{TASK_LABEL[task]}: readout du {ro.get('du')}, dv {ro.get('dv')}; alpha_mem float "
            f"{ro.get('alpha_mem')} -> fixed {ro.get('alpha_mem_fixed')} "
            "(tau_mem = 0 is not representable: dv = 4095 keeps 1/4096 of v per step), alpha_syn "
            f"{ro.get('alpha_syn', float('nan')):.5f} -> "
            f"{ro.get('alpha_syn_fixed', float('nan')):.5f}."
        )
    out.append("")
    out.append("### Deployed encoder on Lava vs the cpu backend")
    out.append("")
    if lava_rows:
        out.append("| task | samples | readout values compared | spikes | identical | Lava s |")
        out.append("|---|---|---|---|---|---|")
        for r in lava_rows:
            out.append(
                f"| {TASK_LABEL[r['task']]} | {r['samples']} | {r['values']} | {r['spikes']} | "
                f"{'yes' if r['identical'] else 'NO'} | {r['seconds']:.1f} |"
            )
    else:
        out.append("Not run (--no-lava).")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("SNNC_PROGRESS", "0")
    # run_all.py runs this file with runpy: exit only on failure, so the next benchmark runs.
    if main() != 0:
        sys.exit(1)
