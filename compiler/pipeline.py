"""Running passes: verify after each one, wrap failures with the pass history, print on request."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from compiler.passes.base import Pass, PassContext
from ir.errors import PassError, SnncError
from ir.graph import Graph
from ir.printer import print_graph
from ir.verify import verify

__all__ = ["run_pipeline"]


def run_pipeline(
    graph: Graph,
    passes: Sequence[Pass],
    ctx: PassContext,
    *,
    print_after: Sequence[str] = (),
    on_pass: Callable[[str], None] | None = None,
) -> Graph:
    """Apply `passes` in order. After each: verify against ctx.hw, then print the IR to stderr if
    the pass is named in `print_after` ("all" prints after every pass)."""
    verify(graph)
    for i, p in enumerate(passes):
        if on_pass is not None:
            on_pass(p.name)
        try:
            graph = p.run(graph, ctx)
            verify(graph, ctx.hw)
        except PassError:
            raise
        except SnncError as e:
            raise PassError(p.name, [q.name for q in passes[:i]], e) from e
        if p.name in print_after or "all" in print_after:
            print(f"// IR after {p.name}", file=sys.stderr)
            print(print_graph(graph), file=sys.stderr, end="")
    return graph
