"""`snnc export --format netx`: what it writes re-imports to the same integers, the same program
gives the same bytes, and what netx cannot hold is one error line. test_live.py loads the
written files with netx itself."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from compiler.compile import compile_model
from compiler.model_io import load_model
from compiler.netx.exporter import export_netx
from compiler.netx.importer import import_netx
from ir.errors import InputError
from ir.graph import Graph
from ir.hardware import load_hw
from ir.nodes import QLIF, Input, QDense, QSparse
from neurons import model_of
from tests.netx.helpers import FIXTURES, NETX_RUNS

ROUND_TRIP = (*NETX_RUNS, "cuba_pool")  # every fixture but the transposed conv's
NIR_FIXTURE = FIXTURES.parent / "nir" / "snntorch_mlp.nir"


def _same_network(a: Graph, b: Graph) -> None:
    """Equal populations and projections, in graph order (names may differ: the export adds an
    input layer, which shifts netx's layer indices)."""
    assert len(a.populations) == len(b.populations) and len(a.projections) == len(b.projections)
    for pa, pb in zip(a.populations.values(), b.populations.values()):
        assert type(pa) is type(pb) and pa.shape == pb.shape
        if not isinstance(pa, Input):
            params_a, params_b = (model_of(p).lava_params(p) for p in (pa, pb))
            assert params_a.keys() == params_b.keys()
            for key in params_a:
                np.testing.assert_array_equal(np.broadcast_to(params_a[key], pa.shape),
                                              np.broadcast_to(params_b[key], pb.shape), err_msg=key)
    for qa, qb in zip(a.projections.values(), b.projections.values()):
        assert type(qa) is type(qb)
        for f in dataclasses.fields(qa):
            if f.name in ("src", "dst"):
                continue
            va, vb = getattr(qa, f.name), getattr(qb, f.name)
            if isinstance(va, np.ndarray):
                np.testing.assert_array_equal(va, vb, err_msg=f.name)
            else:
                assert va == vb, f.name


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_import_export_import_keeps_the_integers(tmp_path, name):
    first = import_netx(FIXTURES / f"{name}.net", warn=lambda m: None)
    summary = export_netx(first, tmp_path / "back.net")
    again = import_netx(tmp_path / "back.net", warn=lambda m: None)
    _same_network(first, again)
    assert (
        again.metadata["import"]["latency"]
        == first.metadata["import"]["latency"]
        == summary.latency
    )


def test_compiled_program_exports_like_its_model(tmp_path):
    model = load_model(FIXTURES / "cuba_conv.net")
    program, _ = compile_model(model, load_hw("loihi2"))
    export_netx(program, tmp_path / "program.net")
    export_netx(model, tmp_path / "model.net")
    assert (tmp_path / "program.net").read_bytes() == (tmp_path / "model.net").read_bytes()


def test_same_program_same_bytes(tmp_path):
    model = load_model(FIXTURES / "cuba_rec.net")
    export_netx(model, tmp_path / "a.net")
    export_netx(model, tmp_path / "b.net")
    assert (tmp_path / "a.net").read_bytes() == (tmp_path / "b.net").read_bytes()


def _mlp(**lif) -> Graph:
    rng = np.random.default_rng(0)
    w = rng.integers(-100, 100, (3, 4))
    return Graph(
        {"in": Input((4,)), "a": QLIF((3,), du=10, dv=20, vth=30, **lif)},
        {
            "w": QDense(
                src="in", dst="a", weight=w, weight_exp=0, num_weight_bits=8, sign_mode="mixed"
            )
        },
    )


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        (
            lambda: load_model(NIR_FIXTURE, dt=1e-4),
            r"netx files hold fixed-point networks; compile the model first",
        ),
        (
            lambda: _mlp(reset_interval=5),
            r"population 'a': reset_interval = 5: netx files carry no reset",
        ),
        (
            lambda: _mlp(bias_mant=3, bias_exp=2),
            r"bias_mant = 3 with bias_exp = 2 \(neuron 0\).* 3 / 2\^4 is not an integer",
        ),
        (
            lambda: _mlp().with_node(
                "w", dataclasses.replace(_mlp().projections["w"], weight_exp=-3)
            ),
            r"projection 'w' \(in -> a\): weight .* with weight_exp = -3: netx sums whole weights",
        ),
        (
            lambda: _mlp().with_node(
                "w", dataclasses.replace(_mlp().projections["w"], weight_exp=3)
            ),
            r"weight 560 at \(0, 0\): netx's 8-bit format turns the layer's weights "
            r"\(range -784..656\) into 254",
        ),
        (
            lambda: (
                _mlp()
                .with_node("b", QLIF((2,)))
                .with_node("w2", QDense(src="in", dst="b", weight=np.full((2, 4), 4)))
            ),
            r"the graph's outputs are a, b; a netx network's output is its last layer \('b'\)",
        ),
        (
            lambda: (
                _mlp()
                .with_node("b", QLIF((2,)))
                .with_node("w2", QDense(src="in", dst="b", weight=np.full((2, 4), 4)))
                .with_node("w3", QDense(src="a", dst="b", weight=np.full((2, 3), 4)))
                .with_node("w4", QDense(src="in", dst="b", weight=np.full((2, 4), 2)))
            ),
            r"projection 'w4' \(in -> b\): is one of several projections into a layer that "
            r"reads several layers",
        ),
        (
            lambda: _mlp().with_node("in2", Input((2,))),
            r"netx networks have one input; this graph has 2",
        ),
    ],
)
def test_what_netx_cannot_hold_is_one_line(tmp_path, graph, message):
    with pytest.raises(InputError, match=message) as err:
        export_netx(graph(), tmp_path / "x.net")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "x.net").exists()


def test_transposed_conv_output_cannot_feed_netx(tmp_path):
    with pytest.raises(
        InputError,
        match=r"population 'convT2': has shape \(3, 7, 7\); a netx dense layer's output is flat",
    ):
        export_netx(load_model(FIXTURES / "cuba_convt.net"), tmp_path / "x.net")


def test_sparse_projection_exports_as_dense(tmp_path):
    graph = Graph(
        {"in": Input((3,)), "a": QLIF((2,), du=0, dv=0, vth=5)},
        {
            "w": QSparse(
                src="in",
                dst="a",
                rows=np.array([0, 1]),
                cols=np.array([2, 0]),
                values=np.array([6, -4]),
                weight_exp=1,
                num_weight_bits=8,
                sign_mode="mixed",
            )
        },
    )
    export_netx(graph, tmp_path / "s.net")
    back = import_netx(tmp_path / "s.net", warn=lambda m: None)
    proj = back.projections["dense1.in"]
    eff = proj.weight >> -proj.weight_exp
    np.testing.assert_array_equal(eff, [[0, 0, 12], [-8, 0, 0]])


def test_branches_and_concat_export_in_snncs_layout(tmp_path):
    """cuba_concat (two branches on the input, concat, flatten, dense, average): the file names
    branch inputs and the concat as docs/netx.md defines; re-imported, the program computes
    the same (the pool's grouped kernel is written as the groups = 1 kernel it is inside a
    concat, so the integers are compared by what they compute)."""
    from backends.cpu.simulator import run as run_cpu
    from tests.netx.helpers import fixture, program_output

    fx = fixture("cuba_concat")
    first = import_netx(fx.path, warn=lambda m: None)
    summary = export_netx(first, tmp_path / "back.net")
    assert summary.layers == ["input", "conv", "conv", "concat", "flatten", "dense", "average"]
    again = import_netx(tmp_path / "back.net", warn=lambda m: None)
    assert again.metadata["readout"]["groups"] == 2
    outs = [program_output(g, run_cpu(g, fx.inputs).get(g.output_names[0])) for g in (first, again)]
    np.testing.assert_array_equal(outs[0], outs[1])
    export_netx(again, tmp_path / "back2.net")
    assert (tmp_path / "back2.net").read_bytes() == (tmp_path / "back.net").read_bytes()
