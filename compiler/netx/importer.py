"""lava-dl netx -> snnc: `load(path, dt)` for `compiler.model_io`, and `import_netx`.

A netx file is a chain of layers, each a synapse into a population of neurons (lava-dl
netx/hdf5.py `Network._create`). The importer builds the Lava network netx builds, as a
fixed-point snnc graph, keeping netx's integers as they are:

    netx layer                       snnc
    input (no neuron)                Input population of the layer's shape
    input (with neuron)              Input -> QSparse one-to-one, weight 1 -> the neurons (*)
    dense                            QDense (netx's weight format: `weights.netx_dense_format`)
    dense_rec                        QDense in, QDense self-loop (formats derived jointly)
    conv                             QConv2d (the file's weights; netx flips them for Lava's
                                     convolution, which makes a cross-correlation again)
    flatten                          nothing: (C, H, W) flattens C-order, as netx's transpose
    delay (dense)                    per-synapse QDense delay (netx's rule: one per row if the
                                     count is n_out, per column if n_in; clipped to 62)
    pool, unpool, convT              (netx refuses them) QConv2d with groups = C for pool;
                                     QSparse for unpool and convT, with netx's dense weight rule
    dense with weight/real, /imag    (SLAYER's complex dense; `dense_comp` alike) QDense into
                                     the RF neurons' "real" port and QDense into "imag"
    concat (snnc's layout)           nothing: the next layer's synapse, one projection per part
    average                          nothing: a `group_mean` readout in the graph's metadata

and neurons by the Lava process netx builds, taken from the model table (`neurons`,
`model_for_lava`) with the arguments netx passes:

    neuron CUBA / LOIHI              LIF: du = iDecay - 1, dv = vDecay, vth = vThMant,
                                     bias_mant = int(bias), bias_exp = 6
    neuron SDNN, input layer         Delta: vth = vThMant, spike_exp = state_exp = 6
    neuron SDNN with sigma_output    Sigma
    neuron SDNN                      SigmaDelta: vth = vThMant, bias, ReLU, spike_exp =
                                     state_exp = 6 (graded messages to the next layer)
    neuron RF_PHASE / other RF*      RF / RF_IZ from netx's float period and decay
                                     (`netx_rf_params`), vth = vThMant << 6

Per-neuron values are what netx's numpy broadcasting against the (W, H, C) or (n,) neurons
makes of them: one value, n for a dense layer, C (per channel) or (W, H, C) for a conv layer.

(*) netx feeds the input neurons' `a_in` directly (no synapse, no buffer step); an snnc
projection always buffers one step, so the imported graph runs one step later than netx from
that layer on: `metadata["import"]["latency"]` is 1 (0 without input neurons), and output step
t + latency equals netx's step t.

Inputs are what netx takes: binary spikes at the input (or first synapse), or for a sigma-delta
input layer integer activations (netx's Delta shifts them by spike_exp + state_exp: 6 of their
bits are fractional), flat in snnc's C-order (C, H, W) numbering (netx holds (W, H, C)). Where netx 0.6.0 reads a field of the file
but drops it (`refDelay`, `gradedSpike`, the input layer's `weight`/`bias` transform, a conv's
`delay`, `neuron/weight_exp`, an SDNN `activation`), the import computes what netx computes and says so in one
warning line per field. Anything snnc cannot express is one error line naming the layer, the
field and the value.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.errors import ModelFormatError
from ir.fixed import LAVA_FIXED_PT
from ir.graph import Graph
from ir.nodes import Input, Population, Projection, QConv2d, QDense, QSparse, conv2d_output_hw
from neurons import model_of, model_for_lava
from ir.verify import verify

from compiler.netx.reader import NetxFile, NetxLayer, read_netx, text_field
from compiler.netx.weights import DenseFormat, dense_conv_weight, lava_sign_mode, netx_dense_format

__all__ = ["DEFAULT_DT", "LAYER_TYPES", "NETX_VERSION", "import_netx", "load"]

NETX_VERSION = "0.6.0"
DEFAULT_DT = 1e-3  # netx has no time unit; the fixed-point program does not depend on dt
# netx clips delays to this (hdf5.py create_dense: "Found max delay ... Clamping the delays").
NETX_MAX_DELAY = 62
# netx sets bias_exp = 6 for every CUBA neuron (hdf5.py get_neuron_params), matching the << 6
# Lava applies to the synaptic input and the threshold.
NETX_BIAS_EXP = 6
# netx's sigma-delta neurons: spike_exp is hdf5.Network's argument (default 6), state_exp is 6.
NETX_SPIKE_EXP = 6
NETX_STATE_EXP = 6
# A delta encoder's input port is int32 with precision 24 (lava proc/sdn/models.py
# PyDeltaModelFixed a_in): the host input of an SDNN input layer is that wide.
DELTA_INPUT_BITS = 24
# SLAYER clamps decays to [0, 1] * 4096 (neuron/cuba.py clamp); Lava's LIF then needs
# 4096 - (du + 1) >= 0 and 4096 - dv >= 0.
DECAY_RANGE = (0, 4096)
# netx's neuron for a dense layer without one: a non-leaky integrator that never spikes
# (hdf5.py create_dense; `1 << 18 - 1` is 1 << 17 by operator precedence).
DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17, "refDelay": 1, "gradedSpike": False}
_VTH_MAX = (1 << 18) - 1  # what SLAYER writes for non-spiking layers (block/base.py AbstractAffine)
# netx's RF neurons: decay_bits 12 (hdf5.py get_neuron_params); sin/cos decays are 12-bit
# mantissas and the real/imaginary state 24 bits (lava proc/rf/models.py PyRFModelFixed), so
# vThMant << 6 must stay below 2^23.
RF_DECAY_BITS = 12
RF_DECAY_MAX = (1 << RF_DECAY_BITS) - 1
RF_VTH_MAX = ((1 << 23) - 1) >> NETX_STATE_EXP
# pool/unpool/convT lowerings hold one value per synapse; 2^26 int64 values is 512 MiB.
MAX_SYNAPSES = 1 << 26


def _stderr_warn(message: str) -> None:
    print(f"snnc: warning: {message}", file=sys.stderr)


def load(path: str | os.PathLike, dt: float | None) -> Graph:
    """`compiler.model_io` importer entry: the graph in a netx file (warnings on stderr)."""
    return import_netx(path, dt=dt)


def import_netx(
    path: str | os.PathLike,
    dt: float | None = None,
    input_shape: tuple[int, ...] | None = None,
    warn: Callable[[str], None] = _stderr_warn,
) -> Graph:
    """Import a netx file as a fixed-point snnc graph (verified). See the module docstring.

    `input_shape` (C, H, W) is needed only when the file has no input layer and its first conv
    layer's input size is ambiguous (netx's `input_shape` argument)."""
    nf = read_netx(path)
    return _Importer(nf, warn, input_shape).run(dt)


@dataclass
class _Prev:
    """The population the next layer reads: its name and (C, H, W) or (n,) shape."""

    name: str
    shape: tuple[int, ...]
    parts: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """For a `concat` layer: the populations it joins along channels (or flat), in order."""


@dataclass
class _Importer:
    nf: NetxFile
    warn: Callable[[str], None]
    input_shape: tuple[int, ...] | None
    pops: dict[str, Population] = field(default_factory=dict)
    projs: dict[str, Projection] = field(default_factory=dict)
    prev: _Prev | None = None
    flatten: bool = False
    latency: int = 0
    # (field, what netx does) -> [(layer index, value or "")], reported as one warning line each.
    ignored: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # What each layer's output is (and whether it is flattened), for `input` and `concat`.
    outputs: dict[int, tuple[_Prev, bool]] = field(default_factory=dict)
    concats: dict[str, _Prev] = field(default_factory=dict)
    readout: dict[str, Any] | None = None

    # ------------------------------------------------------------------ driver

    def run(self, dt: float | None) -> Graph:
        types = []
        for layer in self.nf.layers:
            handler = LAYER_TYPES.get(layer.type)
            if handler is None:
                raise self.fail(layer, "type", f"{layer.type!r} is not a netx layer type; known: {', '.join(LAYER_TYPES)}")
            if self.readout is not None:
                raise self.fail(layer, None, f"follows the average layer {self.readout['layer']}, a host readout; "
                                             "nothing can read it")
            if "input" in layer.fields and layer.type not in ("input", "concat"):
                self.prev, self.flatten = self.layer_output(layer, self.array(layer, "input"))
            handler(self, layer)
            if self.prev is not None:
                self.outputs[layer.index] = (self.prev, self.flatten)
            types.append(layer.type)
        if self.prev is None or all(isinstance(p, Input) for p in self.pops.values()):
            raise ModelFormatError(self.nf.path, "layer", "has no layer with neurons; nothing to import")
        warnings = self._warnings()
        for line in warnings:
            self.warn(line)
        meta: dict[str, Any] = {} if self.readout is None else {"readout": self.readout}
        meta |= {
            "import": {
                "format": "netx",
                "file": os.path.basename(self.nf.path),
                "sha256": self.nf.sha256,
                "netx": NETX_VERSION,
                "layers": types,
                "latency": self.latency,
                "warnings": warnings,
            }
        }
        graph = Graph(
            populations=self.pops,
            projections=self.projs,
            dt=DEFAULT_DT if dt is None else dt,
            outputs=tuple(p for p, _ in self.prev.parts) or (self.prev.name,),
            metadata=meta,
        )
        return verify(graph)

    def _warnings(self) -> list[str]:
        lines = list(self.notes)
        for (name, what), layers in self.ignored.items():
            where = ", ".join(f"{i} = {v}" if v else str(i) for i, v in layers)
            lines.append(f"{self.nf.path}: {name} (layer{'s' if len(layers) > 1 else ''} {where}): {what}")
        return lines

    def fail(self, layer: NetxLayer, fieldname: str | None, message: str) -> ModelFormatError:
        where = f"layer/{layer.index} ({layer.type})" + (f" {fieldname}" if fieldname else "")
        return ModelFormatError(self.nf.path, where, message)

    def note(self, layer: NetxLayer, fieldname: str, what: str, value: str = "") -> None:
        self.ignored.setdefault((fieldname, what), []).append((layer.index, value))

    # ------------------------------------------------------------------ values

    def array(self, layer: NetxLayer, name: str, container: dict[str, Any] | None = None) -> np.ndarray:
        value = (layer.fields if container is None else container).get(name)
        label = name if container is None else f"neuron/{name}"
        if value is None:
            raise self.fail(layer, label, "missing")
        if not isinstance(value, np.ndarray):
            raise self.fail(layer, label, f"expected numbers, got {type(value).__name__}")
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise self.fail(layer, label, "has NaN or infinite values")
        if value.dtype.kind in "fu" and value.size and np.abs(value).max() >= 2.0**63:
            raise self.fail(layer, label, f"has {np.abs(value).max():g}, beyond 64-bit integers")
        return value

    def integers(self, layer: NetxLayer, name: str, container: dict[str, Any] | None = None) -> np.ndarray:
        """netx's `.astype(int)` of a weight-like member (truncates toward zero), with a note when
        that changes a value."""
        value = self.array(layer, name, container)
        out = value.astype(np.int64)
        if value.dtype.kind == "f" and np.any(out != value):
            self.note(layer, name, "non-integer values truncated toward zero, as netx 0.6.0 does (NetDict .astype(int))")
        return out

    def scalar(self, layer: NetxLayer, name: str, container: dict[str, Any] | None, lo: int, hi: int) -> int:
        """An integer layer parameter with one value (groups)."""
        value = self.array(layer, name, container)
        label = name if container is None else f"neuron/{name}"
        flat = value.reshape(-1)
        if flat.size == 0:
            raise self.fail(layer, label, "is empty")
        if np.any(flat != flat[0]):
            raise self.fail(layer, label, f"varies ({_span(flat)}); netx takes one value")
        return self.checked(layer, label, flat[:1], lo, hi)[0]

    def checked(self, layer: NetxLayer, label: str, values: np.ndarray, lo: int, hi: int) -> list[int]:
        if np.any(values != np.round(values)):
            raise self.fail(layer, label, f"= {_span(values)} is not an integer")
        ints = values.astype(np.int64)
        if ints.min() < lo or ints.max() > hi:
            bad = int(ints.min()) if ints.min() < lo else int(ints.max())
            raise self.fail(layer, label, f"= {bad} is outside [{lo}, {hi}]")
        return [int(v) for v in ints.reshape(-1)]

    def per_neuron(self, layer: NetxLayer, name: str, cfg: dict[str, Any], shape: tuple[int, ...], lo: int, hi: int) -> Any:
        """A neuron parameter as netx hands it to Lava (numpy broadcasting against the neurons'
        (W, H, C) or (n,) state): an int when uniform, else an array in snnc's (C, H, W) order."""
        value = self.array(layer, name, cfg)
        label = f"neuron/{name}"
        if value.size == 0:
            raise self.fail(layer, label, "is empty")
        self.checked(layer, label, value.reshape(-1), lo, hi)
        full = self.broadcast(layer, label, value.astype(np.int64), shape)
        flat = full.reshape(-1)
        return int(flat[0]) if np.all(flat == flat[0]) else full

    def broadcast(self, layer: NetxLayer, label: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Per-neuron values in snnc's order from what netx gives Lava: one value; n values (a
        dense layer); C values, one per channel, or a (W, H, C) array (a conv layer)."""
        n = math.prod(shape)
        if value.size == 1:
            return np.full(shape, value.reshape(-1)[0], dtype=np.int64)
        if len(shape) == 1:
            if value.size != n:
                raise self.fail(layer, label, f"has {value.size} values for {n} neurons")
            return value.reshape(shape)
        c, h, w = shape
        if value.shape == (w, h, c):
            return value.transpose(2, 1, 0)
        if value.reshape(-1).size == c:
            return np.broadcast_to(value.reshape(c, 1, 1), shape).copy()
        raise self.fail(layer, label, f"shape {value.shape} is neither one per channel ({c},) nor per neuron "
                                      f"(W, H, C) = {(w, h, c)}")

    def pair(self, layer: NetxLayer, name: str) -> tuple[int, int]:
        """stride/padding/dilation: a scalar for both axes or (H, W), as SLAYER writes them
        (netx reverses them into Lava's (X, Y))."""
        value = self.integers(layer, name).reshape(-1)
        if value.size == 1:
            return int(value[0]), int(value[0])
        if value.size != 2:
            raise self.fail(layer, name, f"expected one or two integers, got {value.size}")
        return int(value[0]), int(value[1])

    def shape(self, layer: NetxLayer) -> tuple[int, ...]:
        value = self.integers(layer, "shape").reshape(-1)
        if not 1 <= value.size <= 3 or np.any(value <= 0):
            raise self.fail(layer, "shape", f"expected 1 to 3 positive sizes, got {value.tolist()}")
        return tuple(int(v) for v in value)

    # ------------------------------------------------------------------ populations

    def add_input(self, shape: tuple[int, ...], message_bits: int = 0) -> _Prev:
        self.pops["input"] = Input(shape=shape, message_bits=message_bits)
        return _Prev("input", shape)

    def source(self, layer: NetxLayer, n_in: int | None = None, conv_in: Callable[[], tuple[int, ...]] | None = None) -> _Prev:
        """The population this layer reads, creating the host input if this is the first layer."""
        if self.prev is not None:
            return self.prev
        if self.input_shape is not None:
            return self.add_input(tuple(self.input_shape))
        if conv_in is not None:
            return self.add_input(conv_in())
        assert n_in is not None
        return self.add_input((n_in,))

    def neuron(self, layer: NetxLayer, shape: tuple[int, ...], bias: np.ndarray | None, first: bool = False) -> Population:
        """The neurons netx builds for a layer (hdf5.py get_neuron_params; blocks/process.py
        AbstractBlock._neuron): the Lava process netx picks and the arguments it passes, as the
        model table's node for that process. `first`: netx's input layer."""
        cfg = layer.neuron if layer.neuron is not None else DEFAULT_NEURON
        kind = text_field(cfg.get("type"))
        values = _as_arrays(cfg)
        if kind in ("CUBA", "LOIHI"):
            process = "LIF"
            params: dict[str, Any] = {
                "du": self.per_neuron(layer, "iDecay", values, shape, *DECAY_RANGE) - 1,
                "dv": self.per_neuron(layer, "vDecay", values, shape, *DECAY_RANGE),
                "vth": self.per_neuron(layer, "vThMant", values, shape, 0, _VTH_MAX),
                "bias_mant": 0 if bias is None else self.neuron_bias(layer, shape, bias),
                "bias_exp": NETX_BIAS_EXP,
            }
            self.dropped_neuron_fields(layer, cfg)
        elif kind == "SDNN":
            process, params = self.sigma_delta(layer, cfg, values, shape, bias, first)
        elif kind is not None and "RF" in kind:
            return self.resonator(layer, kind, values, shape)
        else:
            raise self.fail(layer, "neuron/type", f"{kind!r} is not supported; snnc imports CUBA, LOIHI, SDNN and RF "
                                                  "neurons")
        model = model_for_lava(process, f"{self.nf.path}: layer/{layer.index}", "snnc's netx import")
        return model.from_lava(shape, params)

    def sigma_delta(self, layer: NetxLayer, cfg: dict[str, Any], values: dict[str, Any], shape: tuple[int, ...],
                    bias: np.ndarray | None, first: bool) -> tuple[str, dict[str, Any]]:
        """netx's SDNN neurons: Delta for the input layer, Sigma for a `sigma_output` layer,
        else SigmaDelta (ReLU, no cumulative error), with spike_exp = state_exp = 6."""
        bits = cfg.get("messageBits")
        if isinstance(bits, np.ndarray) and bits.size and not np.any(bits):
            raise self.fail(layer, "neuron/messageBits", "= 0: netx then reads this layer's graded payloads as 0/1 "
                                                         "spikes in the next synapse; snnc does not import that")
        activation = text_field(cfg.get("activation"))
        if activation not in (None, "relu"):
            self.note(layer, "neuron/activation", "netx 0.6.0 never reads it and builds ReLU sigma-delta neurons; "
                                                  "snnc computes what netx computes", repr(activation))
        exps = {"spike_exp": NETX_SPIKE_EXP, "state_exp": NETX_STATE_EXP}
        if first:
            vth = self.per_neuron(layer, "vThMant", values, shape, 0, _VTH_MAX)
            return "Delta", {"vth": vth, "cum_error": 0, **exps}
        if "sigma_output" in cfg:
            return "Sigma", {}
        vth = self.per_neuron(layer, "vThMant", values, shape, 0, _VTH_MAX)
        return "SigmaDelta", {"vth": vth, "bias": 0 if bias is None else self.neuron_bias(layer, shape, bias),
                              "act_mode": 1, "cum_error": 0, **exps}

    def resonator(self, layer: NetxLayer, kind: str, values: dict[str, Any], shape: tuple[int, ...]) -> Population:
        """netx's resonate-and-fire neurons (hdf5.py get_neuron_params): RF for a type with
        "PHASE", else RF_IZ, built from period = 1 / frequency and alpha = decay that SLAYER's
        `neuron.rf.neuron_params` derives from sinDecay, cosDecay (float64), vth = vThMant,
        state_exp = 6, decay_bits = 12; Lava's process turns them back into registers
        (`RFModel.from_lava`), which can differ from the file's by one (said in a warning)."""
        sin_file = self.per_neuron(layer, "sinDecay", values, shape, -RF_DECAY_MAX, RF_DECAY_MAX)
        cos_file = self.per_neuron(layer, "cosDecay", values, shape, -RF_DECAY_MAX, RF_DECAY_MAX)
        vth = self.array(layer, "vThMant", values).reshape(-1)
        if vth.size != 1:
            raise self.fail(layer, "neuron/vThMant", f"has {vth.size} values; netx 0.6.0's RF process takes one "
                                                     "threshold (int(vth * 2^6) of an array fails)")
        self.checked(layer, "neuron/vThMant", vth, 0, RF_VTH_MAX)
        params = netx_rf_params(sin_file, cos_file, int(vth[0]))
        if np.any(~np.isfinite(params["period"])):
            raise self.fail(layer, "neuron/sinDecay", f"= {_span(np.asarray(sin_file).reshape(-1))} with cosDecay "
                                                      f"{_span(np.asarray(cos_file).reshape(-1))}: netx's period "
                                                      "1 / frequency is infinite")
        graded = values.get("gradedSpike")
        if isinstance(graded, np.ndarray) and np.any(graded):
            self.note(layer, "neuron/gradedSpike", "netx 0.6.0 drops it (Lava's RF sends binary spikes); snnc "
                                                   "computes what netx computes", "True")
        process = "RF" if "PHASE" in kind else "RF_IZ"
        model = model_for_lava(process, f"{self.nf.path}: layer/{layer.index}", "snnc's netx import")
        node = model.from_lava(shape, params)
        for reg, file_values in (("sin_decay", sin_file), ("cos_decay", cos_file)):
            back, want = node.per_neuron(reg), np.broadcast_to(file_values, shape).reshape(-1)
            if np.any(back != want):
                i = int(np.argmax(back != want))
                self.note(layer, f"neuron/{'sinDecay' if reg == 'sin_decay' else 'cosDecay'}",
                          "netx 0.6.0 passes Lava's RF process a period and decay computed from it in floats, and "
                          "the process truncates them back to a register one below; snnc computes what netx "
                          "computes", f"{int(want[i])} -> {int(back[i])}")
        return node

    def dropped_neuron_fields(self, layer: NetxLayer, cfg: dict[str, Any]) -> None:
        """Neuron fields netx 0.6.0 reads and drops for CUBA (or never reads)."""
        ref = cfg.get("refDelay")
        if isinstance(ref, np.ndarray) and np.any(ref != 1):
            self.note(layer, "neuron/refDelay", "netx 0.6.0 drops it (Lava's LIF has no refractory period); "
                                                "snnc computes what netx computes", _span(ref.reshape(-1)))
        graded = cfg.get("gradedSpike")
        if isinstance(graded, np.ndarray) and np.any(graded):
            self.note(layer, "neuron/gradedSpike", "netx 0.6.0 drops it (Lava's LIF sends binary spikes); "
                                                   "snnc computes what netx computes", "True")
        if "weight_exp" in cfg:
            self.note(layer, "neuron/weight_exp", "netx 0.6.0 never reads it (SLAYER's WgtScaleBatchNorm scale); "
                                                  "snnc computes what netx computes")

    def neuron_bias(self, layer: NetxLayer, shape: tuple[int, ...], bias: np.ndarray) -> np.ndarray:
        """bias_mant per neuron in snnc's (C, H, W) order (netx: blocks/process.py _neuron)."""
        return self.broadcast(layer, "bias", bias, shape)

    def add_layer(self, layer: NetxLayer, pop: Population, proj: Projection | None, name: str) -> None:
        self.pops[name] = pop
        if proj is not None:
            self.connect(layer, f"{name}.in", proj)
        self.prev = _Prev(name, pop.shape)
        self.flatten = False

    def connect(self, layer: NetxLayer, name: str, proj: Projection) -> None:
        """Add a projection; one reading a `concat` becomes one projection per joined
        population (`_split`: the columns, or input channels, that population gives)."""
        joined = self.concats.get(proj.src)
        if joined is None:
            self.projs[name] = proj
            return
        start = 0
        for part, shape in joined.parts:
            n = shape[0] if isinstance(proj, QConv2d) else math.prod(shape)
            self.projs[f"{name}.{part}"] = _split(self, layer, proj, part, start, start + n)
            start += n

    def layer_output(self, layer: NetxLayer, value: np.ndarray) -> tuple[_Prev, bool]:
        """The output of the layer a field names by index (snnc's `input`/`concat` layout)."""
        flat = value.reshape(-1)
        if flat.size != 1 or flat[0] != np.round(flat[0]):
            raise self.fail(layer, "input", f"= {flat.tolist()}; expected the index of one earlier layer")
        index = int(flat[0])
        if index not in self.outputs or index >= layer.index:
            raise self.fail(layer, "input", f"= {index}: not an earlier layer with an output "
                                            f"(those are {sorted(self.outputs) or 'none'})")
        return self.outputs[index]

    def flat_source(self, layer: NetxLayer, n_in: int) -> _Prev:
        """The source of a dense-like layer: flat, through a flatten layer if it is spatial."""
        src = self.source(layer, n_in=n_in)
        if len(src.shape) > 1 and not self.flatten and src.name != "input":
            raise self.fail(layer, None, f"reads the {src.shape} output of {src.name!r} without a flatten layer; "
                                         "netx 0.6.0 cannot connect them")
        if math.prod(src.shape) != n_in:
            raise self.fail(layer, "weight", f"has {n_in} inputs, its source {src.name!r} has {math.prod(src.shape)} neurons")
        return src

    def spatial_source(self, layer: NetxLayer, infer: Callable[[], tuple[int, ...]]) -> _Prev:
        src = self.source(layer, conv_in=infer)
        if len(src.shape) != 3:
            raise self.fail(layer, None, f"needs a (C, H, W) input; its source {src.name!r} has shape {src.shape}")
        return src

    def check_shape(self, layer: NetxLayer, computed: tuple[int, ...]) -> tuple[int, ...]:
        declared = self.shape(layer)
        if declared != computed:
            raise self.fail(layer, "shape", f"= {list(declared)}, but its input and kernel give {list(computed)}")
        return declared


def netx_rf_params(sin_decay: Any, cos_decay: Any, vth: int) -> dict[str, Any]:
    """The arguments netx gives Lava's RF / RF_IZ process for a file's sinDecay, cosDecay,
    vThMant (hdf5.py get_neuron_params with SLAYER's neuron.rf.neuron_params, in float64 as
    they compute them); `RFModel.from_lava` turns them into the registers Lava computes."""
    sin = np.asarray(sin_decay, dtype=np.float64) / (1 << RF_DECAY_BITS)
    cos = np.asarray(cos_decay, dtype=np.float64) / (1 << RF_DECAY_BITS)
    with np.errstate(divide="ignore"):
        period = 1 / (np.arctan2(sin, cos) / 2 / np.pi)
    return {"period": period, "alpha": 1 - np.sqrt(sin**2 + cos**2), "vth": vth,
            "state_exp": NETX_STATE_EXP, "decay_bits": RF_DECAY_BITS}


def _span(values: np.ndarray) -> str:
    lo, hi = values.min(), values.max()
    return f"{lo}" if lo == hi else f"{lo}..{hi}"


def _as_arrays(cfg: dict[str, Any]) -> dict[str, Any]:
    """netx's default neuron holds Python ints; the checks read arrays."""
    return {k: (np.asarray(v) if isinstance(v, (int, bool, np.integer)) else v) for k, v in cfg.items()}


# ---------------------------------------------------------------------------- layer types


def _input(imp: _Importer, layer: NetxLayer) -> None:
    if imp.prev is not None:
        raise imp.fail(layer, None, "an input layer after other layers; netx reads it only first")
    if "shape" not in layer.fields and layer.neuron is None:
        return
    shape = tuple(imp.input_shape) if imp.input_shape is not None else imp.shape(layer)
    if layer.neuron is None:
        imp.prev = imp.add_input(shape)
        return
    for name in ("weight", "bias"):
        if name in layer.fields:
            imp.note(layer, name, "the input layer's transform: netx 0.6.0 stores it and never applies it; "
                                  "snnc computes what netx computes")
    name = f"input{layer.index}"
    n = math.prod(shape)
    pop = imp.neuron(layer, shape, None, first=True)
    # netx feeds the input neurons' a_in with the user's data: graded for a delta encoder.
    host = imp.add_input(shape, DELTA_INPUT_BITS if model_of(pop).graded else 0)
    one_to_one = QSparse(src=host.name, dst=name, rows=np.arange(n), cols=np.arange(n), values=np.ones(n, dtype=np.int64),
                         weight_exp=0, num_weight_bits=8, sign_mode="excitatory")
    imp.add_layer(layer, pop, one_to_one, name)
    imp.latency = 1


def _flatten(imp: _Importer, layer: NetxLayer) -> None:
    imp.flatten = True


def _dense(imp: _Importer, layer: NetxLayer, recurrent: bool = False) -> None:
    if isinstance(layer.fields.get("weight"), dict) or layer.type == "dense_comp":
        if recurrent:
            raise imp.fail(layer, "weight", "is complex (real/imag) in a dense_rec layer; neither SLAYER nor netx "
                                            "0.6.0 builds complex recurrent synapses")
        _complex_dense(imp, layer)
        return
    kind = text_field((layer.neuron or {}).get("type"))
    if kind is not None and "RF" in kind:
        raise imp.fail(layer, "weight", f"is real, into {kind!r} neurons: netx 0.6.0 connects a real dense synapse "
                                        "to the neurons' a_in, which its RF processes have not (they take "
                                        "weight/real and weight/imag)")
    n_out = math.prod(imp.shape(layer))
    weight = _matrix(imp, layer, "weight", n_out)
    src = imp.flat_source(layer, weight.shape[1])
    name = f"{layer.type}{layer.index}"
    rec = None
    if recurrent:
        rec = _matrix(imp, layer, "weight_rec", n_out)
        if rec.shape != (n_out, n_out):
            raise imp.fail(layer, "weight_rec", f"shape {rec.shape}, expected {(n_out, n_out)}")
        fmt = netx_dense_format(np.hstack([weight, rec]))
        w_in, w_rec = fmt.weight[:, : weight.shape[1]], fmt.weight[:, weight.shape[1]:]
    else:
        fmt = netx_dense_format(weight)
        w_in, w_rec = fmt.weight, None
    bits = _format_notes(imp, layer, fmt)
    delay = _dense_delay(imp, layer, w_in.shape)
    weight_exp = fmt.weight_exp
    if recurrent and delay is not None and weight_exp != 0:
        imp.note(layer, "weight_exp", "netx 0.6.0 builds delayed dense_rec synapses without the exponent it "
                                      "derived (blocks/process.py RecurrentDense); snnc computes what netx computes",
                 str(weight_exp))
        weight_exp = 0
    bias = imp.integers(layer, "bias") if "bias" in layer.fields else None
    pop = imp.neuron(layer, (n_out,), bias)
    proj = QDense(src=src.name, dst=name, weight=w_in, weight_exp=weight_exp, num_weight_bits=bits,
                  sign_mode=lava_sign_mode(w_in), delay=0 if delay is None else delay)
    imp.add_layer(layer, pop, proj, name)
    if w_rec is not None:
        if delay is not None and delay.shape != w_rec.shape:
            raise imp.fail(layer, "delay", f"netx 0.6.0 gives the recurrent synapse the same delays, shape {delay.shape}, "
                                           f"which do not fit its {w_rec.shape} weights")
        imp.projs[f"{name}.rec"] = QDense(
            src=name, dst=name, weight=w_rec, weight_exp=weight_exp, num_weight_bits=bits,
            sign_mode=lava_sign_mode(w_rec), delay=0 if delay is None else delay,
        )


def _complex_dense(imp: _Importer, layer: NetxLayer) -> None:
    """SLAYER's complex dense block (`weight/real`, `weight/imag`, written as a `dense` layer):
    netx's ComplexDense (blocks/process.py), two synapses with their own formats
    (`optimize_weight_bits` each) into the RF neurons' a_real_in and a_imag_in: a QDense into
    the default ("real") port and one into the "imag" port. netx builds them without delays or
    bias."""
    weights = layer.fields.get("weight")
    if not isinstance(weights, dict) or not {"real", "imag"} <= set(weights):
        raise imp.fail(layer, "weight", "a complex dense layer needs weight/real and weight/imag")
    kind = text_field((layer.neuron or {}).get("type"))
    if kind is None or "RF" not in kind:
        raise imp.fail(layer, "neuron/type", f"= {kind!r}: complex weights feed the real and imaginary inputs of RF "
                                             "neurons; netx 0.6.0 connects them to a_real_in/a_imag_in, which "
                                             f"{kind or 'its default CUBA'} neurons have not")
    if layer.type == "dense_comp":
        imp.notes.append(f"{imp.nf.path}: layer/{layer.index} (dense_comp): netx 0.6.0 cannot load this layer type "
                         "(hdf5.py calls Network.create_complex_dense, which it does not define: AttributeError); "
                         "snnc imports it as the complex dense layer SLAYER writes (type dense), which netx builds")
    parts = NetxLayer(layer.index, layer.type, {"weight/real": weights["real"], "weight/imag": weights["imag"]})
    n_out = math.prod(imp.shape(layer))
    real, imag = _matrix(imp, parts, "weight/real", n_out), _matrix(imp, parts, "weight/imag", n_out)
    if real.shape != imag.shape:
        raise imp.fail(layer, "weight/imag", f"shape {imag.shape} differs from weight/real's {real.shape}")
    src = imp.flat_source(layer, real.shape[1])
    for dropped in ("delay", "bias"):
        if dropped in layer.fields:
            imp.note(layer, dropped, "netx 0.6.0 builds complex dense layers without it (hdf5.py create_dense "
                                     "passes it only to real Dense blocks); snnc computes what netx computes")
    name = f"{layer.type}{layer.index}"
    pop = imp.neuron(layer, (n_out,), None)
    projs = []
    for label, weight, port in (("weight/real", real, None), ("weight/imag", imag, "imag")):
        fmt = netx_dense_format(weight)
        bits = _format_notes(imp, parts, fmt, label)
        projs.append(QDense(src=src.name, dst=name, weight=fmt.weight, weight_exp=fmt.weight_exp,
                            num_weight_bits=bits, sign_mode=lava_sign_mode(fmt.weight), port=port))
    imp.add_layer(layer, pop, projs[0], name)
    imp.connect(layer, f"{name}.imag", projs[1])


def _format_notes(imp: _Importer, layer: NetxLayer, fmt: DenseFormat, label: str = "weight") -> int:
    """Say what netx did to the weights, and return num_weight_bits for the IR. Refuse the one
    format Lava's Python model runs that the 8-bit synapse cannot hold: num_weight_bits = 9, odd
    mixed-sign weights beyond +-127 (after netx's clipping; SLAYER's weights are even). Weights
    netx zeroed compute 0 with any bit count: 8 then."""
    if fmt.note:
        imp.notes.append(f"{imp.nf.path}: layer/{layer.index} ({layer.type}) {label}: {fmt.note}")
    if not fmt.weight.any():
        return min(fmt.num_weight_bits, LAVA_FIXED_PT.max_weight_bits)
    if fmt.num_weight_bits > LAVA_FIXED_PT.max_weight_bits:
        raise imp.fail(layer, label, f"netx derives num_weight_bits = {fmt.num_weight_bits} (odd mixed-sign weights "
                                        f"up to {int(np.abs(fmt.weight).max())}), beyond the "
                                        f"{LAVA_FIXED_PT.max_weight_bits}-bit synapse ({LAVA_FIXED_PT.name})")
    return fmt.num_weight_bits


def _matrix(imp: _Importer, layer: NetxLayer, name: str, n_out: int) -> np.ndarray:
    """A dense weight matrix (n_out, n_in); netx reshapes a flat one to (n_out, -1)."""
    weight = imp.integers(layer, name)
    if weight.ndim == 1 and weight.size and weight.size % n_out == 0:
        weight = weight.reshape(n_out, -1)
    if weight.ndim != 2 or weight.shape[0] != n_out or weight.size == 0:
        raise imp.fail(layer, name, f"shape {weight.shape} does not give {n_out} outputs")
    return weight


def _kernel(imp: _Importer, layer: NetxLayer, what: str) -> np.ndarray:
    """A 4-D kernel, as netx reshapes it (`weight.shape[:4]`: trailing sizes must be 1), with
    at most MAX_SYNAPSES values once repeated per channel or unrolled."""
    weight = imp.integers(layer, "weight")
    if weight.ndim < 4 or any(d != 1 for d in weight.shape[4:]) or weight.size == 0:
        raise imp.fail(layer, "weight", f"shape {weight.shape}; expected {what}")
    return weight.reshape(weight.shape[:4])


def _dense_delay(imp: _Importer, layer: NetxLayer, shape: tuple[int, int]) -> np.ndarray | None:
    """netx's per-synapse delays (hdf5.py create_dense): a scalar for all, n_out values per row,
    n_in per column (rows win when both match), or the full matrix; clipped to 62."""
    if "delay" not in layer.fields:
        return None
    raw = imp.array(layer, "delay")
    delay = raw.astype(np.int64)
    if raw.dtype.kind == "f" and np.any(delay != raw):
        imp.note(layer, "delay", "non-integer delays truncated toward zero, as Lava's DelayDense (astype(int))")
    if delay.size and delay.min() < 0:
        raise imp.fail(layer, "delay", f"= {int(delay.min())}; delays must be >= 0")
    if delay.size and delay.max() > NETX_MAX_DELAY:
        imp.note(layer, "delay", f"clipped to {NETX_MAX_DELAY}, as netx 0.6.0 does", f"up to {int(delay.max())}")
        delay = np.clip(delay, 0, NETX_MAX_DELAY)
    n_out, n_in = shape
    if delay.ndim == 0:
        return np.full(shape, int(delay), dtype=np.int64)
    if delay.ndim == 1:
        if delay.size == n_out:
            return np.repeat(delay.reshape(-1, 1), n_in, axis=1)
        if delay.size == n_in:
            return np.repeat(delay.reshape(1, -1), n_out, axis=0)
        raise imp.fail(layer, "delay", f"has {delay.size} values; netx 0.6.0 needs {n_out} (per output) or {n_in} (per input)")
    if delay.shape != shape:
        raise imp.fail(layer, "delay", f"shape {delay.shape} does not match the weights {shape}")
    return delay


def _conv(imp: _Importer, layer: NetxLayer) -> None:
    weight = _kernel(imp, layer, "(C_out, C_in/groups, kH, kW[, 1])")
    stride, padding, dilation = imp.pair(layer, "stride"), imp.pair(layer, "padding"), imp.pair(layer, "dilation")
    groups = imp.scalar(layer, "groups", None, 1, max(1, weight.shape[0]))
    c_out, c_in_g, kh, kw = weight.shape
    declared = imp.shape(layer)

    def infer() -> tuple[int, ...]:
        return _conv_input(imp, layer, declared, c_in_g * groups, (kh, kw), stride, padding, dilation)

    src = imp.spatial_source(layer, infer)
    if src.shape[0] != c_in_g * groups:
        raise imp.fail(layer, "weight", f"expects {c_in_g * groups} input channels (groups {groups}), "
                                        f"its source {src.name!r} has {src.shape[0]}")
    out = (c_out, *conv2d_output_hw(src.shape[1:], (kh, kw), stride, padding, dilation))  # type: ignore[arg-type]
    shape = imp.check_shape(layer, out)
    if "delay" in layer.fields:
        imp.note(layer, "delay", "netx 0.6.0 ignores the delays of conv layers (hdf5.py create_conv); "
                                 "snnc computes what netx computes")
    name = f"conv{layer.index}"
    bias = imp.integers(layer, "bias") if "bias" in layer.fields else None
    pop = imp.neuron(layer, shape, bias)
    proj = QConv2d(src=src.name, dst=name, weight=weight, stride=stride, padding=padding, dilation=dilation, groups=groups)
    imp.add_layer(layer, pop, proj, name)


def _conv_input(imp: _Importer, layer: NetxLayer, out: tuple[int, ...], channels: int, kernel: tuple[int, int],
                stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, ...]:
    """The input (C, H, W) of a first conv layer when the file has no input layer: unique only
    for stride 1 (netx itself then needs its `input_shape` argument)."""
    if len(out) != 3:
        raise imp.fail(layer, "shape", f"= {list(out)}; a conv layer's shape is (C, H, W)")
    sizes = []
    for n, k, s, p, d in zip(out[1:], kernel, stride, padding, dilation):
        if s != 1:
            raise imp.fail(layer, None, f"is the first layer and has stride {s}, so the input size is ambiguous; "
                                        "give it with `snnc import FILE --input-shape C,H,W`")
        sizes.append(n - 1 - 2 * p + d * (k - 1) + 1)
    if min(sizes) <= 0:
        raise imp.fail(layer, "shape", f"= {list(out)} cannot come from any input")
    return (channels, *sizes)


def _pool(imp: _Importer, layer: NetxLayer) -> None:
    """SLAYER's sum pooling: one (kH, kW) kernel applied to every channel; netx refuses it, snnc
    lowers it to a grouped QConv2d (groups = C, each channel its own copy of the kernel)."""
    kernel = _kernel(imp, layer, "(1, 1, kH, kW[, 1]): SLAYER pools with one kernel")
    if kernel.shape[:2] != (1, 1):
        raise imp.fail(layer, "weight", f"shape {kernel.shape}; SLAYER pools with one (1, 1, kH, kW) kernel")
    src = imp.spatial_source(layer, lambda: _not_first(imp, layer))
    stride, padding, dilation = imp.pair(layer, "stride"), imp.pair(layer, "padding"), imp.pair(layer, "dilation")
    c = src.shape[0]
    _check_synapses(imp, layer, c * kernel.size)
    out = (c, *conv2d_output_hw(src.shape[1:], kernel.shape[2:], stride, padding, dilation))  # type: ignore[arg-type]
    shape = imp.check_shape(layer, out)
    name = f"pool{layer.index}"
    pop = imp.neuron(layer, shape, imp.integers(layer, "bias") if "bias" in layer.fields else None)
    proj = QConv2d(src=src.name, dst=name, weight=np.repeat(kernel, c, axis=0), stride=stride, padding=padding,
                   dilation=dilation, groups=c)
    imp.add_layer(layer, pop, proj, name)


def _not_first(imp: _Importer, layer: NetxLayer) -> tuple[int, ...]:
    raise imp.fail(layer, None, f"a {layer.type} layer cannot be the first layer (its input size is unknown); "
                                "give it with `snnc import FILE --input-shape C,H,W`")


def _transposed(imp: _Importer, layer: NetxLayer) -> None:
    """convT (weight (C_in, C_out/groups, kH, kW), PyTorch's ConvTranspose) and unpool (one
    (1, 1, kH, kW) kernel for every channel); netx refuses both. snnc lowers them to a QSparse
    holding every (input, output) synapse, each input neuron (c, i, j) reaching output
    (c', i*s - p + a*d, j*s - p + b*d) with weight w[c, c', a, b], and netx's dense weight rule."""
    weight = _kernel(imp, layer, "(C_in, C_out/groups, kH, kW[, 1])")
    src = imp.spatial_source(layer, lambda: _not_first(imp, layer))
    c_in = src.shape[0]
    if layer.type == "unpool":
        if weight.shape[:2] != (1, 1):
            raise imp.fail(layer, "weight", f"shape {weight.shape}; SLAYER unpools with one (1, 1, kH, kW) kernel")
        groups = c_in
        weight = np.repeat(weight, c_in, axis=0)
    else:
        groups = imp.scalar(layer, "groups", None, 1, max(1, c_in)) if "groups" in layer.fields else 1
    stride, padding, dilation = imp.pair(layer, "stride"), imp.pair(layer, "padding"), imp.pair(layer, "dilation")
    if weight.shape[0] != c_in:
        raise imp.fail(layer, "weight", f"expects {weight.shape[0]} input channels, its source {src.name!r} has {c_in}")
    shape = imp.shape(layer)
    c_out = weight.shape[1] * groups
    if len(shape) != 3 or shape[0] != c_out:
        raise imp.fail(layer, "shape", f"= {list(shape)}, expected {c_out} channels (C, H, W)")
    full = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, k, s, p, d in zip(src.shape[1:], weight.shape[2:], stride, padding, dilation)]
    if any(not f <= n < f + s for f, n, s in zip(full, shape[1:], stride)):
        raise imp.fail(layer, "shape", f"= {list(shape)}, but its input and kernel give {[c_out, *full]} (plus at most stride - 1)")
    _check_synapses(imp, layer, weight[0].size * math.prod(src.shape))
    rows, cols, values = _transposed_synapses(weight, src.shape, shape, groups, stride, padding, dilation)
    fmt = netx_dense_format(values)
    bits = _format_notes(imp, layer, fmt)
    name = f"{layer.type}{layer.index}"
    pop = imp.neuron(layer, shape, imp.integers(layer, "bias") if "bias" in layer.fields else None)
    proj = QSparse(src=src.name, dst=name, rows=rows, cols=cols, values=fmt.weight, weight_exp=fmt.weight_exp,
                   num_weight_bits=bits, sign_mode=lava_sign_mode(fmt.weight))
    imp.add_layer(layer, pop, proj, name)


def _transposed_synapses(weight: np.ndarray, src: tuple[int, ...], dst: tuple[int, ...], groups: int,
                         stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, values) of a transposed convolution, zero weights left out."""
    c_in, h_in, w_in = src
    c_out, h_out, w_out = dst
    per_group_out = weight.shape[1]
    per_group_in = c_in // groups
    ci, co_g, a, b, i, j = np.meshgrid(
        np.arange(c_in), np.arange(per_group_out), np.arange(weight.shape[2]), np.arange(weight.shape[3]),
        np.arange(h_in), np.arange(w_in), indexing="ij",
    )
    co = (ci // per_group_in) * per_group_out + co_g
    oi = i * stride[0] - padding[0] + a * dilation[0]
    oj = j * stride[1] - padding[1] + b * dilation[1]
    w = weight[ci, co_g, a, b]
    keep = (oi >= 0) & (oi < h_out) & (oj >= 0) & (oj < w_out) & (w != 0)
    rows = (co * h_out + oi) * w_out + oj
    cols = (ci * h_in + i) * w_in + j
    return rows[keep], cols[keep], w[keep]


def _concat(imp: _Importer, layer: NetxLayer) -> None:
    """snnc's `concat` layer (docs/netx.md; no lava-dl 0.6.0 block writes one and netx reads
    none of its fields): `inputs` names earlier layers by index, whose outputs it joins along
    channels ((C, H, W) parts of equal H, W) or end to end (flat, or flattened, parts), as
    torch.cat(dim=1) of SLAYER's (N, C, H, W, T) outputs. It makes no neurons: the next layer
    reads the joined output, its synapse cut into one projection per part."""
    if "inputs" not in layer.fields:
        raise imp.fail(layer, "inputs", "missing; a concat layer names the layers it joins by index")
    indices = imp.array(layer, "inputs").reshape(-1)
    if indices.size < 2:
        raise imp.fail(layer, "inputs", f"= {indices.tolist()}; a concat layer joins two or more layers")
    outs = [imp.layer_output(layer, np.asarray(i)) for i in indices]
    parts: list[tuple[str, tuple[int, ...]]] = []
    for prev, flattened in outs:
        for part in prev.parts or ((prev.name, prev.shape),):
            parts.append((part[0], (math.prod(part[1]),) if flattened else part[1]))
    names = [p for p, _ in parts]
    if len(set(names)) != len(names):
        raise imp.fail(layer, "inputs", f"joins {names}: a population twice")
    spatial = {len(shape) for _, shape in parts} == {3}
    if spatial:
        hw = {shape[1:] for _, shape in parts}
        if len(hw) != 1:
            raise imp.fail(layer, "inputs", f"joins (C, H, W) outputs of different sizes {sorted(hw)}; channels "
                                            "join only over equal H, W (flatten them first)")
        shape: tuple[int, ...] = (sum(s[0] for _, s in parts), *parts[0][1][1:])
    else:
        if any(len(s) > 1 for _, s in parts):
            raise imp.fail(layer, "inputs", "joins flat and (C, H, W) outputs; flatten the spatial ones first")
        shape = (sum(math.prod(s) for _, s in parts),)
    declared = imp.shape(layer) if "shape" in layer.fields else shape
    if math.prod(declared) != math.prod(shape) or (spatial and tuple(declared) != shape):
        raise imp.fail(layer, "shape", f"= {list(declared)}, but the joined outputs give {list(shape)}")
    name = f"concat{layer.index}"
    imp.prev = _Prev(name, shape, tuple(parts))
    imp.concats[name] = imp.prev
    imp.flatten = False


def _split(imp: _Importer, layer: NetxLayer, proj: Projection, part: str, start: int, stop: int) -> Projection:
    """The synapses of `proj` (reading a concat) from the columns, or input channels,
    start..stop that population `part` gives, as a projection from `part`. A part's sum is a
    part of the layer's sum: netx's weight formats are whole multiples of 2^-weight_exp, so
    each part shifts exactly."""
    if isinstance(proj, QDense):
        return proj.replace(src=part, weight=proj.weight[:, start:stop])  # type: ignore[return-value]
    if isinstance(proj, QSparse):
        keep = (proj.cols >= start) & (proj.cols < stop)
        return proj.replace(src=part, rows=proj.rows[keep], cols=proj.cols[keep] - start,  # type: ignore[return-value]
                            values=proj.values[keep])
    assert isinstance(proj, QConv2d)
    # A grouped convolution (a pool: one kernel per channel) as the groups = 1 convolution that
    # computes the same, zero where an output channel reads another group's inputs.
    return proj.replace(src=part, weight=dense_conv_weight(proj.weight, proj.groups)[:, start:stop], groups=1)  # type: ignore[return-value]


def _average(imp: _Importer, layer: NetxLayer) -> None:
    """SLAYER's Average block (block/base.py AbstractAverage): the mean of the previous layer's
    output over `num_outputs` equal groups of consecutive neurons, per step, with no neurons
    and no step of its own. netx refuses it; on a chip it is what the host computes from the
    output spikes, so snnc imports it as that: a `group_mean` readout in the graph's metadata
    (`snnc run` adds the means beside the spikes, `app.readouts.group_means`). SLAYER's own
    export of the block fails (it writes `shape` from a neuron the block has not); as SLAYER
    means it, `shape` is (num_outputs, 1, 1)."""
    if imp.prev is None or imp.prev.parts or imp.prev.name == "input":
        raise imp.fail(layer, None, "averages no layer of neurons (it must follow one)")
    groups = imp.shape(layer)
    if len(groups) == 3 and groups[1:] != (1, 1) or len(groups) == 2:
        raise imp.fail(layer, "shape", f"= {list(groups)}; SLAYER's average is (num_outputs, 1, 1)")
    k = groups[0]
    n = math.prod(imp.prev.shape)
    if n % k:
        raise imp.fail(layer, "shape", f"= {list(groups)}: {n} neurons of {imp.prev.name!r} do not make {k} equal groups")
    imp.readout = {"kind": "group_mean", "population": imp.prev.name, "groups": k, "layer": layer.index}


def _check_synapses(imp: _Importer, layer: NetxLayer, count: int) -> None:
    if count > MAX_SYNAPSES:
        raise imp.fail(layer, "weight", f"unrolls to {count} synapses, more than the {MAX_SYNAPSES} snnc builds for one layer")


# netx 0.6.0 type -> handler; order as in netx's `_create`.
LAYER_TYPES: dict[str, Callable[[_Importer, NetxLayer], None]] = {
    "input": _input,
    "flatten": _flatten,
    "dense": _dense,
    "dense_rec": lambda imp, layer: _dense(imp, layer, recurrent=True),
    "conv": _conv,
    "pool": _pool,
    "convT": _transposed,
    "unpool": _transposed,
    "dense_comp": _dense,
    "average": _average,
    "concat": _concat,
}
