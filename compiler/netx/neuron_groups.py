"""The netx neuron group each snnc population becomes: `NeuronGroups`, the export side of
`compiler.netx.neuron_params` (which reads them back).

By the population's Lava process (the model table's `lava_process_name`, `lava_params`):

    LIF                                       CUBA: iDecay = du + 1, vDecay = dv, vThMant = vth,
                                              bias = bias_mant * 2^(bias_exp - 6)
    Delta (input layer)                       SDNN, vThMant = vth
    SigmaDelta                                SDNN, vThMant = vth, bias (ReLU, no cumulative
                                              error, spike_exp = state_exp = 6: what netx builds)
    Sigma                                     SDNN with sigma_output
    RF, RF_IZ                                 RF_PHASE, RF_IZHIKEVICH: sinDecay, cosDecay,
                                              vThMant = vth >> 6 (`NeuronGroups.resonator`)

Per-neuron values are laid out as netx broadcasts them (`netx_values`). What netx cannot
build (a reset interval, other exponents, a bias it cannot hold) is one error line through
the caller's `fail`, naming the population, the field and the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from compiler.netx.neuron_params import (
    NETX_BIAS_EXP,
    NETX_SPIKE_EXP,
    NETX_STATE_EXP,
    RF_DECAY_BITS,
    netx_rf_params,
)
from ir.errors import InputError
from ir.nodes import Population
from neurons import model_of

__all__ = ["NeuronGroups", "netx_values"]

# File sinDecay/cosDecay offsets tried, nearest first, to find values netx maps to the registers.
_RF_NUDGES = sorted(
    ((a, b) for a in range(-2, 3) for b in range(-2, 3)), key=lambda d: (abs(d[0]) + abs(d[1]), d)
)


class NeuronGroups:
    """`NeuronGroups(fail).neuron(name, pop)`: the netx neuron group of population `pop` and
    its layer bias; `fail(name, message)` makes the error for what netx cannot hold."""

    def __init__(self, fail: Callable[[str, str], InputError]) -> None:
        self.fail = fail

    def neuron(
        self, name: str, pop: Population, first: bool = False
    ) -> tuple[dict[str, Any], np.ndarray | None]:
        """(netx neuron group, layer bias or None) for the Lava process netx must build: LIF
        (CUBA), Delta (an SDNN input layer), SigmaDelta (SDNN), Sigma (SDNN sigma_output)."""
        model = model_of(pop, f"population {name!r}", "netx export")
        process = model.lava_process_name
        params = model.lava_params(pop)
        if process == "LIF":
            interval = np.asarray(params["reset_interval"])
            if np.any(interval):
                raise self.fail(
                    name,
                    f"reset_interval = {int(interval.max())}: netx files carry no reset (it is "
                    "hdf5.Network's reset_interval argument, for every layer)",
                )
            neuron = {
                "type": "CUBA",
                "iDecay": netx_values(params["du"], pop.shape) + 1,
                "vDecay": netx_values(params["dv"], pop.shape),
                "vThMant": netx_values(params["vth"], pop.shape),
                "refDelay": 1,
                "gradedSpike": False,
            }
            return neuron, self.lif_bias(name, pop, params["bias_mant"], params["bias_exp"])
        if process in ("Delta", "SigmaDelta") and (first == (process == "Delta")):
            fixed = {"spike_exp": NETX_SPIKE_EXP, "state_exp": NETX_STATE_EXP, "cum_error": 0,
                     **({"act_mode": 1} if process == "SigmaDelta" else {})}
            for key, want in fixed.items():
                if params[key] != want:
                    raise self.fail(
                        name,
                        f"{key} = {params[key]}: netx builds its {process} neurons with {key} = "
                        f"{want}",
                    )
            neuron = {
                "type": "SDNN",
                "vThMant": netx_values(params["vth"], pop.shape),
                "activation": "relu",
            }
            bias = np.broadcast_to(params.get("bias", 0), pop.shape)
            return neuron, (np.asarray(bias) if np.any(bias) else None)
        if process == "Sigma" and not first:
            return {"type": "SDNN", "sigma_output": True}, None
        if process in ("RF", "RF_IZ") and not first:
            return self.resonator(name, pop, model), None
        where = "an input layer" if first else "a layer"
        raise self.fail(
            name,
            f"is a {model.label} population; netx builds {where} of CUBA or SDNN neurons from a "
            "file",
        )

    def resonator(self, name: str, pop: Population, model: Any) -> dict[str, Any]:
        """SLAYER's RF neuron group (RF_PHASE for RF, RF_IZHIKEVICH for RF_IZ): netx rebuilds
        the registers from sinDecay, cosDecay and vThMant through floats
        (`neuron_params.netx_rf_params`), with state_exp 6 and decay_bits 12; the file must give
        back this population's registers."""
        for key, want in (("state_exp", NETX_STATE_EXP), ("decay_bits", RF_DECAY_BITS)):
            if getattr(pop, key) != want:
                raise self.fail(
                    name, f"{key} = {getattr(pop, key)}: netx builds RF neurons with {key} = {want}"
                )
        vth = np.asarray(pop.vth)
        if vth.ndim or int(vth) % (1 << NETX_STATE_EXP):
            raise self.fail(
                name, f"vth = {_span_text(vth)}: netx's RF threshold is one vThMant times 2^6"
            )
        sin, cos = pop.per_neuron("sin_decay"), pop.per_neuron("cos_decay")
        for reg, values in (("sin_decay", sin), ("cos_decay", cos)):
            if values.min() < 0:
                raise self.fail(
                    name,
                    f"{reg} = {int(values.min())}: SLAYER's RF decays are >= 0 (netx's period "
                    "and decay do not give a negative one back)",
                )
        v_mant = int(vth) >> NETX_STATE_EXP
        # netx's float round trip through period and decay can truncate a register to one
        # below (the import warns): write, per neuron, the nearest file values it maps back.
        file_sin, file_cos = sin.copy(), cos.copy()
        found = np.zeros(sin.shape, dtype=bool)
        for d_sin, d_cos in _RF_NUDGES:
            trial_sin, trial_cos = sin + d_sin, cos + d_cos
            back = model.from_lava((sin.size,), netx_rf_params(trial_sin, trial_cos, v_mant))
            ok = (
                ~found
                & (back.per_neuron("sin_decay") == sin)
                & (back.per_neuron("cos_decay") == cos)
            )
            file_sin[ok], file_cos[ok] = trial_sin[ok], trial_cos[ok]
            found |= ok
        if not found.all():
            i = int(np.argmin(found))
            raise self.fail(
                name,
                f"sin_decay, cos_decay = {int(sin[i])}, {int(cos[i])} (neuron {i}): no sinDecay, "
                "cosDecay within 2 of them gives these registers back through netx's float round "
                "trip (period and decay)",
            )
        kind = "RF_PHASE" if model.lava_process_name == "RF" else "RF_IZHIKEVICH"
        return {"type": kind, "sinDecay": netx_values(file_sin.reshape(pop.shape), pop.shape),
                "cosDecay": netx_values(file_cos.reshape(pop.shape), pop.shape), "vThMant": v_mant,
                "gradedSpike": False}

    def lif_bias(
        self, name: str, pop: Population, mant_field: Any, exp_field: Any
    ) -> np.ndarray | None:
        """bias_mant * 2^(bias_exp - 6) per neuron, or None for no bias."""
        mant = np.broadcast_to(mant_field, pop.shape).reshape(-1).astype(np.int64)
        exp = np.broadcast_to(exp_field, pop.shape).reshape(-1).astype(np.int64)
        if not mant.any():
            return None
        shift = exp - NETX_BIAS_EXP
        up = np.where(shift >= 0, mant << np.maximum(shift, 0), 0)
        down_exact = mant % (1 << np.maximum(-shift, 0)) == 0
        if np.any((shift < 0) & ~down_exact):
            i = int(np.argmax((shift < 0) & ~down_exact))
            raise self.fail(
                name,
                f"bias_mant = {int(mant[i])} with bias_exp = {int(exp[i])} (neuron {i}): netx sets "
                f"bias_exp = {NETX_BIAS_EXP}, and {int(mant[i])} / 2^{-int(shift[i])} is not an "
                "integer",
            )
        down = np.where(shift < 0, mant >> np.maximum(-shift, 0), 0)
        return np.where(shift >= 0, up, down).reshape(pop.shape)


def netx_values(values: Any, shape: tuple[int, ...]) -> Any:
    """Per-neuron values (snnc's (C, H, W) order) as netx broadcasts them against Lava's (W, H,
    C) neurons: one number, n values for a flat layer, C values when uniform per channel, else
    a (W, H, C) array. The inverse of the importer's `broadcast`."""
    arr = np.broadcast_to(np.asarray(values), shape)
    flat = arr.reshape(-1)
    if np.all(flat == flat[0]):
        return np.asarray(flat[0])
    if len(shape) == 1:
        return np.ascontiguousarray(arr)
    per_channel = arr.reshape(shape[0], -1)
    if np.all(per_channel == per_channel[:, :1]):
        return np.ascontiguousarray(per_channel[:, 0])
    return np.ascontiguousarray(arr.transpose(2, 1, 0))


def _span_text(values: np.ndarray) -> str:
    flat = np.asarray(values).reshape(-1)
    lo, hi = int(flat.min()), int(flat.max())
    return str(lo) if lo == hi else f"{lo}..{hi}"
