"""Split exactness: a compiled program computes the same thing however its populations are cut
into pieces, so every backend (and Lava with any lowering) runs one program.

**Pieces.** A backend may run a population as several *pieces*: disjoint sets of its neurons,
each its own process with its own connection processes (`backends.blocks.expand_pieces`).
Today the pieces are the placement's blocks (Lava's per-block lowering, `--lava-blocks`; the
cpu backend's `blocks=True`) or the whole population (the default everywhere). Everything
below is stated for "a population cut into pieces", whatever cut them.

Parameter groups are not pieces of a source: a population whose neurons differ in registers
Lava takes once per process (LIF `du`/`dv`) runs as one process per group, each of the
population's (or block's) whole shape with the other groups' neurons silent, and every group
process feeds the same connection process, whose InPort adds the vectors before the weights
(`backends.lava.lower`). So a source's groups never split a sum. On the destination side each
group gets its own connection process, which matters only for a convolution (it then runs as
per-group Sparse connections: the "conv-wrap" risk below, which the lowering checks).

**The rule** (`split_hazards`). Cutting a projection's *destination* never changes a result:
every destination neuron's input is still computed by one connection process. Cutting its
*source* splits each destination's sum into one partial sum per source piece, and Lava's
connection models apply to each partial sum what they would apply to the whole sum:

- Dense/Sparse (lava proc/dense/models.py `AbstractPyDenseModelBitAcc.run_spk`, and
  proc/sparse/models.py): `a_buff = acc >> -weight_exp` for `weight_exp < 0` floors each
  partial sum. The floors add up to the floor of the sum exactly when every partial sum is a
  multiple of 2^-weight_exp, which holds for any cut when every effective weight is
  (`ir.fixed.effective_weights`). A left shift and the int32 wrap of the output are additive
  modulo 2^32, so `weight_exp >= 0` is exact for any cut.
- With `weight_exp < 0` a graded sum that can pass 2^31 may wrap (int32 accumulation) before
  the shift, and a wrapped value shifted right is no longer congruent modulo 2^32.
- Conv (proc/conv/models.py `PyConvModelFixed`): a convolution touching a cut population (source
  or destination) runs as per-piece Sparse connections (`backends.blocks`), which equals Lava's
  Conv only while no 24-bit wrap can happen (|sum| < 2^23).

**The pass** (`SplitExactPass`, after partition): the placed program has no hazard for its
blocks. Populations kept whole need nothing (partition keeps the sources of risky projections
on one core where one core can hold them: `exactness_risks`); a cut source's risky Dense/Sparse
projections are made exact: each effective weight is rounded to a whole number of activation
units (`round(w * 2^weight_exp)`, stored with `weight_exp = -lsb_shift`), which is exact for
any cut since every synapse then adds an integer to the sum. For a float model the compile
driver does better: it quantizes those projections again with the same constraint from the
float weights (`QuantizePass.exact_sources`), so the pass finds nothing left to round. Graded
sums that could wrap and convolutions that could wrap are refused at compile time with one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from compiler.passes.base import PassContext
from ir.errors import IRVerifyError
from ir.fixed import LAVA_FIXED_PT, effective_weights, weight_lsb_shift
from ir.graph import Graph
from ir.nodes import Input, Projection, QConv2d, QDense, QSparse
from neurons import model_of

__all__ = [
    "Pieces",
    "Risk",
    "SplitExactPass",
    "exactness_risks",
    "is_cut",
    "placement_pieces",
    "split_hazards",
    "whole_pieces",
]

# population -> its pieces: sorted flat neuron index arrays, disjoint, covering the population
Pieces = Mapping[str, Sequence[np.ndarray]]

_INT32_WRAP = 1 << 31  # Lava's Dense/Sparse accumulate graded sums in int32
_CONV_WRAP = 1 << (LAVA_FIXED_PT.conv_wrap_bits - 1)  # Lava's Conv wraps its output to 24 bits


def whole_pieces(graph: Graph) -> dict[str, tuple[np.ndarray, ...]]:
    """Every population as one piece (the default lowering of every backend)."""
    return {n: (np.arange(p.size, dtype=np.int64),) for n, p in graph.populations.items()}


def placement_pieces(graph: Graph) -> dict[str, tuple[np.ndarray, ...]]:
    """The placement's blocks as pieces, in placement order; inputs (fed by the host, never
    placed) and populations of an unplaced program are one piece."""
    pieces = whole_pieces(graph)
    if graph.placement is None:
        return pieces
    for name, pop in graph.populations.items():
        blocks = graph.placement.blocks_of(name)
        if blocks and not isinstance(pop, Input):
            pieces[name] = tuple(b.neurons for b in blocks)
    return pieces


def is_cut(pieces: Pieces, population: str) -> bool:
    return len(pieces[population]) > 1


@dataclass(frozen=True)
class Risk:
    """What cutting a projection's populations would break (`exactness_risks`).

    kind: "floor" (weight_exp < 0 floors each piece's partial sum), "wrap" (a graded sum with
    weight_exp < 0 can pass 2^31), "conv-wrap" (a convolution's sum can pass 2^23).
    `on_destination`: the destination's cut matters too (convolutions)."""

    kind: str
    reason: str

    @property
    def on_destination(self) -> bool:
        return self.kind == "conv-wrap"


def _payload_max(graph: Graph, population: str) -> int:
    """Largest |message| a population sends: 2^(bits-1) for graded inputs, what its int32
    state can give for graded neuron models (Lava does not clip them), 1 for spikes."""
    pop = graph.populations[population]
    if isinstance(pop, Input):
        return 1 << (pop.message_bits - 1) if pop.message_bits else 1
    model = model_of(pop)
    return model.payload_bound(None) if model.graded else 1


def _effective(proj: QDense | QSparse) -> np.ndarray:
    raw = proj.weight if isinstance(proj, QDense) else proj.values
    return effective_weights(raw, proj.num_weight_bits, proj.sign_mode)


def _row_abs_sum_max(proj: QDense | QSparse, w: np.ndarray) -> int:
    if isinstance(proj, QDense):
        return int(np.abs(w).sum(axis=1).max(initial=0))
    return int(np.bincount(proj.rows, np.abs(w), minlength=1).max(initial=0))


def _risk(graph: Graph, proj: Projection) -> Risk | None:
    payload = _payload_max(graph, proj.src)
    if isinstance(proj, (QDense, QSparse)):
        if proj.weight_exp >= 0:
            return None
        w = _effective(proj)
        k = -proj.weight_exp
        if np.any(w % (1 << k)):
            return Risk("floor", f"weight_exp = {proj.weight_exp} floors each piece's partial sum")
        bound = _row_abs_sum_max(proj, w) * payload
        if bound >= _INT32_WRAP:
            return Risk(
                "wrap",
                f"graded sums can reach {bound} >= 2^31, where each piece's int32 partial sum "
                f"wraps before the shift by weight_exp = {proj.weight_exp}",
            )
        return None
    if isinstance(proj, QConv2d):
        w = np.abs(proj.weight).reshape(proj.weight.shape[0], -1)
        bound = int(w.sum(axis=1).max(initial=0)) * payload
        if bound >= _CONV_WRAP:
            return Risk(
                "conv-wrap",
                f"sums can reach {bound} >= 2^23; a convolution whose populations are cut runs as "
                "per-piece Sparse connections, which do not wrap at 24 bits as Lava's Conv does",
            )
    return None


def exactness_risks(graph: Graph) -> dict[str, Risk]:
    """Projections whose result would change if their source (a convolution: its source or
    destination) were cut into pieces, with what would break. Independent of any cut: the
    partitioner keeps such populations whole where it can."""
    out = {}
    for name, proj in graph.projections.items():
        risk = _risk(graph, proj)
        if risk is not None:
            out[name] = risk
    return out


def _realized(graph: Graph, pieces: Pieces) -> dict[str, tuple[Risk, str]]:
    """The risks that `pieces` realize, with the cut population: the source (a convolution:
    either end) is cut."""
    out = {}
    for name, risk in exactness_risks(graph).items():
        proj = graph.projections[name]
        if is_cut(pieces, proj.src):
            out[name] = (risk, proj.src)
        elif risk.on_destination and is_cut(pieces, proj.dst):
            out[name] = (risk, proj.dst)
    return out


def split_hazards(graph: Graph, pieces: Pieces | None = None) -> dict[str, str]:
    """Projections whose result differs when the populations run as `pieces` (default: the
    placement's blocks) from the uncut program, with the reason: the one hazard rule (module
    docstring). Empty for every program `snnc compile` writes."""
    pieces = placement_pieces(graph) if pieces is None else pieces
    return {
        name: f"{cut!r} is cut into {len(pieces[cut])} pieces and {risk.reason}"
        for name, (risk, cut) in _realized(graph, pieces).items()
    }


def whole_activation_units(proj: QDense | QSparse) -> tuple[QDense | QSparse, float]:
    """`proj` with every synapse adding a whole number of activation units (exact for any cut of
    its source), and the relative change of its weights, ||c - w 2^e|| / ||w 2^e||.

    c = round(w_eff 2^weight_exp) (half to even), stored as c << lsb_shift with
    weight_exp = -lsb_shift, so that Lava's truncation keeps it and its shift gives back c."""
    w = _effective(proj).astype(np.float64) * 2.0**proj.weight_exp
    c = np.rint(w).astype(np.int64)
    lsb = weight_lsb_shift(proj.num_weight_bits, proj.sign_mode)
    stored = c << lsb
    # Representable whenever weight_exp < -lsb_shift (the only case with a floor to remove),
    # since |c| <= |w_eff| 2^weight_exp + 1/2; checked, as the arithmetic is subtle.
    assert np.array_equal(
        effective_weights(stored, proj.num_weight_bits, proj.sign_mode), stored
    ), "split-exact weights outside the synapse format"
    norm = float(np.sqrt(np.sum(w * w)))
    change = float(np.sqrt(np.sum((c - w) ** 2))) / norm if norm > 0 else 0.0
    field = "weight" if isinstance(proj, QDense) else "values"
    return proj.replace(**{field: stored, "weight_exp": -lsb}), change  # type: ignore[return-value]


@dataclass(frozen=True)
class SplitExactPass:
    """Make a placed program exact for any execution by its blocks (module docstring).

    Requires: a fixed-point graph (placed or not). Ensures: `split_hazards(graph)` is empty;
    ctx.reports["split-exact"] lists the projections whose weights it rounded.
    """

    name: ClassVar[str] = "split-exact"

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        pieces = placement_pieces(graph)
        rounded: list[dict[str, Any]] = []
        projections = dict(graph.projections)
        for name, (risk, cut) in _realized(graph, pieces).items():
            proj = graph.projections[name]
            if risk.kind != "floor":
                continue
            assert isinstance(proj, (QDense, QSparse))
            exact, change = whole_activation_units(proj)
            projections[name] = exact
            rounded.append(
                {
                    "projection": name,
                    "source": cut,
                    "pieces": len(pieces[cut]),
                    "weight_exp": [proj.weight_exp, exact.weight_exp],
                    "rel_change": change,
                }
            )
        out = graph.replace(projections=projections) if rounded else graph
        # Wraps: nothing to round, so a cut that could wrap is refused here, at compile time.
        for name, (risk, cut) in _realized(out, pieces).items():
            proj = out.projections[name]
            raise IRVerifyError(
                f"projection {name!r} ({proj.src} -> {proj.dst})",
                f"{cut!r} is cut into {len(pieces[cut])} blocks and {risk.reason}; keep {cut!r} "
                "within one core (a target with larger cores), or use smaller weights or fewer "
                "message bits",
            )
        ctx.reports[self.name] = {"rounded": rounded}
        return out
