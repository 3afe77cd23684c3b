"""The partition and place passes on hand-built fixed-point networks: limits, errors, objective,
determinism, calibration rates and the report."""

import numpy as np
import pytest

from compiler.passes.base import PassContext
from compiler.passes.partition import PartitionPass
from compiler.passes.place import PlacePass, snake_chips
from compiler.passes.split_exact import SplitExactPass, split_hazards
from compiler.pipeline import run_pipeline
from compiler.report import format_report, placement_report
from ir import (
    QLIF,
    CapacityError,
    Graph,
    Input,
    InputError,
    PassError,
    QDense,
    graph_to_bytes,
    load_hw,
    verify,
)
from ir.hardware import load_hw_dict
from ir.resources import account, first_violation
from tests.passes.nets import clustered, conv_net, mlp

TINY = load_hw("tiny")
LOIHI2 = load_hw("loihi2")


def compile_(graph, hw=TINY, calibration=None, **options):
    ctx = PassContext(hw=hw, calibration=calibration or {})
    out = run_pipeline(graph, [PartitionPass(**options), SplitExactPass(), PlacePass()], ctx)
    return out, {**placement_report(ctx.reports), "split_exact": ctx.reports["split-exact"]}


def config(base="tiny", chip=None, system=None, **core):
    data = load_hw(base).to_dict()
    for key, value in core.items():
        data["core"][key]["value"] = value
    for key, value in (chip or {}).items():
        data["chip"][key]["value"] = value
    for key, value in (system or {}).items():
        data["system"][key]["value"] = value
    return load_hw_dict(data, "test.yaml")


def test_mlp_on_tiny_cores_within_every_limit():
    out, report = compile_(mlp([12, 30, 20, 6], seed=1))
    acc = account(out, TINY)
    assert first_violation(acc.usage, TINY) is None
    assert report["cores_used"] == out.placement.n_cores >= report["cores_lower_bound"]
    for pop in ("h0", "h1", "h2"):
        cores = out.placement.neuron_core(pop, out.populations[pop].size)
        assert (cores >= 0).all()
    assert {
        "cores_used",
        "cores_lower_bound",
        "chips_used",
        "per_core",
        "traffic",
        "naive_sequential",
    } <= set(report)
    assert set(report["traffic"]) >= {"intra_core", "inter_core", "inter_chip"}
    assert set(report["naive_sequential"]) == {"cores_used", "traffic"}
    row = report["per_core"][0]
    assert row["neurons"]["limit"] == 16 and row["input_axons"]["limit"] == 48


def test_small_populations_share_a_core_when_the_config_allows():
    graph = mlp([4, 3, 3, 3], seed=2)
    out, _ = compile_(graph, config(max_populations=4))
    assert out.placement.n_cores == 1
    out, _ = compile_(graph, config(max_populations=1))
    assert out.placement.n_cores == 3


def test_fan_in_above_the_axon_limit_names_resource_need_limit_and_key():
    graph = mlp([60, 4], seed=3)
    with pytest.raises(
        PassError,
        match=r"pass partition: population 'h0' neuron \d+: needs 60 input axons, "
        r"the limit is 48 \(hw_configs/tiny.yaml: core.max_input_axons\)",
    ) as info:
        compile_(graph)
    cause = info.value.__cause__
    assert isinstance(cause, CapacityError)
    assert (cause.resource, cause.need, cause.limit) == ("input axons", 60, 48)


def test_synapse_memory_of_one_neuron_too_large():
    with pytest.raises(
        PassError,
        match=r"needs 384 synapse memory bits, the limit is 320 "
        r"\(test.yaml: core.synapse_memory_bits\)",
    ):
        compile_(mlp([6, 2], seed=3), config(synapse_memory_bits=320))


def test_more_cores_than_the_system_has():
    graph = mlp([4, 300], seed=4)  # 300 neurons, 16 per core: 19 cores; tiny has 4 x 4
    with pytest.raises(
        PassError,
        match=r"network: needs 19 cores, the limit is 16 \(hw_configs/tiny.yaml: "
        r"chip.cores_per_chip x system.max_chips\)",
    ):
        compile_(graph)


def test_output_axons_bound_blocks_of_a_recurrent_population():
    # A ring: h[i] feeds h[i+1..i+3]. Its own routes are unknown while h is being packed, so
    # the first packing (8-neuron cores) overflows 9 output axons and the pass repacks.
    from ir import QSparse

    n = 40
    rows = np.concatenate([(np.arange(n) + k) % n for k in (1, 2, 3)])
    cols = np.concatenate([np.arange(n)] * 3)
    graph = Graph(
        {"in": Input((4,)), "h": QLIF((n,), vth=50)},
        {
            "p": QDense("in", "h", weight=np.full((n, 4), 10)),
            "r": QSparse("h", "h", rows=rows, cols=cols, values=np.full(rows.size, 20)),
        },
    )
    hw = config(max_neurons=8, max_output_axons=9, chip={"cores_per_chip": 8})
    out, report = compile_(graph, hw)
    acc = account(out, hw)
    assert acc.usage["output_axons"].max() <= 9
    assert max(c["route_rounds"] for c in report["partition"]["candidates"]) >= 2


def test_all_to_all_recurrence_beyond_output_axons_cannot_fit():
    # k neurons per core and 40/k cores: every core needs k * 40/k >= 40 routes.
    graph = Graph(
        {"in": Input((4,)), "h": QLIF((40,), vth=50)},
        {
            "p": QDense("in", "h", weight=np.full((40, 4), 10)),
            "r": QDense("h", "h", weight=np.full((40, 40), 20)),
        },
    )
    hw = config(max_neurons=8, max_output_axons=20, max_input_axons=64, synapse_memory_bits=1 << 16)
    with pytest.raises(
        PassError, match=r"output axons.*the limit is 20 \(test.yaml: core.max_output_axons\)"
    ):
        compile_(graph, hw)


@pytest.mark.parametrize(
    "make",
    [
        lambda: conv_net(2, 6, 3, seed=6, skip=True),
        lambda: clustered(n_clusters=6, per_cluster=30, layers=2, seed=6),
    ],
)
def test_partition_is_deterministic(make):
    hw = config(
        max_neurons=40,
        max_input_axons=200,
        max_output_axons=200,
        synapse_memory_bits=1 << 16,
        system={"max_chips": 16},
    )
    a, ra = compile_(make(), hw)
    b, rb = compile_(make(), hw)
    assert graph_to_bytes(a) == graph_to_bytes(b)
    assert ra == rb
    assert ra["partition"]["candidates"][-1]["method"] in ("tiles", "metis")


def test_tiles_cut_conv_traffic_below_the_naive_split():
    graph = conv_net(8, 32, 3, seed=7)
    _, report = compile_(graph, LOIHI2)
    naive = report["naive_sequential"]
    assert report["partition"]["method"] == "tiles"
    assert report["traffic"]["inter_core"] <= 0.7 * naive["traffic"]["inter_core"]
    assert report["cores_used"] <= naive["cores_used"]
    assert report["cores_used"] <= 1.05 * report["cores_lower_bound"]


def test_metis_finds_hidden_clusters():
    graph = clustered(n_clusters=8, per_cluster=40, layers=2, seed=8)
    hw = config(
        max_neurons=40,
        max_input_axons=200,
        max_output_axons=200,
        synapse_memory_bits=1 << 16,
        max_populations=1,
        chip={"cores_per_chip": 16},
    )
    _, report = compile_(graph, hw)
    by = {c["method"]: c for c in report["partition"]["candidates"]}
    assert report["partition"]["method"] == "metis"
    assert by["metis"]["traffic"]["inter_core"] <= 0.7 * by["sequential"]["traffic"]["inter_core"]


def test_calibration_rates_weigh_the_traffic():
    from backends.cpu.rates import measure_rates

    graph = mlp([10, 20, 12], seed=9, vth=10)
    spikes = (np.random.default_rng(0).random((4, 30, 10)) < 0.3).astype(np.int64)
    rates = measure_rates(graph, spikes)
    assert set(rates) == {"in", "h0", "h1"}
    out, report = compile_(graph, calibration={"rates": rates})
    assert report["partition"]["rates"] == "calibration"
    acc = account(out, TINY)
    neurons, cores = acc.routes["h0"]
    home = acc.core_of["h0"][neurons]
    expect = float(rates["h0"][neurons][home != cores].sum())
    assert report["traffic"]["inter_core"] == pytest.approx(expect, abs=1e-5)


def test_bad_calibration_rates_are_a_user_error():
    graph = mlp([10, 20], seed=9)
    with pytest.raises(
        PassError, match=r"calibration rates: population 'h0' has 3 rates, expected 20"
    ):
        compile_(graph, calibration={"rates": {"in": np.ones(10), "h0": np.ones(3)}})


def test_float_graph_must_be_quantized_first():
    from ir import LIF, Dense

    graph = Graph(
        {"in": Input((2,)), "h": LIF((2,))}, {"p": Dense("in", "h", weight=np.ones((2, 2)))}
    )
    with pytest.raises(PassError, match="not quantized; run the quantize pass first"):
        compile_(graph)


def test_place_needs_a_partition_and_uses_fewest_chips():
    with pytest.raises(InputError, match="run the partition pass first"):
        PlacePass().run(mlp([4, 4]), PassContext(hw=TINY))
    out, report = compile_(mlp([8, 40, 30], seed=10))
    assert report["chips_used"] == -(-out.placement.n_cores // 4)
    assert set(out.placement.core_chip.tolist()) <= set(
        snake_chips(4, 2)[: report["chips_used"]].tolist()
    )
    seq = next(c for c in report["place"]["candidates"] if c["method"] == "sequential")
    assert report["traffic"]["inter_chip"] <= seq["inter_chip"]
    verify(out, TINY)


def test_snake_chips_walk_the_mesh():
    assert snake_chips(10, 4).tolist() == [0, 1, 2, 3, 7, 6, 5, 4, 8, 9]
    assert snake_chips(6, 4).tolist() == [0, 1, 2, 3, 5, 4]


def test_report_table_lists_cores_limits_and_traffic():
    _, report = compile_(mlp([12, 30, 20, 6], seed=1))
    text = format_report(report)
    assert (
        f"cores       {report['cores_used']} used, lower bound {report['cores_lower_bound']}"
        in text
    )
    assert "in-axons" in text and "syn-bits" in text and "naive split" in text
    assert text.count("\n") >= 6 + len(report["per_core"])


def test_cores_near_the_lower_bound_on_loihi2():
    # Dense layers with 256 inputs: per-core synapse lists round to whole words with little
    # waste, so the (loose) lower bound is nearly reachable; see docs/partitioning.md for wide
    # layers.
    for graph in (mlp([256, 2048, 256, 2048], seed=11), conv_net(8, 32, 2, seed=12)):
        _, report = compile_(graph, LOIHI2)
        assert report["cores_used"] <= 1.05 * report["cores_lower_bound"], report["partition"]


def test_unknown_method_is_a_user_error():
    with pytest.raises(PassError, match="unknown method 'best'"):
        compile_(mlp([4, 4]), method="best")


@pytest.mark.parametrize("method", ["sequential", "tiles", "metis"])
def test_forced_method_is_used(method):
    _, report = compile_(
        conv_net(2, 8, 2, seed=13), config(system={"max_chips": 16}), method=method
    )
    assert report["partition"]["method"] == method


def test_rates_for_some_populations_only():
    graph = mlp([10, 20, 12], seed=9)
    _, report = compile_(graph, calibration={"rates": {"h0": np.zeros(20)}})
    assert report["partition"]["rates"].startswith("calibration (1 of 3 populations")
    # h0 never fires: only h1 (no outgoing projection) and the input remain; no inter-core spikes.
    assert report["traffic"]["inter_core"] == 0.0
    with pytest.raises(PassError, match="'nope' is not a population"):
        compile_(graph, calibration={"rates": {"nope": np.zeros(2)}})


def test_edge_cases_inputs_only_no_projections_no_synapses():
    from ir import QSparse

    cases = [
        (Graph({"in": Input((3,))}), 0),
        (Graph({"in": Input((3,)), "h": QLIF((5,), bias_mant=3)}), 1),
        (
            Graph(
                {"in": Input((3,)), "h": QLIF((5,))},
                {"p": QSparse("in", "h", rows=[], cols=[], values=[])},
            ),
            1,
        ),
    ]
    for graph, cores in cases:
        out, report = compile_(graph)
        assert out.placement.n_cores == cores == report["cores_used"] == report["cores_lower_bound"]
        assert format_report(report).startswith(f"cores       {cores} used")


def test_sources_whose_cut_would_change_results_stay_whole_when_they_fit():
    # weight_exp = -2 with odd weights: Lava floors each block pair's partial sum, so cutting
    # h0 would change h1's input. h1 (12 neurons) is packed first; h0 (10) would share its core
    # and be cut; it gets a core of its own instead, and no weight needs rounding.
    rng = np.random.default_rng(14)
    graph = Graph(
        {"in": Input((4,)), "h0": QLIF((10,), vth=20), "h1": QLIF((12,), vth=20)},
        {
            "p": QDense("in", "h0", weight=np.full((10, 4), 8)),
            "q": QDense("h0", "h1", weight=rng.integers(1, 60, (12, 10)) * 2 + 1, weight_exp=-2),
        },
    )
    hw = config(max_populations=2)
    out, report = compile_(graph, hw)
    assert len(out.placement.blocks_of("h0")) == 1
    assert report["partition"]["kept_whole"] == ["h0"]
    assert report["split_exact"]["rounded"] == []
    assert out.projections["q"] is graph.projections["q"]
    # Too big for one core: cut anyway, and split-exact rounds q to whole activation units
    # (weights multiples of 4 at weight_exp = -2, stored as multiples of 2 at weight_exp = -1:
    # the mixed format's lsb), which any cut sums exactly.
    big = (
        graph.with_node("h0", QLIF((20,), vth=20))
        .with_node("p", QDense("in", "h0", weight=np.full((20, 4), 8)))
        .with_node(
            "q", QDense("h0", "h1", weight=rng.integers(1, 60, (12, 20)) * 2 + 1, weight_exp=-2)
        )
    )
    out, report = compile_(big, hw)
    assert len(out.placement.blocks_of("h0")) == 2
    (entry,) = report["split_exact"]["rounded"]
    assert entry["projection"] == "q" and entry["source"] == "h0" and entry["pieces"] == 2
    assert entry["weight_exp"] == [-2, -1] and 0 < entry["rel_change"] < 0.1
    q = out.projections["q"]
    assert q.weight_exp == -1 and np.all(q.weight % 2 == 0)
    even = big.projections["q"].weight // 2 * 2  # Lava clears the mixed format's lsb first
    np.testing.assert_array_equal(q.weight >> 1, np.rint(even / 4))
    assert split_hazards(out) == {}


