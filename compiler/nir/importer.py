"""NIR -> snnc: `load(path, dt)` for `compiler.model_io.IMPORTERS`, and `import_nir`.

NIR puts weights (Affine, Linear, Conv, pooling, Scale) and neurons (LIF, CubaLIF, IF, ...) both
as nodes; snnc has populations (neurons) joined by projections (weights). The importer

1. reads the file (`reader`), flattens nested graphs (`sub.node` names) and removes their
   Input/Output pass-through nodes;
2. infers every node's signal shape from the Inputs;
3. turns each neuron node into one snnc `LIF` (a synaptic filter node LI/I feeding a LIF, IF,
   LI, I or Threshold through elementwise nodes only becomes that LIF's current `u`);
4. turns every path population -> linear nodes -> neuron into one projection (`ops.compose`),
   with the neuron's input gains folded into the weights and every bias into the LIF's bias;
5. marks the populations read by Output nodes as the graph's outputs.

Step `dt`: `--dt` if given, else the file's graph metadata `dt`, else 1e-4 s (the value snnTorch's
exporter and NIR's Lava example assume), with a warning. Discretization: the argument, else the
file's metadata `discretization`, else forward Euler (see `discretize`).

Files written by `snnc export` carry each snnc node's exact parameters in NIR metadata; the
importer uses them only where they agree with the NIR parameters it derived (to 1e-9), so an
edited file imports as edited and an unedited one imports bit for bit.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.errors import IRVerifyError, ModelFormatError, SnncError, UnsupportedNodeError
from ir.graph import NAME_RE, Graph
from ir.nodes import NODE_TYPES, Conv2d, Dense, Input, Node, Population, Projection, Sparse
from ir.safe_json import loads as parse_json
from ir.verify import verify
from neurons import MODELS, model_of

from compiler.nir import discretize
from compiler.nir.ops import Op, PathError, apply_linear, compose, conv_output_shape
from compiler.nir.reader import NirFile, RawNode, read_nir

__all__ = ["DEFAULT_DT", "SUPPORTED", "import_nir", "load"]

DEFAULT_DT = 1e-4
DEFAULT_DISCRETIZATION = "euler"
# Agreement needed between the NIR parameters and snnc's exact ones recorded in metadata.
RESTORE_RTOL = 1e-9

# NIR neuron types -> the neuron model that takes them (the table's NIR mappings). Every one is
# read into the current-based form of `_Pop` and handed to the model's `from_cuba`.
_NIR_MODEL = {t: m for m in MODELS for t in m.nir_types}
NEURON_TYPES = tuple(_NIR_MODEL)
OPERATOR_TYPES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Delay")
SUPPORTED = ("Input", "Output", *OPERATOR_TYPES, *NEURON_TYPES, "NIRGraph")
_SYNAPSE_STAGES = ("LI", "I")  # a leaky or perfect integrator that can be another neuron's current
_MEMBRANES = ("LIF", "IF", "LI", "I", "Threshold")
_SPIKING = ("LIF", "IF", "CubaLIF", "Threshold")

# NIR node type -> (required parameters, optional parameters with defaults)
_PARAMS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "Input": (("shape",), {}),
    "Output": ((), {"shape": None}),
    "Affine": (("weight", "bias"), {}),
    "Linear": (("weight",), {}),
    "Scale": (("scale",), {}),
    "Conv1d": (("weight", "stride", "padding", "dilation", "groups", "bias"), {"input_shape": None}),
    "Conv2d": (("weight", "stride", "padding", "dilation", "groups", "bias"), {"input_shape": None}),
    "SumPool2d": (("kernel_size", "stride", "padding"), {}),
    "AvgPool2d": (("kernel_size", "stride", "padding"), {}),
    "Flatten": ((), {"start_dim": 1, "end_dim": -1, "input_type": None}),
    "Delay": (("delay",), {}),
    "IF": (("r", "v_threshold"), {"v_reset": 0.0}),
    "LIF": (("tau", "r", "v_leak", "v_threshold"), {"v_reset": 0.0}),
    "CubaLIF": (("tau_syn", "tau_mem", "r", "v_leak", "v_threshold"), {"v_reset": 0.0, "w_in": 1.0}),
    "LI": (("tau", "r", "v_leak"), {}),
    "CubaLI": (("tau_syn", "tau_mem", "r", "v_leak"), {"w_in": 1.0}),
    "I": (("r",), {}),
    "Threshold": (("threshold",), {}),
}
_TEXT_FIELDS = {"padding"}
_INT_FIELDS = {"groups", "start_dim", "end_dim"}
_SHAPE_FIELDS = {"shape", "input_shape", "input_type", "stride", "dilation", "kernel_size", "padding"}


def _stderr_warn(message: str) -> None:
    print(f"snnc: warning: {message}", file=sys.stderr)


def load(path: str | os.PathLike, dt: float | None) -> Graph:
    """`compiler.model_io` importer entry: the graph in a .nir file (warnings on stderr)."""
    return import_nir(path, dt=dt)


@dataclass(eq=False)
class _Node:
    """A NIR node after flattening: dotted `name`, type, checked parameters, NIR metadata."""

    name: str
    type: str
    params: dict[str, Any]
    meta: dict[str, Any]


@dataclass
class _Pop:
    """A population being built: NIR neuron node(s) -> coefficients of snnc's LIF, flat per neuron.

    u[t] = alpha_s u + g * x[t] + u_bias;  v[t] = alpha_m v + u[t] + v_bias;  spike v > v_th.
    """

    name: str  # the node whose output the population is (membrane, Input)
    entry: str  # the node whose inputs feed the population (synapse stage if merged)
    kind: str  # NIR type of `name`
    shape: tuple[int, ...]
    alpha_s: np.ndarray | None = None
    alpha_m: np.ndarray | None = None
    gain: np.ndarray | None = None
    u_bias: np.ndarray | None = None
    v_bias: np.ndarray | None = None
    v_th: np.ndarray | None = None
    weight_gain: np.ndarray | None = None  # the part of `gain` folded into the weights
    rescale: np.ndarray | None = None  # gain / weight_gain, moved into the state's scale

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def import_nir(
    path: str | os.PathLike,
    dt: float | None = None,
    discretization: str | None = None,
    warn: Callable[[str], None] = _stderr_warn,
) -> Graph:
    """Import a .nir file as a float snnc graph (verified). See the module docstring."""
    nf = read_nir(path)
    return _Importer(nf, warn).run(dt, discretization)


class _Importer:
    def __init__(self, nf: NirFile, warn: Callable[[str], None]) -> None:
        self.nf, self.label, self._warn = nf, nf.path, warn
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ helpers

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self._warn(f"{self.label}: {message}")

    def fail(self, where: str | None, message: str) -> ModelFormatError:
        return ModelFormatError(self.label, where, message)

    @staticmethod
    def where(node: _Node) -> str:
        return f"node {node.name!r} ({node.type})"

    # ------------------------------------------------------------------ driver

    def run(self, dt: float | None, discretization: str | None) -> Graph:
        nodes, edges = self.flatten(self.nf.root)
        self.nodes = nodes
        self.preds: dict[str, list[str]] = {n: [] for n in nodes}
        self.succs: dict[str, list[str]] = {n: [] for n in nodes}
        for a, b in edges:
            self.preds[b].append(a)
            self.succs[a].append(b)
        root_meta = self.nf.root.metadata
        self.dt, dt_source = self.resolve_dt(dt, root_meta)
        self.method, method_source = self.resolve_discretization(discretization, root_meta)
        self.shapes = self.infer_shapes()
        self.ops = {n: self.make_op(node) for n, node in nodes.items() if node.type in OPERATOR_TYPES}
        try:
            pops = self.make_populations()
            projections, biases = self.make_projections(pops)
            populations = {name: self.finish_population(pop, biases.get(name)) for name, pop in pops.items()}
        except IRVerifyError as e:
            raise self.fail(None, str(e)) from None
        outputs = self.outputs(pops)
        names = self.snnc_names([*populations, *(p[0] for p in projections)])
        graph_pops = {names[n]: node for n, node in populations.items()}
        graph_projs = {}
        for proj_name, node in projections:
            graph_projs[names[proj_name]] = node.replace(src=names[node.src], dst=names[node.dst])
        metadata = {"import": {
            "format": "nir", "nir_version": self.nf.version, "sha256": self.nf.sha256,
            "dt": self.dt, "dt_source": dt_source,
            "discretization": self.method, "discretization_source": method_source,
            "warnings": list(self.warnings),
        }}
        try:
            graph = Graph(populations=graph_pops, projections=graph_projs, dt=self.dt,
                          outputs=tuple(names[o] for o in outputs), metadata=metadata)
        except IRVerifyError as e:
            raise self.fail(None, str(e)) from None
        graph = self.restore(graph, root_meta)
        try:
            return verify(graph)
        except IRVerifyError as e:
            raise self.fail(None, f"the imported graph is not valid: {e}") from None

    # ------------------------------------------------------------------ 1. flatten

    def flatten(self, root: RawNode) -> tuple[dict[str, _Node], list[tuple[str, str]]]:
        """Leaf nodes by dotted name, and edges between them, with sub-graph ports removed."""
        nodes: dict[str, _Node] = {}
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
                edges.append((resolve(graph, prefix, a, "source"), resolve(graph, prefix, b, "destination")))

        def resolve(graph: RawNode, prefix: str, endpoint: str, role: str) -> str:
            child = graph.nodes.get(endpoint)
            if child is not None and child.type == "NIRGraph":
                port_type = "Input" if role == "destination" else "Output"
                ports = [k for k, c in child.nodes.items() if c.type == port_type]
                if len(ports) != 1:
                    raise self.fail(f"edge to/from sub-graph {prefix + endpoint!r}",
                                    f"the sub-graph has {len(ports)} {port_type} nodes; name one as '{endpoint}.<port>'")
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
                raise self.fail(f"edge ({a!r}, {b!r})", f"ends at Input {b!r}; a graph's inputs receive no edges")
            if nodes[a].type == "Output" and a not in passes:
                raise self.fail(f"edge ({a!r}, {b!r})", f"starts at Output {a!r}; a graph's outputs feed nothing")
        # Remove sub-graph Input/Output ports: connect their predecessors to their successors.
        for port in sorted(passes):
            ins = [a for a, b in edges if b == port]
            outs = [b for a, b in edges if a == port]
            if nodes[port].type == "Input" and not ins and outs:
                raise self.fail(f"node {port!r} (Input of a sub-graph)", "nothing in the parent graph feeds it")
            edges = [e for e in edges if port not in e] + [(a, b) for a in ins for b in outs]
            del nodes[port]
        return nodes, edges

    def parse(self, raw: RawNode, name: str) -> _Node:
        if raw.type not in _PARAMS:
            raise UnsupportedNodeError(f"{self.label}: node {name!r}", raw.type, list(SUPPORTED), "snnc's NIR importer")
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
        return _Node(name=name, type=raw.type, params=params, meta=raw.metadata)

    def check_value(self, value: Any, key: str, where: str) -> Any:
        if key in _TEXT_FIELDS and isinstance(value, str):
            if value not in ("same", "valid"):
                raise self.fail(f"{where}.{key}", f"expected 'same', 'valid' or integers, got {value!r}")
            return value
        if isinstance(value, dict) and key == "input_type":
            value = value.get("input")
            if value is None:
                return None
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            raise self.fail(f"{where}.{key}", f"expected numbers, got {type(value).__name__}")
        if key in _SHAPE_FIELDS or key in _INT_FIELDS:
            if value.size == 0 or not np.all(np.isfinite(value)) or np.any(value != np.round(value)):
                raise self.fail(f"{where}.{key}", f"expected integers, got {value.tolist()!r}")
            arr = value.astype(np.int64)
            return int(arr.reshape(-1)[0]) if key in _INT_FIELDS else arr
        arr = value.astype(np.float64)
        if arr.size == 0:
            raise self.fail(f"{where}.{key}", f"is empty (shape {arr.shape})")
        if np.any(np.isnan(arr)):
            raise self.fail(f"{where}.{key}", "contains NaN")
        return arr

    # ------------------------------------------------------------------ dt, discretization

    def resolve_dt(self, dt: float | None, meta: dict[str, Any]) -> tuple[float, str]:
        file_dt = meta.get("dt")
        if file_dt is not None:
            try:
                file_dt = float(np.asarray(file_dt).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                raise self.fail("metadata.dt", f"expected a number of seconds, got {file_dt!r}") from None
            if not math.isfinite(file_dt) or file_dt <= 0:
                raise self.fail("metadata.dt", f"expected a positive number of seconds, got {file_dt!r}")
        if dt is not None:
            if not math.isfinite(dt) or dt <= 0:
                raise SnncError(f"--dt must be a positive number of seconds, got {dt!r}")
            if file_dt is not None and file_dt != dt:
                self.warn(f"--dt {dt!r} overrides the file's dt = {file_dt!r} s")
            return float(dt), "argument"
        if file_dt is not None:
            return file_dt, "file"
        if self.uses_dt():
            guess = self.exporter()
            if guess is not None:
                name, guess_dt, why = guess
                self.warn(f"the file records no time step; it looks like {name}'s export ({why}): "
                          f"assuming dt = {guess_dt!r} s; pass --dt to set it")
                return guess_dt, f"assumed, {name.split()[0]} export detected"
            self.warn(f"the file records no time step and matches no known exporter; assuming dt = "
                      f"{DEFAULT_DT!r} s (snnTorch's convention); pass --dt to set it (a Norse 1.1.0 "
                      "file: --dt = (Norse's dt)^2, 1e-6 for its default 1 ms)")
            return DEFAULT_DT, "assumed"
        return DEFAULT_DT, "unused"

    def exporter(self) -> tuple[str, float, str] | None:
        """Which framework wrote a file without dt, from its neurons' parameters, as
        (name, dt that reproduces it, why); None when the parameters fit neither convention.

        - snnTorch writes r = tau_mem / dt with its hard-coded dt = 1e-4 s, on every neuron.
        - Norse writes r = 1. Norse <= 1.1.0 writes tau = dt / tau_mem_inv, the time constant
          times its dt (norse#411): with its default dt = 1 ms every tau is below 1 ms, and its
          Euler step decays by dt * tau_mem_inv = dt^2 / tau, so dt^2 = 1e-6 reproduces it. A
          Norse after the fix writes the true tau and steps with its default dt = 1e-3.
        """
        taus, rs = [], []
        for node in self.nodes.values():
            tau = node.params.get("tau", node.params.get("tau_mem"))
            r = node.params.get("r")
            if node.type in ("LIF", "LI", "CubaLIF", "CubaLI") and tau is not None and r is not None:
                try:
                    t, q = np.broadcast_arrays(np.asarray(tau, dtype=np.float64), np.asarray(r, dtype=np.float64))
                except ValueError:
                    return None
                taus.append(t.reshape(-1))
                rs.append(q.reshape(-1))
        if not taus:
            return None
        tau, r = np.concatenate(taus), np.concatenate(rs)
        if not np.all(np.isfinite(tau)):
            return None
        if np.allclose(r, tau / DEFAULT_DT, rtol=1e-3, atol=0):
            return "snnTorch", DEFAULT_DT, f"r = tau / dt with dt = {DEFAULT_DT!r} s on every neuron"
        if np.all(r == 1):
            if np.all(tau < 1e-3):
                return ("Norse 1.1.0", 1e-6,
                        "r = 1, every tau below 1 ms: tau = dt x tau_mem, norse#411; --dt = (Norse's dt)^2, "
                        "1e-6 for its default 1 ms")
            return "Norse", 1e-3, "r = 1, tau >= 1 ms; Norse's default dt"
        return None

    def uses_dt(self) -> bool:
        for node in self.nodes.values():
            if node.type in ("LIF", "LI", "CubaLIF", "CubaLI", "Delay"):
                return True
        return False

    def resolve_discretization(self, method: str | None, meta: dict[str, Any]) -> tuple[str, str]:
        if method is not None:
            if method not in discretize.DISCRETIZATIONS:
                raise SnncError(f"unknown discretization {method!r}; known: {', '.join(discretize.DISCRETIZATIONS)}")
            return method, "argument"
        file_method = meta.get("discretization")
        if file_method is not None:
            if file_method not in discretize.DISCRETIZATIONS:
                raise self.fail("metadata.discretization",
                                f"{file_method!r} is not one of {', '.join(discretize.DISCRETIZATIONS)}")
            return file_method, "file"
        return DEFAULT_DISCRETIZATION, "default"

    # ------------------------------------------------------------------ 2. shapes

    def infer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Output shape of every node, propagated from Inputs and neuron parameters."""
        shapes: dict[str, tuple[int, ...]] = {}
        order = list(self.nodes)
        changed = True
        while changed:
            changed = False
            for name in order:
                if name in shapes:
                    continue
                node = self.nodes[name]
                known = [p for p in self.preds[name] if p in shapes]
                if self.preds[name] and not known:
                    continue  # its input decides its shape (and is checked against its parameters)
                in_shape = shapes[known[0]] if known else None
                out = self.node_shape(node, in_shape)
                if out is not None:
                    shapes[name] = out
                    changed = True
        for name, node in self.nodes.items():
            if name not in shapes:
                raise self.fail(self.where(node), "its shape cannot be inferred (no path from an Input)")
        for name, node in self.nodes.items():
            for p in self.preds[name]:
                got, want = math.prod(shapes[p]), self.in_size(node, shapes)
                if got != want:
                    raise self.fail(f"edge ({p!r}, {name!r})", f"carries {got} values, {name!r} takes {want}")
        return shapes

    def in_size(self, node: _Node, shapes: dict[str, tuple[int, ...]]) -> int:
        p = node.params
        if node.type in ("Affine", "Linear"):
            return int(p["weight"].shape[1])
        preds = self.preds[node.name]
        if preds:
            return math.prod(shapes[preds[0]])
        return math.prod(shapes[node.name])

    def node_shape(self, node: _Node, in_shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        p, t, where = node.params, node.type, self.where(node)
        if t == "Input":
            shape = tuple(int(d) for d in p["shape"].reshape(-1))
            while len(shape) > 3 and shape[0] == 1:  # a batch dimension some exporters keep
                shape = shape[1:]
            if not shape or len(shape) > 3 or min(shape) <= 0:
                raise self.fail(f"{where}.shape", f"expected 1 to 3 positive sizes, got {list(shape)}")
            return shape
        if t in NEURON_TYPES:
            return self.neuron_shape(node, in_shape)
        if in_shape is None:
            return None
        if t == "Output":
            return in_shape
        if t in ("Affine", "Linear"):
            w = p["weight"]
            if w.ndim != 2:
                raise self.fail(f"{where}.weight", f"expected a 2-D (out, in) matrix, got shape {w.shape}")
            if t == "Affine" and p["bias"].size not in (1, w.shape[0]):
                raise self.fail(f"{where}.bias", f"expected {w.shape[0]} values, got {p['bias'].size}")
            return (int(w.shape[0]),)
        if t in ("Scale", "Delay"):
            key = "scale" if t == "Scale" else "delay"
            if p[key].size not in (1, math.prod(in_shape)):
                raise self.fail(f"{where}.{key}", f"has {p[key].size} values for a signal of shape {in_shape}")
            return in_shape
        if t == "Flatten":
            return _flatten_shape(in_shape, p["start_dim"], p["end_dim"])
        return self.spatial_shape(node, in_shape)

    def neuron_shape(self, node: _Node, in_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        arrays = [v for v in node.params.values() if isinstance(v, np.ndarray)]
        sizes = {a.size for a in arrays} - {1}
        if len(sizes) > 1:
            raise self.fail(self.where(node), f"parameters have different sizes {sorted(sizes)}")
        if in_shape is not None:
            if sizes and sizes != {math.prod(in_shape)}:
                raise self.fail(self.where(node), f"has {sizes.pop()} neurons but receives {math.prod(in_shape)} values")
            return in_shape
        full = [a for a in arrays if a.size > 1]
        shape = tuple(full[0].shape) if full else (1,)
        while len(shape) > 3 and shape[0] == 1:
            shape = shape[1:]
        return shape or (1,)

    def spatial_shape(self, node: _Node, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        p, t, where = node.params, node.type, self.where(node)
        size = math.prod(in_shape)
        if t == "Conv1d":
            w = p["weight"]
            if w.ndim != 3:
                raise self.fail(f"{where}.weight", f"expected (C_out, C_in/groups, k), got shape {w.shape}")
            c_in = w.shape[1] * p["groups"]
            if size % c_in:
                raise self.fail(where, f"input of {size} values is not {c_in} channels")
            shape3 = (c_in, 1, size // c_in)
            kernel = (1, int(w.shape[2]))
            stride, dilation = (1, self.one(p["stride"], where, "stride")), (1, self.one(p["dilation"], where, "dilation"))
            padding = (0, self.padding_1d(p["padding"], kernel[1], dilation[1], stride[1], where))
            c_out = int(w.shape[0])
        else:
            if t == "Conv2d":
                w = p["weight"]
                if w.ndim != 4:
                    raise self.fail(f"{where}.weight", f"expected (C_out, C_in/groups, kH, kW), got shape {w.shape}")
                c_in, c_out, kernel = int(w.shape[1] * p["groups"]), int(w.shape[0]), (int(w.shape[2]), int(w.shape[3]))
                stride, dilation = self.pair(p["stride"], where, "stride"), self.pair(p["dilation"], where, "dilation")
            else:
                kernel = self.pair(p["kernel_size"], where, "kernel_size")
                stride, dilation = self.pair(p["stride"], where, "stride"), (1, 1)
                c_in = in_shape[0] if len(in_shape) == 3 else None
                c_out = c_in
            shape3 = self.spatial_input(node, in_shape, c_in)
            c_out = c_out if c_out is not None else shape3[0]
            padding = self.padding_2d(p["padding"], kernel, dilation, stride, where)
        if shape3[0] != (c_in if c_in is not None else shape3[0]):
            raise self.fail(where, f"expects {c_in} input channels, receives shape {shape3}")
        out = conv_output_shape(shape3, c_out, kernel, stride, padding, dilation)
        if min(out[1:]) <= 0:
            raise self.fail(where, f"output would be empty for input {shape3}")
        node.params["_geometry"] = (shape3, kernel, stride, padding, dilation)
        return out

    def spatial_input(self, node: _Node, in_shape: tuple[int, ...], c_in: int | None) -> tuple[int, int, int]:
        where = self.where(node)
        if len(in_shape) == 3:
            return in_shape  # type: ignore[return-value]
        hint = node.params.get("input_shape")
        if hint is not None and c_in is not None and hint.size == 2 and c_in * int(np.prod(hint)) == math.prod(in_shape):
            return (c_in, int(hint[0]), int(hint[1]))
        if len(in_shape) == 2 and c_in in (None, 1):
            return (1, *in_shape)  # type: ignore[return-value]
        raise self.fail(where, f"needs a (C, H, W) input, receives shape {in_shape}")

    def pair(self, value: Any, where: str, key: str, minimum: int = 1) -> tuple[int, int]:
        arr = np.asarray(value).reshape(-1)
        if arr.size == 1:
            arr = np.repeat(arr, 2)
        if arr.size != 2 or arr.min() < minimum:
            raise self.fail(f"{where}.{key}", f"expected one or two integers >= {minimum}, got {arr.tolist()}")
        return int(arr[0]), int(arr[1])

    def one(self, value: Any, where: str, key: str, minimum: int = 1) -> int:
        arr = np.asarray(value).reshape(-1)
        if arr.size != 1 or arr[0] < minimum:
            raise self.fail(f"{where}.{key}", f"expected one integer >= {minimum}, got {arr.tolist()}")
        return int(arr[0])

    def padding_2d(self, pad: Any, kernel, dilation, stride, where: str) -> tuple[int, int]:
        if isinstance(pad, str):
            return tuple(self.padding_1d(pad, k, d, s, where) for k, d, s in zip(kernel, dilation, stride, strict=True))  # type: ignore[return-value]
        return self.pair(pad, where, "padding", minimum=0)

    def padding_1d(self, pad: Any, k: int, d: int, s: int, where: str) -> int:
        if isinstance(pad, str):
            if pad == "valid":
                return 0
            total = d * (k - 1)
            if s != 1 or total % 2:
                raise self.fail(f"{where}.padding", "'same' padding is asymmetric here (even kernel or stride > 1); "
                                "snnc's convolutions pad both sides equally")
            return total // 2
        return self.one(pad, where, "padding", minimum=0)

    # ------------------------------------------------------------------ 3. linear nodes

    def make_op(self, node: _Node) -> Op:
        p, t, name = node.params, node.type, node.name
        in_shape = self.shapes[self.preds[name][0]] if self.preds[name] else self.shapes[name]
        out_shape = self.shapes[name]
        n_in = math.prod(in_shape)
        if t == "Affine" and p["weight"].shape[0] == p["weight"].shape[1] and np.array_equal(p["weight"], np.eye(p["weight"].shape[0])):
            # An identity matrix with a bias only adds a constant: elementwise, names no projection.
            return Op(name, "elementwise", in_shape, out_shape, bias=np.broadcast_to(p["bias"].reshape(-1), (n_in,)).copy(),
                      is_named=False)
        if t in ("Affine", "Linear"):
            bias = p["bias"].reshape(-1) if t == "Affine" else None
            return Op(name, "dense", in_shape, out_shape, weight=p["weight"], bias=bias)
        if t == "Scale":
            return Op(name, "elementwise", in_shape, out_shape, scale=np.broadcast_to(p["scale"].reshape(-1), (n_in,)).copy())
        if t == "Flatten":
            return Op(name, "elementwise", in_shape, out_shape, is_named=False)
        if t == "Delay":
            steps = p["delay"].reshape(-1) / self.dt
            rounded = np.round(steps)
            with np.errstate(invalid="ignore"):
                off = np.abs(steps - rounded) > 1e-6 * np.maximum(1.0, np.abs(steps))
            wrong = ~np.isfinite(steps) | (rounded < 0) | off
            if np.any(wrong):
                bad = float(p["delay"].reshape(-1)[int(np.argmax(wrong))])
                raise self.fail(f"{self.where(node)}.delay", f"{bad!r} s is not a whole number >= 0 of steps of dt = {self.dt!r} s")
            return Op(name, "elementwise", in_shape, out_shape, delay=np.broadcast_to(rounded.astype(np.int64), (n_in,)).copy())
        shape3, kernel, stride, padding, dilation = p["_geometry"]
        if t in ("Conv1d", "Conv2d"):
            w = p["weight"] if t == "Conv2d" else p["weight"][:, :, None, :]
            bias = p["bias"].reshape(-1)
            if bias.size not in (1, w.shape[0]):
                raise self.fail(f"{self.where(node)}.bias", f"expected {w.shape[0]} values, got {bias.size}")
            return Op(name, "conv", shape3, out_shape, weight=w, bias=np.broadcast_to(bias, (w.shape[0],)).copy(),
                      stride=stride, padding=padding, dilation=dilation, groups=int(p["groups"]))
        c = shape3[0]
        value = 1.0 if t == "SumPool2d" else 1.0 / (kernel[0] * kernel[1])
        w = np.full((c, 1, *kernel), value)
        return Op(name, "conv", shape3, out_shape, weight=w, stride=stride, padding=padding, groups=c)

    # ------------------------------------------------------------------ 4. populations

    def make_populations(self) -> dict[str, _Pop]:
        pops: dict[str, _Pop] = {}
        merges = self.find_merges()
        synapse_stages = {syn for syn, _ in merges.values()}
        for name, node in self.nodes.items():
            if node.type == "Input":
                pops[name] = _Pop(name=name, entry=name, kind="Input", shape=self.shapes[name])
        for name, node in self.nodes.items():
            if node.type not in NEURON_TYPES or name in synapse_stages:
                continue
            syn, chain = merges.get(name, (None, []))
            pops[name] = self.neuron(node, self.nodes[syn] if syn else None, chain)
        return pops

    def find_merges(self) -> dict[str, tuple[str, list[str]]]:
        """membrane node -> (synapse-stage node, elementwise nodes between them)."""
        merges: dict[str, tuple[str, list[str]]] = {}
        used: set[str] = set()
        ordered = sorted(self.nodes, key=lambda n: self.nodes[n].type not in _SPIKING)
        for name in ordered:
            node = self.nodes[name]
            if node.type not in _MEMBRANES or name in used or len(self.preds[name]) != 1:
                continue
            chain: list[str] = []
            cur = self.preds[name][0]
            while (cur in self.ops and self.ops[cur].kind == "elementwise" and self.ops[cur].delay is None
                   and len(self.preds[cur]) == 1 and len(self.succs[cur]) == 1):
                chain.insert(0, cur)
                cur = self.preds[cur][0]
            syn = self.nodes.get(cur)
            if (syn is None or syn.type not in _SYNAPSE_STAGES or cur == name or cur in used
                    or len(self.succs[cur]) != 1 or cur in merges):
                continue
            merges[name] = (cur, chain)
            used.update((cur, name))
        return merges

    def flat(self, value: Any, n: int) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=np.float64).reshape(-1), (n,)).astype(np.float64)

    def decay(self, tau: np.ndarray, n: int, node: _Node, key: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            return discretize.alpha_k(self.flat(tau, n), self.dt, self.method)
        except ValueError as e:
            guess = self.exporter()
            if guess is not None and guess[1] != self.dt:  # the advice that reproduces the framework
                e = ValueError(f"{e.args[0].split('; pass a smaller')[0]}; the file looks like "
                               f"{guess[0]}'s export ({guess[2]}): import it with --dt {guess[1]!r}")
            raise self.fail(f"{self.where(node)}.{key}", str(e)) from None

    def membrane(self, node: _Node, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(alpha_m, c_m, b_m, v_th): v[t] = alpha_m v + c_m * I[t] + b_m, spike when v > v_th.

        v is kept relative to v_reset (snnc resets to 0), so b_m and v_th are shifted by it;
        every neuron starts at v = v_reset.
        """
        p, t = node.params, node.type
        inf = np.full(n, math.inf)
        if t in ("LIF", "LI", "CubaLIF", "CubaLI"):
            alpha, k = self.decay(p["tau"] if "tau" in p else p["tau_mem"], n, node, "tau" if "tau" in p else "tau_mem")
            reset = self.flat(p.get("v_reset", 0.0), n)
            b = k * (self.flat(p["v_leak"], n) - reset)
            th = self.flat(p["v_threshold"], n) - reset if t in _SPIKING else inf
            return alpha, k * self.flat(p["r"], n), b, th
        if t in ("IF", "I"):
            reset = self.flat(p.get("v_reset", 0.0), n)
            th = self.flat(p["v_threshold"], n) - reset if t == "IF" else inf
            return np.ones(n), self.flat(p["r"], n), np.zeros(n), th
        return np.zeros(n), np.ones(n), np.zeros(n), self.flat(p["threshold"], n)  # Threshold

    def synapse(self, node: _Node, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(alpha_s, c_s, b_s): I[t] = alpha_s I + c_s * x[t] + b_s."""
        p, t = node.params, node.type
        if t in ("CubaLIF", "CubaLI"):
            alpha, k = self.decay(p["tau_syn"], n, node, "tau_syn")
            return alpha, k * self.flat(p["w_in"], n), np.zeros(n)
        if t == "LI":
            alpha, k = self.decay(p["tau"], n, node, "tau")
            return alpha, k * self.flat(p["r"], n), k * self.flat(p["v_leak"], n)
        return np.ones(n), self.flat(p["r"], n), np.zeros(n)  # I

    def neuron(self, node: _Node, syn: _Node | None, chain: list[str]) -> _Pop:
        # A parameter array whose size is neither 1 nor the node's neuron count fails to broadcast.
        try:
            return self._neuron(node, syn, chain)
        except ValueError as e:
            stages = [*([syn.name] if syn is not None else []), *chain, node.name]
            raise self.fail(self.where(node), f"a parameter of {', '.join(map(repr, stages))} does not fit "
                                              f"its {math.prod(self.shapes[node.name])} neurons ({e})") from None

    def _neuron(self, node: _Node, syn: _Node | None, chain: list[str]) -> _Pop:
        shape = self.shapes[node.name]
        n = math.prod(shape)
        alpha_m, c_m, b_m, v_th = self.membrane(node, n)
        scale, between = np.ones(n), np.zeros(n)
        if syn is not None:
            for name in chain:  # elementwise nodes between the synapse stage and the membrane
                op = self.ops[name]
                if op.scale is not None:
                    scale, between = scale * op.scale, between * op.scale
                if op.bias is not None:
                    between = between + op.bias
            alpha_s, c_s, b_s = self.synapse(syn, n)
        elif node.type in ("CubaLIF", "CubaLI"):
            alpha_s, c_s, b_s = self.synapse(node, n)
        else:
            alpha_s, c_s, b_s = np.zeros(n), np.ones(n), np.zeros(n)
        # u is the current scaled by c_m (and the chain's scale): then v[t] = alpha_m v + u + b.
        gain = c_m * scale * c_s
        return _Pop(name=node.name, entry=syn.name if syn is not None else node.name, kind=node.type, shape=shape,
                    alpha_s=alpha_s, alpha_m=alpha_m, gain=gain, u_bias=c_m * scale * b_s,
                    v_bias=b_m + c_m * between, v_th=v_th)

    def finish_population(self, pop: _Pop, input_bias: np.ndarray | None) -> Population:
        if pop.kind == "Input":
            return Input(pop.shape)
        u_bias = pop.u_bias + (pop.gain * input_bias if input_bias is not None else 0.0)
        v_bias = pop.v_bias.copy()
        if np.any(u_bias):
            moving = u_bias != 0
            if np.all(pop.alpha_s[moving] == 0):
                v_bias = v_bias + u_bias  # the current is this step's input only: same as a v bias
            elif np.any(pop.alpha_s[moving] >= 1):
                raise self.fail(f"node {pop.entry!r}", "a constant input into a synaptic current that never decays "
                                "(tau_syn = inf) grows without bound; snnc has no such bias")
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    v_bias = v_bias + np.where(moving, u_bias / (1.0 - pop.alpha_s), 0.0)
                self.warn(f"node {pop.name!r}: a bias reaches the synaptic current (Affine bias or v_leak of a "
                          "synapse stage); snnc adds biases to v, so it uses the current's steady state "
                          "bias / (1 - alpha_syn), exact after the synaptic transient of about tau_syn")
        v_th = pop.v_th
        if pop.rescale is not None:
            v_bias, v_th = v_bias / pop.rescale, v_th / pop.rescale
        coeffs = {"alpha_syn": pop.alpha_s, "alpha_mem": pop.alpha_m, "v_th": v_th, "bias": v_bias}
        return _NIR_MODEL[pop.kind].from_cuba(pop.shape, coeffs, self.dt)

    # ------------------------------------------------------------------ 5. projections

    def make_projections(self, pops: dict[str, _Pop]) -> tuple[list[tuple[str, Projection]], dict[str, np.ndarray]]:
        by_entry = {pop.entry: pop for pop in pops.values()}
        sources = {pop.name: pop for pop in pops.values()}
        projections: list[tuple[str, Projection]] = []
        biases: dict[str, np.ndarray] = {}
        taken: set[str] = set()
        for entry, dst in by_entry.items():
            if dst.kind == "Input":
                continue
            terms, bias = self.collect(entry, dst.size, sources)
            if np.any(bias):
                biases[dst.name] = bias
            dst.weight_gain = self.weight_gain(dst, terms)
            for src_name, ops in terms:
                src = sources[src_name]
                if src.kind not in ("Input", *_SPIKING):
                    raise self.fail(f"node {src_name!r} ({src.kind})",
                                    f"feeds {entry!r}, but a {src.kind} puts out its voltage, not spikes; snnc can read "
                                    "non-spiking nodes only as graph outputs (probe their v)")
                projections.append(self.projection(src, dst, ops, taken))
        rank = {name: i for i, name in enumerate(pops)}
        projections.sort(key=lambda item: (rank[item[1].dst], rank[item[1].src]))
        return projections, biases

    def collect(self, entry: str, size: int, sources: dict[str, _Pop]) -> tuple[list[tuple[str, list[Op]]], np.ndarray]:
        """Every path (source population, linear nodes in order) into `entry`, and the constant
        the linear nodes add to its input (each bias pushed through the nodes after it)."""
        terms: list[tuple[str, list[Op]]] = []
        bias = np.zeros(size)
        stack: list[tuple[str, list[Op], frozenset[str]]] = [(entry, [], frozenset({entry}))]
        while stack:
            node_name, suffix, path = stack.pop()
            for pred in reversed(self.preds[node_name]):
                if pred in sources:
                    terms.append((pred, suffix))
                elif pred in self.ops:
                    if pred in path:
                        raise self.fail(f"node {pred!r}", "is on a loop of weight nodes with no neuron in it")
                    op = self.ops[pred]
                    b = op.bias_vector()
                    if b is not None:
                        bias += apply_linear(suffix, b)
                    stack.append((pred, [op, *suffix], path | {pred}))
                else:
                    node = self.nodes[pred]
                    if node.type in NEURON_TYPES:
                        raise self.fail(self.where(node), f"feeds {entry!r} but is merged into another neuron")
                    raise self.fail(self.where(node), f"cannot feed {entry!r}")
        return terms, bias

    def weight_gain(self, dst: _Pop, terms: list[tuple[str, list[Op]]]) -> np.ndarray:
        """The part of the neuron's input gain that goes into the weights.

        All of it, unless a convolution feeds the population and the gain varies within a channel
        (snnTorch writes r = tau/dt in float32, so r * dt/tau differs from 1 by ~1e-7 per neuron).
        Then the weights take the gain of each channel's first neuron and the rest, a positive
        per-neuron factor rho, rescales the state: u/rho and v/rho follow the same equations with
        bias/rho and threshold v_th/rho, and spike at the same steps. Non-spiking populations keep
        their voltage unscaled (their v is the output), so their convolutions become matrices.
        """
        convs = [op for _, ops in terms for op in ops if op.kind == "conv"]
        if not convs or not np.all(np.isfinite(dst.v_th)):
            return dst.gain
        shape = convs[-1].out_shape
        if math.prod(shape) != dst.size:
            return dst.gain
        per_channel = dst.gain.reshape(shape[0], -1)
        first = np.repeat(per_channel[:, :1], per_channel.shape[1], axis=1).reshape(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = dst.gain / first
        if np.array_equal(first, dst.gain) or not np.all(rho > 0):
            return dst.gain
        dst.rescale = rho
        return first

    def projection(self, src: _Pop, dst: _Pop, ops: list[Op], taken: set[str]) -> tuple[str, Projection]:
        named = [op for op in ops if op.kind != "elementwise" and op.is_named]
        named = named or [op for op in ops if op.is_named and op.scale is not None]
        named = named or [op for op in ops if op.is_named]
        base = named[-1].name if named else f"{src.name}_to_{dst.name}"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        try:
            c = compose(ops, src.size, dst.size, dst.weight_gain)
        except PathError as e:
            raise self.fail(f"path {src.name!r} -> {dst.name!r}", str(e)) from None
        if c.kind == "sparse_diag":
            idx = np.arange(src.size)
            node: Projection = Sparse(src.name, dst.name, rows=idx, cols=idx, values=c.weight, delay=c.delay)
        elif c.kind == "dense":
            node = Dense(src.name, dst.name, weight=c.weight, delay=c.delay)
        else:
            node = Conv2d(src.name, dst.name, weight=c.weight, stride=c.stride, padding=c.padding,
                          dilation=c.dilation, groups=c.groups)
            conv = next(op for op in ops if op.kind == "conv")
            src.shape, dst.shape = _respace(src.shape, conv.in_shape), _respace(dst.shape, conv.out_shape)
        return name, node

    # ------------------------------------------------------------------ outputs, names

    def outputs(self, pops: dict[str, _Pop]) -> list[str]:
        outs: list[str] = []
        for name, node in self.nodes.items():
            if node.type != "Output":
                continue
            for pred in self.preds[name]:
                if pred not in pops or pops[pred].kind == "Input":
                    what = self.nodes[pred].type
                    raise self.fail(f"node {name!r} (Output)", f"reads {pred!r}, a {what}; snnc's outputs are neuron "
                                    "populations")
                if pred not in outs:
                    outs.append(pred)
        return outs

    def snnc_names(self, names: list[str]) -> dict[str, str]:
        """NIR names -> valid, unique snnc names (unchanged where already valid)."""
        out: dict[str, str] = {}
        used: set[str] = set()
        for name in names:
            new = name if NAME_RE.match(name) else re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
            if not new or new[0] in ".-":
                new = "_" + new
            new = new[:120]
            cand, k = new, 2
            while cand in used:
                cand, k = f"{new}_{k}", k + 1
            out[name] = cand
            used.add(cand)
        return out

    # ------------------------------------------------------------------ 6. snnc metadata

    def restore(self, graph: Graph, root_meta: dict[str, Any]) -> Graph:
        """Use snnc's exact parameters recorded by `snnc export` where they match the NIR ones."""
        info = _json(root_meta.get("snnc"))
        if not isinstance(info, dict) or info.get("format") != "snnc-nir":
            return graph
        populations = dict(graph.populations)
        projections = dict(graph.projections)
        for name, node in self.nodes.items():
            exact = _snnc_node(node.meta.get("snnc"))
            if exact is None:
                continue
            target, kind = exact
            if kind == "population" and target[0] in populations:
                pop_name, new = target
                if _agrees(populations[pop_name], new):
                    populations[pop_name] = new
                else:
                    self.warn(f"node {name!r}: the snnc parameters in its metadata disagree with its NIR parameters; "
                              "using the NIR parameters")
            elif kind == "projection" and target[0] in projections:
                proj_name, new = target
                old = projections[proj_name]
                if new.src == old.src and new.dst == old.dst and _agrees(old, new, populations):
                    projections[proj_name] = new
                else:
                    self.warn(f"node {name!r}: the snnc parameters in its metadata disagree with its NIR parameters; "
                              "using the NIR parameters")
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
        if isinstance(metadata, dict) and not self.warnings:
            kwargs["metadata"] = metadata
        try:
            return graph.replace(**kwargs)
        except IRVerifyError as e:
            self.warn(f"snnc metadata not used ({e})")
            return graph


# ---------------------------------------------------------------------------- small helpers


def _exists(graph: RawNode, endpoint: str) -> bool:
    """True when `endpoint` is 'sub.port' naming a node inside a sub-graph of `graph`."""
    head, _, rest = endpoint.partition(".")
    child = graph.nodes.get(head)
    if child is None or child.type != "NIRGraph" or not rest:
        return False
    return rest in child.nodes or _exists(child, rest)


def _flatten_shape(shape: tuple[int, ...], start: int, end: int) -> tuple[int, ...]:
    nd = len(shape)
    s = start + nd if start < 0 else start
    e = end + nd if end < 0 else end
    s, e = max(0, min(s, nd - 1)), max(0, min(e, nd - 1))
    if s > e:
        return shape
    return (*shape[:s], math.prod(shape[s:e + 1]), *shape[e + 1:])


def _respace(shape: tuple[int, ...], spatial: tuple[int, ...]) -> tuple[int, ...]:
    """A population's shape as the convolution sees it ((C, N) from Conv1d becomes (C, 1, N))."""
    return tuple(spatial) if math.prod(shape) == math.prod(spatial) else shape


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
    return bool(np.all(np.abs(a - b) <= RESTORE_RTOL * np.maximum(np.abs(a), np.abs(b)) + 1e-12 * scale))


def _effective(node: Node, populations: dict[str, Population] | None) -> tuple[np.ndarray, np.ndarray] | None:
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
        return (isinstance(derived, Conv2d) and derived.weight.shape == exact.weight.shape
                and (derived.stride, derived.padding, derived.dilation, derived.groups)
                == (exact.stride, exact.padding, exact.dilation, exact.groups) and _close(derived.weight, exact.weight))
    a, b = _effective(derived, populations), _effective(exact, populations)
    if a is None or b is None or a[0].shape != b[0].shape:
        return False
    # Delays matter only where a synapse carries a weight.
    live = (a[0] != 0) | (b[0] != 0)
    return _close(a[0], b[0]) and bool(np.array_equal(a[1][live], b[1][live]))
