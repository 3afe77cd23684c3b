"""The graph: named populations, named projections between them, the time step, the outputs,
an optional placement and JSON metadata (seeds, provenance, encoders, reports).

Graphs are immutable. Passes build new graphs with `replace`, `with_node` or `map_nodes`;
`map_nodes` returns the same object when nothing changed, so a pass can tell if it did anything.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ir.errors import IRVerifyError
from ir.nodes import Input, Node, Population, Projection
from ir.placement import Placement

__all__ = ["NAME_RE", "Graph"]

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise IRVerifyError(
            f"{what} {name!r}", "names are 1-128 characters of letters, digits, '_', '.', '-' "
            "and do not start with '.' or '-'"
        )
    return name


@dataclass(frozen=True, eq=False)
class Graph:
    """An SNN: populations (nodes) and projections (edges).

    `dt` is the duration of one step in seconds (float-domain time constants are relative to
    it). `outputs` names the populations whose spikes a run returns; empty means every
    non-input population without outgoing projections. `metadata` is JSON data.
    """

    populations: Mapping[str, Population]
    projections: Mapping[str, Projection] = field(default_factory=dict)
    dt: float = 1e-3
    outputs: tuple[str, ...] = ()
    placement: Placement | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pops = dict(self.populations)
        projs = dict(self.projections)
        for name, node in pops.items():
            _check_name(name, "population")
            if not isinstance(node, Population):
                raise IRVerifyError(
                    f"population {name!r}", f"is a {type(node).__name__}, not a population"
                )
        for name, node in projs.items():
            _check_name(name, "projection")
            if name in pops:
                raise IRVerifyError(f"projection {name!r}", "has the same name as a population")
            if not isinstance(node, Projection):
                raise IRVerifyError(
                    f"projection {name!r}", f"is a {type(node).__name__}, not a projection"
                )
        object.__setattr__(self, "populations", MappingProxyType(pops))
        object.__setattr__(self, "projections", MappingProxyType(projs))
        try:
            dt = float(self.dt)
        except (TypeError, ValueError):
            raise IRVerifyError(
                "graph", f"dt must be a number of seconds, got {self.dt!r}"
            ) from None
        if not math.isfinite(dt) or dt <= 0:
            raise IRVerifyError(
                "graph", f"dt must be a positive number of seconds, got {self.dt!r}"
            )
        object.__setattr__(self, "dt", dt)
        outputs = (self.outputs,) if isinstance(self.outputs, str) else tuple(self.outputs)
        object.__setattr__(self, "outputs", outputs)
        try:
            meta = json.loads(json.dumps(dict(self.metadata), sort_keys=True, allow_nan=False))
        except (TypeError, ValueError) as e:
            raise IRVerifyError("graph.metadata", f"must be JSON data without NaN: {e}") from None
        object.__setattr__(self, "metadata", MappingProxyType(meta))

    # ------------------------------------------------------------------ queries

    @property
    def domain(self) -> str:
        """'float', 'fixed', or 'mixed' (an error for every consumer but the verifier)."""
        nodes = [*self.populations.values(), *self.projections.values()]
        has_float = any(n.domain == "float" for n in nodes)
        has_fixed = any(n.domain == "fixed" for n in nodes)
        if has_float and has_fixed:
            return "mixed"
        return "fixed" if has_fixed else "float"

    @property
    def inputs(self) -> tuple[str, ...]:
        """Input populations, in graph order; their neurons, concatenated, are the run's inputs."""
        return tuple(n for n, p in self.populations.items() if isinstance(p, Input))

    @property
    def n_inputs(self) -> int:
        return sum(self.populations[n].size for n in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        if self.outputs:
            return self.outputs
        has_out = {p.src for p in self.projections.values()}
        return tuple(
            n for n, p in self.populations.items() if not isinstance(p, Input) and n not in has_out
        )

    def incoming(self, population: str) -> tuple[tuple[str, Projection], ...]:
        return tuple((n, p) for n, p in self.projections.items() if p.dst == population)

    def outgoing(self, population: str) -> tuple[tuple[str, Projection], ...]:
        return tuple((n, p) for n, p in self.projections.items() if p.src == population)

    def nodes(self) -> Iterator[tuple[str, Node]]:
        """Every (name, node): populations first, then projections, each in graph order."""
        yield from self.populations.items()
        yield from self.projections.items()

    def topological_order(self) -> tuple[str, ...]:
        """Populations in dependency order; recurrent cycles are broken in graph order."""
        names = list(self.populations)
        preds: dict[str, set[str]] = {n: set() for n in names}
        for p in self.projections.values():
            if p.src != p.dst and p.src in preds and p.dst in preds:
                preds[p.dst].add(p.src)
        done: list[str] = []
        placed: set[str] = set()
        while len(done) < len(names):
            ready = [n for n in names if n not in placed and preds[n] <= placed]
            pick = ready[0] if ready else next(n for n in names if n not in placed)
            done.append(pick)
            placed.add(pick)
        return tuple(done)

    # ------------------------------------------------------------------ rebuilding

    def replace(self, **changes: Any) -> Graph:
        return replace(self, **changes)

    def with_node(self, name: str, node: Node) -> Graph:
        """A graph where population or projection `name` is `node` (added at the end if new)."""
        if isinstance(node, Population):
            return self.replace(populations={**self.populations, name: node})
        return self.replace(projections={**self.projections, name: node})

    def map_nodes(self, fn: Callable[[str, Node], Node]) -> Graph:
        """Apply `fn` to every node; returns `self` when `fn` returned every node unchanged."""
        pops = {n: fn(n, p) for n, p in self.populations.items()}
        projs = {n: fn(n, p) for n, p in self.projections.items()}
        unchanged = all(pops[n] is p for n, p in self.populations.items()) and all(
            projs[n] is p for n, p in self.projections.items()
        )
        if unchanged:
            return self
        return self.replace(populations=pops, projections=projs)
