"""Hypothesis strategies for random snnc graphs, shared by the IR, simulator, quantizer and
partitioner tests. Everything is drawn, so hypothesis shrinks failures to small graphs."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from ir import (
    LIF,
    QLIF,
    Block,
    Conv2d,
    Dense,
    Graph,
    Input,
    Placement,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
)
from ir.nodes import conv2d_output_hw


def _rng(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


@st.composite
def float_lif(draw, shape):
    per_neuron = draw(st.booleans())

    def param(lo, hi):
        if per_neuron:
            return _rng(draw).uniform(lo, hi, size=shape)
        return draw(st.floats(lo, hi, allow_nan=False))

    if per_neuron and draw(st.booleans()):
        # One time constant per neuron (finite: NIR needs one kind per node), as trained
        # networks have them: per-neuron decay registers, parameter groups on Lava.
        tau_syn = _rng(draw).choice([0.0, 1e-3, 5e-3], size=shape)
        tau_mem = _rng(draw).uniform(2e-3, 3e-2, size=shape)
    else:
        tau_syn = draw(st.sampled_from([0.0, 1e-3, 5e-3, math.inf]))
        tau_mem = draw(st.sampled_from([math.inf, 2e-3, 1e-2]))
    interval = draw(st.sampled_from([0, 0, 5]))
    return LIF(shape, tau_syn=tau_syn, tau_mem=tau_mem, v_th=param(0.1, 2.0), bias=param(-0.1, 0.1),
               reset_interval=interval, reset_offset=draw(st.integers(0, max(interval - 1, 0))))


@st.composite
def fixed_lif(draw, shape):
    interval = draw(st.sampled_from([0, 0, 4]))
    per_neuron = draw(st.booleans())
    bias_mant = (
        _rng(draw).integers(-4096, 4096, size=shape)
        if per_neuron
        else draw(st.integers(-4096, 4095))
    )
    if per_neuron and draw(st.booleans()):  # per-neuron registers (parameter groups on Lava)
        rng = _rng(draw)
        du, dv = (
            rng.integers(0, 4096, size=shape),
            rng.choice([0, 64, rng.integers(0, 4096)], size=shape),
        )
        vth = rng.choice([0, 50, rng.integers(0, 2**17)], size=shape)
    else:
        du, dv, vth = (
            draw(st.integers(0, 4095)),
            draw(st.integers(0, 4095)),
            draw(st.integers(0, 2**17 - 1)),
        )
    return QLIF(
        shape,
        du=du,
        dv=dv,
        vth=vth,
        bias_mant=bias_mant,
        bias_exp=draw(st.integers(0, 7)),
        reset_interval=interval,
        reset_offset=draw(st.integers(0, max(interval - 1, 0))),
    )


@st.composite
def graphs(
    draw,
    domain: str = "float",
    max_layers: int = 3,
    allow_conv: bool = True,
    allow_recurrent: bool = True,
    placed: bool = False,
):
    """A random graph: an input, 1..max_layers populations, dense/sparse/conv projections,
    optionally skip and recurrent projections, optionally a valid placement."""
    fixed = domain == "fixed"
    rng = _rng(draw)
    use_conv = allow_conv and draw(st.booleans())
    pops: dict = {}
    projs: dict = {}
    if use_conv:
        c, h, w = draw(st.integers(1, 2)), draw(st.integers(3, 6)), draw(st.integers(3, 6))
        pops["in"] = Input((c, h, w))
    else:
        pops["in"] = Input(
            (draw(st.integers(1, 12)),),
            message_bits=draw(st.sampled_from([0, 0, 8])) if fixed else 0,
        )
    names = ["in"]
    n_layers = draw(st.integers(1, max_layers))
    for k in range(n_layers):
        name = f"l{k}"
        prev = names[-1]
        src = pops[prev]
        if use_conv and len(src.shape) == 3 and k == 0:
            c_out, kh = (
                draw(st.integers(1, 3)),
                draw(st.integers(1, min(3, src.shape[1], src.shape[2]))),
            )
            out_hw = conv2d_output_hw(src.shape[1:], (kh, kh), (1, 1), (0, 0), (1, 1))
            shape = (c_out, *out_hw)
            pops[name] = draw(fixed_lif(shape) if fixed else float_lif(shape))
            wshape = (c_out, src.shape[0], kh, kh)
            if fixed:
                projs[f"p{k}"] = QConv2d(prev, name, weight=rng.integers(-256, 256, size=wshape))
            else:
                projs[f"p{k}"] = Conv2d(prev, name, weight=rng.normal(0, 0.5, size=wshape))
        else:
            shape = (draw(st.integers(1, 10)),)
            pops[name] = draw(fixed_lif(shape) if fixed else float_lif(shape))
            projs[f"p{k}"] = draw(_projection(prev, name, src.size, shape[0], fixed))
        names.append(name)
    if n_layers >= 2 and draw(st.booleans()):  # skip connection
        projs["skip"] = draw(
            _projection(
                "in" if not use_conv else names[1],
                names[-1],
                pops["in" if not use_conv else names[1]].size,
                pops[names[-1]].size,
                fixed,
            )
        )
    if allow_recurrent and draw(st.booleans()):
        target = names[draw(st.integers(1, len(names) - 1))]
        n = pops[target].size
        projs["rec"] = draw(_projection(target, target, n, n, fixed))
    placement = draw(placements(pops)) if placed else None
    dt = draw(st.sampled_from([1e-3, 1e-4]))
    return Graph(
        populations=pops,
        projections=projs,
        dt=dt,
        placement=placement,
        metadata={"seed": draw(st.integers(0, 1000))},
    )


@st.composite
def _projection(draw, src, dst, n_src, n_dst, fixed):
    rng = _rng(draw)
    kind = draw(st.sampled_from(["dense", "sparse"]))
    delay = draw(st.sampled_from([0, 0, 2]))
    if kind == "dense":
        if fixed:
            return QDense(
                src,
                dst,
                weight=rng.integers(-300, 300, size=(n_dst, n_src)),
                weight_exp=draw(st.integers(-3, 3)),
                num_weight_bits=draw(st.integers(1, 8)),
                sign_mode=draw(st.sampled_from(["mixed", "excitatory", "inhibitory"])),
                delay=delay,
            )
        return Dense(src, dst, weight=rng.normal(0, 1, size=(n_dst, n_src)), delay=delay)
    mask = rng.random((n_dst, n_src)) < 0.5
    rows, cols = np.nonzero(mask)
    if fixed:
        return QSparse(
            src,
            dst,
            rows=rows,
            cols=cols,
            values=rng.integers(-256, 256, size=rows.size),
            weight_exp=draw(st.integers(-3, 3)),
            num_weight_bits=draw(st.integers(1, 8)),
            delay=delay,
        )
    return Sparse(
        src, dst, rows=rows, cols=cols, values=rng.normal(0, 1, size=rows.size), delay=delay
    )


@st.composite
def placements(draw, pops):
    """A valid placement: each neuron population cut into contiguous blocks, cores in order."""
    blocks = []
    core = 0
    for name, pop in pops.items():
        if isinstance(pop, Input):
            continue
        cuts = sorted(
            set(draw(st.lists(st.integers(1, max(pop.size - 1, 1)), max_size=3))) - {pop.size}
        )
        bounds = [0, *cuts, pop.size]
        for lo, hi in zip(bounds, bounds[1:]):
            if hi > lo:
                blocks.append(Block.from_range(name, lo, hi, core))
                core += 1
    chips = np.arange(core) // 4
    return Placement(tuple(blocks), chips, "tiny")


@st.composite
def hardware_configs(draw, base: str = "tiny", max_chips: int = 256):
    """A random but valid target: `base`'s formats with random per-core and chip limits."""
    from ir.hardware import load_hw, load_hw_dict

    data = load_hw(base).to_dict()
    core = data["core"]
    core["max_neurons"]["value"] = draw(st.integers(1, 40))
    core["max_input_axons"]["value"] = draw(st.integers(4, 160))
    core["max_output_axons"]["value"] = draw(st.integers(4, 160))
    core["max_populations"]["value"] = draw(st.integers(1, 4))
    core["synapse_memory_bits"]["value"] = 64 * draw(st.integers(4, 1024))
    data["chip"]["cores_per_chip"]["value"] = draw(st.integers(1, 8))
    data["system"]["max_chips"]["value"] = max_chips
    data["system"]["mesh_columns"]["value"] = draw(st.integers(1, 4))
    return load_hw_dict(data, f"<random config from {base}>")
