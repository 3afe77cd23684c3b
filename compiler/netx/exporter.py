"""snnc -> lava-dl netx: `export_netx(graph, path)` writes a fixed-point program as a netx file
that netx 0.6.0's `hdf5.Network` loads into the Lava network the program is.

netx networks are chains: an input, then layers each reading the one before (plus a self-loop
for `dense_rec`). The exporter walks the graph from its one Input population and writes, per
population, the layer that netx turns back into the same Lava processes:

    Input -> QSparse 1:1 weight 1 -> neurons  input layer with neurons (the import's latency 1)
    Input                                     input layer with its shape only
    QDense / QSparse -> neurons (+ self-loop) [flatten if the source is (C, H, W)] dense or
                                              dense_rec; weights as netx must read them (below)
    QConv2d -> neurons                        conv (weights as they are; netx flips them for
                                              Lava's convolution)

The neurons of each layer, the Lava process netx must build for the population:
`compiler.netx.neuron_groups`; writing the file: `compiler.netx.writer`.

netx computes a dense layer's synapse format from the weights it reads (`weights`), and what
Lava then computes is the plain integer sum of the file's weights times the spikes. So the file
holds W = effective_weights * 2^weight_exp, which must be integers (an exponent below zero must
divide the weights exactly) that netx's format keeps (checked by re-deriving it). Anything netx
cannot hold (a delayed recurrent layer, a reset interval, bias not a multiple of 2^(6 -
bias_exp), a graph that is not a chain, a float model) is one error line naming the node, the
field and the value.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.netx.dense import NETX_MAX_DELAY
from compiler.netx.neuron_groups import NeuronGroups, netx_values
from compiler.netx.weights import dense_conv_weight, lava_sign_mode, netx_dense_format
from compiler.netx.writer import write_layers
from ir.errors import InputError
from ir.fixed import effective_weights
from ir.graph import Graph
from ir.nodes import Input, Population, Projection, QConv2d, QDense, QSparse

__all__ = ["ExportSummary", "export_netx"]

# A QSparse becomes a dense netx layer; past this many synapses the file would be absurd.
MAX_DENSE_SYNAPSES = 1 << 26
_FLOAT32_EXACT = 1 << 24  # integers below this are exact in float32, the dtype SLAYER writes


@dataclass
class ExportSummary:
    """What `export_netx` wrote: the layer types in order, and the netx latency and input notes."""

    layers: list[str] = field(default_factory=list)
    latency: int = 0
    input_message_bits: int = 0


def export_netx(graph: Graph, path: str | os.PathLike) -> ExportSummary:
    """Write `graph` (fixed point) as a netx file at `path`, atomically; see the module
    docstring."""
    if graph.domain != "fixed":
        raise InputError(
            "netx files hold fixed-point networks; compile the model first "
            "(snnc compile MODEL --target loihi2 -o BUILD) and export the BUILD"
        )
    layers, summary = _Chain(graph).layers()
    write_layers(layers, path)
    return summary


def _where(graph: Graph, name: str) -> str:
    node = graph.projections.get(name)
    if node is not None:
        return f"projection {name!r} ({node.src} -> {node.dst})"
    return f"population {name!r}"


@dataclass
class _Chain:
    graph: Graph

    def __post_init__(self) -> None:
        self.neurons = NeuronGroups(self.fail)

    def fail(self, name: str, message: str) -> InputError:
        return InputError(f"{_where(self.graph, name)}: {message}; netx 0.6.0 cannot hold it")

    def layers(self) -> tuple[list[dict[str, Any]], ExportSummary]:
        """The file's layers: the input, then each population in topological order (a chain
        gives netx's own layout; branches name the layer they read with `input`, and a
        population reading several is a `concat` of them plus its layer: snnc's layout)."""
        g = self.graph
        inputs = g.inputs
        if len(inputs) != 1:
            raise InputError(
                f"netx networks have one input; this graph has {len(inputs)} "
                f"({', '.join(inputs) or 'none'})"
            )
        host = inputs[0]
        summary = ExportSummary(input_message_bits=g.populations[host].message_bits)
        order = self.order(host)
        if not order:
            raise InputError("the graph has no population after its input; nothing to export")
        layers: list[dict[str, Any]] = []
        index: dict[str, int] = {}  # population -> the layer whose output it is
        from_host = g.outgoing(host)
        if len(from_host) == 1 and _is_input_relay(g, from_host[0][1]):
            first = from_host[0][1].dst
            layers.append(self.input_layer(first, g.populations[first]))
            summary.latency = 1
            index[first] = 0
            order.remove(first)
        else:
            layers.append({"type": "input", "shape": _shape(g.populations[host].shape)})
            index[host] = 0
        for dst in order:
            incoming = [(n, p) for n, p in g.incoming(dst) if p.src != dst]
            for n, p in incoming:
                if p.src not in index:
                    raise self.fail(
                        n,
                        "reads the host input beside netx's input neurons; netx's input layer "
                        "feeds only them",
                    )
            sources = sorted({p.src for _, p in incoming}, key=index.__getitem__)
            pop = g.populations[dst]
            if len(sources) == 1:
                new = self.single_layer(dst, pop, incoming)
                if index[sources[0]] != len(layers) - 1:
                    new[0]["input"] = index[sources[0]]
            else:
                new = self.joined_layers(dst, pop, incoming, sources, index, len(layers))
            layers += new
            index[dst] = len(layers) - 1
        summary.layers = [str(layer["type"]) for layer in layers]
        last = order[-1] if order else next(iter(index))
        outputs = g.output_names
        if outputs != (last,):
            raise InputError(
                f"the graph's outputs are {', '.join(outputs)}; a netx network's output is its "
                f"last layer ({last!r})"
            )
        spec = g.metadata.get("readout") or {}
        if spec.get("kind") == "group_mean" and spec.get("population") == last:
            # SLAYER's Average block as SLAYER means it (its own export fails; docs/netx.md)
            layers.append({"type": "average", "shape": np.array([int(spec["groups"]), 1, 1])})
            summary.layers.append("average")
        return layers, summary

    def order(self, host: str) -> list[str]:
        """The neuron populations in topological order (graph order among equals), or one line
        for a loop over several populations or a population the input does not reach."""
        g = self.graph
        pending = {
            n: {p.src for _, p in g.incoming(n) if p.src != n} for n in g.populations if n != host
        }
        done, order = {host}, []
        while pending:
            ready = [n for n, srcs in pending.items() if srcs <= done]
            if not ready:
                name = next(iter(pending))
                unreached = not any(p.src in done or p.src in pending for _, p in g.incoming(name))
                raise self.fail(name, "is not reached from the input" if unreached else
                                "closes a loop over several populations")
            for n in ready:
                order.append(n)
                done.add(n)
                del pending[n]
        return order

    def single_layer(
        self, dst: str, pop: Population, incoming: list[tuple[str, Projection]]
    ) -> list[dict[str, Any]]:
        """The layer(s) of a population reading one layer: [flatten,] dense/dense_rec/conv, or a
        complex dense (a "real" and an "imag" projection into RF neurons)."""
        src_shape = self.graph.populations[incoming[0][1].src].shape
        imag = [(n, p) for n, p in incoming if p.port == "imag"]
        real = [(n, p) for n, p in incoming if p.port != "imag"]
        if len(real) != 1 or len(imag) > 1:
            raise self.fail(
                dst,
                f"has {len(incoming)} projections from {incoming[0][1].src!r}; a netx layer has "
                "one synapse (or a complex pair into RF neurons)",
            )
        if imag:
            return [self.complex_layer(real[0][0], real[0][1], *imag[0], src_shape)]
        return self.layer(real[0][0], real[0][1], dst, pop, src_shape)

    def joined_layers(
        self,
        dst: str,
        pop: Population,
        incoming: list[tuple[str, Projection]],
        sources: list[str],
        index: dict[str, int],
        at: int,
    ) -> list[dict[str, Any]]:
        """A population reading several layers: snnc's `concat` of them (in layer order), then
        its layer with the joined weights (columns, or input channels, in that order)."""
        g = self.graph
        by_src = {}
        for n, p in incoming:
            if p.port == "imag" or p.src in by_src:
                raise self.fail(
                    n,
                    "is one of several projections into a layer that reads several layers; netx "
                    "layers (and snnc's concat) have one synapse per joined layer",
                )
            by_src[p.src] = (n, p)
        shapes = [g.populations[s].shape for s in sources]
        convs = [isinstance(by_src[s][1], QConv2d) for s in sources]
        out: list[dict[str, Any]] = []
        first_name, first = by_src[sources[0]]
        if all(convs):
            if len({sh[1:] for sh in shapes}) != 1 or any(len(sh) != 3 for sh in shapes):
                raise self.fail(
                    dst,
                    "reads (C, H, W) layers of different sizes; a convolution reads one joined "
                    "image",
                )
            geometry = {
                (p.stride, p.padding, p.dilation, p.weight.shape[2:]) for _, p in by_src.values()
            }
            if len(geometry) != 1:
                raise self.fail(
                    dst,
                    "reads several layers through convolutions of different geometry; a netx conv "
                    "layer has one",
                )
            weight = np.concatenate(
                [dense_conv_weight(by_src[s][1].weight, by_src[s][1].groups) for s in sources],
                axis=1,
            )
            joined_shape = (sum(sh[0] for sh in shapes), *shapes[0][1:])
            out.append(
                {
                    "type": "concat",
                    "inputs": np.array([index[s] for s in sources]),
                    "shape": _shape(joined_shape),
                }
            )
            out += self.layer(
                first_name, first.replace(src=dst, weight=weight, groups=1), dst, pop, joined_shape
            )
            return out
        if any(convs):
            raise self.fail(
                dst,
                "reads several layers, some through convolutions and some not; a netx layer has "
                "one kind of synapse",
            )
        spatial = [len(sh) == 3 for sh in shapes]
        inputs = []
        if all(spatial) and len({sh[1:] for sh in shapes}) == 1:
            joined_shape: tuple[int, ...] = (sum(sh[0] for sh in shapes), *shapes[0][1:])
            inputs = [index[s] for s in sources]
        else:
            for s, sh in zip(sources, shapes):
                if len(sh) > 1:  # flattened on its own: the joined layer is flat
                    out.append(
                        {
                            "type": "flatten",
                            "input": index[s],
                            "shape": np.array([math.prod(sh), 1, 1]),
                        }
                    )
                    inputs.append(at + len(out) - 1)
                else:
                    inputs.append(index[s])
            joined_shape = (sum(math.prod(sh) for sh in shapes),)
        out.append({"type": "concat", "inputs": np.array(inputs), "shape": _shape(joined_shape)})
        parts = [self.file_weights(by_src[s][0], by_src[s][1]) for s in sources]
        delays = [_delay(by_src[s][1], w.shape) for s, w in zip(sources, parts)]
        delay = None if all(d is None for d in delays) else np.hstack(
            [np.zeros(w.shape, dtype=np.int64) if d is None else d for d, w in zip(delays, parts)])
        self.check_netx_keeps(first_name, np.hstack(parts), parts)
        out += self.layer(
            first_name,
            first,
            dst,
            pop,
            joined_shape,
            w_in=np.hstack(parts),
            delay=delay,
            checked=True,
        )
        return out

    def input_layer(self, name: str, pop: Population) -> dict[str, Any]:
        neuron, bias = self.neurons.neuron(name, pop, first=True)
        if bias is not None:
            raise self.fail(
                name,
                "has a bias; netx gives input neurons none (it stores the input layer's bias "
                "as a transform it never applies)",
            )
        return {"type": "input", "shape": _shape(pop.shape), "neuron": neuron}

    def complex_layer(self, name: str, real: Projection, imag_name: str, imag: Projection,
                      src_shape: tuple[int, ...]) -> dict[str, Any]:
        """SLAYER's complex dense layer (`dense` with weight/real and weight/imag) into RF
        neurons: each weight matrix its own netx format; netx builds it without delay or bias."""
        g = self.graph
        pop = g.populations[real.dst]
        if len(src_shape) > 1:
            raise self.fail(
                name,
                f"reads the {src_shape} output of {real.src!r}; netx 0.6.0 flattens only into "
                "real dense layers",
            )
        neuron, _ = self.neurons.neuron(real.dst, pop)
        if not neuron["type"].startswith("RF"):
            raise self.fail(
                imag_name, "feeds an imaginary input; netx's complex synapses feed RF neurons only"
            )
        parts = {}
        for label, pname, proj in (("real", name, real), ("imag", imag_name, imag)):
            if not isinstance(proj, (QDense, QSparse)):
                raise self.fail(
                    pname, f"is a {type(proj).__name__}; netx's complex layers are dense"
                )
            if np.any(proj.delay):
                raise self.fail(
                    pname, "has delays; netx 0.6.0 builds complex dense synapses without delays"
                )
            w = self.file_weights(pname, proj)
            self.check_netx_keeps(pname, w, [w])
            parts[label] = w.astype(np.float32)
        n_out, n_in = parts["real"].shape
        return {
            "type": "dense",
            "shape": _shape(pop.shape),
            "inFeatures": n_in,
            "outFeatures": n_out,
            "weight": parts,
            "neuron": neuron,
        }

    def layer(
        self,
        name: str,
        proj: Projection,
        dst: str,
        pop: Population,
        src_shape: tuple[int, ...],
        w_in: np.ndarray | None = None,
        delay: np.ndarray | None = None,
        checked: bool = False,
    ) -> list[dict[str, Any]]:
        """[flatten,] the dense/dense_rec/conv layer of `proj` into `dst` (`w_in`, `delay`: the
        file weights and delays of a joined layer, already `checked` against netx's format)."""
        g = self.graph
        neuron, bias = self.neurons.neuron(dst, pop)
        if isinstance(proj, QConv2d):
            if len(pop.shape) != 3:
                raise self.fail(
                    name, f"writes into shape {pop.shape}; a netx conv layer's output is (C, H, W)"
                )
            layer: dict[str, Any] = {
                "type": "conv",
                "shape": _shape(pop.shape),
                "weight": _weights(proj.weight, name, self),
                "inChannels": src_shape[0],
                "outChannels": pop.shape[0],
                "kernelSize": np.array(proj.weight.shape[2:]),
                "stride": np.array(proj.stride),
                "padding": np.array(proj.padding),
                "dilation": np.array(proj.dilation),
                "groups": proj.groups,
                "neuron": neuron,
            }
            if bias is not None:
                layer["bias"] = netx_values(bias, pop.shape).astype(np.float32)
            return [layer]
        if not isinstance(proj, (QDense, QSparse)):
            raise self.fail(name, f"is a {type(proj).__name__}; netx layers are dense or conv")
        if len(pop.shape) != 1:
            raise self.fail(
                dst,
                f"has shape {pop.shape}; a netx dense layer's output is flat (n,), and nothing "
                "in netx 0.6.0 reads a flat layer as (C, H, W)",
            )
        rec = [(n, p) for n, p in g.incoming(dst) if p.src == dst]
        if w_in is None:
            w_in = self.file_weights(name, proj)
            delay = _delay(proj, w_in.shape)
        layer = {"type": "dense_rec" if rec else "dense", "shape": _shape(pop.shape),
                 "inFeatures": w_in.shape[1], "outFeatures": w_in.shape[0], "neuron": neuron}
        if rec and checked:
            raise self.fail(
                dst,
                "reads several layers and itself; snnc writes no recurrent layer after a concat",
            )
        if rec:
            rec_name, rec_proj = rec[0]
            if len(rec) > 1 or not isinstance(rec_proj, (QDense, QSparse)):
                raise self.fail(dst, "has more than one self-projection, or one that is not dense")
            if delay is not None or np.any(rec_proj.delay):
                raise self.fail(
                    rec_name,
                    "is a delayed recurrent layer: netx 0.6.0 gives its recurrent synapse "
                    "the input's delays and drops the weight exponent",
                )
            w_rec = self.file_weights(rec_name, rec_proj)
            self.check_netx_keeps(name, np.hstack([w_in, w_rec]), [w_in, w_rec])
            layer["weight_rec"] = w_rec.astype(np.float32)
        elif not checked:
            self.check_netx_keeps(name, w_in, [w_in])
        layer["weight"] = w_in.astype(np.float32)
        if delay is not None:
            if delay.max() > NETX_MAX_DELAY:
                raise self.fail(
                    name, f"delay = {int(delay.max())} is above {NETX_MAX_DELAY}, netx's largest"
                )
            rows_same = np.all(delay == delay[:, :1])
            layer["delay"] = (delay[:, 0] if rows_same else delay).astype(np.float32)
        if bias is not None:
            layer["bias"] = bias.astype(np.float32)
        out = [layer]
        if len(src_shape) > 1:
            out.insert(0, {"type": "flatten", "shape": np.array([math.prod(src_shape), 1, 1])})
        return out

    def file_weights(self, name: str, proj: QDense | QSparse) -> np.ndarray:
        """W with sum(W x) == what Lava's Dense computes for this projection: eff * 2^weight_exp."""
        g = self.graph
        n_dst, n_src = g.populations[proj.dst].size, g.populations[proj.src].size
        if isinstance(proj, QSparse):
            if n_dst * n_src > MAX_DENSE_SYNAPSES:
                raise self.fail(
                    name,
                    f"would be a dense layer of {n_dst} x {n_src} synapses, more than "
                    f"{MAX_DENSE_SYNAPSES}",
                )
            eff = np.zeros((n_dst, n_src), dtype=np.int64)
            eff[proj.rows, proj.cols] = effective_weights(
                proj.values, proj.num_weight_bits, proj.sign_mode
            )
        else:
            eff = effective_weights(proj.weight, proj.num_weight_bits, proj.sign_mode)
        exp = proj.weight_exp
        if exp >= 0:
            return eff << exp
        lost = eff % (1 << -exp)
        if np.any(lost):
            i = np.argwhere(lost)[0]
            raise self.fail(
                name,
                f"weight {int(eff[tuple(i)])} at {tuple(int(k) for k in i)} with weight_exp = "
                f"{exp}: netx sums whole weights, and {int(eff[tuple(i)])} / 2^{-exp} is not an "
                "integer",
            )
        return eff >> -exp

    def check_netx_keeps(self, name: str, joint: np.ndarray, parts: list[np.ndarray]) -> None:
        """netx re-derives the format from the file's weights: it must give back these sums."""
        if not joint.any():
            raise self.fail(
                name,
                "has only zero weights (netx's optimize_weight_bits divides by the largest weight)",
            )
        fmt = netx_dense_format(joint)
        start = 0
        for part in parts:
            stop = start + part.shape[1]
            shifted = fmt.weight[:, start:stop]
            eff = effective_weights(shifted, fmt.num_weight_bits, lava_sign_mode(shifted))
            back = eff << fmt.weight_exp if fmt.weight_exp >= 0 else eff >> -fmt.weight_exp
            exact = (eff % (1 << max(-fmt.weight_exp, 0)) == 0).all()
            if not exact or not np.array_equal(back, part):
                bad = np.argwhere(back != part)
                i = tuple(int(k) for k in bad[0]) if bad.size else (0, 0)
                raise self.fail(
                    name,
                    f"weight {int(part[i])} at {i}: netx's 8-bit format turns the layer's weights "
                    f"(range {int(part.min())}..{int(part.max())}) into {int(back[i])}",
                )
            start = stop


def _is_input_relay(g: Graph, proj: Projection) -> bool:
    """The import's one-to-one weight-1 synapse from the host input to netx's input neurons."""
    src, dst = g.populations[proj.src], g.populations[proj.dst]
    if not isinstance(proj, QSparse) or not isinstance(src, Input) or src.shape != dst.shape:
        return False
    n = src.size
    eff = effective_weights(proj.values, proj.num_weight_bits, proj.sign_mode) << max(
        proj.weight_exp, 0
    )
    return (
        proj.weight_exp >= 0
        and proj.nnz == n
        and np.array_equal(proj.rows, np.arange(n))
        and np.array_equal(proj.cols, np.arange(n))
        and np.all(eff == 1)
        and not np.any(proj.delay)
    )


def _delay(proj: QDense | QSparse, shape: tuple[int, int]) -> np.ndarray | None:
    if not np.any(proj.delay):
        return None
    if isinstance(proj, QDense):
        return np.broadcast_to(proj.delay, shape).astype(np.int64)
    full = np.zeros(shape, dtype=np.int64)
    full[proj.rows, proj.cols] = np.broadcast_to(proj.delay, proj.values.shape)
    return full


def _weights(w: np.ndarray, name: str, chain: _Chain) -> np.ndarray:
    if np.abs(w).max(initial=0) >= _FLOAT32_EXACT:
        raise chain.fail(name, f"weight {int(np.abs(w).max())} is not exact in float32")
    return w.astype(np.float32)


def _shape(shape: tuple[int, ...]) -> np.ndarray:
    return np.array(shape, dtype=np.int64)
