"""Comparing two traces of one program and pinning the first divergence.

The first divergence is the earliest (step, sample) at which any probed variable differs,
taking populations in topological order and, within one step, the model's state variables in
the order it updates them, then spikes (LIF: u before v before spikes): a wrong weight shows
first in the destination's u, a wrong threshold first in the spikes (or in v after the reset
that did or did not happen).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from backends.base import Trace
from ir.graph import Graph
from neurons import variables_of

__all__ = ["Comparison", "Divergence", "compare_traces"]

@dataclass(frozen=True)
class Divergence:
    population: str
    block: int | None  # index of the block within the population (placed programs)
    core: int | None
    neuron: int  # flat index within the population
    neuron_index: tuple[int, ...]  # index in the population's shape
    sample: int
    step: int  # 1-based time step
    variable: str
    reference: int
    target: int

    def describe(self) -> str:
        where = f"{self.population}[{','.join(map(str, self.neuron_index))}]"
        if self.block is not None:
            where += f" (block {self.block}, core {self.core})"
        return (
            f"first divergence: {where} {self.variable} at step {self.step} of sample "
            f"{self.sample}: "
            f"reference {self.reference}, target {self.target}"
        )


@dataclass
class Comparison:
    compared: dict[str, dict[str, float]] = field(default_factory=dict)  # pop -> var -> agreement
    first: Divergence | None = None
    mismatches: int = 0
    total: int = 0

    @property
    def agree(self) -> bool:
        return self.first is None

    def to_json(self) -> dict[str, Any]:
        return {
            "agree": self.agree,
            "agreement": self.compared,
            "mismatched_values": self.mismatches,
            "compared_values": self.total,
            "first_divergence": None if self.first is None else asdict(self.first),
        }


def _locate(program: Graph, pop: str, neuron: int) -> tuple[int | None, int | None]:
    placement = program.placement
    if placement is None:
        return None, None
    for k, block in enumerate(placement.blocks_of(pop)):
        i = int(np.searchsorted(block.neurons, neuron))
        if i < block.size and int(block.neurons[i]) == neuron:
            return k, block.core
    return None, None


def compare_traces(program: Graph, reference: Trace, target: Trace) -> Comparison:
    """Compare every variable probed in both traces."""
    result = Comparison()
    best: tuple[Any, ...] | None = None
    order = {name: i for i, name in enumerate(program.topological_order())}
    for pop in sorted(set(reference.data) & set(target.data), key=lambda p: order.get(p, 0)):
        # State variables in update order, then what the neurons send.
        var_order = (*variables_of(program.populations[pop])[1:], "spikes")
        for var in var_order:
            if var not in reference.data[pop] or var not in target.data[pop]:
                continue
            ref = np.asarray(reference.data[pop][var]).astype(np.int64)
            tgt = np.asarray(target.data[pop][var]).astype(np.int64)
            if ref.shape != tgt.shape:
                raise ValueError(
                    f"{pop}.{var}: reference shape {ref.shape} != target shape {tgt.shape}"
                )
            diff = ref != tgt
            n_diff = int(diff.sum())
            result.compared.setdefault(pop, {})[var] = 1.0 - n_diff / max(diff.size, 1)
            result.mismatches += n_diff
            result.total += diff.size
            if not n_diff:
                continue
            b, t, i = np.argwhere(diff).T
            # earliest step, then earliest sample, then lowest neuron
            k = np.lexsort((i, b, t))[0]
            key = (int(t[k]), order.get(pop, 0), var_order.index(var), int(b[k]), int(i[k]))
            if best is None or key < best[0]:
                best = (
                    key,
                    pop,
                    var,
                    int(b[k]),
                    int(t[k]),
                    int(i[k]),
                    int(ref[b[k], t[k], i[k]]),
                    int(tgt[b[k], t[k], i[k]]),
                )
    if best is not None:
        _, pop, var, b, t, i, rv, tv = best
        block, core = _locate(program, pop, i)
        shape = program.populations[pop].shape
        result.first = Divergence(
            pop,
            block,
            core,
            i,
            tuple(int(x) for x in np.unravel_index(i, shape)),
            b,
            t + 1,
            var,
            rv,
            tv,
        )
    return result
