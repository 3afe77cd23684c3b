"""The cpu backend: run a graph on integer input spikes (batch, T, n_inputs), batched.

    run(graph, inputs, steps=None, probes=None, hw=None, *, engine="auto", blocks=False)
    run_float(graph, inputs, steps=None, probes=None, hw=None, *, engine="auto")

`run` executes a fixed-point program bit-exactly (Lava 0.10 `fixed_pt` semantics; see
`kernels` and docs/semantics.md, "The reference semantics"); `run_float` executes a
float-domain graph with the same structure and timing. Two engines compute the same thing:

- "reference": step by step, every projection every step (`reference.py`): the oracle;
- "fast": layer at a time where the graph is feed-forward, numba kernels, exact integer
  tricks (`fast.py`); tested equal to the reference on random graphs;
- "auto" (the default): "fast", except for runs so small that the reference engine finishes
  before numba's kernels would load (about a second, once per process).

`blocks=True` runs a placed program block by block (each block its own state, each
projection per block pair), the decomposition the Lava backend builds with `--lava-blocks`
(`backends.blocks`). A compiled program computes the same either way
(`compiler.passes.split_exact`); one whose result would depend on the cut is refused.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from backends.base import Probe, Trace, check_probe_variables, check_run_budget, default_probes
from backends.blocks import expand_blocks
from backends.cpu import reference
from backends.cpu.network import Net, prepare
from ir.arrays_io import max_value, value_range
from ir.errors import InputError
from ir.fixed import LAVA_FIXED_PT
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.verify import verify

__all__ = ["ENGINES", "check_inputs", "run", "run_float"]

ENGINES = ("auto", "fast", "reference")
# "auto" estimate of the reference engine's cost: per step and projection (Python overhead),
# and per synapse-step (int64 matrix products); measured on the 2-core development machine.
_REFERENCE_STEP_S = 3e-4
_REFERENCE_SYNAPSE_STEP_S = 2e-9
_AUTO_LIMIT_S = 0.3


def check_inputs(
    graph: Graph, inputs: np.ndarray, steps: int | None, label: str = "input"
) -> tuple[np.ndarray, int]:
    """Validate input spikes for `graph` (per input population: 0/1, or graded payloads that fit
    its message_bits); returns them (integer dtype kept) and the number of steps to run."""
    arr = np.asarray(inputs)
    n_in = graph.n_inputs
    if arr.dtype.kind not in "iub":
        raise InputError(f"{label}: expected integer spikes, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[2] != n_in:
        raise InputError(f"{label}: expected shape (batch, T, {n_in}), got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{label}: empty input {arr.shape}")
    if arr.dtype.kind == "b":
        arr = arr.view(np.uint8)
    start = 0
    for name in graph.inputs:
        pop = graph.populations[name]
        cols = arr[:, :, start : start + pop.size]
        start += pop.size
        if not cols.size:
            continue
        if cols.dtype.kind == "i":
            lo, hi = value_range(cols)
        else:
            lo, hi = 0, max_value(cols)
        bits = pop.message_bits  # type: ignore[attr-defined]
        if bits == 0 and (lo < 0 or hi > 1):
            raise InputError(
                f"{label}: input {name!r} takes binary spikes (0 or 1), found values in "
                f"[{lo}, {hi}]; graded inputs need an Input with message_bits > 0"
            )
        if bits and (lo < -(1 << (bits - 1)) or hi > (1 << (bits - 1)) - 1):
            raise InputError(
                f"{label}: input {name!r} takes graded payloads of signed {bits} bits "
                f"[{-(1 << (bits - 1))}, {(1 << (bits - 1)) - 1}], found [{lo}, {hi}]"
            )
    t = arr.shape[1] if steps is None else steps
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t <= 0:
        raise InputError(f"steps must be a positive integer, got {t!r}")
    return arr, int(t)


def _check_probes(graph: Graph, probes: Sequence[Probe] | None) -> tuple[Probe, ...]:
    chosen = tuple(probes) if probes else default_probes(graph)
    for p in chosen:
        if p.population not in graph.populations:
            raise InputError(f"probe: {p.population!r} is not a population of the model")
        if p.population in graph.inputs:
            raise InputError(
                f"probe: {p.population!r} is an input population; probe neuron populations"
            )
        check_probe_variables(p, graph.populations[p.population])
    return chosen


def _auto_engine(net: Net, batch: int, steps: int) -> str:
    if "neurons.jit_common" in sys.modules:
        return "fast"  # already loaded in this process: always the faster one
    synapses = 0
    for syn in net.synapses:
        if syn.kind == "conv":
            synapses += syn.n_dst * int(np.prod(syn.conv.weight.shape[1:]))
        else:
            synapses += sum(
                int(np.count_nonzero(w)) if syn.kind == "dense" else int(w.nnz)
                for _, w in syn.groups
            )
    estimate = steps * max(len(net.synapses), 1) * _REFERENCE_STEP_S
    estimate += batch * steps * (synapses + sum(net.sizes.values())) * _REFERENCE_SYNAPSE_STEP_S
    return "reference" if estimate < _AUTO_LIMIT_S else "fast"


def _engine(name: str):
    if name == "reference":
        return reference.simulate
    if name == "fast":
        from backends.cpu import fast

        return fast.simulate
    raise InputError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")


def _execute(
    graph: Graph,
    inputs: np.ndarray,
    steps: int,
    probes: tuple[Probe, ...],
    fixed: bool,
    backend: str,
    engine: str,
) -> Trace:
    net: Net = prepare(graph, fixed, backend)
    batch = int(inputs.shape[0])
    if engine == "auto":
        engine = _auto_engine(net, batch, steps)
    simulate = _engine(engine)
    working_set = None
    if engine == "fast":  # it works through the batch a chunk at a time
        from backends.cpu.fast import working_set_bytes

        working_set = working_set_bytes(net, batch, steps)
    check_run_budget(graph, batch, steps, probes, working_set)
    records = simulate(net, inputs, steps, probes)
    return Trace(
        backend=backend,
        steps=steps,
        batch=int(inputs.shape[0]),
        data=records,
        info={"engine": engine},
    )


def run(
    graph: Graph,
    inputs: np.ndarray,
    steps: int | None = None,
    probes: Sequence[Probe] | None = None,
    hw: HardwareSpec | None = None,
    *,
    engine: str = "auto",
    blocks: bool = False,
) -> Trace:
    """Run a fixed-point program bit-exactly (Lava fixed_pt semantics)."""
    verify(graph, hw)
    if graph.domain == "float" and graph.projections:
        raise InputError(
            "the cpu backend runs compiled (fixed-point) programs; use --backend float "
            "for a float model, or compile it first"
        )
    if hw is not None and hw.semantics != LAVA_FIXED_PT.name:
        raise InputError(
            f"the cpu backend implements {LAVA_FIXED_PT.name}; the target uses {hw.semantics}"
        )
    arr, t = check_inputs(graph, inputs, steps)
    chosen = _check_probes(graph, probes)
    if not blocks or graph.placement is None:
        return _execute(graph, arr, t, chosen, True, "cpu", engine)
    bg = expand_blocks(graph)
    trace = _execute(bg.graph, arr, t, bg.piece_probes(chosen), True, "cpu", engine)
    trace = bg.gather(trace, chosen, {n: p.size for n, p in graph.populations.items()})
    trace.info["blocks"] = bg.n_pieces
    return trace


def run_float(
    graph: Graph,
    inputs: np.ndarray,
    steps: int | None = None,
    probes: Sequence[Probe] | None = None,
    hw: HardwareSpec | None = None,
    *,
    engine: str = "auto",
) -> Trace:
    """Run a float-domain graph with the fixed-point programs' structure and timing."""
    verify(graph)
    if graph.domain == "fixed":
        raise InputError(
            "the float backend runs float models; run a compiled program with --backend cpu or lava"
        )
    arr, t = check_inputs(graph, inputs, steps)
    chosen = _check_probes(graph, probes)
    return _execute(graph, arr, t, chosen, False, "float", engine)
