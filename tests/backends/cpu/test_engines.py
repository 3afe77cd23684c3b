"""The fast engine against the reference engine (the oracle) on random graphs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.base import Probe
from backends.cpu import fast
from backends.cpu.network import prepare
from backends.cpu.simulator import run, run_float
from ir import QLIF, Graph, Input, QConv2d, QDense
from ir.nodes import conv2d_output_hw
from tests.backends.random_nets import random_network
from tests.strategies import graphs


def _all_probes(graph):
    return [
        Probe(n, ("spikes", "u", "v"))
        for n, p in graph.populations.items()
        if not isinstance(p, Input)
    ]


def _inputs(graph, seed, batch, steps):
    rng = np.random.default_rng(seed)
    cols = []
    for name in graph.inputs:
        pop = graph.populations[name]
        if pop.message_bits:
            half = 1 << (pop.message_bits - 1)
            cols.append(rng.integers(-half, half, size=(batch, steps, pop.size)))
        else:
            cols.append((rng.random((batch, steps, pop.size)) < 0.5).astype(np.uint8))
    return np.concatenate(cols, axis=2)


def _assert_same(a, b, probes, exact=True):
    for p in probes:
        for var in p.variables:
            x, y = a.get(p.population, var), b.get(p.population, var)
            if exact or var == "spikes":
                np.testing.assert_array_equal(x, y, err_msg=f"{p.population}.{var}")
            else:
                np.testing.assert_allclose(
                    x, y, rtol=1e-9, atol=1e-9, err_msg=f"{p.population}.{var}"
                )


@pytest.mark.parametrize("seed", range(40))
def test_fast_equals_reference_on_random_networks(seed):
    net = random_network(seed, steps=20, batch=3)
    probes = _all_probes(net.graph)
    ref = run(net.graph, net.inputs, probes=probes, engine="reference")
    got = run(net.graph, net.inputs, probes=probes, engine="fast")
    _assert_same(ref, got, probes)


@settings(max_examples=60)
@given(
    graph=graphs(domain="fixed", max_layers=3), seed=st.integers(0, 1000), steps=st.integers(1, 12)
)
def test_fast_equals_reference_on_hypothesis_graphs(graph, seed, steps):
    x = _inputs(graph, seed, 2, max(1, steps - 2))  # steps past the input get no spikes
    probes = _all_probes(graph)
    _assert_same(
        run(graph, x, steps=steps, probes=probes, engine="reference"),
        run(graph, x, steps=steps, probes=probes, engine="fast"),
        probes,
    )


@settings(max_examples=40)
@given(graph=graphs(domain="float", max_layers=3), seed=st.integers(0, 1000))
def test_float_fast_equals_float_reference(graph, seed):
    x = _inputs(graph, seed, 2, 10)
    probes = _all_probes(graph)
    # Sums are added in a different order (one BLAS product over all steps), so states agree
    # to rounding; spikes agree unless a state lands within rounding of its threshold.
    _assert_same(
        run_float(graph, x, probes=probes, engine="reference"),
        run_float(graph, x, probes=probes, engine="fast"),
        probes,
        exact=False,
    )


def test_batches_are_chunked_within_the_memory_budget(monkeypatch):
    net = random_network(3, steps=15, batch=7)
    probes = _all_probes(net.graph)
    whole = run(net.graph, net.inputs, probes=probes)
    monkeypatch.setattr(fast, "MEMORY_BUDGET_BYTES", 1)  # one sample per chunk
    _assert_same(whole, run(net.graph, net.inputs, probes=probes), probes)


def test_the_fast_engine_is_charged_for_its_chunks_not_the_whole_run(monkeypatch):
    """A run whose whole-run arrays exceed SNNC_MAX_LOAD_BYTES fits when the fast engine works
    through the batch in chunks (issue 26's memory bound; the COMPASS P1 run of 1024 samples was
    refused by the whole-run charge); the reference engine, which keeps them, is still refused."""
    from ir.errors import InputError

    net = random_network(3, steps=40, batch=24)
    probes = [Probe(net.graph.output_names[0], ("spikes",))]
    whole = run(net.graph, net.inputs, probes=probes, engine="fast")
    sizes = sum(p.size for p in net.graph.populations.values())
    synapses = sum(net.graph.populations[q.dst].size for q in net.graph.projections.values())
    whole_run = 24 * 40 * 8 * (sizes + synapses)
    monkeypatch.setenv("SNNC_MAX_LOAD_BYTES", str(whole_run // 2))
    _assert_same(whole, run(net.graph, net.inputs, probes=probes, engine="fast"), probes)
    with pytest.raises(InputError, match="more than"):
        run(net.graph, net.inputs, probes=probes, engine="reference")


def test_components_are_topological_and_group_cycles():
    net = random_network(5, family="recurrent")
    comps = fast.components(prepare(net.graph, True, "cpu"))
    seen: set[str] = set()
    for comp in comps:
        for name in comp:
            for syn in prepare(net.graph, True, "cpu").incoming(name):
                assert syn.src in seen or syn.src in comp or syn.src in net.graph.inputs
        seen |= set(comp)
    assert seen == {n for n, p in net.graph.populations.items() if not isinstance(p, Input)}


def test_sums_beyond_int32_take_the_exact_path():
    # 24-bit graded payloads times 8-bit weights pass 2^31: the fast engine must fall back to
    # the reference arithmetic (wraps included) and still agree.
    net = random_network(8, family="extreme", steps=10, batch=2)
    net_graph = net.graph
    syns = prepare(net_graph, True, "cpu").synapses
    assert any(s.sum_bound() << max(s.weight_exp, 0) > 2**31 for s in syns)
    probes = _all_probes(net_graph)
    _assert_same(
        run(net_graph, net.inputs, probes=probes, engine="reference"),
        run(net_graph, net.inputs, probes=probes, engine="fast"),
        probes,
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    groups=st.sampled_from([1, 2]),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
)
def test_event_driven_convolution_equals_the_reference(seed, groups, stride, padding, dilation):
    # Binary spikes into a convolution whose sums stay below 2^23 (the integer events need no
    # wrap; graded payloads and larger sums: the next test).
    rng = np.random.default_rng(seed)
    c_in, c_out, h, w = 2, 2 * groups, 7, 6
    weight = rng.integers(-128, 128, (c_out, c_in // groups, 3, 2)) * 2
    conv = QConv2d(
        "in", "c", weight=weight, stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    out_hw = conv2d_output_hw((h, w), (3, 2), conv.stride, conv.padding, conv.dilation)
    graph = Graph(
        populations={
            "in": Input((c_in, h, w)),
            "c": QLIF((c_out, *out_hw), du=4095, dv=0, vth=300),
        },
        projections={"k": conv},
    )
    syn = prepare(graph, True, "cpu").incoming("c")[0]
    assert syn.sum_bound() < 1 << 23
    inputs = (rng.random((3, 12, c_in * h * w)) < 0.3).astype(np.uint8)
    probes = _all_probes(graph)
    _assert_same(
        run(graph, inputs, probes=probes, engine="reference"),
        run(graph, inputs, probes=probes, engine="fast"),
        probes,
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    groups=st.sampled_from([1, 2, 3]),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    bits=st.sampled_from([0, 4, 12, 16, 24]),
)
def test_integer_event_convolutions_equal_the_reference(
    seed, groups, stride, padding, dilation, bits
):
    # Binary spikes or graded payloads into convolutions whose sums may pass 2^23 (Lava's
    # 24-bit output wrap) and 2^31 (numpy's float64 -> int32 cast; 24-bit payloads): integer
    # events, equal to the reference's float arithmetic bit for bit.
    from backends.cpu import _jit
    from neurons.lif import jit as lif_jit

    rng = np.random.default_rng(seed)
    c_in, c_out, h, w = 3 * groups, 2 * groups, 8, 7
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    weight = rng.integers(-256, 256, (c_out, c_in // groups, kh, kw))  # the 8-bit range
    conv = QConv2d(
        "in", "c", weight=weight, stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    out_hw = conv2d_output_hw((h, w), (kh, kw), conv.stride, conv.padding, conv.dilation)
    graph = Graph(
        populations={
            "in": Input((c_in, h, w), message_bits=bits),
            "c": QLIF((c_out, *out_hw), du=4095, dv=0, vth=300),
        },
        projections={"k": conv},
    )
    syn = prepare(graph, True, "cpu").incoming("c")[0]
    inputs = _inputs(graph, seed, 3, 9)
    inputs[:, :, rng.random(inputs.shape[2]) < 0.4] = 0  # silent sources
    calls = []
    probes = _all_probes(graph)
    ref = run(graph, inputs, probes=probes, engine="reference")
    with pytest.MonkeyPatch.context() as mp:
        for module, kernel in ((_jit, "conv_events"), (lif_jit, "conv_lif")):
            original = getattr(module, kernel)
            mp.setattr(module, kernel, lambda *a, f=original: calls.append(a) or f(*a))
        _assert_same(ref, run(graph, inputs, probes=probes, engine="fast"), probes)
    assert calls  # every fixed-point convolution here is event-driven (alone or fused)
    assert syn.sum_bound() < 1 << 53


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    stride=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    lif=st.booleans(),
)
def test_conv_layers_pass_their_spikes_as_lists(seed, stride, groups, lif):
    """conv -> conv -> dense, as the conversion CNN: the fused conv kernel emits each step's
    spikes as lists (in channels-last order, not the population's) and the next conv and
    dense kernels read those instead of listing the spikes again; every population's spikes
    and voltages equal the reference engine's."""
    rng = np.random.default_rng(seed)
    c_in, c1, c2, h, w = 2, 2 * groups, 3 * groups, 9, 8
    neuron = dict(du=4095, dv=0) if not lif else dict(du=int(rng.integers(0, 4096)), dv=300)
    w1 = rng.integers(-127, 128, (c1, c_in, 3, 3)) * 2
    w2 = rng.integers(-127, 128, (c2, c1 // groups, 3, 2)) * 2
    k1 = QConv2d("in", "c1", weight=w1, padding=(1, 1))
    k2 = QConv2d("c1", "c2", weight=w2, stride=stride, groups=groups)
    hw1 = conv2d_output_hw((h, w), (3, 3), k1.stride, k1.padding, k1.dilation)
    hw2 = conv2d_output_hw(hw1, (3, 2), k2.stride, k2.padding, k2.dilation)
    n2 = c2 * hw2[0] * hw2[1]
    graph = Graph(
        populations={
            "in": Input((c_in, h, w)),
            "c1": QLIF((c1, *hw1), vth=400, **neuron),
            "c2": QLIF((c2, *hw2), vth=700, **neuron),
            "out": QLIF((5,), du=4095, dv=0, vth=500),
        },
        projections={
            "k1": k1,
            "k2": k2,
            "d": QDense("c2", "out", weight=rng.integers(-127, 128, (5, n2)) * 2),
        },
    )
    inputs = (rng.random((3, 16, c_in * h * w)) < 0.4).astype(np.uint8)
    emitted: list[str] = []
    real = fast._emitted_lists

    def spy(net, name, batch, steps):
        lists = real(net, name, batch, steps)
        if lists[1].size:
            emitted.append(name)
        return lists

    probes = _all_probes(graph)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "_emitted_lists", spy)
        got = run(graph, inputs, probes=probes, engine="fast")
    assert emitted == ["c1", "c2"]  # c1's lists feed k2, c2's feed d
    _assert_same(run(graph, inputs, probes=probes, engine="reference"), got, probes)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), sparse=st.booleans(), exps=st.tuples(
    st.integers(0, 3), st.integers(0, 3)))
def test_split_sign_halves_with_their_own_exponents_run_fused(seed, sparse, exps):
    """The two halves of --split-signs, each with its own weight_exp (the conversion CNN's
    readout: Sparse, exponents 0 and 1), run as one fused dense projection (weights shifted to
    the smaller exponent; a Sparse one densified), with the same spikes and v as the
    reference."""
    from ir import QSparse
    from neurons.lif import jit as lif_jit

    rng = np.random.default_rng(seed)
    n_src, n_dst = int(rng.integers(5, 60)), int(rng.integers(1, 12))
    pos = rng.integers(0, 128, (n_dst, n_src)) * 2 * (rng.random((n_dst, n_src)) < 0.5)
    neg = -rng.integers(0, 128, (n_dst, n_src)) * 2 * (rng.random((n_dst, n_src)) < 0.5)

    def proj(w, exp, sign):
        if not sparse:
            return QDense("in", "out", weight=w, weight_exp=exp, sign_mode=sign)
        rows, cols = np.nonzero(w)
        return QSparse("in", "out", rows=rows, cols=cols, values=w[rows, cols], weight_exp=exp,
                       sign_mode=sign)

    graph = Graph(
        populations={"in": Input((n_src,)), "out": QLIF((n_dst,), du=200, dv=100, vth=900)},
        projections={"p": proj(pos, exps[0], "excitatory"), "n": proj(neg, exps[1], "inhibitory")},
    )
    inputs = (rng.random((3, 20, n_src)) < 0.4).astype(np.uint8)
    calls: list[int] = []
    real = lif_jit.dense_lif

    def spy(*args):
        calls.append(1)
        return real(*args)

    probes = _all_probes(graph)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lif_jit, "dense_lif", spy)
        got = run(graph, inputs, probes=probes, engine="fast")
    assert calls  # the fused kernel ran
    _assert_same(run(graph, inputs, probes=probes, engine="reference"), got, probes)


@settings(max_examples=200, deadline=None)
@given(scale=st.integers(0, 7), exp=st.integers(-8, 8), s=st.integers(-(2**31), 2**31 - 1))
def test_a_sums_two_shifts_equal_its_scale_and_exponent(scale, exp, s):
    """`fast._sum_shifts`: one right and one left shift of a sum of compact weights give what
    the effective weights' sum shifted by weight_exp gives, wherever the engine uses it (the
    shifted sum within int32)."""
    from backends.cpu.kernels import shift64

    full = s << scale
    if abs(full << max(exp, 0)) >= 2**31:
        return
    rs, ls = fast._sum_shifts(scale, exp)
    assert (s >> rs) << ls == int(shift64(np.int64(full), exp))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), exps=st.tuples(st.integers(-8, 6), st.integers(-8, 6)),
       bits=st.tuples(st.integers(1, 8), st.integers(1, 8)), magnitude=st.integers(1, 8))
def test_dense_sums_shifted_in_the_neuron_update_equal_the_reference(seed, exps, bits, magnitude):
    """Random sizes, densities, weight magnitudes and bits (so the weights' common trailing
    zero bits vary) and exponents (sums shifted left and right, row counts of every remainder
    mod 4, dot products for few destinations): the fused kernel (in -> hidden) and the
    unfused one (in -> out and hidden -> out) equal the reference."""
    rng = np.random.default_rng(seed)
    _check_dense_shifts(rng, exps, bits, magnitude, int(rng.integers(1, 300)),
                        float(rng.uniform(0.02, 1.0)))


@pytest.mark.parametrize("seed", range(4))
def test_wide_dense_sums_in_int32_equal_the_reference(seed):
    """The same with sums past int16 (hundreds of sources of 8-bit weights spiking at once)."""
    rng = np.random.default_rng(seed)
    _check_dense_shifts(rng, (-3 + seed, 2 - seed), (8, 8), 8, 700, 0.8)


def _check_dense_shifts(rng, exps, bits, magnitude, n_in, density):
    n_hid, n_out = (int(rng.integers(1, 90)) for _ in range(2))

    def dense(src, dst, n_src, n_dst, k):
        top = 1 << magnitude
        w = rng.integers(-top, top, (n_dst, n_src)) * (rng.random((n_dst, n_src)) < 0.7)
        return QDense(src, dst, weight=w, weight_exp=exps[k], num_weight_bits=bits[k])

    def lif(n):
        vth = int(rng.integers(1, 5000))
        return QLIF((n,), du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4097)), vth=vth)

    graph = Graph(
        populations={"in": Input((n_in,)), "hid": lif(n_hid), "out": lif(n_out)},
        projections={
            "a": dense("in", "hid", n_in, n_hid, 0),
            "b": dense("in", "out", n_in, n_out, 1),
            "c": dense("hid", "out", n_hid, n_out, 0),
        },
    )
    inputs = (rng.random((3, 16, n_in)) < density).astype(np.uint8)
    probes = _all_probes(graph)
    ref = run(graph, inputs, probes=probes, engine="reference")
    _assert_same(ref, run(graph, inputs, probes=probes, engine="fast"), probes)
    # spikes alone: populations of fewer than 64 neurons run padded to whole vectors
    spikes = [Probe("hid", ("spikes",)), Probe("out", ("spikes",))]
    _assert_same(ref, run(graph, inputs, probes=spikes, engine="fast"), spikes)


@pytest.mark.parametrize(("n_in", "n_out", "density", "width"),
                         [(300, 3, 0.5, 3), (300, 10, 0.05, 16), (300, 70, 0.05, 70)])
def test_a_few_neurons_run_padded_only_where_their_sums_are_event_lists(n_in, n_out, density,
                                                                         width):
    """Dot products (few destinations, dense input) stay one per neuron; event-list sums of
    fewer than 64 neurons run as whole 16-lane vectors; wider layers as they are."""
    from neurons.lif import jit as lif_jit

    rng = np.random.default_rng(n_out)
    graph = Graph(
        populations={"in": Input((n_in,)), "out": QLIF((n_out,), du=300, dv=200, vth=500)},
        projections={"p": QDense("in", "out", weight=rng.integers(-100, 100, (n_out, n_in)))},
    )
    inputs = (rng.random((2, 12, n_in)) < density).astype(np.uint8)
    widths: list[int] = []
    real = lif_jit.dense_lif

    def spy(*args):
        widths.append(args[-3].shape[2])
        return real(*args)

    probes = [Probe("out", ("spikes",))]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lif_jit, "dense_lif", spy)
        got = run(graph, inputs, probes=probes, engine="fast")
    assert widths == [width]
    _assert_same(run(graph, inputs, probes=probes, engine="reference"), got, probes)
