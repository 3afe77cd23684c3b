"""`ir.resources.lower_bound` against exhaustive search: on small random networks and small
cores, no placement (every partition of the neurons into cores) fits in fewer cores than the
bound, and the bound is reached on most of them."""

import numpy as np
import pytest

from ir import QLIF, Graph, Input, QDense, QSparse, load_hw
from ir.hardware import load_hw_dict
from ir.placement import Block, Placement
from ir.resources import account, first_violation, lower_bound


def _hw(neurons, input_axons, output_axons, memory):
    data = load_hw("tiny").to_dict()
    for key, value in (
        ("max_neurons", neurons),
        ("max_input_axons", input_axons),
        ("max_output_axons", output_axons),
        ("max_populations", 2),
        ("synapse_memory_bits", memory),
    ):
        data["core"][key]["value"] = value
    return load_hw_dict(data, "exhaustive.yaml")


def _network(rng) -> Graph:
    n_in, a, b = int(rng.integers(2, 6)), int(rng.integers(2, 4)), int(rng.integers(1, 3))
    mask1 = rng.random((a, n_in)) < rng.uniform(0.3, 1.0)
    mask2 = rng.random((b, a)) < rng.uniform(0.3, 1.0)
    pops = {"in": Input((n_in,)), "h": QLIF((a,)), "o": QLIF((b,))}
    rows, cols = np.nonzero(mask2)
    projs = {"p": QDense("in", "h", weight=2 * mask1.astype(np.int64))}
    if rows.size:
        projs["q"] = QSparse("h", "o", rows=rows, cols=cols, values=np.full(rows.size, 2))
    if rng.random() < 0.5:  # a second projection from h, to a population of its own
        projs["r"] = QDense("h", "o", weight=2 * (rng.random((b, a)) < 0.5).astype(np.int64))
    return Graph(pops, projs)


def _partitions(items):
    """Every set partition of `items` (restricted growth strings)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for k in range(len(part)):
            yield part[:k] + [[first, *part[k]]] + part[k + 1 :]
        yield [[first], *part]


def _fewest_cores(graph: Graph, hw) -> int | None:
    neurons = [(n, i) for n, p in graph.populations.items() if not isinstance(p, Input)
               for i in range(p.size)]
    best = None
    for part in _partitions(neurons):
        if best is not None and len(part) >= best:
            continue
        blocks = []
        for core, members in enumerate(part):
            for pop in sorted({n for n, _ in members}):
                idx = sorted(i for n, i in members if n == pop)
                blocks.append(Block(pop, np.array(idx), core))
        placement = Placement(tuple(blocks), np.arange(len(part)) // 4, hw.name)
        if first_violation(account(graph, hw, placement).usage, hw) is None:
            best = len(part)
    return best


@pytest.mark.parametrize("limits", [(2, 3, 2, 256), (3, 4, 3, 192), (2, 6, 4, 512)])
def test_no_placement_beats_the_lower_bound(limits):
    hw = _hw(*limits)
    rng = np.random.default_rng(sum(limits))
    reached = checked = 0
    for _ in range(12):
        graph = _network(rng)
        fewest = _fewest_cores(graph, hw)
        bound, _ = lower_bound(graph, hw)
        if fewest is None:  # some neuron fits no core at all: nothing to compare
            continue
        assert bound <= fewest, (limits, graph, bound, fewest)
        checked += 1
        reached += bound == fewest
    assert checked >= 4 and reached >= checked // 2, (checked, reached)


def test_dense_fan_out_needs_an_axon_per_destination_core():
    # 4 inputs all-to-all onto 6 neurons, 2 neurons per core: every input reaches >= 3 cores,
    # so 12 input axons (one per input and core), not 4; with 4 per core, 3 cores are needed
    # for the axons alone, and 3 suffice.
    hw = _hw(2, 4, 8, 4096)
    graph = Graph(
        {"in": Input((4,)), "h": QLIF((6,))},
        {"p": QDense("in", "h", weight=np.full((6, 4), 2))},
    )
    bound, demand = lower_bound(graph, hw)
    assert demand["input_axons"] == 12
    assert bound == _fewest_cores(graph, hw) == 3
