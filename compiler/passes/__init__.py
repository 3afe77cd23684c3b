"""Compiler passes, one per file. A pass is a frozen dataclass whose fields are its options, with
a kebab-case `name`; `run(graph, ctx)` is a pure function of the graph and the hardware spec in
`ctx` that returns a new graph (or the same object when nothing changed)."""

from compiler.passes.base import Pass, PassContext

__all__ = ["Pass", "PassContext"]
