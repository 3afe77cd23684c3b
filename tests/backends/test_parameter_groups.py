"""Parameter groups never change results.

Lava's neuron processes hold some registers once per process, so the lowering runs a population
whose neurons differ in them as one process per group (`backends.lava.lower`): each process has
the population's whole shape, its group's registers (`NeuronModel.group_node`) and silent
non-members, and gets only its group's synapses (`lower._rows`) from the sum of every source
group. These properties check that decomposition on the cpu backend, population by population,
on random heterogeneous programs: run as its group node with only its rows, every group's
neurons do exactly what they do in the whole population, and every other neuron sends nothing.
The Lava differential tests (tests/backends/lava/test_models_differential.py) check the same
end to end.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.base import Probe
from backends.blocks import conv_as_sparse
from backends.cpu.network import prepare
from backends.cpu.reference import simulate
from backends.cpu.simulator import run as cpu_run
from backends.lava.lower import _rows
from ir import Input, QConv2d
from neurons import model_of, variables_of
from tests.backends.random_models import random_model_network


def _group_graph(graph, name: str, members: np.ndarray):
    """`graph` with population `name` replaced by one of its group processes (lowering)."""
    pop = graph.populations[name]
    model = model_of(pop)
    projs = {}
    for pname, proj in graph.projections.items():
        if proj.dst == name:
            if isinstance(proj, QConv2d):
                proj = conv_as_sparse(graph, proj)
            proj = _rows(proj, members)
        projs[pname] = proj
    return graph.replace(populations={**graph.populations, name: model.group_node(pop, members)},
                         projections=projs)


@settings(max_examples=30)
@given(seed=st.integers(0, 10**6))
def test_each_group_process_computes_its_neurons_exactly(seed):
    net = random_model_network(seed, steps=10, batch=2)
    g = net.graph
    probes = [
        Probe(n, variables_of(p)) for n, p in g.populations.items() if not isinstance(p, Input)
    ]
    whole = cpu_run(g, net.inputs, probes=probes, engine="reference")
    for name, pop in g.populations.items():
        if isinstance(pop, Input) or any(
            p.src == name and p.dst == name for p in g.projections.values()
        ):
            continue  # a self-loop's source is every group process together, not this one alone
        groups = model_of(pop).parameter_groups(pop)
        for members in groups:
            # The reference engine on the prepared graph: a convolution into a group runs as
            # Lava's Sparse with 9 weight bits (conv_as_sparse), which only the block graphs hold.
            part_net = prepare(_group_graph(g, name, members), True, "cpu")
            part = simulate(
                part_net, net.inputs, net.inputs.shape[1], [Probe(name, variables_of(pop))]
            )[name]
            for var in variables_of(pop):
                assert np.array_equal(
                    part[var][:, :, members], whole.get(name, var)[:, :, members]
                ), (seed, name, var)
            others = np.setdiff1d(np.arange(pop.size), members)
            assert not np.any(part["spikes"][:, :, others]), (seed, name)


def test_groups_are_distinct_register_values_in_sorted_order():
    from neurons.lif import QLIF

    pop = QLIF((6,), du=[5, 1, 5, 1, 5, 9], dv=[0, 0, 2, 0, 0, 0], vth=7)
    groups = model_of(pop).parameter_groups(pop)
    assert [g.tolist() for g in groups] == [[1, 3], [0, 4], [2], [5]]
    assert len(model_of(pop).parameter_groups(QLIF((6,), du=3, dv=2, vth=7))) == 1
