"""Seeded random fixed-point networks for the differential tests (cpu vs Lava, fast vs reference).

`random_network(seed)` draws one small network of a family chosen by the seed (dense, sparse,
conv, graded inputs, skip connections, recurrent projections, delays, reset intervals, and
"extreme" parameters that drive u past its 24-bit wrap, v into saturation and the int32 sums
into overflow) with input spikes. `merge(networks)` puts several into one graph (names
prefixed), so that one Lava run can check many networks.

`split_case(seed)` draws a model and a target on which the compiled program has a cut source
(issue 20's differential tests: per-block execution must equal the uncut program);
`merge_programs` packs placed programs into one graph for one Lava run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ir import LIF, QLIF, Block, Dense, Graph, Input, Placement, QConv2d, QDense, QSparse
from ir.hardware import HardwareSpec, load_hw, load_hw_dict
from ir.nodes import SIGN_MODES, conv2d_output_hw

FAMILIES = (
    "dense",
    "sparse",
    "conv",
    "graded",
    "skip",
    "recurrent",
    "delays",
    "reset",
    "extreme",
    "mixed",
)


@dataclass
class Network:
    graph: Graph
    inputs: np.ndarray  # (batch, T, n_inputs)
    family: str
    seed: int


def _lif(rng: np.random.Generator, shape, extreme: bool, reset: bool) -> QLIF:
    n = int(np.prod(shape))
    du = int(rng.choice([0, 4095, rng.integers(0, 4096), rng.integers(0, 512), 2047]))
    dv = int(rng.choice([0, 4095, rng.integers(0, 4096), rng.integers(0, 512), 1024]))
    if extreme:
        vth = int(rng.choice([0, 2**17 - 1, rng.integers(0, 2**17)]))
        bias_mant = (
            rng.integers(-4096, 4096, size=n)
            if rng.random() < 0.5
            else int(rng.integers(-4096, 4096))
        )
        bias_exp = rng.integers(-3, 8, size=n) if rng.random() < 0.5 else int(rng.integers(0, 8))
    else:
        vth = int(rng.integers(0, 600))
        bias_mant = (
            rng.integers(-40, 60, size=n) if rng.random() < 0.5 else int(rng.integers(-20, 40))
        )
        bias_exp = rng.integers(-2, 7, size=n) if rng.random() < 0.3 else int(rng.integers(0, 6))
    interval = int(rng.integers(2, 7)) if reset else 0
    offset = int(rng.integers(0, interval)) if interval else 0
    return QLIF(
        shape,
        du=du,
        dv=dv,
        vth=vth,
        bias_mant=bias_mant,
        bias_exp=bias_exp,
        reset_interval=interval,
        reset_offset=offset,
    )


def _format(rng: np.random.Generator, extreme: bool) -> dict:
    lo, hi = (-8, 8) if extreme else (-2, 3)
    bits = int(rng.integers(1, 9)) if rng.random() < 0.3 else int(rng.integers(6, 9))
    sign = str(rng.choice(SIGN_MODES)) if rng.random() < 0.4 else "mixed"
    return dict(weight_exp=int(rng.integers(lo, hi + 1)), num_weight_bits=bits, sign_mode=sign)


def _delay(rng: np.random.Generator, shape, family: str):
    if family not in ("delays", "mixed") or rng.random() < 0.3:
        return 0
    if rng.random() < 0.5:
        return int(rng.integers(0, 4))
    return rng.integers(0, 4, size=shape)


def _projection(rng, family, src, dst, n_src, n_dst, extreme):
    kind = (
        "sparse"
        if family == "sparse"
        else str(rng.choice(["dense", "sparse"]))
        if family != "dense"
        else "dense"
    )
    w_lo, w_hi = (-300, 300) if rng.random() < 0.3 else (-120, 256)
    if kind == "dense":
        weight = rng.integers(w_lo, w_hi, size=(n_dst, n_src))
        return QDense(
            src,
            dst,
            weight=weight,
            delay=_delay(rng, (n_dst, n_src), family),
            **_format(rng, extreme),
        )
    mask = rng.random((n_dst, n_src)) < rng.uniform(0.2, 0.8)
    rows, cols = np.nonzero(mask)
    values = rng.integers(w_lo, w_hi, size=rows.size)
    return QSparse(
        src,
        dst,
        rows=rows,
        cols=cols,
        values=values,
        delay=_delay(rng, rows.shape, family),
        **_format(rng, extreme),
    )


def _conv_layer(rng, src: str, src_shape, extreme):
    c_in, h, w = src_shape
    groups = int(rng.choice([g for g in (1, 2) if c_in % g == 0]))
    c_out = groups * int(rng.integers(1, 3))
    k = (int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
    dilation = (1, 1) if rng.random() < 0.7 else (int(rng.integers(1, 3)), 1)
    if (h + 2 * padding[0] - dilation[0] * (k[0] - 1) - 1) < 0:
        dilation = (1, 1)
    out_hw = conv2d_output_hw((h, w), k, stride, padding, dilation)
    weight = rng.integers(-256, 256, size=(c_out, c_in // groups, *k))
    node = QConv2d(
        src, "", weight=weight, stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    return node, (c_out, *out_hw)


def random_network(
    seed: int, steps: int = 16, batch: int = 1, family: str | None = None
) -> Network:
    rng = np.random.default_rng([20240601, seed])
    family = family or FAMILIES[seed % len(FAMILIES)]
    extreme = family == "extreme" or (family == "mixed" and rng.random() < 0.3)
    graded = family in ("graded", "extreme") or (family == "mixed" and rng.random() < 0.5)
    pops: dict = {}
    projs: dict = {}
    if family == "conv" or (family == "mixed" and rng.random() < 0.3):
        in_shape = (int(rng.integers(1, 3)), int(rng.integers(3, 6)), int(rng.integers(3, 6)))
        pops["in"] = Input(in_shape, message_bits=8 if graded else 0)
        node, shape = _conv_layer(rng, "in", in_shape, extreme)
        pops["c0"] = _lif(rng, shape, extreme, family in ("reset", "mixed") and rng.random() < 0.5)
        projs["conv0"] = node.replace(dst="c0")
        if rng.random() < 0.5 and min(shape[1:]) >= 1:
            node2, shape2 = _conv_layer(rng, "c0", shape, extreme)
            pops["c1"] = _lif(rng, shape2, extreme, False)
            projs["conv1"] = node2.replace(dst="c1")
            last = "c1"
        else:
            last = "c0"
        n_last = pops[last].size
        pops["out"] = _lif(rng, (int(rng.integers(2, 6)),), extreme, False)
        projs["fc"] = _projection(rng, "mixed", last, "out", n_last, pops["out"].size, extreme)
    else:
        n_in = int(rng.integers(3, 13))
        bits = int(rng.choice([24, 16, 20])) if extreme and graded else (8 if graded else 0)
        pops["in"] = Input((n_in,), message_bits=bits)
        names = ["in"]
        for k in range(int(rng.integers(1, 4))):
            name = f"l{k}"
            pops[name] = _lif(
                rng,
                (int(rng.integers(1, 9)),),
                extreme,
                family in ("reset", "mixed") and rng.random() < 0.6,
            )
            prev = names[-1]
            projs[f"p{k}"] = _projection(
                rng, family, prev, name, pops[prev].size, pops[name].size, extreme
            )
            names.append(name)
        if family in ("skip", "mixed") and len(names) >= 3:
            src = names[int(rng.integers(0, len(names) - 2))]
            projs["skip"] = _projection(
                rng, family, src, names[-1], pops[src].size, pops[names[-1]].size, extreme
            )
        if family in ("recurrent", "mixed", "extreme"):
            target = names[int(rng.integers(1, len(names)))]
            n = pops[target].size
            projs["rec"] = _projection(rng, family, target, target, n, n, extreme)
            if len(names) >= 3 and rng.random() < 0.5:  # a cycle through two populations
                projs["back"] = _projection(
                    rng,
                    family,
                    names[-1],
                    names[1],
                    pops[names[-1]].size,
                    pops[names[1]].size,
                    extreme,
                )
    graph = Graph(populations=pops, projections=projs, metadata={"seed": seed, "family": family})
    inputs = _inputs(rng, graph, steps, batch)
    return Network(graph, inputs, family, seed)


def _inputs(rng: np.random.Generator, graph: Graph, steps: int, batch: int) -> np.ndarray:
    cols = []
    for name in graph.inputs:
        pop = graph.populations[name]
        if pop.message_bits:
            half = 1 << (pop.message_bits - 1)
            lo, hi = (-half, half) if rng.random() < 0.5 else (-(half >> 4), half >> 3)
            payload = rng.integers(lo, hi, size=(batch, steps, pop.size))
            payload[rng.random(payload.shape) < 0.5] = 0
            cols.append(payload)
        else:
            cols.append(
                (rng.random((batch, steps, pop.size)) < rng.uniform(0.2, 0.7)).astype(np.int64)
            )
    return np.concatenate(cols, axis=2)


def merge(networks: list[Network]) -> tuple[Graph, np.ndarray]:
    """One graph holding every network (names prefixed `nK_`) and the concatenated inputs."""
    pops: dict = {}
    projs: dict = {}
    for k, net in enumerate(networks):
        pre = f"n{k}_"
        for name, pop in net.graph.populations.items():
            pops[pre + name] = pop
        for name, proj in net.graph.projections.items():
            projs[pre + name] = proj.replace(src=pre + proj.src, dst=pre + proj.dst)
    graph = Graph(populations=pops, projections=projs)
    return graph, np.concatenate([n.inputs for n in networks], axis=2)


# --------------------------------------------------------------------------- cut sources

SPLIT_FAMILIES = (
    "dense",
    "sparse",
    "conv",
    "graded",
    "recurrent",
    "delays",
    "float",
    "wide-loihi2",
    "wide-loihi1",
    "float-tiny",
)


@dataclass
class SplitCase:
    """A model, its inputs and a target on which compiling it must cut a projection's source
    into several blocks (`split_case`)."""

    model: Graph
    inputs: np.ndarray
    hw: HardwareSpec
    family: str
    seed: int


def small_cores(neurons: int) -> HardwareSpec:
    """The `tiny` target with `neurons` neurons a core and room for many chips."""
    data = load_hw("tiny").to_dict()
    data["name"] = f"tiny{neurons}"
    data["core"]["max_neurons"]["value"] = neurons
    data["core"]["max_populations"]["value"] = 1
    data["system"]["max_chips"]["value"] = 64
    data["system"]["mesh_columns"]["value"] = 8
    return load_hw_dict(data, f"<tiny with {neurons}-neuron cores>")


def clamp_to(graph: Graph, hw: HardwareSpec) -> Graph:
    """`graph` with the fields the target's YAML bounds (bias_exp, weight_exp) clamped into
    range."""
    b_lo, b_hi = hw.neuron.bias_exp_min.value, hw.neuron.bias_exp_max.value
    w_lo, w_hi = hw.synapse.weight_exp_min.value, hw.synapse.weight_exp_max.value
    pops = {
        n: p.replace(bias_exp=np.clip(p.bias_exp, b_lo, b_hi)) if isinstance(p, QLIF) else p
        for n, p in graph.populations.items()
    }
    projs = {
        n: p.replace(weight_exp=int(np.clip(p.weight_exp, w_lo, w_hi)))
        if isinstance(p, (QDense, QSparse))
        else p
        for n, p in graph.projections.items()
    }
    return graph.replace(populations=pops, projections=projs)


def _negative_exp(rng: np.random.Generator, proj):
    """Half the time, a negative weight_exp with odd weights: a floor that a cut would split."""
    if not isinstance(proj, (QDense, QSparse)) or rng.random() < 0.5:
        return proj
    field = "weight" if isinstance(proj, QDense) else "values"
    odd = getattr(proj, field) | 1
    return proj.replace(weight_exp=int(rng.integers(-4, 0)), **{field: odd})


def _fixed_split(rng: np.random.Generator, family: str, seed: int) -> tuple[Graph, int]:
    """in -> h (cut) -> out, plus the family's feature; core size 4 or 6."""
    neurons = int(rng.choice([4, 6]))
    n_h = neurons + int(rng.integers(1, neurons + 1))  # two blocks
    kind = "sparse" if family == "sparse" else "dense"
    graded = family == "graded"
    n_in = int(rng.integers(3, 9))
    pops: dict = {"in": Input((n_in,), message_bits=8 if graded else 0)}
    projs: dict = {}
    if family == "conv":
        shape = (1, int(rng.integers(4, 7)), int(rng.integers(4, 7)))
        pops["in"] = Input(shape, message_bits=8 if rng.random() < 0.3 else 0)
        node, c_shape = _conv_layer(rng, "in", shape, False)
        while int(np.prod(c_shape)) <= neurons:  # the conv layer is cut
            node, c_shape = _conv_layer(rng, "in", shape, False)
        pops["h"] = _lif(rng, c_shape, False, False)
        projs["conv"] = node.replace(dst="h")
        n_h = pops["h"].size
    else:
        pops["h"] = _lif(rng, (n_h,), False, False)
        projs["p0"] = _projection(rng, kind, "in", "h", n_in, n_h, False)
    pops["out"] = _lif(rng, (int(rng.integers(2, neurons + 1)),), False, False)
    fam = "delays" if family == "delays" else kind
    projs["p1"] = _negative_exp(
        rng, _projection(rng, fam, "h", "out", n_h, pops["out"].size, False)
    )
    if family == "recurrent":
        projs["rec"] = _negative_exp(rng, _projection(rng, "dense", "h", "h", n_h, n_h, False))
    graph = Graph(pops, projs, metadata={"seed": seed, "family": family})
    return graph, neurons


def _float_mlp(rng: np.random.Generator, sizes: list[int], dt: float, seed: int, family: str):
    """A NIR-like float MLP: LIF(tau_mem 10..40 dt), weights N(0, 2/sqrt(fan-in)) * g, with g
    spread so that the quantizer picks negative and positive exponents."""
    pops: dict = {"in": Input((sizes[0],))}
    projs: dict = {}
    prev = "in"
    for k, n in enumerate(sizes[1:]):
        name = f"l{k}"
        tau = float(rng.choice([10, 20, 40])) * dt
        pops[name] = LIF(
            (n,),
            tau_syn=float(rng.choice([0.0, 2 * dt])),
            tau_mem=tau,
            v_th=float(rng.uniform(0.5, 1.5)),
        )
        gain = float(rng.choice([0.05, 0.3, 2.0, 8.0]))
        w = rng.normal(0.0, 2.0 / np.sqrt(sizes[k]), size=(n, sizes[k])) * gain
        projs[f"fc{k}"] = Dense(prev, name, weight=w)
        prev = name
    return Graph(pops, projs, dt=dt, metadata={"seed": seed, "family": family})


def split_case(seed: int, steps: int = 12) -> SplitCase:
    """A seeded model whose compiled program must have a cut source (see SPLIT_FAMILIES):
    fixed-point in -> h -> out nets on 4- or 6-neuron cores (dense, sparse, conv, graded inputs,
    a recurrent projection on the cut population, delays; weight exponents from -4 to 3, odd
    weights under negative ones), float LIF MLPs on the same cores or on `tiny`, and wide float
    layers cut by synapse memory on loihi2 or by neurons on loihi1."""
    rng = np.random.default_rng([20260420, seed])
    family = SPLIT_FAMILIES[seed % len(SPLIT_FAMILIES)]
    if family == "wide-loihi2":  # 250 x 400 synapses: more than one core's synapse memory
        model = _float_mlp(rng, [250, 400, int(rng.integers(3, 12))], 1e-3, seed, family)
        hw = load_hw("loihi2")
    elif family == "wide-loihi1":  # more neurons than a loihi1 core holds
        model = _float_mlp(rng, [int(rng.integers(8, 40)), 1100, 4], 1e-3, seed, family)
        hw = load_hw("loihi1")
    elif family in ("float", "float-tiny"):
        hw = load_hw("tiny") if family == "float-tiny" else small_cores(int(rng.choice([4, 6])))
        core = hw.core.max_neurons.value
        hidden = core + int(rng.integers(1, core + 1))
        sizes = [int(rng.integers(3, 10)), hidden, int(rng.integers(2, min(core, 8) + 1))]
        model = _float_mlp(rng, sizes, 1e-3, seed, family)
    else:
        model, neurons = _fixed_split(rng, family, seed)
        hw = small_cores(neurons)
        model = clamp_to(model, hw)
    inputs = _inputs(rng, model, steps, 1)
    if family.startswith("wide") or family.startswith("float"):  # enough drive to spike
        inputs = (rng.random(inputs.shape) < 0.6).astype(np.int64)
    return SplitCase(model, inputs, hw, family, seed)


def merge_programs(programs: list[Graph], inputs: list[np.ndarray]) -> tuple[Graph, np.ndarray]:
    """`merge` for placed programs: one graph, names prefixed `nK_`, the placements side by side
    (cores renumbered; the merged placement is not meant for any one target)."""
    graph, x = merge([Network(p, i, "", 0) for p, i in zip(programs, inputs, strict=True)])
    blocks, offset = [], 0
    for k, p in enumerate(programs):
        for b in p.placement.blocks:
            blocks.append(Block(f"n{k}_{b.population}", b.neurons, b.core + offset))
        offset += p.placement.n_cores
    placement = Placement(tuple(blocks), np.zeros(offset, dtype=np.int64), "merged")
    return graph.replace(placement=placement), x


def first_mismatch(got_trace, want_trace, probes, label: str = "") -> str | None:
    """Where two traces of the same probes first differ (None: equal everywhere)."""
    for p in probes:
        for var in p.variables:
            got, want = got_trace.get(p.population, var), want_trace.get(p.population, var)
            if not np.array_equal(got, want):
                b, t, i = np.argwhere(got != want)[0]
                return (
                    f"{label}{p.population}.{var} differs first at sample {b}, step {t + 1}, "
                    f"neuron {i}: cpu {got[b, t, i]}, lava {want[b, t, i]}"
                )
    return None
