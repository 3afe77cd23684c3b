"""A deterministic, readable text form of a graph (goldens, `snnc inspect`, `--print-ir-after`).

Small arrays are printed in full; larger ones as dtype[shape]{min max nonzeros sha}, where sha is
the first 8 hex digits of the sha256 of the array's int64/float64 little-endian bytes, so any
change to any value shows in the text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

import numpy as np

from ir.graph import Graph
from ir.nodes import Node, Projection

__all__ = ["array_digest", "excerpt", "format_array", "print_graph"]

_INLINE_MAX = 8


def array_digest(arr: np.ndarray) -> str:
    canon = np.ascontiguousarray(arr, dtype="<f8" if arr.dtype.kind == "f" else "<i8")
    h = hashlib.sha256(str(arr.shape).encode())
    h.update(canon.tobytes())
    return h.hexdigest()[:8]


def _fmt_scalar(x: object) -> str:
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return str(x)


def format_array(arr: np.ndarray) -> str:
    kind = "f64" if arr.dtype.kind == "f" else "i64"
    if arr.ndim == 0:
        return _fmt_scalar(arr.item())
    shape = ",".join(str(d) for d in arr.shape)
    if arr.size <= _INLINE_MAX:
        return f"{kind}[{shape}]({' '.join(_fmt_scalar(v) for v in arr.reshape(-1).tolist())})"
    nz = int(np.count_nonzero(arr))
    return (
        f"{kind}[{shape}]{{min={_fmt_scalar(arr.min().item())} max={_fmt_scalar(arr.max().item())} "
        f"nz={nz} sha={array_digest(arr)}}}"
    )


def _fmt_value(value: object) -> str:
    if isinstance(value, np.ndarray):
        return format_array(value)
    if isinstance(value, tuple):
        return (
            "(" + ",".join(_fmt_scalar(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        )
    return _fmt_scalar(value)


def _fmt_node(name: str, node: Node) -> str:
    skip = {"src", "dst"}
    parts = [
        f"{f.name}={_fmt_value(getattr(node, f.name))}"
        for f in dataclasses.fields(node)
        if f.name not in skip and not (f.name == "port" and getattr(node, f.name) is None)
    ]  # type: ignore[arg-type]
    if isinstance(node, Projection):
        return f"projection {name}: {node.src} -> {node.dst} {type(node).__name__} " + " ".join(
            parts
        )
    return f"population {name}: {type(node).__name__} " + " ".join(parts)


def print_graph(graph: Graph, *, metadata_width: int | None = None) -> str:
    """The whole graph as text, one line per node, ending with a newline. With `metadata_width`,
    each top-level metadata key gets its own line, cut to that many characters (for people;
    trainers record long histories there)."""
    lines = [
        f"graph domain={graph.domain} dt={_fmt_scalar(graph.dt)} "
        f"inputs={','.join(graph.inputs) or '-'} outputs={','.join(graph.output_names) or '-'}"
    ]
    if graph.metadata and metadata_width is None:
        lines.append(
            "metadata " + json.dumps(dict(graph.metadata), sort_keys=True, separators=(",", ":"))
        )
    elif graph.metadata:
        for key in sorted(graph.metadata):
            text = f"metadata.{key} " + json.dumps(
                graph.metadata[key], sort_keys=True, separators=(",", ":")
            )
            if len(text) > metadata_width:
                text = text[: metadata_width - 24] + f" ... ({len(text)} chars)"
            lines.append(text)
    lines.extend(_fmt_node(n, p) for n, p in graph.populations.items())
    lines.extend(_fmt_node(n, p) for n, p in graph.projections.items())
    pl = graph.placement
    if pl is not None:
        lines.append(f"placement target={pl.target} cores={pl.n_cores} chips={pl.n_chips}")
        index: dict[str, int] = {}
        for b in pl.blocks:
            k = index.get(b.population, 0)
            index[b.population] = k + 1
            rng = b.range()
            neurons = f"[{rng[0]},{rng[1]})" if rng else format_array(b.neurons)
            lines.append(
                f"  block {b.population}#{k}: neurons={neurons} core={b.core} "
                f"chip={int(pl.core_chip[b.core])}"
            )
    return "\n".join(lines) + "\n"


def excerpt(graph: Graph, where: str, context: int = 2) -> str:
    """Lines of the printed graph around the node named in `where` (for verifier errors)."""
    m = re.search(r"'([^']+)'", where)
    if not m:
        return ""
    name = m.group(1)
    try:
        lines = print_graph(graph).splitlines()
    except Exception:  # the graph may be too broken to print; the error message stands alone
        return ""
    hits = [i for i, line in enumerate(lines) if re.search(rf"\b{re.escape(name)}\b", line)]
    if not hits:
        return ""
    lo, hi = max(0, hits[0] - context), min(len(lines), hits[-1] + context + 1)
    return "\n".join(lines[lo:hi])
