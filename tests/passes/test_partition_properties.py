"""Property tests of partition + split-exact + place on random fixed-point graphs and random
hardware configs: every neuron in exactly one block, no core over any limit, deterministic, and
the placed program spikes exactly as the same program unplaced on the cpu backend, also run
block by block (each block its own state, each projection per block pair, as the Lava backend
builds it with --lava-blocks): split-exact leaves no hazard, and where it changed weights it
changed them only where a source is cut."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.passes.base import PassContext
from compiler.passes.partition import PartitionPass
from compiler.passes.place import PlacePass
from compiler.passes.split_exact import SplitExactPass, placement_pieces, split_hazards
from compiler.pipeline import run_pipeline
from ir import CapacityError, Input, IRVerifyError, PassError, graph_to_bytes, verify
from ir.resources import RESOURCES, account, core_limits, first_violation
from tests.strategies import graphs, hardware_configs


def _compile(graph, hw, method="auto"):
    ctx = PassContext(hw=hw)
    passes = [PartitionPass(method=method), SplitExactPass(), PlacePass()]
    return run_pipeline(graph, passes, ctx), ctx


def _refused_wrap(error: PassError) -> bool:
    """split-exact refuses a cut whose sums could wrap (nothing to round): a true refusal."""
    cause = error.__cause__
    return isinstance(cause, IRVerifyError) and ("2^23" in str(cause) or "2^31" in str(cause))


def _check_genuine(error: CapacityError, graph, hw) -> None:
    """A CapacityError must be true: the need is over the limit, and for one neuron it is that
    neuron's own use on an otherwise empty core."""
    assert error.need > error.limit
    if "neuron" in error.node and error.resource in ("input axons", "synapse memory bits"):
        from ir.connectivity import graph_fanins

        pop = error.node.split("'")[1]
        neuron = int(error.node.rsplit(" ", 1)[1])
        fanins = graph_fanins(graph, hw)
        axons = bits = 0
        for name, proj in graph.projections.items():
            if proj.dst == pop:
                ids, counts = fanins[name].source_counts(np.array([neuron]))
                axons += ids.size
                bits += sum(
                    hw.synapse_memory.axon_bits(int(c), fanins[name].weight_bits) for c in counts
                )
        assert error.need == (axons if error.resource == "input axons" else bits)


@settings(max_examples=60)
@given(
    graphs(domain="fixed", max_layers=3),
    hardware_configs(),
    st.sampled_from(["auto", "sequential", "tiles"]),
)
def test_partition_covers_fits_and_is_deterministic(graph, hw, method):
    _covers_fits_deterministic(graph, hw, method)


@pytest.mark.slow
@settings(max_examples=400)
@given(
    graphs(domain="fixed", max_layers=5),
    hardware_configs(),
    st.sampled_from(["auto", "sequential", "tiles", "metis"]),
)
def test_partition_properties_many_examples(graph, hw, method):
    _covers_fits_deterministic(graph, hw, method)


def _covers_fits_deterministic(graph, hw, method):
    try:
        out, ctx = _compile(graph, hw, method)
    except PassError as e:
        if _refused_wrap(e):
            return
        assert isinstance(e.__cause__, CapacityError), e
        _check_genuine(e.__cause__, graph, hw)
        return
    placement = out.placement
    for name, pop in out.populations.items():
        if isinstance(pop, Input):
            continue
        count = np.zeros(pop.size, dtype=np.int64)
        for b in placement.blocks_of(name):
            count[b.neurons] += 1
        assert (count == 1).all()
    usage = account(out, hw).usage
    limits = core_limits(hw)
    for r in RESOURCES:
        assert (usage[r] <= limits[r].value).all(), r
    assert first_violation(usage, hw) is None
    assert np.bincount(placement.core_chip).max() <= hw.chip.cores_per_chip.value
    assert ctx.reports["partition"]["cores_used"] >= ctx.reports["partition"]["cores_lower_bound"]
    again, _ = _compile(graph, hw, method)
    assert graph_to_bytes(again) == graph_to_bytes(out)


@settings(max_examples=30)
@given(graphs(domain="fixed", max_layers=3), hardware_configs(), st.integers(0, 2**31 - 1))
def test_placed_program_spikes_as_the_unplaced_one(graph, hw, seed):
    _same_spikes(graph, hw, seed)


@pytest.mark.slow
@settings(max_examples=300)
@given(graphs(domain="fixed", max_layers=5), hardware_configs(), st.integers(0, 2**31 - 1))
def test_placed_program_spikes_many_examples(graph, hw, seed):
    _same_spikes(graph, hw, seed)


def _same_spikes(graph, hw, seed):
    from backends.base import Probe
    from backends.cpu.simulator import run

    try:
        placed, ctx = _compile(graph, hw)
    except PassError as e:
        if _refused_wrap(e):
            return
        assert isinstance(e.__cause__, CapacityError)
        return
    verify(placed, hw)
    assert split_hazards(placed) == {}
    pieces = placement_pieces(placed)
    for entry in ctx.reports["split-exact"]["rounded"]:  # only where a source really is cut
        assert len(pieces[graph.projections[entry["projection"]].src]) > 1
    for name, proj in placed.projections.items():
        if name not in {e["projection"] for e in ctx.reports["split-exact"]["rounded"]}:
            assert proj is graph.projections[name]
    rng = np.random.default_rng(seed)
    bits = max((graph.populations[n].message_bits for n in graph.inputs), default=0)
    if bits:
        spikes = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(2, 12, graph.n_inputs))
    else:
        spikes = (rng.random((2, 12, graph.n_inputs)) < 0.4).astype(np.int64)
    probes = [
        Probe(n, ("spikes", "v")) for n, p in graph.populations.items() if not isinstance(p, Input)
    ]
    ref = run(placed.replace(placement=None), spikes, probes=probes)
    got = run(placed, spikes, probes=probes, hw=hw)
    blocked = run(placed, spikes, probes=probes, hw=hw, blocks=True)
    for p in probes:
        for variable in ("spikes", "v"):
            assert np.array_equal(
                ref.get(p.population, variable), got.get(p.population, variable)
            ), p
            assert np.array_equal(
                ref.get(p.population, variable), blocked.get(p.population, variable)
            ), p
