"""snnc -> NIR: `export_nir(graph, path)`.

Every snnc node becomes standard NIR nodes whose parameters reproduce it under the written
`discretization` at the graph's `dt` (both recorded in the graph metadata, so `snnc import` needs
no `--dt`):

- Input -> Input;  a neuron population -> its model's current-based form (`to_cuba`, the
  `neurons` table; models without one fail with ExportError): LIF -> LIF (tau_syn = 0),
  CubaLIF (0 <= alpha_syn < 1), IF (tau_mem = inf),
  and the non-spiking forms (v_th = inf) LI, CubaLI, I. A current that never decays
  (tau_syn = inf), or one feeding an IF, becomes a separate I or LI node "<pop>.syn".
  Unit input gains: r = 1/k_mem, w_in = 1/k_syn (k from `discretize.alpha_k`), IF r = 1.
  bias: v_leak = bias / k_mem; a neuron without leak (IF, I) gets its bias as the Affine/Conv bias
  of its single incoming projection, else from an identity Affine "<pop>.bias" (1-D, <= 4096).
- Dense -> Linear (Affine when it carries a bias), with a Flatten in front of a (C, H, W) source;
  Sparse -> Scale when one-to-one, else Linear with zeros; Conv2d -> Conv2d. Delays -> a Delay
  node after (per destination) and/or before (per source) the weights, in seconds (steps * dt).
- graph outputs -> Output nodes.

Each NIR node that stands for an snnc node also carries that node's exact parameters in its
metadata (group "snnc"), which `snnc import` uses where they agree with the NIR parameters, so
snnc -> NIR -> snnc is exact. NIR cannot express some snnc graphs: a weight matrix into a
(C, H, W) population (NIR has no reshape), per-synapse delays that are not a per-source plus a
per-destination delay, Lava's periodic reset (`reset_interval`, kept in metadata only, with a
warning). Those fail or warn with the node named.

The file is HDF5 in `nir.write`'s layout, written atomically; the same graph gives the same bytes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.nir import discretize
from ir.atomic import atomic_output_file
from ir.errors import BackendUnavailableError, ExportError
from ir.graph import Graph
from ir.nodes import Conv2d, Dense, Input, Node, Population, Projection, Sparse
from ir.verify import verify
from neurons import model_of

__all__ = [
    "NIR_LAYOUT_VERSION",
    "ExportError",
    "export_nir",
    "graph_to_tree",
    "nir_outputs",
    "write_tree",
]

# The `nir` package version whose file layout this writer follows (nir.write, nir 1.0.x).
NIR_LAYOUT_VERSION = "1.0.8"
MAX_BIAS_NODE = 4096


def _stderr_warn(message: str) -> None:
    print(f"snnc: warning: {message}", file=sys.stderr)


@dataclass
class _Tree:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)

    def name(self, wanted: str) -> str:
        cand, k = wanted, 2
        while cand in self.taken:
            cand, k = f"{wanted}_{k}", k + 1
        self.taken.add(cand)
        return cand


@dataclass
class _PopPlan:
    """Where a population's inputs enter (`entry`) and where its spikes leave (`out`)."""

    entry: str
    out: str
    bias_on_projection: str | None = None  # projection that carries the bias of a leak-free neuron
    bias: np.ndarray | None = None


def export_nir(graph: Graph, path: str | os.PathLike, discretization: str = "euler",
               warn: Callable[[str], None] = _stderr_warn) -> dict[str, Any]:
    """Write `graph` (a float model) as a NIR file at `path`; returns the tree that was written."""
    tree = graph_to_tree(graph, discretization, warn)
    write_tree(tree, path)
    return tree


def graph_to_tree(graph: Graph, discretization: str = "euler",
                  warn: Callable[[str], None] = _stderr_warn) -> dict[str, Any]:
    """The NIR graph for `graph` as a dict tree (what `write_tree` stores)."""
    verify(graph)
    if graph.domain != "float":
        raise ExportError(
            "NIR export needs a float model (from a trainer or `snnc import`); a compiled "
            "program's fixed-point registers have no NIR form"
        )
    if discretization not in discretize.DISCRETIZATIONS:
        raise ExportError(
            f"unknown discretization {discretization!r}; known: "
            f"{', '.join(discretize.DISCRETIZATIONS)}"
        )
    return _Exporter(graph, discretization, warn).run()


class _Exporter:
    def __init__(self, graph: Graph, method: str, warn: Callable[[str], None]) -> None:
        self.g, self.method, self.warn = graph, method, warn
        self.dt = graph.dt
        self.tree = _Tree()
        self.tree.taken.update(graph.populations)
        self.tree.taken.update(graph.projections)

    def run(self) -> dict[str, Any]:
        plans = {name: self.population(name, pop) for name, pop in self.g.populations.items()}
        for name, proj in self.g.projections.items():
            self.projection(name, proj, plans)
        for out in nir_outputs(self.g):
            pop = self.g.populations[out]
            node = self.tree.name(f"{out}.output")
            self.tree.nodes[node] = {
                "type": "Output",
                "shape": np.asarray(pop.shape, dtype=np.int64),
            }
            self.tree.edges.append((plans[out].out, node))
        info = {
            "format": "snnc-nir", "version": 1, "generator": _snnc_version(),
            "outputs": list(self.g.outputs), "metadata": dict(self.g.metadata),
            "populations": list(self.g.populations), "projections": list(self.g.projections),
        }
        metadata = {"dt": float(self.dt), "discretization": self.method,
                    "snnc": json.dumps(info, sort_keys=True, allow_nan=False)}
        return {
            "type": "NIRGraph",
            "nodes": self.tree.nodes,
            "edges": self.tree.edges,
            "metadata": metadata,
        }

    # ------------------------------------------------------------------ populations

    def full(self, pop: Population, value: np.ndarray) -> np.ndarray:
        return (
            np.broadcast_to(
                np.asarray(value, dtype=np.float64).reshape(-1) if np.ndim(value) else value,
                (pop.size,),
            )
            .reshape(pop.shape)
            .astype(np.float64)
        )

    def alpha_k(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(NIR tau, alpha, k) for snnc time constants, as the importer will discretize them."""
        tau_nir = discretize.nir_tau(tau, self.dt, self.method)
        alpha, k = discretize.alpha_k(tau_nir, self.dt, self.method)
        return tau_nir, alpha, k

    def population(self, name: str, pop: Population) -> _PopPlan:
        nodes = self.tree.nodes
        if isinstance(pop, Input):
            nodes[name] = {"type": "Input", "shape": np.asarray(pop.shape, dtype=np.int64),
                           "metadata": _snnc_meta("population", name, pop)}
            return _PopPlan(entry=name, out=name)
        where = f"population {name!r}"
        model = model_of(pop, where, "NIR export")
        cuba = model.to_cuba(pop, self.dt)
        if cuba is None:
            raise ExportError(
                f"{where}: a {type(pop).__name__} ({model.name} neuron) has no NIR form; NIR's "
                "neurons are the current-based LIF family (LIF, CubaLIF, IF, LI, CubaLI, I)"
            )
        period = model.reset_period(pop)
        if period:
            self.warn(
                f"{where}: reset_interval = {period} (Lava's periodic LIFReset) has no NIR form; "
                "it is kept in snnc's metadata only, other NIR tools will ignore it"
            )
        alpha_s, alpha_m = self.full(pop, cuba["alpha_syn"]), self.full(pop, cuba["alpha_mem"])
        tau_syn, tau_mem = self.full(pop, cuba["tau_syn"]), self.full(pop, cuba["tau_mem"])
        v_th, bias = self.full(pop, cuba["v_th"]), self.full(pop, cuba["bias"])
        spiking = _all_or_none(
            np.isfinite(v_th), where, "v_th", "finite (spiking)", "inf (non-spiking)"
        )
        leaky = _all_or_none(alpha_m < 1, where, "tau_mem", "finite", "inf")
        if np.all(alpha_s == 0):
            syn = "none"
        else:
            syn = "LI" if _all_or_none(alpha_s < 1, where, "tau_syn", "finite", "inf") else "I"
        meta = _snnc_meta("population", name, pop)
        membrane: dict[str, Any]
        needs_bias = bool(np.any(bias)) and not leaky
        if leaky:
            tau_nir, _, k_m = self.alpha_k(tau_mem)
            membrane = {"tau": tau_nir, "r": discretize.unit_gain(k_m), "v_leak": bias / k_m}
        else:
            membrane = {"r": np.ones(pop.shape)}
        if spiking:
            membrane["v_threshold"] = v_th
            membrane["v_reset"] = np.zeros(pop.shape)
        if syn == "LI" and leaky:
            tau_s_nir, _, k_s = self.alpha_k(tau_syn)
            fused = {
                "tau_syn": tau_s_nir,
                "tau_mem": membrane.pop("tau"),
                **membrane,
                "w_in": discretize.unit_gain(k_s),
            }
            nodes[name] = {"type": "CubaLIF" if spiking else "CubaLI", **fused, "metadata": meta}
            return _PopPlan(entry=name, out=name)
        kind = ("LIF" if spiking else "LI") if leaky else ("IF" if spiking else "I")
        nodes[name] = {"type": kind, **membrane, "metadata": meta}
        entry = name
        plan = _PopPlan(entry=name, out=name)
        if needs_bias:
            incoming = self.g.incoming(name)
            carrier = incoming[0] if syn == "none" and len(incoming) == 1 else None
            if carrier is not None and self.can_carry_bias(carrier[1], bias):
                plan.bias_on_projection, plan.bias = carrier[0], bias
            else:
                if len(pop.shape) != 1 or pop.size > MAX_BIAS_NODE:
                    raise ExportError(
                        f"{where}: a bias on a neuron without leak (IF, tau_mem = inf) needs an "
                        "identity Affine in NIR, which snnc writes only for 1-D populations of at "
                        f"most {MAX_BIAS_NODE} neurons (shape {pop.shape}); a single incoming "
                        "Dense or a Conv2d with one bias per channel can carry it instead"
                    )
                bias_node = self.tree.name(f"{name}.bias")
                nodes[bias_node] = {
                    "type": "Affine",
                    "weight": np.eye(pop.size),
                    "bias": bias.reshape(-1),
                }
                self.tree.edges.append((bias_node, name))
                entry = bias_node
        if syn != "none":
            syn_node = self.tree.name(f"{name}.syn")
            if syn == "LI":
                tau_s_nir, _, k_s = self.alpha_k(tau_syn)
                nodes[syn_node] = {
                    "type": "LI",
                    "tau": tau_s_nir,
                    "r": discretize.unit_gain(k_s),
                    "v_leak": np.zeros(pop.shape),
                }
            else:
                nodes[syn_node] = {"type": "I", "r": np.ones(pop.shape)}
            self.tree.edges.append((syn_node, entry))
            entry = syn_node
        plan.entry = entry
        return plan

    def can_carry_bias(self, proj: Projection, bias: np.ndarray) -> bool:
        if isinstance(proj, Dense) or (isinstance(proj, Sparse) and not _one_to_one(proj, self.g)):
            return True
        if isinstance(proj, Conv2d):
            per = bias.reshape(bias.shape[0], -1)
            return bool(np.all(per == per[:, :1]))
        return False

    # ------------------------------------------------------------------ projections

    def projection(self, name: str, proj: Projection, plans: dict[str, _PopPlan]) -> None:
        nodes, edges = self.tree.nodes, self.tree.edges
        src, dst = self.g.populations[proj.src], self.g.populations[proj.dst]
        where = f"projection {name!r} ({proj.src} -> {proj.dst})"
        meta = _snnc_meta("projection", name, proj)
        plan = plans[proj.dst]
        bias = plan.bias if plan.bias_on_projection == name else None
        prev = plans[proj.src].out
        if isinstance(proj, Conv2d):
            nodes[name] = {
                "type": "Conv2d",
                "input_shape": np.asarray(src.shape[1:], dtype=np.int64),
                "weight": proj.weight.astype(np.float64),
                "stride": np.asarray(proj.stride, dtype=np.int64),
                "padding": np.asarray(proj.padding, dtype=np.int64),
                "dilation": np.asarray(proj.dilation, dtype=np.int64),
                "groups": proj.groups,
                "bias": bias.reshape(bias.shape[0], -1)[:, 0]
                if bias is not None
                else np.zeros(proj.weight.shape[0]),
                "metadata": meta,
            }
            edges.extend([(prev, name), (name, plan.entry)])
            return
        if isinstance(proj, Sparse) and _one_to_one(proj, self.g) and src.shape == dst.shape:
            delay_dst = self.delays_one_to_one(proj, dst)
            nodes[name] = {
                "type": "Scale",
                "scale": proj.values.reshape(dst.shape).astype(np.float64),
                "metadata": meta,
            }
            edges.append((prev, name))
            self.chain_end(name, name, delay_dst, dst, plan.entry)
            return
        if len(dst.shape) != 1:
            raise ExportError(
                f"{where}: a weight matrix into population {proj.dst!r} of shape {dst.shape}; NIR "
                "has no reshape node, so only Conv2d or one-to-one projections can feed a "
                "(C, H, W) population"
            )
        weight, delay = _dense(proj, src.size, dst.size)
        pre, post = self.split_delay(delay, where)
        if len(src.shape) != 1:
            flat = self.tree.name(f"{name}.flatten")
            nodes[flat] = {"type": "Flatten", "input_type": np.asarray(src.shape, dtype=np.int64),
                           "start_dim": 0, "end_dim": -1}
            edges.append((prev, flat))
            prev = flat
        if pre is not None:
            pre_node = self.tree.name(f"{name}.delay_in")
            nodes[pre_node] = {"type": "Delay", "delay": pre * self.dt}
            edges.append((prev, pre_node))
            prev = pre_node
        if bias is not None:
            nodes[name] = {
                "type": "Affine",
                "weight": weight,
                "bias": bias.reshape(-1),
                "metadata": meta,
            }
        else:
            nodes[name] = {"type": "Linear", "weight": weight, "metadata": meta}
        edges.append((prev, name))
        self.chain_end(name, name, post, dst, plan.entry)

    def chain_end(
        self, name: str, last: str, delay: np.ndarray | None, dst: Population, entry: str
    ) -> None:
        if delay is not None:
            node = self.tree.name(f"{name}.delay")
            self.tree.nodes[node] = {"type": "Delay", "delay": delay.reshape(dst.shape) * self.dt}
            self.tree.edges.append((last, node))
            last = node
        self.tree.edges.append((last, entry))

    def delays_one_to_one(self, proj: Sparse, dst: Population) -> np.ndarray | None:
        d = np.broadcast_to(proj.delay, (dst.size,)).astype(np.float64)
        return d if np.any(d) else None

    def split_delay(
        self, delay: np.ndarray, where: str
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """delay[i, j] = post[i] + pre[j] with both >= 0, or ExportError."""
        if not np.any(delay):
            return None, None
        post = delay.min(axis=1)
        pre = delay[0, :] - post[0]
        if pre.min() < 0 or not np.array_equal(post[:, None] + pre[None, :], delay):
            raise ExportError(
                f"{where}: its per-synapse delays are not a per-source plus a per-destination "
                "delay; NIR delays act on signals, not synapses"
            )
        pre_f, post_f = pre.astype(np.float64), post.astype(np.float64)
        return (pre_f if np.any(pre_f) else None), (post_f if np.any(post_f) else None)


# ---------------------------------------------------------------------------- helpers


def nir_outputs(graph: Graph) -> tuple[str, ...]:
    """The populations snnc writes Output nodes for: the graph's outputs, or, when every population
    feeds another (so snnc's default is none), the last one in topological order, because a NIR
    graph needs at least one Output."""
    names = graph.output_names
    if names:
        return names
    neurons = [n for n in graph.topological_order() if not isinstance(graph.populations[n], Input)]
    return tuple(neurons[-1:])


def _all_or_none(mask: np.ndarray, where: str, fname: str, yes: str, no: str) -> bool:
    if np.all(mask):
        return True
    if not np.any(mask):
        return False
    raise ExportError(
        f"{where}: {fname} is {yes} for some neurons and {no} for others; NIR needs one kind per "
        "node"
    )


def _one_to_one(proj: Sparse, graph: Graph) -> bool:
    n = graph.populations[proj.dst].size
    idx = np.arange(n)
    return (graph.populations[proj.src].size == n and proj.nnz == n
            and np.array_equal(proj.rows, idx) and np.array_equal(proj.cols, idx))


def _dense(proj: Projection, n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(proj, Dense):
        return proj.weight.astype(np.float64), np.broadcast_to(
            proj.delay, proj.weight.shape
        ).astype(np.int64)
    assert isinstance(proj, Sparse)
    w = np.zeros((n_dst, n_src))
    w[proj.rows, proj.cols] = proj.values
    d = np.zeros((n_dst, n_src), dtype=np.int64)
    flat = proj.delay.reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        # a uniform delay stays uniform (where there is no synapse it does nothing)
        d[:] = int(flat[0])
    else:
        d[proj.rows, proj.cols] = proj.delay
    return w, d


def _snnc_meta(kind: str, name: str, node: Node) -> dict[str, Any]:
    """snnc's exact node in NIR metadata: a JSON header of scalar fields plus one dataset per
    array."""
    import dataclasses

    fields: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if "array" in f.metadata:
            meta[f.name] = np.asarray(value)
        elif isinstance(value, tuple):
            fields[f.name] = list(value)
        else:
            fields[f.name] = value
    header = {"kind": kind, "name": name, "type": type(node).__name__, "fields": fields}
    return {"snnc": {"header": json.dumps(header, sort_keys=True), **meta}}


def _snnc_version() -> str:
    try:
        from importlib.metadata import version

        return f"snnc {version('snnc')}"
    except Exception:  # running from a source tree without installed metadata
        return "snnc (source tree)"


# ---------------------------------------------------------------------------- writing


def write_tree(tree: dict[str, Any], path: str | os.PathLike) -> None:
    """Write a NIR dict tree as HDF5 (nir.write's layout), atomically and deterministically."""
    try:
        import h5py
    except ImportError:
        raise BackendUnavailableError("writing .nir files needs h5py (pip install h5py)") from None

    def put(group: Any, key: str, value: Any) -> None:
        if isinstance(value, dict):
            if key == "metadata" and not value:
                return
            sub = group.create_group(key)
            for k in sorted(value):
                put(sub, k, value[k])
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        elif key == "edges":
            data = np.array(value, dtype=object).reshape(-1, 2)
            group.create_dataset(key, data=data, dtype=h5py.string_dtype())
        elif isinstance(value, np.ndarray) and value.ndim:
            group.create_dataset(
                key, data=value, compression="gzip", compression_opts=4, shuffle=False
            )
        elif isinstance(value, (int, float, np.ndarray, np.generic)):
            group.create_dataset(key, data=value)
        else:
            raise TypeError(f"cannot store {type(value).__name__} at {key!r}")

    with atomic_output_file(path) as tmp:
        with h5py.File(tmp, "w", track_order=False) as f:
            f.create_dataset("version", data=NIR_LAYOUT_VERSION, dtype=h5py.string_dtype())
            node = f.create_group("node")
            for key in sorted(tree):
                put(node, key, tree[key])
