"""The verifier: structure, shapes, parameter ranges and placement of a graph.

`verify(graph, hw=None)` raises `IRVerifyError` naming the population or projection, the value
and the limit (with the hardware config key when the limit comes from one), or returns the
graph. Fixed-point ranges come from `hw` when given, otherwise from the semantics profile.
Passes run it after every step; loaders run it on everything they read.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ir.errors import IRVerifyError
from ir.fixed import LAVA_FIXED_PT
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import (
    FREE_EXP_RANGE,
    Conv2d,
    Dense,
    Input,
    Node,
    Population,
    Projection,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
    conv2d_output_hw,
)
from ir.placement import Placement
from ir.resources import account, first_violation, resource_label

__all__ = ["verify"]

# Sanity bounds used when no hardware config is given (Lava accepts these; hardware may not).
MAX_DELAY_WITHOUT_TARGET = 1 << 16
_FREE_MAX_MESSAGE_BITS = 24


def verify(graph: Graph, hw: HardwareSpec | None = None) -> Graph:
    """Check `graph`; return it unchanged or raise IRVerifyError."""
    try:
        _verify_domain(graph)
        for name, pop in graph.populations.items():
            _verify_population(name, pop, hw)
        for name, proj in graph.projections.items():
            _verify_projection(graph, name, proj, hw)
        for out in graph.outputs:
            if out not in graph.populations:
                raise IRVerifyError(f"outputs: {out!r}", "is not a population of the graph")
        if graph.placement is not None:
            _verify_placement(graph, hw)
    except IRVerifyError as e:
        if not e.excerpt:
            from ir.printer import excerpt

            e.excerpt = excerpt(graph, e.where)
        raise
    return graph


def _where(name: str, node: Node) -> str:
    if isinstance(node, Projection):
        return f"projection {name!r} ({node.src} -> {node.dst})"
    return f"population {name!r}"


def _verify_domain(graph: Graph) -> None:
    if graph.domain != "mixed":
        return
    first_float = next(n for n, x in graph.nodes() if x.domain == "float")
    first_fixed = next(n for n, x in graph.nodes() if x.domain == "fixed")
    raise IRVerifyError(
        "graph", f"mixes float nodes ({first_float!r}) and fixed-point nodes ({first_fixed!r}); "
        "quantize the whole graph",
    )


def _check_range(
    where: str, field: str, values: np.ndarray | int, lo: int, hi: int, source: str
) -> None:
    arr = np.asarray(values)
    if arr.size == 0:
        return
    vmin, vmax = int(arr.min()), int(arr.max())
    if vmin < lo or vmax > hi:
        bad = vmin if vmin < lo else vmax
        raise IRVerifyError(where, f"{field} = {bad} is outside [{lo}, {hi}] ({source})")


def _verify_population(name: str, pop: Population, hw: HardwareSpec | None) -> None:
    where = _where(name, pop)
    for fname in pop.array_fields():
        arr = np.asarray(getattr(pop, fname))
        if arr.ndim and arr.shape != pop.shape and arr.shape != (pop.size,):
            raise IRVerifyError(
                where, f"{fname} has shape {arr.shape}; expected a scalar or {pop.shape}"
            )
    bits = getattr(pop, "message_bits", 0)  # graded payloads: Inputs, graded neuron models
    if isinstance(pop, Input) or bits:
        max_bits = hw.synapse.max_message_bits.value if hw else _FREE_MAX_MESSAGE_BITS
        src = hw.synapse.max_message_bits.key if hw else "profile"
        _check_range(where, "message_bits", bits, 0, max_bits, src)
    # Every neuron node states its registers' ranges.
    for fname, values, lo, hi, source in pop.value_ranges(hw):
        _check_range(where, fname, values, lo, hi, source)


def _verify_projection(graph: Graph, name: str, proj: Projection, hw: HardwareSpec | None) -> None:
    where = _where(name, proj)
    for end in ("src", "dst"):
        if getattr(proj, end) not in graph.populations:
            raise IRVerifyError(
                where, f"{end} {getattr(proj, end)!r} is not a population of the graph"
            )
    src, dst = graph.populations[proj.src], graph.populations[proj.dst]
    if isinstance(dst, Input):
        raise IRVerifyError(
            where, f"targets input population {proj.dst!r}; inputs receive no projections"
        )
    if proj.port is not None and proj.port not in dst.input_ports:
        raise IRVerifyError(
            where,
            f"port {proj.port!r}: {type(dst).__name__} {proj.dst!r} has the input ports "
            f"{', '.join(dst.input_ports)}",
        )
    if isinstance(proj, (Dense, QDense)):
        want = (dst.size, src.size)
        if proj.weight.shape != want:
            raise IRVerifyError(
                where, f"weight shape {proj.weight.shape} does not match (n_dst, n_src) = {want}"
            )
    elif isinstance(proj, (Sparse, QSparse)):
        if proj.nnz and int(proj.rows.max()) >= dst.size:
            raise IRVerifyError(where, f"row index {int(proj.rows.max())} >= n_dst = {dst.size}")
        if proj.nnz and int(proj.cols.max()) >= src.size:
            raise IRVerifyError(where, f"col index {int(proj.cols.max())} >= n_src = {src.size}")
    elif isinstance(proj, (Conv2d, QConv2d)):
        _verify_conv(where, proj, src, dst)
    if isinstance(proj, (QDense, QSparse)):
        _verify_synapse_format(where, proj, hw)
    if isinstance(proj, QConv2d):
        prof = hw.profile if hw else LAVA_FIXED_PT
        bits = prof.max_weight_bits
        _check_range(
            where, "weight", proj.weight, -(1 << bits), (1 << bits) - 1,
            f"{prof.name}: {bits}-bit synapse weights",
        )
    delay = getattr(proj, "delay", None)
    if delay is not None and delay.size:
        max_delay = hw.synapse.max_delay.value if hw else MAX_DELAY_WITHOUT_TARGET
        _check_range(
            where, "delay", delay, 0, max_delay, hw.synapse.max_delay.key if hw else "sanity bound"
        )


def _verify_conv(where: str, proj: Conv2d | QConv2d, src: Population, dst: Population) -> None:
    if len(src.shape) != 3 or len(dst.shape) != 3:
        raise IRVerifyError(
            where, f"convolution needs (C, H, W) populations, got {src.shape} -> {dst.shape}"
        )
    c_out, c_in_g, kh, kw = proj.weight.shape
    if c_in_g * proj.groups != src.shape[0]:
        raise IRVerifyError(
            where,
            f"weight expects {c_in_g * proj.groups} input channels (C_in/groups = {c_in_g}, "
            f"groups = {proj.groups}), source has {src.shape[0]}",
        )
    out_hw = conv2d_output_hw(src.shape[1:], (kh, kw), proj.stride, proj.padding, proj.dilation)  # type: ignore[arg-type]
    want = (c_out, *out_hw)
    if dst.shape != want:
        raise IRVerifyError(
            where, f"output shape is {want}, destination population has {dst.shape}"
        )


def _verify_synapse_format(where: str, proj: QDense | QSparse, hw: HardwareSpec | None) -> None:
    max_bits = hw.synapse.max_weight_bits.value if hw else LAVA_FIXED_PT.max_weight_bits
    _check_range(
        where,
        "num_weight_bits",
        proj.num_weight_bits,
        1,
        max_bits,
        hw.synapse.max_weight_bits.key if hw else LAVA_FIXED_PT.name,
    )
    if hw:
        lo, hi = hw.synapse.weight_exp_min, hw.synapse.weight_exp_max
        _check_range(
            where,
            "weight_exp",
            proj.weight_exp,
            lo.value,
            hi.value,
            f"{hw.source_file}: synapse.weight_exp_min/max",
        )
    else:
        _check_range(where, "weight_exp", proj.weight_exp, *FREE_EXP_RANGE, "sanity bound")
    weights = proj.weight if isinstance(proj, QDense) else proj.values
    # what the target stores: anything else Lava would clip silently (ir.fixed.effective_weights)
    if hw:
        bits = hw.profile.max_weight_bits
        lo, hi = weight_range(proj.sign_mode, bits)
        _check_range(
            where,
            "weight",
            weights,
            lo,
            hi,
            f"{hw.source_file}: {proj.sign_mode} weights of {bits} bits ({hw.profile.name})",
        )
    else:
        _check_range(where, "weight", weights, -(1 << 31), (1 << 31) - 1, "int32 weights")


def weight_range(sign_mode: str, bits: int = LAVA_FIXED_PT.max_weight_bits) -> tuple[int, int]:
    """Weights a synapse of `sign_mode` holds (lava utils/weightutils.py clip_weights): `bits`
    (the profile's, 8 in lava_fixed_pt) and a sign when mixed, `bits` of magnitude with the
    sign of the list otherwise."""
    top = (1 << bits) - 1
    return {"mixed": (-top - 1, top), "excitatory": (0, top), "inhibitory": (-top, 0)}[sign_mode]


def _verify_placement(graph: Graph, hw: HardwareSpec | None) -> None:
    placement = graph.placement
    assert placement is not None
    n_cores = placement.n_cores
    if placement.core_chip.size and placement.core_chip.min() < 0:
        raise IRVerifyError("placement", "chip indices must be >= 0")
    covered: dict[str, np.ndarray] = {}
    for b in placement.blocks:
        where = f"placement block of {b.population!r} on core {b.core}"
        pop = graph.populations.get(b.population)
        if pop is None:
            raise IRVerifyError(where, "names a population that is not in the graph")
        if isinstance(pop, Input):
            raise IRVerifyError(where, "input populations are fed by the host and are not placed")
        if b.core >= n_cores:
            raise IRVerifyError(
                where,
                f"core {b.core} >= number of cores {n_cores} (core_chip has {n_cores} entries)",
            )
        if int(b.neurons[-1]) >= pop.size:
            raise IRVerifyError(
                where, f"neuron index {int(b.neurons[-1])} >= population size {pop.size}"
            )
        count = covered.setdefault(b.population, np.zeros(pop.size, dtype=np.int64))
        count[b.neurons] += 1
    for name, pop in graph.populations.items():
        if isinstance(pop, Input):
            continue
        count = covered.get(name)
        if count is None:
            raise IRVerifyError(f"population {name!r}", "is not placed (no block holds it)")
        if np.any(count != 1):
            i = int(np.argmax(count != 1))
            what = "in no block" if count[i] == 0 else f"in {int(count[i])} blocks"
            raise IRVerifyError(
                f"population {name!r}",
                f"neuron {i} is {what}; every neuron must be in exactly one block",
            )
    used = np.zeros(n_cores, dtype=bool)
    for b in placement.blocks:
        used[b.core] = True
    if not used.all():
        raise IRVerifyError("placement", f"core {int(np.argmin(used))} holds no block")
    if hw is not None:
        _verify_placement_limits(graph, placement, hw)


def _verify_placement_limits(graph: Graph, placement: Placement, hw: HardwareSpec) -> None:
    """Every per-core limit (counted by `ir.resources`), then cores per chip and chips."""
    bad = first_violation(account(graph, hw, placement).usage, hw)
    if bad is not None:
        core, resource, need, lim = bad
        raise IRVerifyError(
            f"placement core {core}",
            f"holds {need} {resource_label(resource)}, the limit is {lim.value} "
            f"({hw.source_file}: {lim.key})",
        )
    per_chip = Counter(int(c) for c in placement.core_chip)
    for chip, n in sorted(per_chip.items()):
        lim = hw.chip.cores_per_chip
        if n > lim.value:
            raise IRVerifyError(
                f"placement chip {chip}",
                f"holds {n} cores, the limit is {lim.value} ({hw.source_file}: {lim.key})",
            )
    lim = hw.system.max_chips
    if per_chip and max(per_chip) >= lim.value:
        raise IRVerifyError(
            "placement",
            f"uses chip {max(per_chip)}, the system has {lim.value} chips ({hw.source_file}: "
            f"{lim.key})",
        )
