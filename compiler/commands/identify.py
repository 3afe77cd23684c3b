"""`snnc identify MODEL|BUILD (--record FILE | --input IN.npy --trace OUT.npz) --population P`:
which weights does a target implement? From a run's inputs and the target's recorded spikes
(trainers.tem.identify); FILE is a target trace written by `snnc hil --record`."""

from __future__ import annotations

import argparse
import json

from compiler.commands._common import add_time_major_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "identify",
        help="identify the weights a target implements from its recorded spikes; list synapses "
             "that differ",
        description="Each output spike train is a set of linear inequalities on the neuron's "
                    "incoming weights "
        "(below threshold before a spike step, above at it). Neurons whose spikes the program "
        "does not "
        "reproduce get their weights bounded by linear programming; synapses whose program weight "
        "lies "
        "outside the bounds differ on the target.",
    )
    p.add_argument("model", metavar="MODEL|BUILD", help="the program the target was given")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--record",
        metavar="FILE",
        help="a target trace recorded by `snnc hil --record` (it holds the inputs and the "
             "target's spikes)",
    )
    src.add_argument(
        "--input",
        metavar="IN.npy",
        help="input spikes of the run (batch, T, n_inputs); with --trace",
    )
    add_time_major_argument(p)
    p.add_argument(
        "--trace",
        metavar="OUT.npz",
        help="with --input: the target's recording, spikes of the population and of its non-input "
        "sources (optionally POP:u / POP:v)",
    )
    p.add_argument(
        "--population",
        default=None,
        help="the population whose incoming weights to identify (default: the output population, "
        "if there is one)",
    )
    p.add_argument("--neurons", default=None, help="comma-separated neuron indices (default: all)")
    p.add_argument(
        "--all",
        action="store_true",
        dest="bound_all",
        help="bound every synapse of every examined neuron (two LPs each), not only the suspect "
        "synapses of neurons whose spikes the program does not reproduce",
    )
    p.add_argument("--spikes-only", action="store_true", help="ignore recorded u and v")
    p.add_argument(
        "--dt", type=float, default=None, help="time step in seconds for formats without one (.nir)"
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


def _neurons(text: str | None) -> list[int] | None:
    from ir.errors import InputError

    if not text:
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--neurons: expected comma-separated integers, got {text!r}") from None


def _fmt(value: float) -> str:
    return f"{value:g}"


def run(args: argparse.Namespace) -> int:
    from backends.hil.trace_io import read_trace
    from compiler.model_io import load_model
    from ir.arrays_io import read_graph_inputs, read_npz, split_meta
    from ir.errors import InputError
    from trainers.tem.identify import identify_weights

    program = load_model(args.model, dt=args.dt)
    population = args.population
    if population is None:
        outputs = program.output_names
        if len(outputs) != 1:
            raise InputError(
                f"the program has {len(outputs)} output populations ({', '.join(outputs)}); name "
                "one with --population"
            )
        population = outputs[0]
    if args.record:
        if args.trace:
            raise InputError("--trace goes with --input; a --record file holds both")
        trace, inputs, _ = read_trace(args.record, program)
        recorded = trace.arrays()
    else:
        if not args.trace:
            raise InputError("--input needs --trace (the target's recorded spikes)")
        inputs = read_graph_inputs(args.input, program, time_major=args.time_major)
        recorded, meta = split_meta(read_npz(args.trace), args.trace)
        if meta is not None and meta.get("aligned"):
            raise InputError(
                f"{args.trace}: was recorded with --align (each population's first steps cut); "
                "identify needs every step the target ran: record it without --align"
            )
    result = identify_weights(
        program,
        population,
        inputs,
        recorded,
        neurons=_neurons(args.neurons),
        bound_all=args.bound_all,
        use_states=not args.spikes_only,
    )
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
        return 0
    kind = (
        "exact"
        if result.exact
        else "approximate (truncating decays or negative weight exponents; sound bounds)"
    )
    print(
        f"population {result.population}: {result.samples} samples x {result.steps} steps; "
        f"constraints {kind}"
    )
    counts = result.to_dict()["neurons"]
    print(
        "neurons: "
        + ", ".join(
            f"{len(v)} {k}" + (f" {v}" if v and k != "consistent" else "")
            for k, v in counts.items()
        )
    )
    differing = result.differing
    if differing:
        print(f"synapses that differ from the program ({len(differing)}):")
        for s in differing:
            print(
                f"  {s.projection}[{s.post}, {s.pre}]  program {_fmt(s.compiled)}  target in "
                f"[{_fmt(s.lower)}, {_fmt(s.upper)}]"
            )
    else:
        print("no synapse is proven to differ from the program")
    candidates = result.single_change_candidates
    if candidates:
        print("if one synapse per neuron changed, it is (program -> target):")
        for s in candidates:
            lo, hi = s.alone  # type: ignore[misc]
            value = _fmt(lo) if lo == hi else f"[{_fmt(lo)}, {_fmt(hi)}]"
            print(f"  {s.projection}[{s.post}, {s.pre}]  {_fmt(s.compiled)} -> {value}")
    return 0
