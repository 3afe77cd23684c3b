"""Resource accounting: each resource on hand-counted examples, the conv synapse generator against
the convolution itself, the lower bound, and verify's per-core limit messages."""

import numpy as np
import pytest

from ir import (
    QLIF,
    Block,
    Graph,
    Input,
    IRVerifyError,
    Placement,
    QConv2d,
    QDense,
    QSparse,
    load_hw,
    verify,
)
from ir.connectivity import fanin
from ir.conv import conv2d
from ir.hardware import load_hw_dict
from ir.nodes import conv2d_output_hw
from ir.resources import account, axon_bits, lower_bound
from ir.traffic import traffic, uniform_rates

TINY = load_hw("tiny")


def small_net(placement=True):
    # Weights are even so Lava's 8-bit mixed truncation keeps them (ir.fixed.effective_weights).
    w = np.array([[2, 0, 2], [2, 2, 0], [0, 0, 2], [2, 2, 2]])
    pops = {"in": Input((3,)), "h": QLIF((4,)), "o": QLIF((2,))}
    projs = {
        "p": QDense("in", "h", weight=w),
        # num_weight_bits 4, mixed: Lava clears 5 low bits, so 64, 32, -64 survive.
        "q": QSparse(
            "h", "o", rows=[0, 0, 1], cols=[0, 3, 3], values=[64, 32, -64], num_weight_bits=4
        ),
    }
    pl = None
    if placement:
        blocks = (
            Block.from_range("h", 0, 2, 0),
            Block.from_range("h", 2, 4, 1),
            Block.from_range("o", 0, 2, 2),
        )
        pl = Placement(blocks, np.array([0, 0, 1]), "tiny")
    return Graph(pops, projs, placement=pl)


def test_each_resource_counted_by_hand():
    acc = account(small_net(), TINY)
    # Core 0 holds h0 (<- in0, in2) and h1 (<- in0, in1): 3 input axons, in0 with 2 synapses.
    # Bits per axon: 64 * ceil((n * (8 + 6) + 10) / 64) = 64 for n = 1 or 2.
    assert acc.usage["neurons"].tolist() == [2, 2, 2]
    assert acc.usage["input_axons"].tolist() == [3, 3, 2]
    assert acc.usage["synapse_memory_bits"].tolist() == [192, 192, 128]
    # h0 (core 0) and h3 (core 1) each route to core 2; o sends only to the host.
    assert acc.usage["output_axons"].tolist() == [1, 1, 0]
    assert acc.usage["populations"].tolist() == [1, 1, 1]
    t = traffic(small_net(), acc, uniform_rates(small_net()))
    assert t == {"intra_core": 0.0, "inter_core": 2.0, "inter_chip": 0.0, "host_input": 6.0}


def test_zero_effective_weights_are_not_synapses():
    graph = Graph(
        {"in": Input((2,)), "h": QLIF((1,))},
        {"p": QDense("in", "h", weight=[[1, 64]], num_weight_bits=2)},
    )
    # 2 bits, mixed: 7 low bits cleared, so 1 -> 0 and 64 -> 0: no synapse at all.
    counts, src = fanin(graph, "p").synapses(np.array([0]))
    assert counts.tolist() == [0] and src.size == 0


def test_weight_bits_rule():
    g = small_net()
    assert fanin(g, "p").weight_bits == 8
    assert fanin(g, "q").weight_bits == 4
    conv = Graph(
        {"in": Input((1, 3, 3)), "h": QLIF((1, 3, 3))},
        {
            "c": QConv2d(
                "in", "h", weight=np.array([[[[0, 5, 0], [0, 200, 0], [0, 1, 0]]]]), padding=(1, 1)
            )
        },
    )
    assert fanin(conv, "c").weight_bits == 8  # one sign: unsigned 200 needs 8 bits
    mixed = conv.with_node(
        "c",
        QConv2d(
            "in", "h", weight=np.array([[[[0, -5, 0], [0, 100, 0], [0, 1, 0]]]]), padding=(1, 1)
        ),
    )
    assert fanin(mixed, "c").weight_bits == 8  # two's complement: 100 needs 7 + sign


def test_axon_bits_cost_model():
    smem = TINY.synapse_memory
    assert axon_bits(np.array([0, 1, 3, 4]), 8, smem).tolist() == [64, 64, 64, 128]
    assert int(axon_bits(np.array([4]), 8, smem)[0]) == smem.axon_bits(4, 8)


@pytest.mark.parametrize("seed", range(12))
def test_conv_synapses_match_the_convolution(seed):

    rng = np.random.default_rng(seed)
    c_in = int(rng.integers(1, 4))
    groups = int(rng.choice([1, c_in]))
    c_out = groups * int(rng.integers(1, 3))
    h, w = (int(v) for v in rng.integers(3, 8, 2))
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    stride, pad, dil = (
        tuple(rng.integers(1, 3, 2)),
        tuple(rng.integers(0, 2, 2)),
        tuple(rng.integers(1, 3, 2)),
    )
    oh, ow = conv2d_output_hw((h, w), (kh, kw), stride, pad, dil)
    if oh < 1 or ow < 1:  # dilated kernel wider than the input: undilate it
        dil = (1, 1)
        oh, ow = conv2d_output_hw((h, w), (kh, kw), stride, pad, dil)
    weight = rng.integers(-2, 3, (c_out, c_in // groups, kh, kw))
    graph = Graph(
        {"a": Input((c_in, h, w)), "b": QLIF((c_out, oh, ow))},
        {
            "c": QConv2d(
                "a", "b", weight=weight, stride=stride, padding=pad, dilation=dil, groups=groups
            )
        },
    )
    verify(graph)
    n_src, n_dst = c_in * h * w, c_out * oh * ow
    # Impulse response of every source at once: which outputs each one reaches.
    impulses = np.eye(n_src).reshape(n_src, c_in, h, w)
    response = conv2d(impulses, weight.astype(float), stride, pad, dil, groups)
    expected = response.reshape(n_src, n_dst).T != 0
    counts, src = fanin(graph, "c").synapses(np.arange(n_dst))
    got = np.zeros_like(expected)
    got[np.repeat(np.arange(n_dst), counts), src] = True
    assert (got == expected).all()


def test_lower_bound_counts_partition_independent_demand():
    bound, demand = lower_bound(small_net(placement=False), TINY)
    assert demand == {
        "neurons": 6,
        "input_axons": 5,
        "output_axons": 2,
        "synapse_memory_bits": 320,
        "populations": 2,
    }
    assert bound == 1


def _config(**core):
    data = load_hw("tiny").to_dict()
    for key, value in core.items():
        data["core"][key]["value"] = value
    return load_hw_dict(data, "test.yaml")


@pytest.mark.parametrize(
    "key, value, resource",
    [
        ("max_input_axons", 2, "3 input axons"),
        ("max_output_axons", 0 + 1, None),
        ("synapse_memory_bits", 128, "192 synapse memory bits"),
    ],
)
def test_verify_names_core_resource_need_limit_and_key(key, value, resource):
    graph = small_net()
    if resource is None:
        # Route both h blocks to core 2 twice over: put h0 and h3 on one core -> 2 routes.
        blocks = (Block("h", [0, 3], 0), Block("h", [1, 2], 1), Block.from_range("o", 0, 2, 2))
        graph = graph.replace(placement=Placement(blocks, np.array([0, 0, 1]), "tiny"))
        resource = "2 output axons"
    with pytest.raises(
        IRVerifyError,
        match=rf"placement core 0: holds {resource}, the limit is {value} "
        rf"\(test.yaml: core.{key}\)",
    ):
        verify(graph, _config(**{key: value}))


def test_verify_accepts_within_limits():
    assert verify(small_net(), TINY) is not None
