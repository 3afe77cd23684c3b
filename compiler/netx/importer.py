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
`model_for_lava`) with the arguments netx passes (CUBA/LOIHI as LIF, SDNN as Delta, Sigma or
SigmaDelta, RF* as RF or RF_IZ): `compiler.netx.neuron_params`.

Per-neuron values are what netx's numpy broadcasting against the (W, H, C) or (n,) neurons
makes of them: one value, n for a dense layer, C (per channel) or (W, H, C) for a conv layer.

(*) netx feeds the input neurons' `a_in` directly (no synapse, no buffer step); an snnc
projection always buffers one step, so the imported graph runs one step later than netx from
that layer on: `metadata["import"]["latency"]` is 1 (0 without input neurons), and output step
t + latency equals netx's step t.

Inputs are what netx takes: binary spikes at the input (or first synapse), or for a sigma-delta
input layer integer activations (netx's Delta shifts them by spike_exp + state_exp: 6 of their
bits are fractional), flat in snnc's C-order (C, H, W) numbering (netx holds (W, H, C)).
Where netx 0.6.0 reads a field of the file but drops it (`refDelay`, `gradedSpike`, the input
layer's `weight`/`bias` transform, a conv's `delay`, `neuron/weight_exp`, an SDNN
`activation`), the import computes what netx computes and says so in one warning line per
field. Anything snnc cannot express is one error line naming the layer, the field and the value.

The file is read by `compiler.netx.reader`, each layer's fields checked by
`compiler.netx.fields`; each layer type's handler (`compiler.netx.layers.LAYER_TYPES`: dense
layers in `compiler.netx.dense`, convolutions in `compiler.netx.conv`) adds its neurons
(`compiler.netx.neuron_params`) and synapses to the graph being built
(`compiler.netx.builder`); this module runs them in order and assembles the graph.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from compiler.netx.builder import GraphBuilder
from compiler.netx.layers import LAYER_TYPES
from compiler.netx.reader import read_netx
from ir.errors import ModelFormatError
from ir.graph import Graph
from ir.nodes import Input
from ir.verify import verify

__all__ = ["DEFAULT_DT", "LAYER_TYPES", "NETX_VERSION", "import_netx", "load"]

NETX_VERSION = "0.6.0"
DEFAULT_DT = 1e-3  # netx has no time unit; the fixed-point program does not depend on dt


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
    return _build(GraphBuilder(nf, input_shape=input_shape), dt, warn)


def _build(imp: GraphBuilder, dt: float | None, warn: Callable[[str], None]) -> Graph:
    """Run every layer's handler in order, then assemble and verify the graph."""
    types = []
    for layer in imp.nf.layers:
        handler = LAYER_TYPES.get(layer.type)
        if handler is None:
            raise imp.fail(
                layer,
                "type",
                f"{layer.type!r} is not a netx layer type; known: {', '.join(LAYER_TYPES)}",
            )
        if imp.readout is not None:
            raise imp.fail(
                layer,
                None,
                f"follows the average layer {imp.readout['layer']}, a host readout; "
                "nothing can read it",
            )
        if "input" in layer.fields and layer.type not in ("input", "concat"):
            imp.prev, imp.flatten = imp.layer_output(layer, imp.array(layer, "input"))
        handler(imp, layer)
        if imp.prev is not None:
            imp.outputs[layer.index] = (imp.prev, imp.flatten)
        types.append(layer.type)
    if imp.prev is None or all(isinstance(p, Input) for p in imp.pops.values()):
        raise ModelFormatError(imp.nf.path, "layer", "has no layer with neurons; nothing to import")
    warnings = imp.warnings()
    for line in warnings:
        warn(line)
    meta: dict[str, Any] = {} if imp.readout is None else {"readout": imp.readout}
    meta |= {
        "import": {
            "format": "netx",
            "file": os.path.basename(imp.nf.path),
            "sha256": imp.nf.sha256,
            "netx": NETX_VERSION,
            "layers": types,
            "latency": imp.latency,
            "warnings": warnings,
        }
    }
    graph = Graph(
        populations=imp.pops,
        projections=imp.projs,
        dt=DEFAULT_DT if dt is None else dt,
        outputs=tuple(p for p, _ in imp.prev.parts) or (imp.prev.name,),
        metadata=meta,
    )
    return verify(graph)
