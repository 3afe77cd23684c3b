"""The split-signs pass: same float behaviour, one more bit per quantized part."""

from __future__ import annotations

import numpy as np
import pytest

from backends import get_backend
from backends.base import Probe
from compiler.compile import CompileOptions, compile_model, compile_passes
from compiler.passes.base import PassContext
from compiler.passes.split_signs import SplitSignsPass
from ir import LIF, Conv2d, Dense, Graph, Input, IRVerifyError, Sparse, load_hw, verify

HW = load_hw("loihi2")


def _graph() -> Graph:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.4, (6, 10))
    w[0, :3] = 0.0
    return Graph(
        populations={"in": Input((10,)), "h": LIF((6,), tau_mem=0.02), "out": LIF((2,))},
        projections={
            "fc": Dense("in", "h", weight=w, delay=rng.integers(0, 3, (6, 10))),
            "exc": Dense("h", "out", weight=np.abs(rng.normal(0, 0.5, (2, 6)))),
            "rec": Sparse("h", "h", rows=[0, 1, 2], cols=[1, 2, 0], values=[0.3, -0.2, 0.0]),
        },
    )


def test_split_keeps_float_spikes_exactly():
    g = _graph()
    split = SplitSignsPass().run(g, PassContext(hw=HW))
    verify(split)
    assert list(split.projections) == ["fc.pos", "fc.neg", "exc", "rec.pos", "rec.neg"]
    assert split.projections["exc"] is g.projections["exc"]
    fc_pos, fc_neg = split.projections["fc.pos"], split.projections["fc.neg"]
    assert fc_pos.nnz + fc_neg.nnz == int(
        np.count_nonzero(g.projections["fc"].weight)
    )  # zeros dropped
    assert np.all(fc_pos.values > 0) and np.all(fc_neg.values < 0)
    x = (np.random.default_rng(1).random((4, 50, 10)) < 0.4).astype(np.uint8)
    probes = [Probe("h", ("spikes", "v")), Probe("out", ("spikes", "v"))]
    a = get_backend("float")(g, x, probes=probes)
    b = get_backend("float")(split, x, probes=probes)
    for pop in ("h", "out"):
        np.testing.assert_array_equal(a.get(pop), b.get(pop))
        np.testing.assert_allclose(a.get(pop, "v"), b.get(pop, "v"), rtol=0, atol=1e-12)


def test_a_convolution_splits_into_two_kernels_with_the_same_float_spikes():
    rng = np.random.default_rng(2)
    w = rng.normal(0, 0.5, (3, 2, 3, 3))
    w[0, 0, 0, 0] = 0.0
    g = Graph(
        populations={"in": Input((2, 6, 6)), "c": LIF((3, 3, 3))},
        projections={"conv": Conv2d("in", "c", weight=w, stride=2, padding=1)},
    )
    split = SplitSignsPass().run(g, PassContext(hw=HW))
    verify(split)
    pos, neg = split.projections["conv.pos"], split.projections["conv.neg"]
    assert list(split.projections) == ["conv.pos", "conv.neg"]
    assert np.all(pos.weight >= 0) and np.all(neg.weight <= 0)
    np.testing.assert_array_equal(pos.weight + neg.weight, w)
    assert (pos.stride, pos.padding) == (neg.stride, neg.padding) == ((2, 2), (1, 1))
    x = (rng.random((3, 40, 72)) < 0.4).astype(np.uint8)
    probes = [Probe("c", ("spikes", "v"))]
    a = get_backend("float")(g, x, probes=probes)
    b = get_backend("float")(split, x, probes=probes)
    np.testing.assert_array_equal(a.get("c"), b.get("c"))
    np.testing.assert_allclose(a.get("c", "v"), b.get("c", "v"), rtol=0, atol=1e-12)
    _, report = compile_model(g, HW, CompileOptions(split_signs=True))
    modes = {
        part["name"]: part["sign_mode"]
        for r in report["quantization"]["projections"].values()
        for part in r["parts"]
    }
    assert modes == {"conv.pos": "excitatory", "conv.neg": "inhibitory"}


def test_single_sign_convolutions_and_fixed_graphs_are_left_alone():
    g = Graph(
        populations={"in": Input((1, 3, 3)), "c": LIF((1, 2, 2))},
        projections={"conv": Conv2d("in", "c", weight=np.array([[[[1.0, 0.0], [0.5, 2.0]]]]))},
    )
    assert SplitSignsPass().run(g, PassContext(hw=HW)) is g


def test_name_collision_is_an_error():
    g = Graph(
        populations={"in": Input((2,)), "h": LIF((1,))},
        projections={
            "p": Dense("in", "h", weight=[[1.0, -1.0]]),
            "p.pos": Dense("in", "h", weight=[[1.0, 0.0]]),
        },
    )
    with pytest.raises(
        IRVerifyError,
        match=r"projection 'p.pos': already exists; split-signs names the parts of 'p'",
    ):
        SplitSignsPass().run(g, PassContext(hw=HW))


def test_split_signs_halves_the_weight_step():
    g = _graph()
    _, plain = compile_model(g, HW)
    program, split = compile_model(g, HW, CompileOptions(split_signs=True))
    passes = [p.name for p in compile_passes(CompileOptions(split_signs=True))]
    assert passes[:2] == ["split-signs", "quantize"]
    assert program.projections["fc.pos"].sign_mode == "excitatory"
    assert program.projections["fc.neg"].sign_mode == "inhibitory"
    mixed_lsb = plain["quantization"]["projections"]["fc"]["parts"][0]["lsb"]
    for part in ("fc.pos", "fc.neg"):
        assert (
            split["quantization"]["projections"][part]["parts"][0]["lsb"] <= 0.5 * mixed_lsb * 1.01
        )
