"""Verifier negative cases: every message names the node, the value and the limit."""

import math

import numpy as np
import pytest

from ir import (
    LIF,
    QLIF,
    Block,
    Conv2d,
    Dense,
    Graph,
    Input,
    IRVerifyError,
    Placement,
    QConv2d,
    QDense,
    Sparse,
    load_hw,
    verify,
)


def g(pops, projs=None, **kw):
    return Graph(populations=pops, projections=projs or {}, **kw)


def test_valid_graph_passes_and_is_returned():
    graph = g({"in": Input((2,)), "h": LIF((3,))}, {"p": Dense("in", "h", weight=np.zeros((3, 2)))})
    assert verify(graph) is graph


def test_dense_shape_mismatch():
    graph = g({"in": Input((2,)), "h": LIF((3,))}, {"p": Dense("in", "h", weight=np.zeros((2, 3)))})
    with pytest.raises(
        IRVerifyError,
        match=r"projection 'p' \(in -> h\): weight shape \(2, 3\) does not match \(n_dst, n_src\) "
              r"= \(3, 2\)",
    ):
        verify(graph)


def test_unknown_endpoint():
    graph = g({"in": Input((2,))}, {"p": Dense("in", "nowhere", weight=np.zeros((3, 2)))})
    with pytest.raises(
        IRVerifyError, match=r"projection 'p' \(in -> nowhere\): dst 'nowhere' is not a population"
    ):
        verify(graph)


def test_projection_into_input():
    graph = g({"in": Input((2,)), "h": LIF((2,))}, {"p": Dense("h", "in", weight=np.zeros((2, 2)))})
    with pytest.raises(IRVerifyError, match="targets input population 'in'"):
        verify(graph)


def test_sparse_index_out_of_range():
    graph = g(
        {"in": Input((2,)), "h": LIF((3,))},
        {"p": Sparse("in", "h", rows=[0, 3], cols=[0, 1], values=[1.0, 1.0])},
    )
    with pytest.raises(IRVerifyError, match=r"row index 3 >= n_dst = 3"):
        verify(graph)


def test_conv_output_shape():
    graph = g(
        {"in": Input((1, 5, 5)), "h": LIF((2, 4, 4))},
        {"c": Conv2d("in", "h", weight=np.zeros((2, 1, 3, 3)))},
    )
    with pytest.raises(
        IRVerifyError, match=r"output shape is \(2, 3, 3\), destination population has \(2, 4, 4\)"
    ):
        verify(graph)


def test_conv_channels():
    graph = g(
        {"in": Input((3, 5, 5)), "h": LIF((2, 3, 3))},
        {"c": Conv2d("in", "h", weight=np.zeros((2, 1, 3, 3)))},
    )
    with pytest.raises(IRVerifyError, match="weight expects 1 input channels"):
        verify(graph)


def test_nan_threshold_rejected_at_construction():
    with pytest.raises(IRVerifyError, match=r"LIF.v_th: must be finite"):
        LIF((2,), v_th=math.nan)


def test_nan_weight_rejected_at_construction():
    with pytest.raises(IRVerifyError, match=r"Dense.weight: must be finite"):
        Dense("a", "b", weight=np.array([[np.nan]]))


def test_negative_tau_rejected():
    with pytest.raises(IRVerifyError, match="tau_syn: time constants must be >= 0"):
        LIF((2,), tau_syn=-1.0)


def test_per_neuron_parameter_shape():
    graph = g({"h": LIF((3,), v_th=np.ones(4))})
    with pytest.raises(
        IRVerifyError, match=r"population 'h': v_th has shape \(4,\); expected a scalar or \(3,\)"
    ):
        verify(graph)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("du", 4096, r"du = 4096 is outside \[-1, 4095\]"),
        ("du", -2, r"du = -2 is outside \[-1, 4095\]"),
        ("dv", -1, r"dv = -1 is outside \[0, 4096\]"),
        ("dv", 4097, r"dv = 4097 is outside \[0, 4096\]"),
        ("vth", 1 << 18, r"vth = 262144 is outside \[0, 262143\]"),
        ("bias_mant", 5000, r"bias_mant = 5000 is outside \[-4096, 4095\]"),
    ],
)
def test_fixed_lif_ranges(field, value, message):
    graph = g({"h": QLIF((2,), **{field: value})})
    with pytest.raises(IRVerifyError, match=message):
        verify(graph)


def test_bias_exp_range_cites_the_hw_config():
    graph = g({"h": QLIF((2,), bias_exp=9)})
    with pytest.raises(
        IRVerifyError,
        match=r"bias_exp = 9 is outside \[0, 7\] \(hw_configs/loihi2.yaml: "
              r"neuron.bias_exp_min/max\)",
    ):
        verify(graph, load_hw("loihi2"))


def test_weight_bits_and_exponent():
    base = {"in": Input((2,)), "h": QLIF((2,))}
    bad_bits = g(base, {"p": QDense("in", "h", weight=np.zeros((2, 2), int), num_weight_bits=9)})
    with pytest.raises(IRVerifyError, match=r"num_weight_bits = 9 is outside \[1, 8\]"):
        verify(bad_bits)
    bad_exp = g(base, {"p": QDense("in", "h", weight=np.zeros((2, 2), int), weight_exp=9)})
    with pytest.raises(IRVerifyError, match=r"weight_exp = 9 is outside \[-8, 7\]"):
        verify(bad_exp, load_hw("loihi2"))


def test_conv_weights_must_be_8_bit():
    graph = g(
        {"in": Input((1, 3, 3)), "h": QLIF((1, 1, 1))},
        {"c": QConv2d("in", "h", weight=np.full((1, 1, 3, 3), 300))},
    )
    with pytest.raises(IRVerifyError, match=r"weight = 300 is outside \[-256, 255\]"):
        verify(graph)


def test_mixed_domains_rejected():
    graph = g(
        {"in": Input((2,)), "h": QLIF((2,))}, {"p": Dense("in", "h", weight=np.zeros((2, 2)))}
    )
    with pytest.raises(
        IRVerifyError, match=r"mixes float nodes \('p'\) and fixed-point nodes \('h'\)"
    ):
        verify(graph)


def test_unknown_output():
    with pytest.raises(IRVerifyError, match="outputs: 'x': is not a population"):
        verify(g({"h": LIF((2,))}, outputs=("x",)))


def test_bad_names_and_dt():
    with pytest.raises(IRVerifyError, match="population 'a b'"):
        g({"a b": LIF((2,))})
    with pytest.raises(IRVerifyError, match="dt must be a positive number"):
        g({"h": LIF((2,))}, dt=0)


def _placed(blocks, chips, pops=None):
    pops = pops or {"in": Input((2,)), "h": QLIF((4,))}
    return g(pops, placement=Placement(tuple(blocks), np.array(chips), "tiny"))


def test_placement_must_cover_every_neuron_once():
    with pytest.raises(IRVerifyError, match="neuron 3 is in no block"):
        verify(_placed([Block.from_range("h", 0, 3, 0)], [0]))
    with pytest.raises(IRVerifyError, match="neuron 1 is in 2 blocks"):
        verify(_placed([Block.from_range("h", 0, 2, 0), Block.from_range("h", 1, 4, 1)], [0, 0]))


def test_placement_core_limits_cite_the_yaml_key():
    pops = {"in": Input((2,)), "h": QLIF((20,))}
    graph = _placed([Block.from_range("h", 0, 20, 0)], [0], pops)
    with pytest.raises(
        IRVerifyError,
        match=r"holds 20 neurons, the limit is 16 \(hw_configs/tiny.yaml: core.max_neurons\)",
    ):
        verify(graph, load_hw("tiny"))


def test_placement_chip_limits():
    pops = {"in": Input((2,)), "h": QLIF((10,))}
    blocks = [Block.from_range("h", i, i + 1, i) for i in range(10)]
    with pytest.raises(IRVerifyError, match=r"chip 0: holds 10 cores, the limit is 4"):
        verify(_placed(blocks, [0] * 10, pops), load_hw("tiny"))


def test_input_populations_are_not_placed():
    with pytest.raises(IRVerifyError, match="input populations are fed by the host"):
        verify(_placed([Block.from_range("in", 0, 2, 0), Block.from_range("h", 0, 4, 1)], [0, 0]))


def test_error_carries_an_ir_excerpt():
    graph = g({"in": Input((2,)), "h": LIF((3,))}, {"p": Dense("in", "h", weight=np.zeros((2, 3)))})
    with pytest.raises(IRVerifyError) as info:
        verify(graph)
    assert "projection p: in -> h Dense" in info.value.excerpt
