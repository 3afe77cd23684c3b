"""trainers.tem on deployed neurons: spike trains as linear constraints (checked against the cpu
simulator, the reference semantics) and weight identification of a target from its spikes."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.base import Probe
from backends.cpu.simulator import run, run_float
from ir import LIF, QLIF, Dense, Graph, Input, QDense, QSparse
from ir.errors import InputError
from ir.fixed import effective_weights
from trainers.tem.discrete import (
    input_spikes_by_population,
    linear_neuron,
    membrane_rows,
    spike_inequalities,
    synaptic_drive,
)
from trainers.tem.identify import identify_weights


def _states(graph, x):
    tr = (run if graph.domain == "fixed" else run_float)(
        graph, x, probes=[Probe("out", ("spikes", "u", "v"))]
    )
    return tr.get("out").astype(bool), tr.get("out", "v")


@st.composite
def fixed_programs(draw):
    """Small QLIF programs whose states stay far from Lava's 24-bit limits."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in, n_out = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    du = draw(st.sampled_from([4095, 4095, 0, int(rng.integers(0, 4095))]))
    dv = draw(st.sampled_from([0, 0, int(rng.integers(1, 4096))]))
    weight_exp = draw(st.sampled_from([0, 0, 1, -1, -3]))
    bits = draw(st.sampled_from([8, 6]))
    delay = draw(st.sampled_from(["none", "scalar", "per-synapse"]))
    interval = draw(st.sampled_from([0, 0, 7]))
    delays = {
        "none": 0,
        "scalar": int(rng.integers(0, 3)),
        "per-synapse": rng.integers(0, 3, (n_out, n_in)),
    }[delay]
    w = rng.integers(-120, 200, (n_out, n_in))
    pop = QLIF(
        (n_out,),
        du=du,
        dv=dv,
        vth=int(rng.integers(1, 400)),
        bias_mant=rng.integers(-20, 40, n_out),
        bias_exp=int(rng.integers(0, 4)),
        reset_interval=interval,
        reset_offset=int(rng.integers(0, interval)) if interval else 0,
    )
    proj = QDense(
        "in",
        "out",
        weight=w,
        weight_exp=weight_exp,
        num_weight_bits=bits,
        sign_mode="mixed",
        delay=delays,
    )
    x = (rng.random((3, 24, n_in)) < 0.4).astype(np.int64)
    return Graph(populations={"in": Input((n_in,)), "out": pop}, projections={"p": proj}), x


@settings(max_examples=40)
@given(fixed_programs())
def test_membrane_rows_match_the_simulator(case):
    graph, x = case
    spikes, v = _states(graph, x)
    pop = graph.populations["out"]
    model = linear_neuron(pop, graph.dt)
    sources = input_spikes_by_population(graph, x)
    for j in range(pop.size):
        drive = synaptic_drive(graph, "out", j, sources)
        rows = membrane_rows(drive.x, spikes[:, :, j], model, drive.error)
        lin = rows.coef @ drive.compiled + rows.bias_coef * model.bias[j]
        quiet = ~spikes[:, :, j]
        if model.exact and not drive.error.any():
            # exact: the linear model is the neuron (recorded v is the pre-spike v where it did
            # not fire)
            np.testing.assert_array_equal(lin[quiet], v[:, :, j][quiet])
        assert np.all(np.abs(lin[quiet] - v[:, :, j][quiet]) <= rows.bound[quiet] + 1e-6)
        fired = spikes[:, :, j]
        assert np.all(lin[fired] + rows.bound[fired] >= model.threshold[j] + 1 - 1e-6)
        # the program's own weights satisfy every inequality built from its own spikes
        g, h = spike_inequalities(
            rows, spikes[:, :, j], float(model.threshold[j]), float(model.bias[j]), True
        )
        assert np.all(g @ drive.compiled <= h + 1e-6)


def test_float_lif_rows_are_exact():
    rng = np.random.default_rng(0)
    graph = Graph(
        populations={
            "in": Input((5,)),
            "out": LIF((3,), tau_syn=2e-3, tau_mem=5e-3, v_th=0.8, bias=0.01),
        },
        projections={"p": Dense("in", "out", weight=rng.normal(0.3, 0.4, (3, 5)))},
    )
    x = (rng.random((4, 30, 5)) < 0.3).astype(np.int64)
    spikes, v = _states(graph, x)
    model = linear_neuron(graph.populations["out"], graph.dt)
    assert model.exact and model.alpha_syn == pytest.approx(math.exp(-0.5))
    for j in range(3):
        drive = synaptic_drive(graph, "out", j, input_spikes_by_population(graph, x))
        rows = membrane_rows(drive.x, spikes[:, :, j], model)
        lin = rows.coef @ drive.compiled + rows.bias_coef * 0.01
        quiet = ~spikes[:, :, j]
        np.testing.assert_allclose(lin[quiet], v[:, :, j][quiet], atol=1e-12)
        assert np.all(lin[spikes[:, :, j]] > 0.8)


N_IN, N_OUT = 16, 6


def _program(weights, vth=300):
    """A small deployed program: integer IF neurons (du = 4095, dv = 0), 8-bit mixed weights."""
    return Graph(
        populations={
            "in": Input((N_IN,)),
            "out": QLIF((N_OUT,), du=4095, dv=0, vth=vth, bias_mant=2, bias_exp=6),
        },
        projections={
            "p": QDense(
                "in", "out", weight=weights, weight_exp=0, num_weight_bits=8, sign_mode="mixed"
            )
        },
    )


@pytest.fixture(scope="module")
def corrupted_run():
    rng = np.random.default_rng(3)
    weights = rng.integers(-40, 80, (N_OUT, N_IN)) * 2
    target = weights.copy()
    target[2, 5] += 20  # the target's copy of the program has one different synapse
    x = (rng.random((32, 64, N_IN)) < 0.3).astype(np.int64)
    trace = run(_program(target), x, probes=[Probe("out", ("spikes", "u", "v"))])
    reference = run(_program(weights), x)
    assert not np.array_equal(trace.get("out"), reference.get("out"))  # the change is visible
    return weights, target, x, trace


def test_identify_recovers_a_changed_synapse_from_spike_times_alone(corrupted_run):
    weights, target, x, trace = corrupted_run
    result = identify_weights(_program(weights), "out", x, {"out": trace.get("out")})
    assert result.exact
    assert [result.status_of(j) for j in range(N_OUT)] == [
        "consistent",
        "consistent",
        "differs",
        "consistent",
        "consistent",
        "consistent",
    ]
    (syn,) = result.differing
    assert (syn.projection, syn.post, syn.pre, syn.compiled) == ("p", 2, 5, weights[2, 5])
    assert syn.lower <= target[2, 5] <= syn.upper
    assert syn.alone == (target[2, 5], target[2, 5])  # pinned exactly as the one change
    assert [(s.post, s.pre) for s in result.single_change_candidates] == [(2, 5)]
    # bounding every synapse of that neuron: each interval holds the target's true weight
    full = identify_weights(
        _program(weights), "out", x, {"out": trace.get("out")}, neurons=[2], bound_all=True
    )
    assert len(full.neurons[0].synapses) == N_IN
    assert all(s.lower <= target[2, s.pre] <= s.upper for s in full.neurons[0].synapses)
    ident = result.weights(_program(weights))["p"]
    assert ident[2, 5] == syn.estimate and np.array_equal(
        np.delete(ident[2], 5), np.delete(weights[2], 5)
    )


def test_identify_with_recorded_states_pins_every_weight(corrupted_run):
    weights, target, x, trace = corrupted_run
    result = identify_weights(
        _program(weights), "out", x, trace.arrays(), neurons=[2], bound_all=True
    )
    bounded = result.neurons[0].synapses
    assert all(s.pinned and s.lower == target[2, s.pre] for s in bounded)
    assert [(s.post, s.pre) for s in result.differing] == [(2, 5)]


def test_identify_same_program_finds_nothing(corrupted_run):
    weights, _, x, _ = corrupted_run
    trace = run(_program(weights), x)
    result = identify_weights(_program(weights), "out", x, {"out": trace.get("out")})
    assert result.differing == [] and {n.status for n in result.neurons} == {"consistent"}


def test_identify_other_differences_are_not_blamed_on_one_synapse(corrupted_run):
    weights, _, x, _ = corrupted_run
    trace = run(_program(weights, vth=340), x)  # the target's threshold differs, not a weight
    result = identify_weights(
        _program(weights), "out", x, {"out": trace.get("out")}, neurons=[0, 1]
    )
    assert all(s.alone is None for s in result.differing)
    assert {n.status for n in result.neurons} <= {"differs", "infeasible", "ambiguous"}


def test_identify_sparse_hidden_layer_uses_recorded_source_spikes():
    rng = np.random.default_rng(7)
    w1 = rng.integers(-80, 120, (5, 8)) * 2
    rows, cols = np.nonzero(rng.random((4, 5)) < 0.7)
    vals = rng.integers(-30, 100, rows.size) * 2

    def program(values):
        return Graph(
            populations={
                "in": Input((8,)),
                "h": QLIF((5,), du=4095, dv=0, vth=600),
                "out": QLIF((4,), du=4095, dv=0, vth=400),
            },
            projections={
                "p1": QDense("in", "h", weight=w1),
                "p2": QSparse("h", "out", rows=rows, cols=cols, values=values),
            },
        )

    changed = vals.copy()
    changed[3] += 40
    x = (rng.random((48, 80, 8)) < 0.4).astype(np.int64)
    trace = run(program(changed), x, probes=[Probe("h"), Probe("out")])
    rec = {"h": trace.get("h"), "out": trace.get("out")}
    result = identify_weights(program(vals), "out", x, rec)
    assert [(s.projection, s.post, s.pre) for s in result.differing] == [
        ("p2", int(rows[3]), int(cols[3]))
    ]
    (syn,) = result.differing
    assert syn.lower <= changed[3] <= syn.upper and syn.alone[0] <= changed[3] <= syn.alone[1]
    with pytest.raises(InputError, match="spikes of its source 'h' were not given"):
        identify_weights(program(vals), "out", x, {"out": trace.get("out")})


def test_identify_errors_name_the_problem(corrupted_run):
    weights, _, x, trace = corrupted_run
    with pytest.raises(
        InputError, match="'nope' is not a neuron population of the program; have: out"
    ):
        identify_weights(_program(weights), "nope", x, {"out": trace.get("out")})
    with pytest.raises(InputError, match="has no spikes for 'out'"):
        identify_weights(_program(weights), "out", x, {})
    with pytest.raises(InputError, match="expected shape"):
        identify_weights(_program(weights), "out", x[:, :, :3], {"out": trace.get("out")})


def test_effective_weights_are_what_is_identified():
    # 6-bit mixed synapses hold multiples of 8: identification works on that grid.
    rng = np.random.default_rng(11)
    w = rng.integers(-100, 200, (2, 10))
    g = Graph(
        populations={"in": Input((10,)), "out": QLIF((2,), du=4095, dv=0, vth=200)},
        projections={"p": QDense("in", "out", weight=w, num_weight_bits=6)},
    )
    x = (rng.random((16, 40, 10)) < 0.4).astype(np.int64)
    spikes = run(g, x).get("out")
    result = identify_weights(g, "out", x, {"out": spikes}, bound_all=True)
    eff = effective_weights(w, 6, "mixed")
    for n in result.neurons:
        assert n.status == "consistent"
        for s in n.synapses:
            assert (
                s.lower % 8 == 0 and s.upper % 8 == 0 and s.lower <= eff[n.neuron, s.pre] <= s.upper
            )


def test_identify_rejects_malformed_recordings(corrupted_run):
    weights, _, x, trace = corrupted_run
    spikes = trace.get("out")
    bad = {
        "shape": (
            {"out": spikes[:, :10]},
            r"out spikes has shape \(32, 10, 6\), expected \(32, 64, 6\)",
        ),
        "states": ({"out": spikes, "out:v": trace.get("out", "v")[:, :, :2]}, "out:v has shape"),
        "nan": (
            {"out": spikes, "out:u": np.full(spikes.shape, np.nan)},
            "out:u must hold finite numbers",
        ),
        "unknown": ({"out": spikes, "ghost": spikes}, "'ghost' is not a population of the program"),
    }
    for recorded, message in bad.values():
        with pytest.raises(InputError, match=message):
            identify_weights(_program(weights), "out", x, recorded)


@pytest.mark.lava
def test_identify_a_lava_target_from_its_recorded_states():
    """A faulty copy of a program run through Lava (fixed_pt models) as the target: its recorded
    u pins the hidden layer's weights exactly, although du/dv make the spike constraints
    approximate."""
    from backends.hil.harness import all_probes, run_hil
    from backends.lava.compat import lava_available

    if not lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed")
    rng = np.random.default_rng(5)
    program = Graph(
        populations={
            "in": Input((12,)),
            "h": QLIF(
                (10,), du=2047, dv=512, vth=300, bias_mant=rng.integers(-20, 40, 10), bias_exp=3
            ),
        },
        projections={"fc1": QDense("in", "h", weight=2 * rng.integers(-60, 120, size=(10, 12)))},
    )
    w = program.projections["fc1"].weight.copy()
    w[7, 3] += 20
    faulty = program.with_node("fc1", program.projections["fc1"].replace(weight=w))
    x = (rng.random((2, 24, 12)) < 0.3).astype(np.int64)
    hil = run_hil(
        program,
        x,
        reference="cpu",
        target="lava",
        target_program=faulty,
        probes=all_probes(program),
    )
    assert not hil.comparison.agree
    result = identify_weights(program, "h", x, hil.target.arrays())
    assert not result.exact
    (syn,) = result.differing
    assert (syn.post, syn.pre, syn.lower, syn.upper) == (7, 3, w[7, 3], w[7, 3])
