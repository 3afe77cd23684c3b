"""Quantizing heterogeneous populations: per-neuron decays (exact by default, `--decay-levels K`
clusters them with a reported and bounded error), and every model of the table from its float
node to a fixed-point program that tracks it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends import get_backend
from backends.base import Probe
from compiler.compile import CompileOptions, compile_model
from compiler.nir.exporter import ExportError, graph_to_tree
from compiler.passes.base import PassContext
from compiler.passes.quantize import QuantizationError, QuantizePass
from ir import LIF, Dense, Graph, Input, load_hw, verify
from ir.errors import PassError
from neurons import model_of, registers
from neurons.atrlif import ATRLIF
from neurons.resonate import RF
from neurons.sigma_delta import SigmaDelta

HW = load_hw("loihi2")


def _quantize(graph: Graph, **opts):
    ctx = PassContext(hw=HW)
    program = QuantizePass(**opts).run(graph, ctx)
    verify(program, HW)
    return program, ctx.reports["quantize"]


@settings(max_examples=60)
@given(
    n=st.integers(2, 40),
    k=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    syn=st.booleans(),
)
def test_decay_levels_error_is_reported_and_bounded(n, k, seed, syn):
    """With --decay-levels K: at most K values per decay register; the reported added error is
    the largest register change, at most ceil(span / 2K) of the exact registers' span; the
    reported total error bounds every neuron's |alpha - alpha_fixed| (in 1/4096)."""
    rng = np.random.default_rng(seed)
    dt = 1e-3
    tau_mem = rng.uniform(2 * dt, 60 * dt, n)
    tau_syn = rng.uniform(0.5 * dt, 10 * dt, n) if syn else 0.0
    g = Graph({"in": Input((3,)), "h": LIF((n,), tau_syn=tau_syn, tau_mem=tau_mem)},
              {"p": Dense("in", "h", weight=rng.normal(0.5, 0.3, (n, 3)))}, dt=dt)
    exact, _ = _quantize(g)
    program, report = _quantize(g, decay_levels=k)
    pop, rep = program.populations["h"], report["populations"]["h"]
    alpha_syn, alpha_mem = g.populations["h"].decays(dt)
    for reg, alpha, to_alpha in (("du", alpha_syn, registers.alpha_from_du),
                                 ("dv", alpha_mem, registers.alpha_from_dv)):
        got, want = pop.per_neuron(reg), exact.populations["h"].per_neuron(reg)
        assert np.unique(got).size <= k
        span = int(want.max() - want.min())
        added = rep[f"{reg}_added_error_units"]
        assert added == np.abs(got - want).max() <= math.ceil(span / (2 * k))
        err = np.abs(np.broadcast_to(alpha, (n,)) - to_alpha(got)) * 4096
        assert err.max() <= rep[f"{reg}_error_units"] + 1e-9
        assert rep[f"{reg}_error_units"] <= 0.5 + added + 1e-9
    assert len(model_of(pop).parameter_groups(pop)) <= k * k
    assert report["options"]["decay_levels"] == k


def test_exact_per_neuron_decays_are_each_neurons_own():
    dt = 1e-3
    taus = np.array([0.002, 0.004, 0.008, 0.016, 0.032])
    g = Graph({"in": Input((2,)), "h": LIF((5,), tau_syn=taus / 2, tau_mem=taus)},
              {"p": Dense("in", "h", weight=np.ones((5, 2)))}, dt=dt)
    program, report = _quantize(g)
    h = program.populations["h"]
    alpha_syn, alpha_mem = g.populations["h"].decays(dt)
    assert h.dv.tolist() == registers.dv_regs(alpha_mem).tolist()
    assert h.du.tolist() == registers.du_regs(alpha_syn).tolist()
    rep = report["populations"]["h"]
    assert rep["parameter_groups"] == 5 and rep["dv"]["distinct"] == 5
    assert rep["dv_error_units"] <= 0.5 and "dv_added_error_units" not in rep


def test_uniform_populations_keep_scalar_registers_and_their_report():
    g = Graph(
        {"in": Input((2,)), "h": LIF((3,), tau_mem=0.01)},
        {"p": Dense("in", "h", weight=np.ones((3, 2)))},
    )
    program, report = _quantize(g)
    assert isinstance(program.populations["h"].dv, int)
    rep = report["populations"]["h"]
    assert isinstance(rep["dv"], int) and "parameter_groups" not in rep


def _network(pop, rng, n_in=12):
    n = pop.size
    return Graph(
        {"in": Input((n_in,)), "h": pop},
        {"p": Dense("in", "h", weight=rng.normal(0.6, 0.4, (n, n_in)))},
    )


def _tracks(graph: Graph, rng, min_corr: float) -> dict:
    """Compile for loihi2, run float and deployed on the same random spikes; the per-neuron
    output counts (or payload sums, for graded models) correlate."""
    program, report = compile_model(graph, HW)
    x = (rng.random((6, 60, graph.n_inputs)) < 0.3).astype(np.uint8)
    fl = get_backend("float")(graph, x, probes=[Probe("h")]).get("h")
    fx = get_backend("cpu")(program, x, probes=[Probe("h")]).get("h")
    pop = graph.populations["h"]
    if model_of(pop).graded:  # payloads are the scale times the float ones
        scale = report["quantization"]["populations"]["h"]["scale"]
        a, b = fl.sum(axis=1).reshape(-1), fx.sum(axis=1).reshape(-1) / scale
    else:
        a, b = fl.sum(axis=1).reshape(-1), fx.sum(axis=1).reshape(-1).astype(float)
    assert a.std() > 0, "the float model must be active for the check to mean anything"
    corr = float(np.corrcoef(a, b)[0, 1])
    assert corr >= min_corr, corr
    return report


def test_atrlif_quantizes_and_tracks_its_float_model():
    rng = np.random.default_rng(1)
    pop = ATRLIF(
        (10,),
        delta_i=rng.uniform(0.1, 0.6, 10),
        delta_v=0.2,
        delta_theta=0.1,
        delta_r=0.3,
        theta_0=1.0,
        theta_step=0.5,
        bias=0.02,
    )
    report = _tracks(_network(pop, rng), rng, 0.95)
    assert report["quantization"]["populations"]["h"]["parameter_groups"] > 1


def test_sigma_delta_quantizes_and_tracks_its_float_model():
    rng = np.random.default_rng(2)
    pop = SigmaDelta((8,), vth=0.2, bias=rng.normal(0, 0.2, 8), act_mode=1)
    _tracks(_network(pop, rng), rng, 0.95)


def test_graded_layers_feed_the_next_with_their_scale():
    """A sigma-delta layer's payloads are its scale times the float ones: the next layer's
    weights are divided by that scale, so the deployed chain still tracks the float one."""
    rng = np.random.default_rng(3)
    g = Graph(
        {
            "in": Input((10,)),
            "s": SigmaDelta((8,), vth=0.1, act_mode=1),
            "h": LIF((6,), tau_mem=0.01, v_th=1.0),
        },
        {
            "p": Dense("in", "s", weight=rng.normal(0.4, 0.4, (8, 10))),
            "q": Dense("s", "h", weight=rng.normal(0.5, 0.5, (6, 8))),
        },
    )
    _tracks(g, rng, 0.9)


def test_rf_quantizes_and_tracks_its_float_model():
    rng = np.random.default_rng(4)
    pop = RF((8,), period=rng.choice([6.0, 9.0, 14.0], 8), alpha=0.05, vth=0.8)
    report = _tracks(_network(pop, rng), rng, 0.9)
    assert report["quantization"]["populations"]["h"]["parameter_groups"] == 3


def test_rf_imaginary_input_keeps_its_port_and_tracks_the_float_model():
    """A projection into RF's "imag" port quantizes with the real one's scale (both are shifted
    by state_exp into the same state) and keeps its port through every pass."""
    rng = np.random.default_rng(6)
    pop = RF((8,), period=rng.choice([6.0, 9.0, 14.0], 8), alpha=0.05, vth=0.8)
    imag = Dense("in", "h", weight=rng.normal(0.4, 0.4, (8, 12)), port="imag")
    graph = _network(pop, rng).with_node("q", imag)
    _tracks(graph, rng, 0.9)
    program, _ = compile_model(graph, HW)
    assert {p.port for p in program.projections.values()} == {None, "imag"}


def test_graded_models_need_a_target_with_graded_spikes():
    g = Graph(
        {"in": Input((4,)), "s": SigmaDelta((3,), vth=0.1)},
        {"p": Dense("in", "s", weight=np.ones((3, 4)))},
    )
    with pytest.raises(
        PassError,
        match=r"population 's': message_bits = 24 is outside \[0, 0\] "
        r"\(synapse.max_message_bits\)",
    ):
        compile_model(g, load_hw("loihi1"))


def test_models_without_a_nir_form_fail_export_in_one_line():
    g = Graph(
        {"in": Input((4,)), "s": SigmaDelta((3,), vth=0.1)},
        {"p": Dense("in", "s", weight=np.ones((3, 4)))},
    )
    with pytest.raises(
        ExportError, match=r"population 's': a SigmaDelta \(sigma_delta neuron\) has no NIR form"
    ):
        graph_to_tree(g)


def test_one_threshold_per_population_is_required_where_it_sets_the_scale():
    g = Graph(
        {"in": Input((4,)), "s": SigmaDelta((3,), vth=[0.1, 0.2, 0.1])},
        {"p": Dense("in", "s", weight=np.ones((3, 4)))},
    )
    with pytest.raises(QuantizationError, match=r"population 's': vth varies per neuron"):
        _quantize(g)


def test_compile_options_record_decay_levels_only_when_given():
    assert "decay_levels" not in CompileOptions().to_json()
    assert CompileOptions(decay_levels=3).to_json()["decay_levels"] == 3
