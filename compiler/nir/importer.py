"""NIR -> snnc: `load(path, dt)` for `compiler.model_io.IMPORTERS`, and `import_nir`.

NIR puts weights (Affine, Linear, Conv, pooling, Scale) and neurons (LIF, CubaLIF, IF, ...) both
as nodes; snnc has populations (neurons) joined by projections (weights). The importer

1. reads the file (`reader`), flattens nested graphs (`sub.node` names), removes their
   Input/Output pass-through nodes and checks every node's parameters (`flatten`);
2. infers every node's signal shape from the Inputs;
3. turns each neuron node into one snnc `LIF` (a synaptic filter node LI/I feeding a LIF, IF,
   LI, I or Threshold through elementwise nodes only becomes that LIF's current `u`; each
   node's coefficients: `compiler.nir.coefficients`);
4. turns every path population -> linear nodes -> neuron into one projection (`ops.compose`),
   with the neuron's input gains folded into the weights and every bias into the LIF's bias;
5. marks the populations read by Output nodes as the graph's outputs.

The step dt and the discretization: `compiler.nir.timebase`; shapes (step 2):
`compiler.nir.shapes`. Files written by `snnc export` carry each snnc node's exact parameters in
NIR metadata, used where they agree with what the importer derived: `compiler.nir.restore`.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from compiler.nir.coefficients import NeuronCoefficients
from compiler.nir.flatten import OPERATOR_TYPES, NodeFlattener
from compiler.nir.ops import Op, PathError, apply_linear, compose
from compiler.nir.parsed import (
    MEMBRANES,
    NEURON_TYPES,
    NIR_MODEL,
    SPIKING,
    SYNAPSE_STAGES,
    ParsedNode,
    node_label,
)
from compiler.nir.reader import NirFile, read_nir
from compiler.nir.restore import restore
from compiler.nir.shapes import ShapeInference
from compiler.nir.timebase import DEFAULT_DT, resolve_discretization, resolve_dt
from ir.errors import IRVerifyError, ModelFormatError
from ir.graph import NAME_RE, Graph
from ir.nodes import Conv2d, Dense, Input, Population, Projection, Sparse
from ir.verify import MAX_DELAY_WITHOUT_TARGET, verify

__all__ = ["DEFAULT_DT", "import_nir", "load"]

# A NIR Delay of more steps than verify accepts without a target is refused at import.
MAX_DELAY_STEPS = MAX_DELAY_WITHOUT_TARGET


def _stderr_warn(message: str) -> None:
    print(f"snnc: warning: {message}", file=sys.stderr)


def load(path: str | os.PathLike, dt: float | None) -> Graph:
    """`compiler.model_io` importer entry: the graph in a .nir file (warnings on stderr)."""
    return import_nir(path, dt=dt)


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

    # ------------------------------------------------------------------ driver

    def run(self, dt: float | None, discretization: str | None) -> Graph:
        nodes, edges = NodeFlattener(self.label, self.fail).flatten(self.nf.root)
        self.nodes = nodes
        self.preds: dict[str, list[str]] = {n: [] for n in nodes}
        self.succs: dict[str, list[str]] = {n: [] for n in nodes}
        for a, b in edges:
            self.preds[b].append(a)
            self.succs[a].append(b)
        root_meta = self.nf.root.metadata
        self.dt, dt_source = resolve_dt(dt, root_meta, nodes, self.fail, self.warn)
        self.method, method_source = resolve_discretization(discretization, root_meta, self.fail)
        self.coefficients = NeuronCoefficients(self.dt, self.method, nodes, self.fail)
        self.shapes = ShapeInference(nodes, self.preds, self.fail).infer()
        self.ops = {
            n: self.make_op(node) for n, node in nodes.items() if node.type in OPERATOR_TYPES
        }
        try:
            pops = self.make_populations()
            projections, biases = self.make_projections(pops)
            populations = {
                name: self.finish_population(pop, biases.get(name)) for name, pop in pops.items()
            }
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
        graph = restore(graph, root_meta, nodes, bool(self.warnings), self.warn)
        try:
            return verify(graph)
        except IRVerifyError as e:
            raise self.fail(None, f"the imported graph is not valid: {e}") from None

    # ------------------------------------------------------------------ 3. linear nodes

    def make_op(self, node: ParsedNode) -> Op:
        p, t, name = node.params, node.type, node.name
        in_shape = self.shapes[self.preds[name][0]] if self.preds[name] else self.shapes[name]
        out_shape = self.shapes[name]
        n_in = math.prod(in_shape)
        if (
            t == "Affine"
            and p["weight"].shape[0] == p["weight"].shape[1]
            and np.array_equal(p["weight"], np.eye(p["weight"].shape[0]))
        ):
            # An identity matrix with a bias only adds a constant: elementwise, names no projection.
            return Op(
                name,
                "elementwise",
                in_shape,
                out_shape,
                bias=np.broadcast_to(p["bias"].reshape(-1), (n_in,)).copy(),
                is_named=False,
            )
        if t in ("Affine", "Linear"):
            bias = p["bias"].reshape(-1) if t == "Affine" else None
            return Op(name, "dense", in_shape, out_shape, weight=p["weight"], bias=bias)
        if t == "Scale":
            return Op(
                name,
                "elementwise",
                in_shape,
                out_shape,
                scale=np.broadcast_to(p["scale"].reshape(-1), (n_in,)).copy(),
            )
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
                raise self.fail(
                    f"{node_label(node)}.delay",
                    f"{bad!r} s is not a whole number >= 0 of steps of dt = {self.dt!r} s",
                )
            if rounded.max(initial=0) > MAX_DELAY_STEPS:  # an int64 could not even hold some
                bad = float(p["delay"].reshape(-1)[int(np.argmax(rounded))])
                raise self.fail(
                    f"{node_label(node)}.delay",
                    f"{bad!r} s is {float(rounded.max()):.4g} steps of dt = "
                    f"{self.dt!r} s; snnc takes delays of at most {MAX_DELAY_STEPS} steps",
                )
            return Op(
                name,
                "elementwise",
                in_shape,
                out_shape,
                delay=np.broadcast_to(rounded.astype(np.int64), (n_in,)).copy(),
            )
        shape3, kernel, stride, padding, dilation = p["_geometry"]
        if t in ("Conv1d", "Conv2d"):
            w = p["weight"] if t == "Conv2d" else p["weight"][:, :, None, :]
            bias = p["bias"].reshape(-1)
            if bias.size not in (1, w.shape[0]):
                raise self.fail(
                    f"{node_label(node)}.bias", f"expected {w.shape[0]} values, got {bias.size}"
                )
            return Op(
                name,
                "conv",
                shape3,
                out_shape,
                weight=w,
                bias=np.broadcast_to(bias, (w.shape[0],)).copy(),
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=int(p["groups"]),
            )
        c = shape3[0]
        value = 1.0 if t == "SumPool2d" else 1.0 / (kernel[0] * kernel[1])
        w = np.full((c, 1, *kernel), value)
        return Op(
            name, "conv", shape3, out_shape, weight=w, stride=stride, padding=padding, groups=c
        )

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
        ordered = sorted(self.nodes, key=lambda n: self.nodes[n].type not in SPIKING)
        for name in ordered:
            node = self.nodes[name]
            if node.type not in MEMBRANES or name in used or len(self.preds[name]) != 1:
                continue
            chain: list[str] = []
            cur = self.preds[name][0]
            while (
                cur in self.ops
                and self.ops[cur].kind == "elementwise"
                and self.ops[cur].delay is None
                and len(self.preds[cur]) == 1
                and len(self.succs[cur]) == 1
            ):
                chain.insert(0, cur)
                cur = self.preds[cur][0]
            syn = self.nodes.get(cur)
            if (syn is None or syn.type not in SYNAPSE_STAGES or cur == name or cur in used
                    or len(self.succs[cur]) != 1 or cur in merges):
                continue
            merges[name] = (cur, chain)
            used.update((cur, name))
        return merges

    def neuron(self, node: ParsedNode, syn: ParsedNode | None, chain: list[str]) -> _Pop:
        # A parameter array whose size is neither 1 nor the node's neuron count fails to broadcast.
        try:
            return self._neuron(node, syn, chain)
        except ValueError as e:
            stages = [*([syn.name] if syn is not None else []), *chain, node.name]
            raise self.fail(
                node_label(node),
                f"a parameter of {', '.join(map(repr, stages))} does not fit "
                f"its {math.prod(self.shapes[node.name])} neurons ({e})",
            ) from None

    def _neuron(self, node: ParsedNode, syn: ParsedNode | None, chain: list[str]) -> _Pop:
        shape = self.shapes[node.name]
        n = math.prod(shape)
        alpha_m, c_m, b_m, v_th = self.coefficients.membrane(node, n)
        scale, between = np.ones(n), np.zeros(n)
        if syn is not None:
            for name in chain:  # elementwise nodes between the synapse stage and the membrane
                op = self.ops[name]
                if op.scale is not None:
                    scale, between = scale * op.scale, between * op.scale
                if op.bias is not None:
                    between = between + op.bias
            alpha_s, c_s, b_s = self.coefficients.synapse(syn, n)
        elif node.type in ("CubaLIF", "CubaLI"):
            alpha_s, c_s, b_s = self.coefficients.synapse(node, n)
        else:
            alpha_s, c_s, b_s = np.zeros(n), np.ones(n), np.zeros(n)
        # u is the current scaled by c_m (and the chain's scale): then v[t] = alpha_m v + u + b.
        gain = c_m * scale * c_s
        return _Pop(
            name=node.name,
            entry=syn.name if syn is not None else node.name,
            kind=node.type,
            shape=shape,
            alpha_s=alpha_s,
            alpha_m=alpha_m,
            gain=gain,
            u_bias=c_m * scale * b_s,
            v_bias=b_m + c_m * between,
            v_th=v_th,
        )

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
                raise self.fail(
                    f"node {pop.entry!r}",
                    "a constant input into a synaptic current that never decays "
                    "(tau_syn = inf) grows without bound; snnc has no such bias",
                )
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    v_bias = v_bias + np.where(moving, u_bias / (1.0 - pop.alpha_s), 0.0)
                self.warn(
                    f"node {pop.name!r}: a bias reaches the synaptic current (Affine bias or "
                    "v_leak of a synapse stage); snnc adds biases to v, so it uses the current's "
                    "steady state bias / (1 - alpha_syn), exact after the synaptic transient of "
                    "about tau_syn"
                )
        v_th = pop.v_th
        if pop.rescale is not None:
            v_bias, v_th = v_bias / pop.rescale, v_th / pop.rescale
        coeffs = {"alpha_syn": pop.alpha_s, "alpha_mem": pop.alpha_m, "v_th": v_th, "bias": v_bias}
        return NIR_MODEL[pop.kind].from_cuba(pop.shape, coeffs, self.dt)

    # ------------------------------------------------------------------ 5. projections

    def make_projections(
        self, pops: dict[str, _Pop]
    ) -> tuple[list[tuple[str, Projection]], dict[str, np.ndarray]]:
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
                if src.kind not in ("Input", *SPIKING):
                    raise self.fail(
                        f"node {src_name!r} ({src.kind})",
                        f"feeds {entry!r}, but a {src.kind} puts out its voltage, not spikes; snnc "
                        "can read non-spiking nodes only as graph outputs (probe their v)",
                    )
                projections.append(self.projection(src, dst, ops, taken))
        rank = {name: i for i, name in enumerate(pops)}
        projections.sort(key=lambda item: (rank[item[1].dst], rank[item[1].src]))
        return projections, biases

    def collect(
        self, entry: str, size: int, sources: dict[str, _Pop]
    ) -> tuple[list[tuple[str, list[Op]]], np.ndarray]:
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
                        raise self.fail(
                            f"node {pred!r}", "is on a loop of weight nodes with no neuron in it"
                        )
                    op = self.ops[pred]
                    b = op.bias_vector()
                    if b is not None:
                        bias += apply_linear(suffix, b)
                    stack.append((pred, [op, *suffix], path | {pred}))
                else:
                    node = self.nodes[pred]
                    if node.type in NEURON_TYPES:
                        raise self.fail(
                            node_label(node), f"feeds {entry!r} but is merged into another neuron"
                        )
                    raise self.fail(node_label(node), f"cannot feed {entry!r}")
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

    def projection(
        self, src: _Pop, dst: _Pop, ops: list[Op], taken: set[str]
    ) -> tuple[str, Projection]:
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
            node: Projection = Sparse(
                src.name, dst.name, rows=idx, cols=idx, values=c.weight, delay=c.delay
            )
        elif c.kind == "dense":
            node = Dense(src.name, dst.name, weight=c.weight, delay=c.delay)
        else:
            node = Conv2d(src.name, dst.name, weight=c.weight, stride=c.stride, padding=c.padding,
                          dilation=c.dilation, groups=c.groups)
            conv = next(op for op in ops if op.kind == "conv")
            src.shape, dst.shape = (
                _respace(src.shape, conv.in_shape),
                _respace(dst.shape, conv.out_shape),
            )
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
                    raise self.fail(
                        f"node {name!r} (Output)",
                        f"reads {pred!r}, a {what}; snnc's outputs are neuron populations",
                    )
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

# ---------------------------------------------------------------------------- small helpers


def _respace(shape: tuple[int, ...], spatial: tuple[int, ...]) -> tuple[int, ...]:
    """A population's shape as the convolution sees it ((C, N) from Conv1d becomes (C, 1, N))."""
    return tuple(spatial) if math.prod(shape) == math.prod(spatial) else shape
