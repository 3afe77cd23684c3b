"""The neurons netx 0.6.0 builds for a layer, as snnc populations: `netx_neuron`.

netx picks a Lava process by the layer's `neuron/type` and passes it arguments derived from the
file's fields (lava-dl netx/hdf5.py `get_neuron_params`, blocks/process.py
`AbstractBlock._neuron`); the import takes the model table's node for that process
(`neurons.model_for_lava`) with those arguments:

    neuron CUBA / LOIHI              LIF: du = iDecay - 1, dv = vDecay, vth = vThMant,
                                     bias_mant = int(bias), bias_exp = 6
    neuron SDNN, input layer         Delta: vth = vThMant, spike_exp = state_exp = 6
    neuron SDNN with sigma_output    Sigma
    neuron SDNN                      SigmaDelta: vth = vThMant, bias, ReLU, spike_exp =
                                     state_exp = 6 (graded messages to the next layer)
    neuron RF_PHASE / other RF*      RF / RF_IZ from netx's float period and decay
                                     (`netx_rf_params`), vth = vThMant << 6

The exponents and RF register widths here are netx's; the exporter
(`compiler.netx.neuron_groups`) writes files that netx turns back into the same processes with
them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.netx.fields import LayerFields, span
from compiler.netx.reader import NetxLayer, text_field
from ir.nodes import Population
from neurons import model_for_lava

__all__ = [
    "DECAY_RANGE",
    "DEFAULT_NEURON",
    "NETX_BIAS_EXP",
    "NETX_SPIKE_EXP",
    "NETX_STATE_EXP",
    "RF_DECAY_BITS",
    "RF_DECAY_MAX",
    "RF_VTH_MAX",
    "netx_neuron",
    "netx_rf_params",
]

# netx sets bias_exp = 6 for every CUBA neuron (hdf5.py get_neuron_params), matching the << 6
# Lava applies to the synaptic input and the threshold.
NETX_BIAS_EXP = 6
# netx's sigma-delta neurons: spike_exp is hdf5.Network's argument (default 6), state_exp is 6.
NETX_SPIKE_EXP = 6
NETX_STATE_EXP = 6
# SLAYER clamps decays to [0, 1] * 4096 (neuron/cuba.py clamp); Lava's LIF then needs
# 4096 - (du + 1) >= 0 and 4096 - dv >= 0.
DECAY_RANGE = (0, 4096)
# netx's neuron for a dense layer without one: a non-leaky integrator that never spikes
# (hdf5.py create_dense; `1 << 18 - 1` is 1 << 17 by operator precedence).
DEFAULT_NEURON = {
    "type": "CUBA",
    "iDecay": 0,
    "vDecay": 4096,
    "vThMant": 1 << 17,
    "refDelay": 1,
    "gradedSpike": False,
}
_VTH_MAX = (1 << 18) - 1  # what SLAYER writes for non-spiking layers (block/base.py AbstractAffine)
# netx's RF neurons: decay_bits 12 (hdf5.py get_neuron_params); sin/cos decays are 12-bit
# mantissas and the real/imaginary state 24 bits (lava proc/rf/models.py PyRFModelFixed), so
# vThMant << 6 must stay below 2^23.
RF_DECAY_BITS = 12
RF_DECAY_MAX = (1 << RF_DECAY_BITS) - 1
RF_VTH_MAX = ((1 << 23) - 1) >> NETX_STATE_EXP


def netx_neuron(
    fields: LayerFields,
    layer: NetxLayer,
    shape: tuple[int, ...],
    bias: np.ndarray | None,
    first: bool = False,
) -> Population:
    """The neurons netx builds for a layer (hdf5.py get_neuron_params; blocks/process.py
    AbstractBlock._neuron): the Lava process netx picks and the arguments it passes, as the
    model table's node for that process. `first`: netx's input layer."""
    cfg = layer.neuron if layer.neuron is not None else DEFAULT_NEURON
    kind = text_field(cfg.get("type"))
    values = _as_arrays(cfg)
    if kind in ("CUBA", "LOIHI"):
        process = "LIF"
        params: dict[str, Any] = {
            "du": fields.per_neuron(layer, "iDecay", values, shape, *DECAY_RANGE) - 1,
            "dv": fields.per_neuron(layer, "vDecay", values, shape, *DECAY_RANGE),
            "vth": fields.per_neuron(layer, "vThMant", values, shape, 0, _VTH_MAX),
            "bias_mant": 0 if bias is None else _neuron_bias(fields, layer, shape, bias),
            "bias_exp": NETX_BIAS_EXP,
        }
        _dropped_neuron_fields(fields, layer, cfg)
    elif kind == "SDNN":
        process, params = _sigma_delta(fields, layer, cfg, values, shape, bias, first)
    elif kind is not None and "RF" in kind:
        return _resonator(fields, layer, kind, values, shape)
    else:
        raise fields.fail(
            layer,
            "neuron/type",
            f"{kind!r} is not supported; snnc imports CUBA, LOIHI, SDNN and RF neurons",
        )
    model = model_for_lava(process, f"{fields.nf.path}: layer/{layer.index}", "snnc's netx import")
    return model.from_lava(shape, params)


def _sigma_delta(
    fields: LayerFields,
    layer: NetxLayer,
    cfg: dict[str, Any],
    values: dict[str, Any],
    shape: tuple[int, ...],
    bias: np.ndarray | None,
    first: bool,
) -> tuple[str, dict[str, Any]]:
    """netx's SDNN neurons: Delta for the input layer, Sigma for a `sigma_output` layer,
    else SigmaDelta (ReLU, no cumulative error), with spike_exp = state_exp = 6."""
    bits = cfg.get("messageBits")
    if isinstance(bits, np.ndarray) and bits.size and not np.any(bits):
        raise fields.fail(
            layer,
            "neuron/messageBits",
            "= 0: netx then reads this layer's graded payloads as 0/1 "
            "spikes in the next synapse; snnc does not import that",
        )
    activation = text_field(cfg.get("activation"))
    if activation not in (None, "relu"):
        fields.note(
            layer,
            "neuron/activation",
            "netx 0.6.0 never reads it and builds ReLU sigma-delta neurons; "
            "snnc computes what netx computes",
            repr(activation),
        )
    exps = {"spike_exp": NETX_SPIKE_EXP, "state_exp": NETX_STATE_EXP}
    if first:
        vth = fields.per_neuron(layer, "vThMant", values, shape, 0, _VTH_MAX)
        return "Delta", {"vth": vth, "cum_error": 0, **exps}
    if "sigma_output" in cfg:
        return "Sigma", {}
    vth = fields.per_neuron(layer, "vThMant", values, shape, 0, _VTH_MAX)
    return "SigmaDelta", {
        "vth": vth,
        "bias": 0 if bias is None else _neuron_bias(fields, layer, shape, bias),
        "act_mode": 1,
        "cum_error": 0,
        **exps,
    }


def _resonator(
    fields: LayerFields, layer: NetxLayer, kind: str, values: dict[str, Any], shape: tuple[int, ...]
) -> Population:
    """netx's resonate-and-fire neurons (hdf5.py get_neuron_params): RF for a type with
    "PHASE", else RF_IZ, built from period = 1 / frequency and alpha = decay that SLAYER's
    `neuron.rf.neuron_params` derives from sinDecay, cosDecay (float64), vth = vThMant,
    state_exp = 6, decay_bits = 12; Lava's process turns them back into registers
    (`RFModel.from_lava`), which can differ from the file's by one (said in a warning)."""
    sin_file = fields.per_neuron(layer, "sinDecay", values, shape, -RF_DECAY_MAX, RF_DECAY_MAX)
    cos_file = fields.per_neuron(layer, "cosDecay", values, shape, -RF_DECAY_MAX, RF_DECAY_MAX)
    vth = fields.array(layer, "vThMant", values).reshape(-1)
    if vth.size != 1:
        raise fields.fail(
            layer,
            "neuron/vThMant",
            f"has {vth.size} values; netx 0.6.0's RF process takes one "
            "threshold (int(vth * 2^6) of an array fails)",
        )
    fields.checked(layer, "neuron/vThMant", vth, 0, RF_VTH_MAX)
    params = netx_rf_params(sin_file, cos_file, int(vth[0]))
    if np.any(~np.isfinite(params["period"])):
        raise fields.fail(
            layer,
            "neuron/sinDecay",
            f"= {span(np.asarray(sin_file).reshape(-1))} with cosDecay "
            f"{span(np.asarray(cos_file).reshape(-1))}: netx's period "
            "1 / frequency is infinite",
        )
    graded = values.get("gradedSpike")
    if isinstance(graded, np.ndarray) and np.any(graded):
        fields.note(
            layer,
            "neuron/gradedSpike",
            "netx 0.6.0 drops it (Lava's RF sends binary spikes); snnc computes what netx computes",
            "True",
        )
    process = "RF" if "PHASE" in kind else "RF_IZ"
    model = model_for_lava(process, f"{fields.nf.path}: layer/{layer.index}", "snnc's netx import")
    node = model.from_lava(shape, params)
    for reg, file_values in (("sin_decay", sin_file), ("cos_decay", cos_file)):
        back, want = node.per_neuron(reg), np.broadcast_to(file_values, shape).reshape(-1)
        if np.any(back != want):
            i = int(np.argmax(back != want))
            fields.note(
                layer,
                f"neuron/{'sinDecay' if reg == 'sin_decay' else 'cosDecay'}",
                "netx 0.6.0 passes Lava's RF process a period and decay computed from it in "
                "floats, and the process truncates them back to a register one below; snnc "
                "computes what netx computes",
                f"{int(want[i])} -> {int(back[i])}",
            )
    return node


def _dropped_neuron_fields(fields: LayerFields, layer: NetxLayer, cfg: dict[str, Any]) -> None:
    """Neuron fields netx 0.6.0 reads and drops for CUBA (or never reads)."""
    ref = cfg.get("refDelay")
    if isinstance(ref, np.ndarray) and np.any(ref != 1):
        fields.note(
            layer,
            "neuron/refDelay",
            "netx 0.6.0 drops it (Lava's LIF has no refractory period); "
            "snnc computes what netx computes",
            span(ref.reshape(-1)),
        )
    graded = cfg.get("gradedSpike")
    if isinstance(graded, np.ndarray) and np.any(graded):
        fields.note(
            layer,
            "neuron/gradedSpike",
            "netx 0.6.0 drops it (Lava's LIF sends binary spikes); "
            "snnc computes what netx computes",
            "True",
        )
    if "weight_exp" in cfg:
        fields.note(
            layer,
            "neuron/weight_exp",
            "netx 0.6.0 never reads it (SLAYER's WgtScaleBatchNorm scale); "
            "snnc computes what netx computes",
        )


def _neuron_bias(
    fields: LayerFields, layer: NetxLayer, shape: tuple[int, ...], bias: np.ndarray
) -> np.ndarray:
    """bias_mant per neuron in snnc's (C, H, W) order (netx: blocks/process.py _neuron)."""
    return fields.broadcast(layer, "bias", bias, shape)


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


def _as_arrays(cfg: dict[str, Any]) -> dict[str, Any]:
    """netx's default neuron holds Python ints; the checks read arrays."""
    return {
        k: (np.asarray(v) if isinstance(v, (int, bool, np.integer)) else v) for k, v in cfg.items()
    }
