"""Cost counts (compiler.cost) on a hand-computed network: every number below is derived by hand
in the comments, from the weights, the placement and the spikes written out here."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.cost import (
    CostCounter,
    count_spikes,
    estimate,
    footprint_bytes,
    format_cost,
    summarize,
)
from compiler.cost.neurobench import connection_sparsity, dense_synaptic_ops_per_step
from ir import QLIF, Graph, Input, QDense, load_hw
from ir.hardware import load_hw_dict
from ir.placement import Block, Placement

# in (3 inputs) --fc1--> a (2 neurons) --fc2--> b (2 neurons), 8-bit mixed weights (even values
# are their own effective weights). Nonzero synapses:
#   fc1: in0 -> a0, in2 -> a0, in1 -> a1        fc2: a0 -> b0, a1 -> b0, a1 -> b1
W1 = np.array([[2, 0, 4], [0, 6, 0]])
W2 = np.array([[2, 2], [0, 2]])
# Placement on the tiny target (4 cores per chip; cost layout: 2 cores per tile, tiles 2 wide;
# chips on a mesh 2 wide): a0 on core 0 and a1 on core 1 (chip 0, tile 0), b0 on core 2 (chip 0,
# tile 1: one east-west hop from tile 0), b1 on core 3 (chip 1: one chip hop from chip 0).
CORE_CHIP = [0, 0, 0, 1]

# Spikes, (batch 2, T 3, n): the counts are a pure function of them (no simulation here).
SPIKES = {
    "in": np.array([[[1, 0, 1], [0, 1, 0], [0, 0, 0]],
                    [[1, 1, 1], [0, 0, 0], [0, 0, 0]]], dtype=np.uint8),
    "a": np.array([[[0, 0], [1, 1], [0, 1]],
                   [[0, 0], [0, 0], [1, 0]]], dtype=np.uint8),
    "b": np.array([[[0, 0], [0, 0], [1, 0]],
                   [[0, 0], [0, 0], [0, 0]]], dtype=np.uint8),
}


def _program() -> Graph:
    lif = QLIF((2,), du=4095, dv=0, vth=10)
    pops = {"in": Input((3,)), "a": lif, "b": QLIF((2,), du=4095, dv=0, vth=10)}
    projs = {"fc1": QDense("in", "a", weight=W1), "fc2": QDense("a", "b", weight=W2)}
    blocks = (
        Block.from_range("a", 0, 1, 0),
        Block.from_range("a", 1, 2, 1),
        Block.from_range("b", 0, 1, 2),
        Block.from_range("b", 1, 2, 3),
    )
    placement = Placement(blocks, np.array(CORE_CHIP), "tiny")
    return Graph(populations=pops, projections=projs, dt=1e-3, placement=placement)


@pytest.fixture(scope="module")
def counted():
    program, hw = _program(), load_hw("tiny")
    return program, hw, count_spikes(program, hw, SPIKES)


def test_counts_per_population(counted):
    program, _, c = counted
    pop = c.per_population
    # in: events s0 (t0: in0, in2; t1: in1) + s1 (t0: all three) = 6; fan-out 1 each -> 6
    # synaptic ops; each event is one message from the host to the core of its target.
    assert pop["in"]["spikes"] == 6 and pop["in"]["synaptic_ops"] == 6
    assert pop["in"]["host_input"] == 6 and pop["in"]["neuron_updates"] == 0
    # a: a0 fires at s0 t1 and s1 t2 (2 events, fan-out 1); a1 at s0 t1 and s0 t2 (2 events,
    # fan-out 2): 4 spikes, 2 * 1 + 2 * 2 = 6 synaptic ops and 6 messages, none within a core;
    # a1's message to core 3 crosses one chip hop (2 events); a0 -> core 2 and a1 -> core 2 cross
    # one east-west tile hop (2 + 2 = 4); a1 -> core 3 counts chip hops only.
    assert pop["a"]["spikes"] == 4 and pop["a"]["synaptic_ops"] == 6
    assert pop["a"]["intra_core"] == 0 and pop["a"]["inter_core"] == 6
    assert pop["a"]["inter_chip"] == 2 and pop["a"]["chip_hops"] == 2
    assert pop["a"]["tile_hops_east_west"] == 4 and pop["a"]["tile_hops_north_south"] == 0
    # 2 neurons x 3 steps x 2 samples updated, spiking or not.
    assert pop["a"]["neuron_updates"] == 12 and pop["b"]["neuron_updates"] == 12
    # b: one spike (s0 t2), no outgoing synapse.
    assert pop["b"]["spikes"] == 1 and pop["b"]["synaptic_ops"] == 0
    assert c.total("spikes", program) == 5 and c.total("synaptic_ops", program) == 12
    assert (c.samples, c.steps) == (2, 3)


def test_counts_per_core(counted):
    program, hw, c = counted
    # Synaptic ops sit where the synapses are: core 0 (a0) gets in0 and in2 events (2 + 2),
    # core 1 (a1) in1's (2), core 2 (b0) a0's and a1's (2 + 2), core 3 (b1) a1's (2).
    assert c.per_core["synaptic_ops"].tolist() == [4, 2, 4, 2]
    assert c.per_core["messages_in"].tolist() == [4, 2, 4, 2]
    # Sent by the neurons of each core: a0 2 events x 1 message, a1 2 x 2; b none.
    assert c.per_core["messages_out"].tolist() == [2, 4, 0, 0]
    assert c.per_core["spikes"].tolist() == [2, 2, 1, 0]
    assert c.per_core["neuron_updates"].tolist() == [6, 6, 6, 6]
    assert c.per_core["neurons"].tolist() == [1, 1, 1, 1]
    # Hops of the messages each core sends: a0 -> core 2 one east-west hop (2 events); a1 ->
    # core 2 one east-west hop and -> core 3 one chip hop (2 events each).
    assert c.per_core["tile_hops_east_west_out"].tolist() == [2, 2, 0, 0]
    assert c.per_core["chip_hops_out"].tolist() == [0, 2, 0, 0]
    # Message energy (tiny: 0.5 pJ within a tile, 3 per east-west hop, 10 per chip hop):
    # a0 -> core 2: 0.5 + 3 = 3.5 pJ per event, 2 events = 7; a1 -> core 2 (3.5) and core 3
    # (0.5 + 10 = 10.5): 14 pJ per event, 2 events = 28; per inference (2 samples): half.
    per_core = summarize(program, hw, c)["per_core"]
    assert [r["message_energy_j"] for r in per_core] == pytest.approx([3.5e-12, 14e-12, 0, 0])


def test_step_time_and_energy(counted):
    program, hw, c = counted
    # Step time (tiny, ns) = barrier + busiest core + slowest message. Two chips: the multi-chip
    # barrier, 1000. A core's work: 2 per neuron update (1 neuron each) + 1 per synaptic op.
    # Message latency: 1 within a tile + 3 per east-west hop + 10 per chip hop: a0 -> core 2: 4,
    # a1's slowest (to core 3): 11; host messages carry no latency.
    #   s0 t0: in0, in2 -> 2 ops on core 0: work 4; no neuron message          -> 1004
    #   s0 t1: in1 -> core 1 (1 op); a0, a1 -> core 2 (2 ops), core 3 (1): 4; 11  -> 1015
    #   s0 t2: a1 -> core 2, core 3 (1 op each): work 3; latency 11            -> 1014
    #   s1 t0: in0, in2 -> core 0 (2), in1 -> core 1 (1): work 4               -> 1004
    #   s1 t1: nothing: work 2                                                 -> 1002
    #   s1 t2: a0 -> core 2: work 3; latency 4                                 -> 1007
    # The busiest core (the first of equals): 6 steps of 1 update each; its synaptic ops
    # 2 + 2 + 1 + 2 + 0 + 1 = 8 (work 6 x 2 + 8 x 1 = 20). Slowest messages: none in 3 steps,
    # 11 ns in 2, 4 ns in 1 (26 ns in all).
    assert c.timing == {
        "busy_updates": 6, "busy_synaptic_ops": 8,
        "latency_rows": {0.0: 3, 4.0: 1, 11.0: 2}, "max_step_ns": 1015.0,
    }
    est = estimate(c, program, hw)
    assert est is not None
    # Energy: 12 synaptic ops x 1 pJ + 24 updates x 2 pJ + 35 pJ of messages = 95 pJ, over 2
    # samples: 47.5 pJ per inference; time 6046 / 2 = 3023 ns.
    assert est.energy_j == pytest.approx({
        "synaptic_ops": 6e-12, "neuron_updates": 24e-12, "messages": 17.5e-12, "total": 47.5e-12,
    })
    assert est.time_s == pytest.approx({
        "total": 3023e-9, "barrier": 3000e-9, "core_work": 10e-9, "message_latency": 13e-9,
    })
    assert est.step_time_s == pytest.approx({"mean": 6046e-9 / 6, "max": 1015e-9})


def test_neurobench_metrics_by_hand(counted):
    program, hw, c = counted
    nb = summarize(program, hw, c)["neurobench"]
    # 12 synaptic ops of binary events over 2 samples; dense: (6 + 4 weights) x 3 steps.
    assert nb["effective_acs"] == 6.0 and nb["effective_macs"] == 0.0
    assert nb["dense_synaptic_ops"] == 30.0 == dense_synaptic_ops_per_step(program) * 3
    # 24 outputs (4 neurons x 3 steps x 2 samples), 5 of them spikes.
    assert nb["activation_sparsity"] == pytest.approx(19 / 24)
    # 3 of fc1's 6 weights and 1 of fc2's 4 are zero.
    assert connection_sparsity(program) == pytest.approx(0.4)
    # Weights: 10 entries of 8 bits, 1 byte each. Each QLIF: du = 4095 (13 signed bits: 2 bytes),
    # dv, vth, bias_mant, bias_exp, reset_interval, reset_offset one byte each: 8 bytes.
    assert footprint_bytes(program, hw) == 10 + 2 * 8 == nb["footprint_bytes"]


def test_batches_add_up_and_split_equals_whole(counted):
    program, hw, whole = counted
    counter = CostCounter(program, hw)
    for i in range(2):
        counter.add({k: v[i : i + 1] for k, v in SPIKES.items()})
    parts = counter.result()
    assert parts.per_population == whole.per_population
    assert parts.timing == whole.timing
    for k, v in whole.per_core.items():
        np.testing.assert_array_equal(parts.per_core[k], v)
    assert summarize(program, hw, parts) == summarize(program, hw, whole)


def test_without_cost_model_counts_remain(counted):
    program, hw, with_cost = counted
    data = hw.to_dict()
    del data["cost"]
    bare = load_hw_dict(data, "bare.yaml")
    c = count_spikes(program, bare, SPIKES)
    for pop, row in c.per_population.items():
        assert {k: row[k] for k in row} == {k: with_cost.per_population[pop][k] for k in row}
    assert "tile_hops_east_west" not in c.per_population["a"]
    s = summarize(program, bare, c)
    assert s["estimate"] == {
        "available": False,
        "reason": "the hardware config of target 'tiny' has no cost section "
                  "(see `snnc hw show loihi2`)",
    }
    assert any("estimate: unavailable" in line for line in format_cost(s))


def test_wrong_shapes_are_refused():
    program, hw = _program(), load_hw("tiny")
    bad = {**SPIKES, "b": SPIKES["b"][:, :2]}
    with pytest.raises(ValueError, match=r"spikes of 'b': shape \(2, 2, 2\), expected \(2, 3, 2\)"):
        count_spikes(program, hw, bad)


def test_chunked_and_sparse_paths_count_the_same(counted, monkeypatch):
    """Rows one at a time and the sparse per-core product (what large programs use) give the
    same counts as the dense product on whole batches."""
    from compiler.cost import counts as counts_module

    program, hw, whole = counted
    monkeypatch.setattr(counts_module, "_CHUNK_ELEMENTS", 4)
    counter = CostCounter(program, hw)
    assert all(s.dense_to_core is None for s in counter._sources)
    counter.add(SPIKES)
    small = counter.result()
    assert small.per_population == whole.per_population and small.timing == whole.timing
    for k, v in whole.per_core.items():
        np.testing.assert_array_equal(small.per_core[k], v)
