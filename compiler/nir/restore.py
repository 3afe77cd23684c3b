"""Files written by `snnc export` carry each snnc node's exact parameters in NIR metadata; the
importer uses them only where they agree with the NIR parameters it derived (to RESTORE_RTOL),
so an edited file imports as edited and an unedited one imports bit for bit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from compiler.nir.parsed import ParsedNode
from ir.errors import IRVerifyError, ModelFormatError
from ir.graph import Graph
from ir.nodes import NODE_TYPES, Conv2d, Dense, Input, Node, Population, Sparse
from ir.safe_json import loads as parse_json
from neurons import model_of

__all__ = ["RESTORE_RTOL", "restore"]

RESTORE_RTOL = 1e-9


def restore(
    graph: Graph, root_meta: dict[str, Any], nodes: Mapping[str, ParsedNode], warned: bool,
    warn: Callable[[str], None],
) -> Graph:
    """Use snnc's exact parameters recorded by `snnc export` where they match the NIR ones (the
    graph's metadata too, unless the import `warned`)."""
    info = _json(root_meta.get("snnc"))
    if not isinstance(info, dict) or info.get("format") != "snnc-nir":
        return graph
    populations = dict(graph.populations)
    projections = dict(graph.projections)
    for name, node in nodes.items():
        exact = _snnc_node(node.meta.get("snnc"))
        if exact is None:
            continue
        target, kind = exact
        if kind == "population" and target[0] in populations:
            pop_name, new = target
            if _agrees(populations[pop_name], new):
                populations[pop_name] = new
            else:
                warn(
                    f"node {name!r}: the snnc parameters in its metadata disagree with its NIR "
                    "parameters; using the NIR parameters"
                )
        elif kind == "projection" and target[0] in projections:
            proj_name, new = target
            old = projections[proj_name]
            if new.src == old.src and new.dst == old.dst and _agrees(old, new, populations):
                projections[proj_name] = new
            else:
                warn(
                    f"node {name!r}: the snnc parameters in its metadata disagree with its NIR "
                    "parameters; using the NIR parameters"
                )
    order_p = info.get("populations")
    order_j = info.get("projections")
    if isinstance(order_p, list) and sorted(order_p) == sorted(populations):
        populations = {n: populations[n] for n in order_p}
    if isinstance(order_j, list) and sorted(order_j) == sorted(projections):
        projections = {n: projections[n] for n in order_j}
    kwargs: dict[str, Any] = {"populations": populations, "projections": projections}
    outputs = info.get("outputs")
    metadata = info.get("metadata")
    if isinstance(outputs, list) and all(isinstance(o, str) for o in outputs):
        from compiler.nir.exporter import nir_outputs

        candidate = graph.replace(outputs=tuple(outputs), **kwargs)
        if set(nir_outputs(candidate)) == set(graph.outputs):
            kwargs["outputs"] = tuple(outputs)
    if isinstance(metadata, dict) and not warned:
        kwargs["metadata"] = metadata
    try:
        return graph.replace(**kwargs)
    except IRVerifyError as e:
        warn(f"snnc metadata not used ({e})")
        return graph


def _json(value: Any) -> Any:
    """snnc's JSON in NIR metadata, or None when it is not (bounded: ir.safe_json)."""
    if isinstance(value, str):
        try:
            return parse_json(value, "metadata")
        except ModelFormatError:
            return None
    return None


def _snnc_node(meta: Any) -> tuple[tuple[str, Node], str] | None:
    """The exact snnc node recorded by `snnc export` in a NIR node's metadata, or None."""
    if not isinstance(meta, dict):
        return None
    header = _json(meta.get("header"))
    if not isinstance(header, dict):
        return None
    kind, name, type_name = header.get("kind"), header.get("name"), header.get("type")
    cls = NODE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if kind not in ("population", "projection") or not isinstance(name, str) or cls is None:
        return None
    kwargs = dict(header.get("fields", {}))
    for key, value in meta.items():
        if key != "header" and isinstance(value, np.ndarray):
            kwargs[key] = value
    for key in ("shape", "stride", "padding", "dilation"):
        if key in kwargs:
            kwargs[key] = tuple(int(v) for v in np.asarray(kwargs[key]).reshape(-1))
    try:
        return (name, cls(**kwargs)), kind
    except (IRVerifyError, TypeError, ValueError):
        return None


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        return False
    same_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    a, b = np.where(same_inf, 0.0, a), np.where(same_inf, 0.0, b)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
    return bool(
        np.all(np.abs(a - b) <= RESTORE_RTOL * np.maximum(np.abs(a), np.abs(b)) + 1e-12 * scale)
    )


def _effective(
    node: Node, populations: dict[str, Population] | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(weight, delay) of a Dense or Sparse as dense (n_dst, n_src) arrays."""
    if isinstance(node, Dense):
        return node.weight, np.broadcast_to(node.delay, node.weight.shape)
    if isinstance(node, Sparse) and populations is not None:
        shape = (populations[node.dst].size, populations[node.src].size)
        w = np.zeros(shape)
        d = np.zeros(shape, dtype=np.int64)
        w[node.rows, node.cols] = node.values
        d[node.rows, node.cols] = node.delay
        return w, d
    return None


def _agrees(derived: Node, exact: Node, populations: dict[str, Population] | None = None) -> bool:
    """True when `exact` (from metadata) describes the network `derived` (from NIR) describes."""
    if isinstance(derived, Population):
        if type(exact) is not type(derived) or math.prod(exact.shape) != math.prod(derived.shape):
            return False
        if isinstance(exact, Input):
            return True
        # Every per-neuron parameter of the model NIR carries (LIF: tau_syn, tau_mem, v_th,
        # bias; its reset interval lives in the metadata only).
        skip = set(model_of(exact).nir_metadata_only)
        return all(_close(getattr(derived, f), getattr(exact, f))
                   for f in exact.array_fields() if f not in skip)
    if isinstance(exact, Conv2d):
        return (
            isinstance(derived, Conv2d)
            and derived.weight.shape == exact.weight.shape
            and (derived.stride, derived.padding, derived.dilation, derived.groups)
            == (exact.stride, exact.padding, exact.dilation, exact.groups)
            and _close(derived.weight, exact.weight)
        )
    a, b = _effective(derived, populations), _effective(exact, populations)
    if a is None or b is None or a[0].shape != b[0].shape:
        return False
    # Delays matter only where a synapse carries a weight.
    live = (a[0] != 0) | (b[0] != 0)
    return _close(a[0], b[0]) and bool(np.array_equal(a[1][live], b[1][live]))
