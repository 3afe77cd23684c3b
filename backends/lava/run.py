"""The lava backend: run a compiled program through Lava processes.

    run(graph, inputs, steps=None, probes=None, hw=None, *, device="cpu",
        lowering="populations") -> Trace

The program is lowered (`backends.lava.lower`) to one Lava process per population and one per
projection (`lowering="populations"`, the default: the process count does not grow with the
cores a program uses), or, with `lowering="blocks"`, cut into its placed blocks
(`backends.blocks`) with one process per block and per block pair, which also checks the
partition's slicing. Both compute the same thing, bit for bit, for every program `snnc compile`
writes (`compiler.passes.split_exact`). It is fed by RingBuffers and recorded by one
`Recorder` (`backends.lava.recorder`).

Lava runs every process in an OS process of its own and links them in a recursive walk
(`compiler_graphs.flatten_list_recursive`, one Python frame per process). A lowering beyond
`MAX_PROCESSES` is refused before anything starts, with the count; Lava failing to build or
start one (recursion, OS limits) is reported in one line with the count, never a traceback.
`device="cpu"` runs Lava's CPU models with `Loihi2SimCfg(select_tag="fixed_pt")`;
`device="loihi2"` runs with `Loihi2HwCfg` when the Lava extension for Loihi (lava-loihi) is
importable, and otherwise fails with one line.

Batches: Lava runs one stream of steps, so the samples are played one after another from one
RingBuffer holding the whole batch. Sample b occupies steps [b*S + 1, b*S + T] of the run,
where S is T rounded up to a multiple of every LIFReset interval in the program (so that
`t % reset_interval` inside each sample is what it would be in a run of that sample alone;
the padding steps get no input and are not recorded). Between samples the run pauses and the
state of every process is put back to its initial value (each neuron model's state, as its
`lava_process` lists it, e.g. LIF u and v; every connection's buffer), so each sample starts
exactly like a fresh run. Lava's processes, shared memory and temporary folder are owned by
`backends.lava.owner.lava_session`: stopped cooperatively when the run completes, ended by
force (nothing left behind) when it fails or is interrupted.

`Trace.info` reports the lowering, the Lava process count and timings: `startup_s` (compile and
start), `sample_s` (the run of each sample) and `reset_s` (all resets between samples).
Progress goes to stderr (`ir.progress`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from backends.base import Probe, Trace, check_probe_variables, check_run_budget, default_probes
from backends.blocks import PieceGraph, check_split_exact, expand_pieces, piece_pairs
from backends.lava import compat
from backends.lava.lower import LavaProgram, lower
from backends.lava.owner import Session, lava_session
from backends.lava.recorder import RecorderSpec, build_recorder, read_recordings
from compiler.passes.split_exact import placement_pieces, whole_pieces
from ir.errors import BackendUnavailableError, InputError, LavaScaleError
from ir.fixed import LAVA_FIXED_PT
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input
from ir.progress import progress, status
from ir.verify import verify
from neurons import MODELS, model_of

__all__ = [
    "DEVICES",
    "LOWERINGS",
    "MAX_PROCESSES",
    "LavaScaleError",
    "loihi_extension_missing",
    "run",
]

DEVICES = ("cpu", "loihi2")
LOWERINGS = ("populations", "blocks")
# Lava processes one run may build (RingBuffers, neurons, connections and the recorder): each is
# a forked OS process with its own channels; measured on the 2-core, 24 GiB development machine
# (docs/semantics.md, "Lava at scale").
MAX_PROCESSES = 1000
# Frames Lava's recursive list flattening may use: one per process of a process group.
_RECURSION_LIMIT = 2 * MAX_PROCESSES + 10_000
# Modules of the proprietary Lava extension for Loihi that Lava itself imports optionally
# (lava/magma/compiler/compiler.py, core/run_configs.py).
_LOIHI_MODULES = (
    "lava.magma.compiler.subcompilers.nc.ncproc_compiler",
    "lava.magma.core.model.nc.model",
)


def loihi_extension_missing() -> str | None:
    """None when the Lava extension for Loihi is importable, else the missing module."""
    import importlib.util

    compat.ensure_lava()
    for module in _LOIHI_MODULES:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ModuleNotFoundError:
            return module
    return None


def _run_config(device: str, model_map: dict) -> Any:
    if device == "cpu":
        from lava.magma.core.run_configs import Loihi2SimCfg

        return Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=model_map)
    missing = loihi_extension_missing()
    if missing is not None:
        raise BackendUnavailableError(
            f"--device loihi2 needs the Lava extension for Loihi (lava-loihi, distributed to "
            f"Intel INRC members); {missing} is not importable here. Use --device cpu for "
            "Lava's CPU models"
        )
    from lava.magma.core.run_configs import Loihi2HwCfg

    return Loihi2HwCfg(exception_proc_model_map=model_map)


def sample_stride(graph: Graph, steps: int) -> int:
    """Steps per sample in the batched stream: `steps` rounded up to a multiple of every
    reset interval (see the module docstring)."""
    period = 1
    for pop in graph.populations.values():
        if not isinstance(pop, Input):
            period = math.lcm(period, model_of(pop).reset_period(pop) or 1)
    return -(-steps // period) * period


def _upstream(graph: Graph, wanted: set[str]) -> set[str]:
    """`wanted` and every population that can influence them (whose processes are built)."""
    preds: dict[str, set[str]] = {n: set() for n in graph.populations}
    for proj in graph.projections.values():
        preds[proj.dst].add(proj.src)
    keep, todo = set(wanted), list(wanted)
    while todo:
        for src in preds[todo.pop()]:
            if src not in keep:
                keep.add(src)
                todo.append(src)
    return keep


def _input_data(graph: Graph, inputs: np.ndarray, steps: int, stride: int) -> dict[str, np.ndarray]:
    batch, t_in, _ = inputs.shape
    used = min(t_in, steps)
    out, start = {}, 0
    for name in graph.inputs:
        size = graph.populations[name].size
        data = np.zeros((size, batch * stride), dtype=np.int32)
        cols = inputs[:, :used, start : start + size]  # (batch, used, size)
        for b in range(batch):
            data[:, b * stride : b * stride + used] = cols[b].T
        out[name] = data
        start += size
    return out


def _reset_state(prog: LavaProgram) -> None:
    for var, value in prog.state:
        var.set(value)


@contextlib.contextmanager
def _deep_recursion() -> Iterator[None]:
    """Lava's compiler flattens its process list recursively (compiler_graphs.py
    `flatten_list_recursive`: one frame per element); allow that for MAX_PROCESSES."""
    import sys

    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, _RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _execute(
    bg: PieceGraph,
    prog: LavaProgram,
    spec: RecorderSpec,
    batch: int,
    stride: int,
    device: str,
    session: Session,
    timing: dict[str, Any],
    on_sample: Callable[[int], None] | None,
) -> list[np.ndarray]:
    from lava.magma.core.run_conditions import RunSteps

    recorder, model = build_recorder(spec, batch * stride, session.folder)
    # The Python process models each neuron model matches, where Lava's tag could pick another
    # (on Loihi the extension's own models run instead).
    pinned = {k: v for m in MODELS for k, v in m.lava_models().items()} if device == "cpu" else {}
    cfg = _run_config(device, {**pinned, recorder: model, type(recorder): model})
    n = timing["processes"]
    start = time.perf_counter()
    status(f"lava: compiling and starting {n} processes ({timing['lowering']})")
    try:
        with _deep_recursion():
            session.start(recorder, cfg)  # compile, build and start Lava's processes
    except RecursionError:
        raise LavaScaleError(
            f"Lava could not compile {n} processes (RecursionError in its process graph); "
            "use the default lowering (one process per population)"
        ) from None
    except OSError as e:
        raise LavaScaleError(
            f"Lava could not start {n} processes ({e.strerror or e}); use the default "
            "lowering (one process per population)"
        ) from None
    timing["startup_s"] = time.perf_counter() - start
    status(f"lava: started in {timing['startup_s']:.1f} s")
    timing["sample_s"] = []
    timing["reset_s"] = 0.0
    for b in progress(range(batch), "lava samples", total=batch):
        if b:
            start = time.perf_counter()
            _reset_state(prog)
            timing["reset_s"] += time.perf_counter() - start
        start = time.perf_counter()
        recorder.run(condition=RunSteps(num_steps=stride))
        timing["sample_s"].append(time.perf_counter() - start)
        if on_sample is not None:
            on_sample(b)
    session.stop()  # an exception before this point ends the run by force (backends.lava.owner)
    return read_recordings(session.folder, len(spec.targets))


def run(
    graph: Graph,
    inputs: np.ndarray,
    steps: int | None = None,
    probes: Sequence[Probe] | None = None,
    hw: HardwareSpec | None = None,
    *,
    device: str = "cpu",
    lowering: str = "populations",
    on_sample: Callable[[int], None] | None = None,
) -> Trace:
    """Run a fixed-point program on Lava (see the module docstring).

    `on_sample(b)` is called after sample b has run, while Lava is paused."""
    from backends.cpu.simulator import check_inputs

    if device not in DEVICES:
        raise InputError(
            f"unknown device {device!r} for the lava backend; available: {', '.join(DEVICES)}"
        )
    if lowering not in LOWERINGS:
        raise InputError(
            f"unknown lowering {lowering!r} for the lava backend; available: {', '.join(LOWERINGS)}"
        )
    verify(graph, hw)
    if graph.domain != "fixed":
        raise InputError(
            "the lava backend runs compiled (fixed-point) programs; "
            "run float models with --backend float"
        )
    if hw is not None and hw.semantics != LAVA_FIXED_PT.name:
        raise InputError(
            f"the lava backend implements {LAVA_FIXED_PT.name}; the target uses {hw.semantics}"
        )
    arr, t = check_inputs(graph, inputs, steps)
    chosen = tuple(probes) if probes else default_probes(graph)
    for p in chosen:
        if p.population not in graph.populations or isinstance(
            graph.populations[p.population], Input
        ):
            raise InputError(f"probe: {p.population!r} is not a neuron population of the model")
        check_probe_variables(p, graph.populations[p.population])
    check_run_budget(graph, int(arr.shape[0]), t, chosen)
    compat.ensure_lava()
    if device == "loihi2":
        _run_config(
            device, {}
        )  # fail early, before building anything, when the extension is missing
    pieces = placement_pieces(graph) if lowering == "blocks" else whole_pieces(graph)
    check_split_exact(graph, pieces, "--lava-blocks")
    # Count the processes before building anything (a large program cut into blocks has more
    # block pairs than Lava can run, and slicing them all takes a while).
    needed = _upstream(graph, {p.population for p in chosen})
    into = [n for n, p in graph.projections.items() if p.dst in needed]
    n_processes = 1 + sum(len(pieces[n]) for n in needed) + piece_pairs(graph, pieces, into)
    if n_processes > MAX_PROCESSES:
        raise LavaScaleError(
            f"the {lowering} lowering needs {n_processes} Lava processes (an OS process each, "
            f"about 12 MB and 0.1 s or more to start), over the limit of {MAX_PROCESSES}"
            + ("; drop --lava-blocks (one process per population)" if lowering == "blocks" else "")
        )
    status(f"lava: lowering {n_processes} processes ({lowering})")
    bg = expand_pieces(graph, pieces)
    batch = int(arr.shape[0])
    stride = sample_stride(bg.graph, t)
    keep = _upstream(bg.graph, {p.population for p in bg.piece_probes(chosen)})
    prog = lower(bg.graph, _input_data(bg.graph, arr, t, stride), keep)
    n_processes = 1 + prog.process_count  # the recorder, and parameter groups now counted
    if n_processes > MAX_PROCESSES:
        raise LavaScaleError(
            f"the {lowering} lowering needs {n_processes} Lava processes with the parameter "
            f"groups of per-neuron registers (an OS process each), over the limit of "
            f"{MAX_PROCESSES}; compile with --decay-levels K to bound the groups"
        )
    spec = RecorderSpec()
    # (block population, variable, neurons the process acts for, recorder slot)
    slots: list[tuple[str, str, np.ndarray, int]] = []
    for p in bg.piece_probes(chosen):
        for neurons, members in prog.neurons[p.population]:
            for var in p.variables:
                kind = "port" if var == "spikes" else "var"
                target = neurons.output_port if var == "spikes" else neurons.variables[var]
                slots.append((p.population, var, members, spec.add(kind, target)))
    timing: dict[str, Any] = {"lowering": lowering, "processes": n_processes}
    with lava_session() as session:
        recordings = _execute(bg, prog, spec, batch, stride, device, session, timing, on_sample)
    data: dict[str, dict[str, np.ndarray]] = {}
    for pop, var, members, idx in slots:
        rec = recordings[idx].reshape(batch, stride, -1)[:, :t]
        binary = var == "spikes" and not model_of(bg.graph.populations[pop]).graded
        arr = data.setdefault(pop, {}).get(var)
        if arr is None:
            arr = data[pop][var] = np.zeros(rec.shape, dtype=np.uint8 if binary else np.int64)
        arr[:, :, members] = rec[:, :, members]
    trace = Trace(
        backend="lava",
        steps=t,
        batch=batch,
        data=data,
        info={"device": device, **timing},
    )
    gathered = bg.gather(trace, chosen, {n: p.size for n, p in graph.populations.items()})
    return gathered
