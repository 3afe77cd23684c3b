"""The lava backend: run a compiled program through Lava processes.

    run(graph, inputs, steps=None, probes=None, hw=None, *, device="cpu") -> Trace

The program is cut into its placed blocks (`backends.blocks`), lowered to one Lava process per
block and per block pair (`backends.lava.lower`), fed by RingBuffers and recorded by one
`Recorder` (`backends.lava.recorder`). `device="cpu"` runs Lava's CPU models with
`Loihi2SimCfg(select_tag="fixed_pt")`; `device="loihi2"` runs with `Loihi2HwCfg` when the Lava
extension for Loihi (lava-loihi) is importable, and otherwise fails with one line.

Batches: Lava runs one stream of steps, so the samples are played one after another from one
RingBuffer holding the whole batch. Sample b occupies steps [b*S + 1, b*S + T] of the run,
where S is T rounded up to a multiple of every LIFReset interval in the program (so that
`t % reset_interval` inside each sample is what it would be in a run of that sample alone;
the padding steps get no input and are not recorded). Between samples the run pauses and the
state of every process is set to zero (LIF u and v, every connection's buffer), so each sample
starts exactly like a fresh run. Lava's processes, shared memory and temporary folder are owned
by `backends.lava.owner.lava_session`: stopped cooperatively when the run completes, ended by
force (nothing left behind) when it fails or is interrupted.

`Trace.info` reports the Lava process count and timings: `startup_s` (compile and start),
`sample_s` (the run of each sample) and `reset_s` (all resets between samples).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ir.errors import BackendUnavailableError, InputError
from ir.fixed import LAVA_FIXED_PT
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import QLIF, Input
from ir.progress import progress
from ir.verify import verify

from backends.base import Probe, Trace, check_run_budget, default_probes
from backends.blocks import BlockGraph, expand_blocks
from backends.lava import compat
from backends.lava.lower import LavaProgram, lower
from backends.lava.owner import Session, lava_session
from backends.lava.recorder import RecorderSpec, build_recorder, read_recordings

__all__ = ["DEVICES", "loihi_extension_missing", "run"]

DEVICES = ("cpu", "loihi2")
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
        if isinstance(pop, QLIF) and pop.reset_interval:
            period = math.lcm(period, pop.reset_interval)
    return -(-steps // period) * period


def _probed_component(bg: BlockGraph, probes: Sequence[Probe]) -> set[str]:
    """Block populations that can influence a probed block (their processes are built)."""
    g = bg.graph
    wanted = {p.population for p in bg.block_probes(probes)}
    preds: dict[str, set[str]] = {n: set() for n in g.populations}
    for proj in g.projections.values():
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


def _zero_state(prog: LavaProgram) -> None:
    for var, shape in prog.state:
        var.set(np.zeros(shape, dtype=np.int64))


def _execute(
    bg: BlockGraph,
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
    cfg = _run_config(device, {recorder: model, type(recorder): model})
    start = time.perf_counter()
    session.start(recorder, cfg)  # compile, build and start Lava's processes
    timing["startup_s"] = time.perf_counter() - start
    timing["sample_s"] = []
    timing["reset_s"] = 0.0
    for b in progress(range(batch), "lava samples", total=batch):
        if b:
            start = time.perf_counter()
            _zero_state(prog)
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
    on_sample: Callable[[int], None] | None = None,
) -> Trace:
    """Run a fixed-point program on Lava (see the module docstring).

    `on_sample(b)` is called after sample b has run, while Lava is paused."""
    from backends.cpu.simulator import check_inputs

    if device not in DEVICES:
        raise InputError(
            f"unknown device {device!r} for the lava backend; available: {', '.join(DEVICES)}"
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
    check_run_budget(graph, int(arr.shape[0]), t, chosen)
    compat.ensure_lava()
    if device == "loihi2":
        _run_config(
            device, {}
        )  # fail early, before building anything, when the extension is missing
    bg = expand_blocks(graph)
    batch = int(arr.shape[0])
    stride = sample_stride(bg.graph, t)
    keep = _probed_component(bg, chosen)
    prog = lower(bg.graph, _input_data(bg.graph, arr, t, stride), keep)
    spec = RecorderSpec()
    slots: list[tuple[str, str, int]] = []
    for p in bg.block_probes(chosen):
        proc = prog.neurons[p.population]
        for var in p.variables:
            target = proc.s_out if var == "spikes" else getattr(proc, var)
            slots.append(
                (p.population, var, spec.add("port" if var == "spikes" else "var", target))
            )
    timing: dict[str, Any] = {}
    with lava_session() as session:
        recordings = _execute(bg, prog, spec, batch, stride, device, session, timing, on_sample)
    data: dict[str, dict[str, np.ndarray]] = {}
    for pop, var, idx in slots:
        rec = recordings[idx].reshape(batch, stride, -1)[:, :t]
        data.setdefault(pop, {})[var] = rec.astype(np.uint8) if var == "spikes" else rec
    trace = Trace(
        backend="lava",
        steps=t,
        batch=batch,
        data=data,
        info={
            "device": device,
            "processes": len(prog.neurons) + len(prog.sources) + len(prog.connections),
            **timing,
        },
    )
    gathered = bg.gather(trace, chosen, {n: p.size for n, p in graph.populations.items()})
    return gathered
