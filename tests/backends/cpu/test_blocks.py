"""Piece-by-piece execution of placed programs (backends/blocks.py) and the split-exactness rule
it relies on (compiler/passes/split_exact.py): a program that `snnc compile` writes computes the
same cut into blocks as whole; one whose result would depend on the cut is refused."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.base import Probe
from backends.blocks import conv_synapses, expand_blocks, expand_pieces
from backends.cpu.simulator import run
from compiler.passes.base import PassContext
from compiler.passes.split_exact import SplitExactPass, placement_pieces, split_hazards
from ir import QLIF, Block, Graph, Input, InputError, IRVerifyError, Placement, QConv2d, QDense
from ir.conv import conv2d
from ir.hardware import load_hw
from tests.strategies import graphs


def _probes(graph):
    return [
        Probe(n, ("spikes", "u", "v"))
        for n, p in graph.populations.items()
        if not isinstance(p, Input)
    ]


def _inputs(graph, seed, steps=10):
    rng = np.random.default_rng(seed)
    cols = []
    for name in graph.inputs:
        pop = graph.populations[name]
        if pop.message_bits:
            cols.append(rng.integers(-100, 100, size=(2, steps, pop.size)))
        else:
            cols.append((rng.random((2, steps, pop.size)) < 0.5).astype(np.uint8))
    return np.concatenate(cols, axis=2)


def test_an_unplaced_graph_is_its_own_block_graph():
    g = Graph(
        populations={"in": Input((3,)), "a": QLIF((2,))},
        projections={"p": QDense("in", "a", weight=np.ones((2, 3), dtype=np.int64))},
    )
    bg = expand_blocks(g)
    assert bg.graph is g
    assert [name for name, _ in bg.parts["a"]] == ["a"]


def _split_exact(graph):
    return SplitExactPass().run(graph, PassContext(hw=load_hw("tiny")))


@settings(max_examples=60)
@given(graph=graphs(domain="fixed", max_layers=3, placed=True), seed=st.integers(0, 10_000))
def test_block_execution_equals_the_unpartitioned_program(graph, seed):
    x = _inputs(graph, seed)
    probes = _probes(graph)
    if split_hazards(graph):  # a cut this program's result depends on: refused, one line
        with pytest.raises(InputError, match="compile it again"):
            run(graph, x, probes=probes, blocks=True)
    try:
        graph = _split_exact(graph)
    except IRVerifyError as e:  # a cut convolution or graded sum that could wrap
        assert "2^23" in str(e) or "2^31" in str(e)
        return
    assert split_hazards(graph) == {}
    flat = run(graph.replace(placement=None), x, probes=probes)
    blocks = run(graph, x, probes=probes, blocks=True)
    blocks_ref = run(graph, x, probes=probes, blocks=True, engine="reference")
    for p in probes:
        for var in p.variables:
            np.testing.assert_array_equal(
                blocks.get(p.population, var), blocks_ref.get(p.population, var)
            )
            np.testing.assert_array_equal(
                blocks.get(p.population, var), flat.get(p.population, var)
            )


def _hazard_program(weight_exp):
    pops = {
        "in": Input((2,)),
        "a": QLIF((2,), du=4095, dv=0, vth=0),
        "b": QLIF((1,), du=4095, dv=4095, vth=2**17 - 1),
    }
    projs = {
        "ia": QDense("in", "a", weight=np.array([[2, 0], [0, 2]])),
        "ab": QDense(
            "a", "b", weight=np.array([[1, 1]]), weight_exp=weight_exp, sign_mode="excitatory"
        ),
    }
    blocks = (
        Block.from_range("a", 0, 1, 0),
        Block.from_range("a", 1, 2, 1),
        Block.from_range("b", 0, 1, 2),
    )
    return Graph(
        populations=pops,
        projections=projs,
        placement=Placement(blocks, np.array([0, 0, 0]), "tiny"),
    )


def test_a_cut_source_with_a_negative_weight_exp_is_a_hazard_that_split_exact_removes():
    # a's two neurons spike at step 2; b receives sum 1 + 1 = 2 >> 1 = 1 unpartitioned, but
    # Lava's per-pair Dense processes would give (1 >> 1) + (1 >> 1) = 0.
    g = _hazard_program(weight_exp=-1)
    x = np.ones((1, 4, 2), dtype=np.uint8)
    flat = run(g, x, probes=[Probe("b", ("u",))])
    pieces = expand_pieces(g, placement_pieces(g))  # what per-block execution would run
    per_pair = run(pieces.graph, x, probes=[Probe("b", ("u",))])
    assert flat.get("b", "u")[0, 2, 0] == 1 << 6
    assert per_pair.get("b", "u")[0, 2, 0] == 0
    (name,) = split_hazards(g)
    assert name == "ab" and "'a' is cut into 2 pieces" in split_hazards(g)["ab"]
    assert "weight_exp = -1" in split_hazards(g)["ab"]
    with pytest.raises(InputError, match="projection 'ab'.*compile it again"):
        run(g, x, probes=[Probe("b", ("u",))], blocks=True)
    # Weights that are multiples of 2^-weight_exp sum exactly under any cut: no hazard.
    g2 = g.replace(
        projections={**g.projections, "ab": g.projections["ab"].replace(weight=np.array([[2, 2]]))}
    )
    assert split_hazards(g2) == {}
    assert split_hazards(_hazard_program(weight_exp=0)) == {}
    # split-exact rounds each weight to whole activation units (1 * 2^-1 -> 0 or 1: half to
    # even gives 0), after which whole and per-block runs agree.
    exact = _split_exact(g)
    assert exact.projections["ab"].weight.tolist() == [[0, 0]]
    assert exact.projections["ab"].weight_exp == 0  # excitatory 8 bits: lsb_shift 0
    for blocks in (False, True):
        got = run(exact, x, probes=[Probe("b", ("u",))], blocks=blocks)
        assert got.get("b", "u")[0, 2, 0] == 0


def test_blocks_slice_per_neuron_parameters_and_gather_in_neuron_order():
    rng = np.random.default_rng(0)
    pops = {
        "in": Input((5,)),
        "a": QLIF((6,), du=100, dv=200, vth=50, bias_mant=rng.integers(-50, 50, 6), bias_exp=3),
    }
    projs = {"p": QDense("in", "a", weight=rng.integers(-100, 200, (6, 5)))}
    blocks = (Block("a", np.array([0, 3, 5]), 1), Block("a", np.array([1, 2, 4]), 0))
    g = Graph(
        populations=pops, projections=projs, placement=Placement(blocks, np.array([0, 1]), "tiny")
    )
    bg = expand_blocks(g)
    assert list(bg.graph.populations) == ["in", "a.p0", "a.p1"]
    assert (
        bg.graph.populations["a.p0"].bias_mant.tolist() == pops["a"].bias_mant[[0, 3, 5]].tolist()
    )
    assert sorted(bg.graph.projections) == ["p.0-0", "p.0-1"]
    x = _inputs(g, 1)
    flat = run(g.replace(placement=None), x, probes=_probes(g))
    split = run(g, x, probes=_probes(g), blocks=True)
    for var in ("spikes", "u", "v"):
        np.testing.assert_array_equal(split.get("a", var), flat.get("a", var))
    assert split.info["blocks"] == 2


@settings(max_examples=40)
@given(
    seed=st.integers(0, 10_000),
    groups=st.sampled_from([1, 2]),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
)
def test_conv_synapses_are_the_convolution(seed, groups, stride, padding, dilation):
    rng = np.random.default_rng(seed)
    c_in, c_out, h, w = 2, 2 * groups, 6, 5
    weight = rng.integers(-5, 6, (c_out, c_in // groups, 3, 2))
    node = QConv2d(
        "in", "out", weight=weight, stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    x = rng.integers(0, 3, (3, c_in, h, w))
    total = conv2d(x, weight, node.stride, node.padding, node.dilation, node.groups)
    rows, cols, values = conv_synapses(node, (c_in, h, w), total.shape[1:])
    dense = np.zeros((int(np.prod(total.shape[1:])), c_in * h * w), dtype=np.int64)
    np.add.at(dense, (rows, cols), values)
    np.testing.assert_array_equal(x.reshape(3, -1) @ dense.T, total.reshape(3, -1).astype(np.int64))


def test_a_cut_convolution_that_could_wrap_is_refused_at_compile_and_run_time():
    pops = {"in": Input((1, 3, 3), message_bits=24), "c": QLIF((1, 2, 2))}
    projs = {"k": QConv2d("in", "c", weight=np.full((1, 1, 2, 2), 255))}
    blocks = (Block.from_range("c", 0, 2, 0), Block.from_range("c", 2, 4, 1))
    g = Graph(
        populations=pops, projections=projs, placement=Placement(blocks, np.array([0, 0]), "tiny")
    )
    with pytest.raises(
        IRVerifyError, match=r"projection 'k'.*'c' is cut into 2 blocks.*8556380160"
    ):
        _split_exact(g)
    with pytest.raises(InputError, match=r"projection 'k'.*can reach 8556380160 >= 2\^23"):
        run(g, np.zeros((1, 2, 9), dtype=np.int64), blocks=True)
