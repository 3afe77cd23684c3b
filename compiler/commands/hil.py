"""`snnc hil BUILD --reference cpu --target lava (--input IN.npy | --dataset D --samples N | --replay FILE)`."""

from __future__ import annotations

import argparse
import json
import sys

from ir.atomic import atomic_outputs, atomic_write_text
from ir.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hil", help="run a compiled program on a reference and a target; pin the first divergence"
    )
    p.add_argument("build", metavar="BUILD")
    p.add_argument("--reference", default="cpu", help="reference backend (default: cpu)")
    p.add_argument("--target", default="lava", help="target backend (default: lava)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", metavar="IN.npy", help="input spikes (batch, T, n_inputs)")
    src.add_argument(
        "--dataset", help="encode samples of this dataset as the model's metadata says"
    )
    src.add_argument(
        "--replay",
        metavar="FILE",
        help="compare a recorded target trace (from --record) instead of running the target",
    )
    p.add_argument("--samples", type=int, default=4, help="samples with --dataset (default 4)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--steps", type=int, default=None)
    p.add_argument(
        "--probe",
        default=None,
        help="what to compare: 'pop:spikes,u,v;pop2' (default: spikes, u, v of every population)",
    )
    p.add_argument(
        "--device", default=None, help="target device option for the lava backend (e.g. loihi2)"
    )
    p.add_argument(
        "--record", metavar="FILE", help="save the target's trace (with its inputs) to FILE"
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        default="hil-report.json",
        help="JSON report path (default: hil-report.json)",
    )
    p.add_argument(
        "--target-build",
        metavar="BUILD2",
        help="run the target on this copy of the program (fault-injection experiments)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from backends.base import parse_probes
    from backends.hil.harness import all_probes, run_hil
    from backends.hil.trace_io import read_trace, write_trace
    from ir.arrays_io import check_steps, read_spike_array
    from compiler.build import read_build

    if args.steps is not None:
        check_steps(args.steps, "--steps")
    build = read_build(args.build)
    program = build.program
    probes = parse_probes(args.probe, program) if args.probe else all_probes(program)
    message_bits = max((program.populations[n].message_bits for n in program.inputs), default=0)
    target_trace = None
    if args.replay:
        target_trace, inputs, _ = read_trace(args.replay, program)
        source = {"replay": args.replay}
    elif args.input:
        inputs = read_spike_array(args.input, program.n_inputs, message_bits=message_bits)
        source = {"input": args.input}
    else:
        from trainers.encoders import encode_split

        inputs, _ = encode_split(
            program.metadata, args.dataset, args.split, args.samples, args.steps
        )
        # What reproduces these spikes: encode_split's sample range and the seed it used.
        encoding = program.metadata.get("encoding") or {}
        source = {"dataset": args.dataset, "split": args.split, "samples": len(inputs),
                  "seed": encoding.get("seed", 0) if isinstance(encoding, dict) else 0}
    target_program = read_build(args.target_build).program if args.target_build else None
    options = {"device": args.device} if args.device else None
    if args.device and args.target != "lava":
        raise InputError("--device applies to --target lava")
    result = run_hil(
        program,
        inputs,
        reference=args.reference,
        target=args.target,
        steps=args.steps,
        probes=probes,
        hw=build.hw,
        target_program=target_program,
        target_trace=target_trace,
        target_options=options,
    )
    report = {**result.to_json(), "inputs": source}
    with atomic_outputs() as out:  # the report and the trace it describes: both or neither
        if args.record and target_trace is None:
            write_trace(out.stage(args.record), result.target, inputs, program)
        atomic_write_text(out.stage(args.report), json.dumps(report, sort_keys=True, indent=2) + "\n")
    cmp_ = result.comparison
    print(
        f"hil: reference {result.reference_backend} vs target {result.target_backend}: "
        f"{result.reference.batch} samples x {result.reference.steps} steps"
    )
    for pop, vars_ in cmp_.compared.items():
        cells = "  ".join(f"{v} {100 * a:8.4f}%" for v, a in vars_.items())
        print(f"  {pop:16s} {cells}")
    print(
        f"agreement: {100 * (1 - cmp_.mismatches / max(cmp_.total, 1)):.4f}% of {cmp_.total} values"
    )
    if cmp_.first is not None:
        print(cmp_.first.describe())
    print(f"report: {args.report}")
    print(f"verdict: {'AGREE' if cmp_.agree else 'DIVERGED'}")
    if not cmp_.agree:
        print(f"snnc: hil: targets diverge ({cmp_.first.describe()})", file=sys.stderr)
        return 1
    return 0
