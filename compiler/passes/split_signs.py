"""The split-signs pass: each mixed-sign float projection becomes an excitatory and an inhibitory
projection between the same populations, so that quantization can store both at full precision.

Why: Lava's mixed-sign synapse format spends a bit on the sign and clears the weight's lowest
bit (`8 - num_weight_bits + is_mixed`, weightutils.truncate_weights), so 8-bit mixed weights
are the even values -256..254, steps of 2; excitatory and inhibitory weights keep all 8 bits of
magnitude (0..255, steps of 1). Every synapse goes to exactly one of the two parts, so the
synapse count is unchanged and the float network computes exactly the same input
(W s = W+ s + W- s); quantized, each part has half the rounding step of the mixed projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.passes.base import PassContext
from ir.errors import IRVerifyError
from ir.graph import Graph
from ir.nodes import Conv2d, Dense, Projection, Sparse

__all__ = ["SplitSignsPass"]


@dataclass(frozen=True)
class SplitSignsPass:
    """Mixed-sign Dense/Sparse -> NAME.pos (w > 0) and NAME.neg (w < 0), both Sparse; a
    mixed-sign Conv2d -> two Conv2d of the same geometry, NAME.pos holding the positive taps and
    NAME.neg the negative ones (a kernel is shared by every position, so it stays a kernel).

    Requires: a float graph. Ensures: the same float dynamics; no projection with both signs;
    exact zero weights of Dense/Sparse are dropped (they carry nothing). Single-sign projections
    are left as they are.
    """

    name: ClassVar[str] = "split-signs"

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        if graph.domain != "float":
            return graph
        projs: dict[str, Projection] = {}
        changed = False
        for name, proj in graph.projections.items():
            parts = _split(name, proj)
            taken = [n for n in parts if n != name and n in graph.projections]
            if taken:
                raise IRVerifyError(
                    f"projection {taken[0]!r}",
                    f"already exists; split-signs names the parts of {name!r} "
                    f"{name}.pos and {name}.neg",
                )
            changed |= len(parts) > 1
            projs.update(parts)
        return graph.replace(projections=projs) if changed else graph


def _split(name: str, proj: Projection) -> dict[str, Projection]:
    if isinstance(proj, Conv2d):
        w = proj.weight
        if not (np.any(w > 0) and np.any(w < 0)):
            return {name: proj}
        # Two kernels of the same shape, each zero where the other holds the tap.
        return {
            f"{name}.pos": proj.replace(weight=np.where(w > 0, w, 0.0)),
            f"{name}.neg": proj.replace(weight=np.where(w < 0, w, 0.0)),
        }
    if isinstance(proj, Dense):
        rows, cols = np.nonzero(proj.weight)
        values = proj.weight[rows, cols]
        delay = proj.delay[rows, cols] if proj.delay.ndim else proj.delay
    elif isinstance(proj, Sparse):
        rows, cols, values, delay = proj.rows, proj.cols, proj.values, proj.delay
    else:
        return {name: proj}
    pos, neg = values > 0, values < 0
    if not (pos.any() and neg.any()):
        return {name: proj}
    out: dict[str, Projection] = {}
    for suffix, keep in (("pos", pos), ("neg", neg)):
        out[f"{name}.{suffix}"] = Sparse(
            proj.src,
            proj.dst,
            port=proj.port,
            rows=rows[keep],
            cols=cols[keep],
            values=values[keep],
            delay=delay[keep] if delay.ndim else delay,
        )
    return out
