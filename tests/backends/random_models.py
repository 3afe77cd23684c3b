"""Seeded random heterogeneous fixed-point networks: every neuron model of the table in one
graph, per-neuron registers (so that Lava runs parameter groups), graded sigma-delta layers
feeding other models, dense, sparse, delayed, recurrent and convolutional projections.

`random_model_network(seed)` draws one network (a `tests.backends.random_nets.Network`, so
`random_nets.merge` packs many into one Lava run). Registers are drawn from a few values per
population (two or three parameter groups at most), which keeps the Lava process count of a
packed run in the low hundreds.
"""

from __future__ import annotations

import numpy as np

from ir import QLIF, Graph, Input, QConv2d, QDense, QSparse
from ir.nodes import conv2d_output_hw
from neurons.atrlif import QATRLIF
from neurons.resonate import QRF
from neurons.rf_iz import QRFIZ
from neurons.sigma_delta import QSigmaDelta
from tests.backends.random_nets import Network

MODEL_NAMES = ("lif", "atrlif", "sigma_delta", "rf")


# Per network: how many distinct values a per-neuron register draws from, and how many
# registers may vary per neuron (None: any).
_GROUPS: dict = {"max": 3, "budget": None}


def _choices(rng: np.random.Generator, n: int, values: list[int]) -> int | np.ndarray:
    """One of `values` for the population, or per neuron among two or three of them."""
    if rng.random() < 0.4 or n == 1 or _GROUPS["budget"] == 0:
        return int(rng.choice(values))
    if _GROUPS["budget"] is not None:
        _GROUPS["budget"] -= 1
    pool = rng.choice(
        values, size=min(len(values), int(rng.integers(2, _GROUPS["max"] + 1))), replace=False
    )
    return rng.choice(pool, size=n).astype(np.int64)


def _lif(rng, n: int) -> QLIF:
    interval = _choices(rng, n, [0, 3, 5, 6]) if rng.random() < 0.3 else 0
    offset = (
        rng.integers(0, np.maximum(interval, 1))
        if np.ndim(interval)
        else (int(rng.integers(0, interval)) if interval else 0)
    )
    return QLIF(
        (n,),
        du=_choices(rng, n, [0, 300, 2047, 4095, int(rng.integers(0, 4096))]),
        dv=_choices(rng, n, [0, 64, 1024, int(rng.integers(0, 4096))]),
        vth=_choices(rng, n, [0, 20, 80, int(rng.integers(0, 400))]),
        bias_mant=rng.integers(-30, 40, size=n)
        if rng.random() < 0.5
        else int(rng.integers(-10, 20)),
        bias_exp=int(rng.integers(0, 5)),
        reset_interval=interval,
        reset_offset=offset,
    )


def _atrlif(rng, n: int) -> QATRLIF:
    return QATRLIF(
        (n,),
        delta_i=_choices(rng, n, [0, 409, 2048, 4095]),
        delta_v=_choices(rng, n, [0, 200, 1638, int(rng.integers(0, 4096))]),
        delta_theta=_choices(rng, n, [0, 300, 819]),
        delta_r=_choices(rng, n, [0, 600, 2048]),
        theta_0=_choices(rng, n, [0, 4, 20, int(rng.integers(1, 200))]),
        theta_step=_choices(rng, n, [0, 10, 60]),
        bias_mant=rng.integers(-30, 40, size=n),
        bias_exp=int(rng.integers(0, 4)),
    )


def _sigma_delta(rng, n: int) -> QSigmaDelta:
    spike_exp, state_exp = int(rng.integers(0, 3)), int(rng.integers(0, 4))
    return QSigmaDelta(
        (n,),
        vth=_choices(rng, n, [0, 1, 16, int(rng.integers(1, 300))]),
        bias=rng.integers(-60, 60, size=n) if rng.random() < 0.5 else int(rng.integers(-20, 20)),
        spike_exp=spike_exp,
        state_exp=state_exp,
        act_mode=int(rng.integers(0, 2)),
        cum_error=int(rng.random() < 0.4),
    )


def _rf(rng, n: int) -> QRF:
    decay_bits = int(rng.choice([12, 12, 10]))
    periods = rng.choice([4.0, 7.5, 12.0, 30.0], size=3)
    alphas = rng.choice([0.01, 0.02, 0.1], size=3)
    unit = 1 << decay_bits
    sins = [int(np.int32((1 - a) * np.sin(2 * np.pi / p) * unit)) for p, a in zip(periods, alphas)]
    coss = [int(np.int32((1 - a) * np.cos(2 * np.pi / p) * unit)) for p, a in zip(periods, alphas)]
    pick = _choices(rng, n, [0, 1, 2])
    return QRF(
        (n,),
        sin_decay=np.asarray(sins)[pick] if np.ndim(pick) else sins[pick],
        cos_decay=np.asarray(coss)[pick] if np.ndim(pick) else coss[pick],
        decay_bits=decay_bits,
        state_exp=_choices(rng, n, [0, 3, 6]),
        vth=_choices(rng, n, [0, 50, 400, int(rng.integers(0, 2000))]),
    )


_MAKERS = {"lif": _lif, "atrlif": _atrlif, "sigma_delta": _sigma_delta, "rf": _rf}


def _projection(rng, src: str, dst: str, n_src: int, n_dst: int, graded: bool):
    """Dense or sparse, maybe delayed; smaller weights and a negative exponent from graded
    sources (their payloads are large)."""
    fmt = dict(
        weight_exp=int(rng.integers(-6, -1)) if graded else int(rng.integers(-2, 3)),
        num_weight_bits=int(rng.integers(5, 9)),
        sign_mode="mixed" if rng.random() < 0.7 else str(rng.choice(["excitatory", "inhibitory"])),
    )
    delay = 0
    if rng.random() < 0.25:
        delay = (
            int(rng.integers(1, 3))
            if rng.random() < 0.5
            else rng.integers(0, 3, size=(n_dst, n_src))
        )
    weight = rng.integers(-120, 200, size=(n_dst, n_src))
    if rng.random() < 0.6:
        return QDense(src, dst, weight=weight, delay=delay, **fmt)
    rows, cols = np.nonzero(rng.random((n_dst, n_src)) < rng.uniform(0.3, 0.9))
    d = delay if np.ndim(delay) == 0 else delay[rows, cols]
    return QSparse(src, dst, rows=rows, cols=cols, values=weight[rows, cols], delay=d, **fmt)


def _complex_inputs(seed: int, pops: dict, projs: dict, names: list, graded_in: bool) -> None:
    """Resonators get what lava-dl's complex synapses give them: a projection into their
    "imag" input port (Lava's a_imag_in), and half of them become RF_IZ neurons (same
    registers). Drawn from a generator of their own, so the rest of the network is as before."""
    rng = np.random.default_rng([20261206, seed])
    for k, name in enumerate(names):
        pop = pops[name]
        if not isinstance(pop, QRF) or k == 0:
            continue
        if rng.random() < 0.5:
            # vth >= 1: an RF_IZ neuron with vth <= 0 spikes at rest (no parameter groups then)
            fields = {f: getattr(pop, f) for f in ("shape", *QRF.array_fields())}
            pop = pops[name] = QRFIZ(**{**fields, "vth": np.maximum(fields["vth"], 1)})
        if rng.random() < 0.7:
            src = names[int(rng.integers(0, k))]
            graded = isinstance(pops[src], QSigmaDelta) or (src == "in" and graded_in)
            proj = _projection(rng, src, name, pops[src].size, pop.size, graded)
            projs[f"imag{k}"] = proj.replace(port="imag")


def random_model_network(
    seed: int, steps: int = 16, batch: int = 1, compact: bool = False
) -> Network:
    """One heterogeneous network (module docstring); model choices cycle with the seed so that
    every model appears in every few seeds. `compact`: one or two layers of a few neurons and
    one per-neuron register of two values at most (fewer Lava processes: what `make test`
    packs)."""
    rng = np.random.default_rng([20260521, seed])
    _GROUPS.update(max=2, budget=1) if compact else _GROUPS.update(max=3, budget=None)
    pops: dict = {}
    projs: dict = {}
    graded_in = rng.random() < 0.2
    conv = rng.random() < 0.25
    if conv:
        c, h, w = int(rng.integers(1, 3)), int(rng.integers(3, 6)), int(rng.integers(3, 6))
        pops["in"] = Input((c, h, w))
        k = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        shape = (int(rng.integers(1, 3)), *conv2d_output_hw((h, w), k, (1, 1), (0, 0), (1, 1)))
        model = MODEL_NAMES[(seed + 1) % 4]
        if model == "sigma_delta":
            model = "lif"
        node = _MAKERS[model](rng, int(np.prod(shape)))
        pops["c0"] = node.replace(
            shape=shape,
            **{
                f: np.asarray(getattr(node, f)).reshape(shape)
                for f in node.array_fields()
                if np.ndim(getattr(node, f))
            },
        )
        projs["conv"] = QConv2d("in", "c0", weight=rng.integers(-100, 200, size=(shape[0], c, *k)))
        names = ["in", "c0"]
        if not compact and model != "atrlif" and min(shape[1:]) >= 2 and rng.random() < 0.5:
            # A convolution from a population that Lava runs as several group processes.
            shape2 = (1, shape[1] - 1, shape[2] - 1)
            node = _MAKERS[str(rng.choice(["lif", "rf"]))](rng, int(np.prod(shape2)))
            pops["c1"] = node.replace(
                shape=shape2,
                **{
                    f: np.asarray(getattr(node, f)).reshape(shape2)
                    for f in node.array_fields()
                    if np.ndim(getattr(node, f))
                },
            )
            projs["conv1"] = QConv2d(
                "c0", "c1", weight=rng.integers(-100, 200, size=(1, shape[0], 2, 2))
            )
            names.append("c1")
    else:
        n_in = int(rng.integers(3, 10))
        pops["in"] = Input((n_in,), message_bits=8 if graded_in else 0)
        names = ["in"]
    for k in range(int(rng.integers(1, 3 if compact else 4))):
        name = f"l{k}"
        model = MODEL_NAMES[(seed + k) % 4] if rng.random() < 0.7 else str(rng.choice(MODEL_NAMES))
        pops[name] = _MAKERS[model](rng, int(rng.integers(2, 5 if compact else 7)))
        prev = names[-1]
        graded = isinstance(pops[prev], QSigmaDelta) or (prev == "in" and graded_in)
        projs[f"p{k}"] = _projection(rng, prev, name, pops[prev].size, pops[name].size, graded)
        names.append(name)
    if len(names) >= 3 and rng.random() < 0.4:
        src = names[int(rng.integers(0, len(names) - 2))]
        graded = isinstance(pops[src], QSigmaDelta) or (src == "in" and graded_in)
        projs["skip"] = _projection(
            rng, src, names[-1], pops[src].size, pops[names[-1]].size, graded
        )
    if rng.random() < 0.3:
        target = names[int(rng.integers(1, len(names)))]
        n = pops[target].size
        projs["rec"] = _projection(rng, target, target, n, n, isinstance(pops[target], QSigmaDelta))
    _complex_inputs(seed, pops, projs, names, graded_in)
    graph = Graph(
        populations=pops, projections=projs, metadata={"seed": seed, "generator": "random_models"}
    )
    cols = []
    for name in graph.inputs:
        pop = graph.populations[name]
        if pop.message_bits:
            payload = rng.integers(-100, 100, size=(batch, steps, pop.size))
            payload[rng.random(payload.shape) < 0.5] = 0
            cols.append(payload)
        else:
            cols.append(
                (rng.random((batch, steps, pop.size)) < rng.uniform(0.2, 0.7)).astype(np.int64)
            )
    return Network(graph, np.concatenate(cols, axis=2), "models", seed)


def random_sdnn_network(seed: int, steps: int = 16, batch: int = 1) -> Network:
    """A random sigma-delta chain as lava-dl's SDNN networks have it (delta encoder, sigma-delta
    layers, sigma decoder): a graded Input -> one-to-one weight 1 -> QDelta -> QDense/QSparse ->
    QSigmaDelta [-> QSigmaDelta] -> QSigma, random exponents, thresholds (per neuron among a few
    values: parameter groups) and cumulative error; the input is a slowly drifting activation."""
    from neurons.delta import QDelta
    from neurons.sigma import QSigma

    rng = np.random.default_rng([20260525, seed])
    n_in = int(rng.integers(2, 7))
    spike_exp, state_exp = int(rng.integers(0, 7)), int(rng.integers(0, 7))
    pops: dict = {
        "in": Input((n_in,), message_bits=16),
        "delta": QDelta(
            (n_in,),
            vth=_choices(rng, n_in, [0, 1, 4, int(rng.integers(1, 40))]),
            spike_exp=spike_exp,
            state_exp=state_exp,
            cum_error=int(rng.random() < 0.4),
        ),
    }
    projs: dict = {
        "relay": QSparse(
            "in",
            "delta",
            rows=np.arange(n_in),
            cols=np.arange(n_in),
            values=np.ones(n_in, dtype=np.int64),
            sign_mode="excitatory",
        )
    }
    names = ["delta"]
    for k in range(int(rng.integers(1, 3))):
        name = f"sd{k}"
        pops[name] = _sigma_delta(rng, int(rng.integers(2, 6)))
        prev = names[-1]
        projs[f"p{k}"] = _projection(rng, prev, name, pops[prev].size, pops[name].size, graded=True)
        names.append(name)
    n_out = int(rng.integers(1, 4))
    pops["out"] = QSigma((n_out,))
    projs["p_out"] = _projection(rng, names[-1], "out", pops[names[-1]].size, n_out, graded=True)
    graph = Graph(
        populations=pops, projections=projs, metadata={"seed": seed, "generator": "random_sdnn"}
    )
    drift = rng.integers(-6, 7, size=(batch, steps, n_in)).cumsum(axis=1)
    inputs = np.clip(rng.integers(0, 200, size=(batch, 1, n_in)) + drift, -(1 << 15), (1 << 15) - 1)
    return Network(graph, inputs.astype(np.int64), "sdnn", seed)


__all__ = ["MODEL_NAMES", "random_model_network", "random_sdnn_network"]
