"""Step 1 of the NIR import: the file's node tree (`reader`) as a flat graph of checked nodes.

Nested graphs are flattened (a node `n` of sub-graph `sub` becomes `sub.n`) and their
Input/Output ports removed, each port's predecessors joined to its successors. Every node's
type must be one snnc reads (`SUPPORTED`) and its parameters fit the type's table (`_PARAMS`:
required ones, optional ones with defaults): numbers, whole where they are shapes, strides or
counts, never NaN; padding may also be 'same' or 'valid'. What the parameters mean is the
importer's (`compiler.nir.importer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from compiler.nir.parsed import NEURON_TYPES, ParsedNode
from compiler.nir.reader import RawNode
from ir.errors import ModelFormatError, UnsupportedNodeError

__all__ = ["OPERATOR_TYPES", "SUPPORTED", "NodeFlattener"]

OPERATOR_TYPES = (
    "Affine",
    "Linear",
    "Scale",
    "Conv1d",
    "Conv2d",
    "SumPool2d",
    "AvgPool2d",
    "Flatten",
    "Delay",
)
SUPPORTED = ("Input", "Output", *OPERATOR_TYPES, *NEURON_TYPES, "NIRGraph")

# NIR node type -> (required parameters, optional parameters with defaults)
_PARAMS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "Input": (("shape",), {}),
    "Output": ((), {"shape": None}),
    "Affine": (("weight", "bias"), {}),
    "Linear": (("weight",), {}),
    "Scale": (("scale",), {}),
    "Conv1d": (
        ("weight", "stride", "padding", "dilation", "groups", "bias"),
        {"input_shape": None},
    ),
    "Conv2d": (
        ("weight", "stride", "padding", "dilation", "groups", "bias"),
        {"input_shape": None},
    ),
    "SumPool2d": (("kernel_size", "stride", "padding"), {}),
    "AvgPool2d": (("kernel_size", "stride", "padding"), {}),
    "Flatten": ((), {"start_dim": 1, "end_dim": -1, "input_type": None}),
    "Delay": (("delay",), {}),
    "IF": (("r", "v_threshold"), {"v_reset": 0.0}),
    "LIF": (("tau", "r", "v_leak", "v_threshold"), {"v_reset": 0.0}),
    "CubaLIF": (
        ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold"),
        {"v_reset": 0.0, "w_in": 1.0},
    ),
    "LI": (("tau", "r", "v_leak"), {}),
    "CubaLI": (("tau_syn", "tau_mem", "r", "v_leak"), {"w_in": 1.0}),
    "I": (("r",), {}),
    "Threshold": (("threshold",), {}),
}
_TEXT_FIELDS = {"padding"}
_INT_FIELDS = {"groups", "start_dim", "end_dim"}
_SHAPE_FIELDS = {
    "shape",
    "input_shape",
    "input_type",
    "stride",
    "dilation",
    "kernel_size",
    "padding",
}


class NodeFlattener:
    """`NodeFlattener(label, fail).flatten(root)`: the leaf nodes of a NIR file's root graph,
    checked, and the edges between them; errors name the file `label`."""

    def __init__(self, label: str, fail: Callable[[str | None, str], ModelFormatError]) -> None:
        self.label, self.fail = label, fail

    def flatten(self, root: RawNode) -> tuple[dict[str, ParsedNode], list[tuple[str, str]]]:
        """Leaf nodes by dotted name, and edges between them, with sub-graph ports removed."""
        nodes: dict[str, ParsedNode] = {}
        passes: set[str] = set()
        edges: list[tuple[str, str]] = []

        def expand(graph: RawNode, prefix: str) -> None:
            for key, child in graph.nodes.items():
                full = prefix + key
                if child.type == "NIRGraph":
                    expand(child, full + ".")
                    continue
                node = self.parse(child, full)
                nodes[full] = node
                if prefix and child.type in ("Input", "Output"):
                    passes.add(full)
            for a, b in graph.edges:
                edges.append(
                    (resolve(graph, prefix, a, "source"), resolve(graph, prefix, b, "destination"))
                )

        def resolve(graph: RawNode, prefix: str, endpoint: str, role: str) -> str:
            child = graph.nodes.get(endpoint)
            if child is not None and child.type == "NIRGraph":
                port_type = "Input" if role == "destination" else "Output"
                ports = [k for k, c in child.nodes.items() if c.type == port_type]
                if len(ports) != 1:
                    raise self.fail(
                        f"edge to/from sub-graph {prefix + endpoint!r}",
                        f"the sub-graph has {len(ports)} {port_type} nodes; name one as "
                        f"'{endpoint}.<port>'",
                    )
                return f"{prefix}{endpoint}.{ports[0]}"
            full = prefix + endpoint
            if child is None and not _exists(graph, endpoint):
                raise self.fail(f"edge with {role} {full!r}", "names a node that does not exist")
            return full

        expand(root, "")
        for a, b in edges:
            for end in (a, b):
                if end not in nodes:
                    raise self.fail(f"edge ({a!r}, {b!r})", f"{end!r} is not a node")
        if len(set(edges)) != len(edges):
            dup = next(e for e in edges if edges.count(e) > 1)
            raise self.fail(f"edge {dup!r}", "appears twice")
        for a, b in edges:
            if nodes[b].type == "Input" and b not in passes:
                raise self.fail(
                    f"edge ({a!r}, {b!r})",
                    f"ends at Input {b!r}; a graph's inputs receive no edges",
                )
            if nodes[a].type == "Output" and a not in passes:
                raise self.fail(
                    f"edge ({a!r}, {b!r})",
                    f"starts at Output {a!r}; a graph's outputs feed nothing",
                )
        # Remove sub-graph Input/Output ports: connect their predecessors to their successors.
        for port in sorted(passes):
            ins = [a for a, b in edges if b == port]
            outs = [b for a, b in edges if a == port]
            if nodes[port].type == "Input" and not ins and outs:
                raise self.fail(
                    f"node {port!r} (Input of a sub-graph)", "nothing in the parent graph feeds it"
                )
            edges = [e for e in edges if port not in e] + [(a, b) for a in ins for b in outs]
            del nodes[port]
        return nodes, edges

    def parse(self, raw: RawNode, name: str) -> ParsedNode:
        if raw.type not in _PARAMS:
            raise UnsupportedNodeError(
                f"{self.label}: node {name!r}", raw.type, list(SUPPORTED), "snnc's NIR importer"
            )
        required, optional = _PARAMS[raw.type]
        where = f"node {name!r} ({raw.type})"
        params: dict[str, Any] = {}
        for key in (*required, *optional):
            if key not in raw.fields:
                if key in required:
                    raise self.fail(f"{where}.{key}", "missing")
                params[key] = optional[key]
                continue
            params[key] = self.check_value(raw.fields[key], key, where)
        return ParsedNode(name=name, type=raw.type, params=params, meta=raw.metadata)

    def check_value(self, value: Any, key: str, where: str) -> Any:
        if key in _TEXT_FIELDS and isinstance(value, str):
            if value not in ("same", "valid"):
                raise self.fail(
                    f"{where}.{key}", f"expected 'same', 'valid' or integers, got {value!r}"
                )
            return value
        if isinstance(value, dict) and key == "input_type":
            value = value.get("input")
            if value is None:
                return None
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            raise self.fail(f"{where}.{key}", f"expected numbers, got {type(value).__name__}")
        if key in _SHAPE_FIELDS or key in _INT_FIELDS:
            if (
                value.size == 0
                or not np.all(np.isfinite(value))
                or np.any(value != np.round(value))
            ):
                raise self.fail(f"{where}.{key}", f"expected integers, got {value.tolist()!r}")
            arr = value.astype(np.int64)
            return int(arr.reshape(-1)[0]) if key in _INT_FIELDS else arr
        arr = value.astype(np.float64)
        if arr.size == 0:
            raise self.fail(f"{where}.{key}", f"is empty (shape {arr.shape})")
        if np.any(np.isnan(arr)):
            raise self.fail(f"{where}.{key}", "contains NaN")
        return arr


def _exists(graph: RawNode, endpoint: str) -> bool:
    """True when `endpoint` is 'sub.port' naming a node inside a sub-graph of `graph`."""
    head, _, rest = endpoint.partition(".")
    child = graph.nodes.get(head)
    if child is None or child.type != "NIRGraph" or not rest:
        return False
    return rest in child.nodes or _exists(child, rest)
