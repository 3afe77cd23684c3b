"""NIR import: every supported node type, checked against NIR's equations stepped by hand.

snnc's projections add one step each (Lava's timing), the references propagate within a step, so
snnc's step t + (projections on the path) is the reference's step t."""

import math

import nir
import numpy as np
import pytest

from compiler.nir.flatten import SUPPORTED
from ir import LIF, Conv2d, Dense, Sparse
from tests.nir.helpers import (
    conv2d_loops,
    euler_lif,
    imported,
    inp,
    late,
    out,
    run_float,
    shifted,
    spikes,
    write_nir,
)

DT = 1e-3
RNG_SEED = 7


@pytest.fixture
def rng():
    return np.random.default_rng(RNG_SEED)


def _lif_nodes(rng, n_in=5, n=4, v_reset=0.0):
    w = rng.normal(0.3, 0.8, (n, n_in))
    b = rng.normal(0, 0.05, n)
    tau = rng.uniform(3e-3, 2e-2, n)
    lif = nir.LIF(tau=tau, r=tau / DT * rng.uniform(1.0, 2.0, n), v_leak=rng.normal(0, 0.02, n),
                  v_threshold=np.full(n, 0.6) + v_reset, v_reset=np.full(n, v_reset))
    return w, b, lif


@pytest.mark.parametrize("method", ["euler", "exp"])
@pytest.mark.parametrize("v_reset", [0.0, -0.3])
def test_lif_affine_every_parameter(tmp_path, rng, method, v_reset):
    w, b, lif = _lif_nodes(rng, v_reset=v_reset)
    path = write_nir(
        tmp_path / "m.nir",
        {"x": inp(5), "fc": nir.Affine(w, b), "lif": lif, "y": out(4)},
        [("x", "fc"), ("fc", "lif"), ("lif", "y")],
        metadata={"dt": DT},
    )
    graph, warnings = imported(path, discretization=method)
    assert warnings == [] and graph.dt == DT and graph.outputs == ("lif",)
    assert set(graph.projections) == {"fc"} and isinstance(graph.projections["fc"], Dense)
    x = spikes(rng, 3, 60, 5)
    drive = late(x @ w.T, 1) + b  # the bias acts from the first step, the input one step late
    ref_s, ref_v = euler_lif(
        drive, lif.tau, lif.r, lif.v_leak, lif.v_threshold, lif.v_reset, DT, method
    )
    trace = run_float(graph, x, 61, ("spikes", "v"))
    assert ref_s.sum() > 10
    np.testing.assert_array_equal(trace.get("lif"), ref_s)
    # snnc keeps v relative to v_reset (it resets to 0).
    np.testing.assert_allclose(trace.get("lif", "v") + v_reset, ref_v, atol=1e-12)


def test_cubalif_and_w_in(tmp_path, rng):
    n_in, n = 6, 3
    w = rng.normal(0, 1.0, (n, n_in))
    node = nir.CubaLIF(
        tau_syn=np.array([2e-3, 4e-3, 8e-3]),
        tau_mem=np.array([5e-3, 1e-2, 2e-2]),
        r=np.array([4.0, 9.0, 18.0]),
        v_leak=np.zeros(n),
        v_threshold=np.full(n, 0.5),
        w_in=np.array([1.5, 3.0, 6.0]),
    )
    path = write_nir(
        tmp_path / "c.nir",
        {"x": inp(n_in), "fc": nir.Linear(w), "c": node, "y": out(n)},
        [("x", "fc"), ("fc", "c"), ("c", "y")],
        metadata={"dt": DT},
    )
    graph, _ = imported(path)
    x = spikes(rng, 2, 80, n_in)
    drive = x @ w.T
    cur, v = np.zeros((2, n)), np.zeros((2, n))
    ref = np.zeros((2, 80, n), np.uint8)
    for t in range(80):  # forward Euler, current first (the order snnTorch and snnc use)
        cur = cur + DT / node.tau_syn * (-cur + node.w_in * drive[:, t])
        v = v + DT / node.tau_mem * (node.v_leak - v + node.r * cur)
        ref[:, t] = v > node.v_threshold
        v = np.where(ref[:, t], 0.0, v)
    assert ref.sum() > 10
    np.testing.assert_array_equal(shifted(run_float(graph, x, 81).get("c"), 1, 80), ref)
    pop = graph.populations["c"]
    alpha_s, _ = pop.decays(DT)
    np.testing.assert_allclose(alpha_s, 1 - DT / node.tau_syn)


def test_if_with_bias_and_reset(tmp_path, rng):
    w, b = rng.normal(0, 0.5, (3, 4)), np.array([0.1, -0.05, 0.2])
    node = nir.IF(
        r=np.array([1.0, 2.0, 0.5]),
        v_threshold=np.array([0.5, 0.5, 0.2]),
        v_reset=np.array([0.1, 0.0, -0.1]),
    )
    path = write_nir(
        tmp_path / "i.nir",
        {"x": inp(4), "fc": nir.Affine(w, b), "n": node, "y": out(3)},
        [("x", "fc"), ("fc", "n"), ("n", "y")],
    )
    graph, warnings = imported(path)
    assert warnings == []  # IF has no time constant: dt does not matter, nothing to warn about
    assert graph.metadata["import"]["dt_source"] == "unused"
    x = spikes(rng, 2, 50, 4)
    drive = late(x @ w.T, 1) + b
    v = np.broadcast_to(node.v_reset, (2, 3)).copy()
    ref = np.zeros((2, 51, 3), np.uint8)
    for t in range(51):
        v = v + node.r * drive[:, t]
        ref[:, t] = v > node.v_threshold
        v = np.where(ref[:, t], node.v_reset, v)
    assert ref.sum() > 5
    np.testing.assert_array_equal(run_float(graph, x, 51).get("n"), ref)
    assert float(graph.populations["n"].tau_mem) == math.inf


def test_threshold_is_a_memoryless_neuron(tmp_path, rng):
    w, b = rng.normal(0, 1.0, (3, 4)), np.array([0.2, -0.3, 0.0])
    thr = np.array([0.5, 0.0, 0.8])
    path = write_nir(
        tmp_path / "t.nir",
        {"x": inp(4), "fc": nir.Affine(w, b), "th": nir.Threshold(thr), "y": out(3)},
        [("x", "fc"), ("fc", "th"), ("th", "y")],
    )
    graph, _ = imported(path)
    x = spikes(rng, 2, 30, 4)
    ref = (late(x @ w.T, 1) + b > thr).astype(np.uint8)
    assert ref.sum() > 5
    np.testing.assert_array_equal(run_float(graph, x, 31).get("th"), ref)
    pop = graph.populations["th"]
    assert float(pop.tau_mem) == 0.0 and float(pop.tau_syn) == 0.0


@pytest.mark.parametrize("kind", ["LI", "CubaLI", "I"])
def test_non_spiking_readouts_keep_their_voltage(tmp_path, rng, kind):
    n_in, n = 5, 3
    w = rng.normal(0, 1.0, (n, n_in))
    nodes = {
        "LI": nir.LI(
            tau=np.array([4e-3, 8e-3, 1.6e-2]),
            r=np.array([4.0, 8.0, 16.0]),
            v_leak=np.array([0.0, 0.1, -0.1]),
        ),
        "CubaLI": nir.CubaLI(
            tau_syn=np.full(n, 3e-3),
            tau_mem=np.full(n, 9e-3),
            r=np.full(n, 9.0),
            v_leak=np.zeros(n),
            w_in=np.full(n, 3.0),
        ),
        "I": nir.I(r=np.array([1.0, 0.5, 2.0])),
    }
    path = write_nir(
        tmp_path / "r.nir",
        {"x": inp(n_in), "fc": nir.Linear(w), "ro": nodes[kind], "y": out(n)},
        [("x", "fc"), ("fc", "ro"), ("ro", "y")],
        metadata={"dt": DT},
    )
    graph, _ = imported(path)
    assert np.all(np.isinf(graph.populations["ro"].v_th))
    x = spikes(rng, 2, 40, n_in)
    drive = late(x @ w.T, 1)
    node = nodes[kind]
    if kind == "LI":
        _, ref_v = euler_lif(drive, node.tau, node.r, node.v_leak, math.inf, 0.0, DT, spiking=False)
    elif kind == "I":
        ref_v = np.cumsum(node.r * drive, axis=1)
    else:
        cur, v, ref_v = np.zeros((2, n)), np.zeros((2, n)), np.zeros((2, 41, n))
        for t in range(41):
            cur = cur + DT / node.tau_syn * (-cur + node.w_in * drive[:, t])
            v = v + DT / node.tau_mem * (node.v_leak - v + node.r * cur)
            ref_v[:, t] = v
    trace = run_float(graph, x, 41, ("spikes", "v"))
    assert trace.get("ro").sum() == 0
    np.testing.assert_allclose(trace.get("ro", "v"), ref_v, atol=1e-12)


def test_leaky_integrator_into_threshold_spikes_without_reset(tmp_path, rng):
    """LI -> Threshold: the LI becomes snnc's current u, the Threshold a memoryless v; u never
    resets."""
    w = rng.normal(0, 1.0, (2, 4))
    li = nir.LI(tau=np.full(2, 5e-3), r=np.full(2, 5.0), v_leak=np.zeros(2))
    path = write_nir(tmp_path / "lt.nir", {"x": inp(4), "fc": nir.Linear(w), "li": li,
                                           "th": nir.Threshold(np.array([0.4, 0.6])), "y": out(2)},
                     [("x", "fc"), ("fc", "li"), ("li", "th"), ("th", "y")], metadata={"dt": DT})
    graph, _ = imported(path)
    assert set(graph.populations) == {"x", "th"}
    x = spikes(rng, 2, 60, 4)
    _, v_li = euler_lif(late(x @ w.T, 1), li.tau, li.r, li.v_leak, math.inf, 0.0, DT, spiking=False)
    ref = (v_li > np.array([0.4, 0.6])).astype(np.uint8)
    assert ref.sum() > 5
    np.testing.assert_array_equal(run_float(graph, x, 61).get("th"), ref)


def test_synapse_stage_merges_into_the_neuron(tmp_path, rng):
    """LI -> Scale -> IF is one snnc LIF whose current is the LI."""
    w = rng.normal(0, 1.0, (3, 4))
    li = nir.LI(tau=np.full(3, 4e-3), r=np.full(3, 4.0), v_leak=np.zeros(3))
    scale = np.array([0.5, 1.0, 2.0])
    node = nir.IF(r=np.ones(3), v_threshold=np.full(3, 0.8))
    path = write_nir(
        tmp_path / "s.nir",
        {
            "x": inp(4),
            "fc": nir.Linear(w),
            "syn": li,
            "sc": nir.Scale(scale),
            "n": node,
            "y": out(3),
        },
        [("x", "fc"), ("fc", "syn"), ("syn", "sc"), ("sc", "n"), ("n", "y")],
        metadata={"dt": DT},
    )
    graph, _ = imported(path)
    assert set(graph.populations) == {"x", "n"} and list(graph.projections) == ["fc"]
    x = spikes(rng, 2, 60, 4)
    _, v_li = euler_lif(late(x @ w.T, 1), li.tau, li.r, li.v_leak, math.inf, 0.0, DT, spiking=False)
    v, ref = np.zeros((2, 3)), np.zeros((2, 61, 3), np.uint8)
    for t in range(61):
        v = v + scale * v_li[:, t]
        ref[:, t] = v > 0.8
        v = np.where(ref[:, t], 0.0, v)
    assert ref.sum() > 5
    np.testing.assert_array_equal(run_float(graph, x, 61).get("n"), ref)


def test_scale_delay_flatten(tmp_path, rng):
    """Input(2,3) -> Delay(2 steps) -> Scale -> IF is one-to-one with delay; Flatten feeds an
    Affine."""
    delay = np.full((2, 3), 2 * DT)
    scale = rng.uniform(0.5, 1.5, (2, 3))
    w = rng.normal(0, 1.0, (2, 6))
    nodes = {"x": inp([2, 3]), "d": nir.Delay(delay), "s": nir.Scale(scale),
             "a": nir.IF(r=np.ones((2, 3)), v_threshold=np.full((2, 3), 1.2)),
             "f": nir.Flatten(input_type={"input": np.array([2, 3])}, start_dim=0, end_dim=-1),
             "fc": nir.Linear(w), "b": nir.IF(r=np.ones(2), v_threshold=np.full(2, 0.7)),
             "ya": out([2, 3]), "yb": out(2)}
    edges = [
        ("x", "d"),
        ("d", "s"),
        ("s", "a"),
        ("x", "f"),
        ("f", "fc"),
        ("fc", "b"),
        ("a", "ya"),
        ("b", "yb"),
    ]
    graph, _ = imported(write_nir(tmp_path / "d.nir", nodes, edges, metadata={"dt": DT}))
    one = graph.projections["s"]
    assert isinstance(one, Sparse) and one.nnz == 6 and int(one.delay) == 2
    x = spikes(rng, 2, 40, 6)
    trace = run_float(graph, x, 43)
    va, ref_a = np.zeros((2, 6)), np.zeros((2, 40, 6), np.uint8)
    vb, ref_b = np.zeros((2, 2)), np.zeros((2, 40, 2), np.uint8)
    for t in range(40):
        va = va + scale.reshape(-1) * x[:, t]
        ref_a[:, t] = va > 1.2
        va = np.where(ref_a[:, t], 0.0, va)
        vb = vb + x[:, t] @ w.T
        ref_b[:, t] = vb > 0.7
        vb = np.where(ref_b[:, t], 0.0, vb)
    np.testing.assert_array_equal(shifted(trace.get("a").reshape(2, 43, 6), 3, 40), ref_a)
    np.testing.assert_array_equal(shifted(trace.get("b"), 1, 40), ref_b)


def test_convolutions_and_pooling(tmp_path, rng):
    w = rng.normal(0, 0.8, (3, 2, 3, 3))
    cb = np.array([0.05, -0.05, 0.1])
    nodes = {
        "x": inp([2, 6, 6]),
        "conv": nir.Conv2d(
            input_shape=(6, 6), weight=w, stride=1, padding=1, dilation=1, groups=1, bias=cb
        ),
        "c": nir.IF(r=np.ones((3, 6, 6)), v_threshold=np.full((3, 6, 6), 1.0)),
        "sum": nir.SumPool2d(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
        ),
        "p": nir.IF(r=np.ones((3, 3, 3)), v_threshold=np.full((3, 3, 3), 1.5)),
        "avg": nir.AvgPool2d(
            kernel_size=np.array([3, 3]), stride=np.array([3, 3]), padding=np.array([0, 0])
        ),
        "q": nir.IF(r=np.ones((3, 1, 1)), v_threshold=np.full((3, 1, 1), 0.3)),
        "yp": out([3, 3, 3]),
        "yq": out([3, 1, 1]),
    }
    edges = [("x", "conv"), ("conv", "c"), ("c", "sum"), ("sum", "p"), ("p", "avg"), ("avg", "q"),
             ("p", "yp"), ("q", "yq")]
    graph, _ = imported(write_nir(tmp_path / "cv.nir", nodes, edges))
    assert all(isinstance(graph.projections[k], Conv2d) for k in ("conv", "sum", "avg"))
    assert graph.populations["c"].shape == (3, 6, 6) and graph.projections["sum"].groups == 3
    x = spikes(rng, 2, 30, 72, p=0.4)

    def if_layer(drive, th):
        v, s = np.zeros(drive.shape[:1] + drive.shape[2:]), np.zeros(drive.shape, np.uint8)
        for t in range(drive.shape[1]):
            v = v + drive[:, t]
            s[:, t] = v > th
            v = np.where(s[:, t], 0.0, v)
        return s

    # Each layer sees the previous one a step late (snnc's timing); the conv bias acts from step 1.
    steps = 33
    xs = np.pad(late(x, 1), ((0, 0), (0, steps - 31), (0, 0))).reshape(2, steps, 2, 6, 6)
    c = if_layer(
        np.stack(
            [conv2d_loops(xs[:, t], w, (1, 1), (1, 1)) + cb[:, None, None] for t in range(steps)], 1
        ),
        1.0,
    )
    c_in = late(c.reshape(2, steps, -1), 1)[:, :steps].reshape(c.shape)
    p = if_layer(np.stack([conv2d_loops(c_in[:, t], np.ones((3, 1, 2, 2)), (2, 2), (0, 0), groups=3)
                           for t in range(steps)], 1), 1.5)
    p_in = late(p.reshape(2, steps, -1), 1)[:, :steps].reshape(p.shape)
    q = if_layer(
        np.stack(
            [
                conv2d_loops(p_in[:, t], np.full((3, 1, 3, 3), 1 / 9), (3, 3), (0, 0), groups=3)
                for t in range(steps)
            ],
            1,
        ),
        0.3,
    )
    trace = run_float(graph, x, steps)
    assert p.sum() > 5 and q.sum() > 0
    np.testing.assert_array_equal(trace.get("p"), p.reshape(2, steps, -1))
    np.testing.assert_array_equal(trace.get("q"), q.reshape(2, steps, -1))


def test_conv1d_becomes_a_height_one_conv2d(tmp_path, rng):
    w = rng.normal(0, 1.0, (2, 3, 3))
    nodes = {
        "x": inp([3, 8]),
        "c1": nir.Conv1d(
            input_shape=8, weight=w, stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(2)
        ),
        "n": nir.IF(r=np.ones((2, 8)), v_threshold=np.full((2, 8), 0.9)),
        "y": out([2, 8]),
    }
    graph, _ = imported(
        write_nir(tmp_path / "c1.nir", nodes, [("x", "c1"), ("c1", "n"), ("n", "y")])
    )
    assert graph.populations["x"].shape == (3, 1, 8) and graph.populations["n"].shape == (2, 1, 8)
    x = spikes(rng, 2, 20, 24)
    v, ref = np.zeros((2, 2, 1, 8)), np.zeros((2, 20, 2, 1, 8), np.uint8)
    for t in range(20):
        v = v + conv2d_loops(x[:, t].reshape(2, 3, 1, 8), w[:, :, None, :], (1, 1), (0, 1))
        ref[:, t] = v > 0.9
        v = np.where(ref[:, t], 0.0, v)
    np.testing.assert_array_equal(
        shifted(run_float(graph, x, 21).get("n"), 1, 20), ref.reshape(2, 20, -1)
    )


def test_nested_graph_with_recurrence(tmp_path, rng):
    """snnTorch's RLeaky shape: a sub-graph {input -> lif -> w_rec -> lif -> output}."""
    n = 4
    w_in, w_rec = rng.normal(0, 1.0, (n, 3)), rng.normal(0, 0.5, (n, n))
    lif = nir.LIF(
        tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.full(n, 0.8)
    )
    sub = nir.NIRGraph(
        nodes={"input": inp(n), "lif": lif, "w_rec": nir.Linear(w_rec), "output": out(n)},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False,
    )
    path = write_nir(
        tmp_path / "n.nir",
        {"x": inp(3), "fc": nir.Linear(w_in), "rnn": sub, "y": out(n)},
        [("x", "fc"), ("fc", "rnn"), ("rnn", "y")],
        metadata={"dt": 1e-4},
    )
    graph, _ = imported(path)
    assert set(graph.populations) == {"x", "rnn.lif"} and set(graph.projections) == {
        "fc",
        "rnn.w_rec",
    }
    x = spikes(rng, 2, 50, 3)
    v, s = np.zeros((2, n)), np.zeros((2, n))
    ref = np.zeros((2, 50, n), np.uint8)
    beta = 1 - 1e-4 / 1e-3
    for t in range(50):  # the recurrent spikes are last step's, as in snnTorch and snnc
        v = beta * v + (x[:, t] @ w_in.T + s @ w_rec.T)
        s = (v > 0.8).astype(float)
        ref[:, t] = s
        v = np.where(s > 0, 0.0, v)
    assert ref.sum() > 5
    np.testing.assert_array_equal(shifted(run_float(graph, x, 51).get("rnn.lif"), 1, 50), ref)


def test_affine_bias_into_a_synaptic_current_uses_its_steady_state(tmp_path):
    b = np.array([0.3, -0.2])
    node = nir.CubaLIF(tau_syn=np.full(2, 2e-3), tau_mem=np.full(2, 1e-2), r=np.full(2, 10.0),
                       v_leak=np.zeros(2), v_threshold=np.ones(2), w_in=np.full(2, 2.0))
    path = write_nir(
        tmp_path / "b.nir",
        {"x": inp(2), "fc": nir.Affine(np.eye(2) * 0.5, b), "c": node, "y": out(2)},
        [("x", "fc"), ("fc", "c"), ("c", "y")],
        metadata={"dt": DT},
    )
    graph, warnings = imported(path)
    assert len(warnings) == 1 and "steady state" in warnings[0] and "'c'" in warnings[0]
    # u gets g*b per step with g = k_mem r k_syn w_in;
    # v gets the steady state g*b / k_syn = k_mem r w_in b.
    np.testing.assert_allclose(graph.populations["c"].bias, (DT / 1e-2) * 10.0 * 2.0 * b)


def test_dt_sources(tmp_path, rng):
    w, b, lif = _lif_nodes(rng)
    nodes = {"x": inp(5), "fc": nir.Affine(w, b), "lif": lif, "y": out(4)}
    edges = [("x", "fc"), ("fc", "lif"), ("lif", "y")]
    plain = write_nir(tmp_path / "plain.nir", nodes, edges)
    graph, warnings = imported(plain)
    assert (
        graph.dt == 1e-4
        and len(warnings) == 1
        and "assuming dt = 0.0001" in warnings[0]
        and "--dt" in warnings[0]
    )
    graph, warnings = imported(plain, dt=2e-4)
    assert (
        graph.dt == 2e-4 and warnings == [] and graph.metadata["import"]["dt_source"] == "argument"
    )
    tagged = write_nir(tmp_path / "tagged.nir", nodes, edges, metadata={"dt": 5e-4})
    graph, warnings = imported(tagged)
    assert graph.dt == 5e-4 and warnings == [] and graph.metadata["import"]["dt_source"] == "file"
    graph, warnings = imported(tagged, dt=1e-4)
    assert graph.dt == 1e-4 and "overrides the file's dt" in warnings[0]


def test_supported_list_is_the_issue_list():
    wanted = {
        "Input",
        "Output",
        "Affine",
        "Linear",
        "Scale",
        "Conv1d",
        "Conv2d",
        "Flatten",
        "SumPool2d",
        "AvgPool2d",
        "IF",
        "LIF",
        "CubaLIF",
        "LI",
        "CubaLI",
        "Threshold",
        "Delay",
        "NIRGraph",
    }
    assert wanted <= set(SUPPORTED)


def test_lif_population_parameters_are_compact(tmp_path, rng):
    """Per-neuron NIR arrays that are all equal become one value (Lava's LIF has scalar du/dv)."""
    n = 5
    lif = nir.LIF(
        tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.full(n, 1.0)
    )
    path = write_nir(
        tmp_path / "c.nir",
        {"x": inp(3), "fc": nir.Linear(rng.normal(size=(n, 3))), "l": lif, "y": out(n)},
        [("x", "fc"), ("fc", "l"), ("l", "y")],
        metadata={"dt": 1e-4},
    )
    pop = imported(path)[0].populations["l"]
    assert isinstance(pop, LIF) and pop.tau_mem.ndim == 0 and pop.v_th.ndim == 0
    assert np.exp(-1e-4 / float(pop.tau_mem)) == pytest.approx(0.9, rel=1e-12)
