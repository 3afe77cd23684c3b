"""Cost counts on seeded random programs (every family of tests/backends/random_nets: dense,
sparse, conv, graded inputs, skips, recurrence, delays, resets, extremes), compiled onto small
cores spread over chips and run on the cpu backend, against a brute-force recount written
independently of `ir.resources`: every synapse expanded to (dst, src) pairs from the weights,
every message a (neuron, destination core) pair."""

from __future__ import annotations

import numpy as np
import pytest

from app.cost import population_spikes, probe_all
from backends import get_backend
from compiler.compile import compile_model
from compiler.cost import count_spikes
from ir import QConv2d, QDense, QSparse
from ir.fixed import effective_weights
from ir.hardware import load_hw, load_hw_dict
from ir.resources import account
from ir.traffic import traffic, uniform_rates
from tests.backends.random_nets import random_network
from tests.cli.cli_nets import _clamp_to_target

SEEDS = range(20)


def _small_cores(seed: int):
    """loihi2's formats and cost model with cores of 3-6 neurons, 2-3 cores per chip."""
    rng = np.random.default_rng(seed)
    data = load_hw("loihi2").to_dict()
    data["core"]["max_neurons"]["value"] = int(rng.integers(3, 7))
    data["chip"]["cores_per_chip"]["value"] = int(rng.integers(2, 4))
    data["cost"]["layout"]["cores_per_tile"]["value"] = 1
    data["cost"]["layout"]["tile_mesh_columns"]["value"] = 2
    data["system"]["mesh_columns"]["value"] = int(rng.integers(1, 4))
    return load_hw_dict(data, f"small-{seed}")


def _synapses(graph, name) -> set[tuple[int, int]]:
    """(dst, src) of every nonzero effective weight, by brute force."""
    p = graph.projections[name]
    if isinstance(p, QDense):
        w = effective_weights(p.weight, p.num_weight_bits, p.sign_mode)
        return {(int(d), int(s)) for d, s in zip(*np.nonzero(w), strict=True)}
    if isinstance(p, QSparse):
        v = effective_weights(p.values, p.num_weight_bits, p.sign_mode)
        return {(int(r), int(c)) for r, c, x in zip(p.rows, p.cols, v, strict=True) if x}
    assert isinstance(p, QConv2d)
    _, ih, iw = graph.populations[p.src].shape
    _, oh, ow = graph.populations[p.dst].shape
    c_out, cin_g = p.weight.shape[:2]
    cout_g = c_out // p.groups
    out = set()
    for co, cg, ky, kx in zip(*np.nonzero(p.weight), strict=True):
        ci = (co // cout_g) * cin_g + cg
        for oy in range(oh):
            for ox in range(ow):
                iy = oy * p.stride[0] - p.padding[0] + ky * p.dilation[0]
                ix = ox * p.stride[1] - p.padding[1] + kx * p.dilation[1]
                if 0 <= iy < ih and 0 <= ix < iw:
                    out.add((int(co * oh * ow + oy * ow + ox), int(ci * ih * iw + iy * iw + ix)))
    return out


def _recount(program, spikes, mesh_columns: int):
    """Synaptic ops per source population and per core, messages per kind, chip hops."""
    pl = program.placement
    core_of = {n: pl.neuron_core(n, p.size) for n, p in program.populations.items()}
    events = {n: (s != 0).sum(axis=(0, 1)) for n, s in spikes.items()}
    syn_pop = dict.fromkeys(program.populations, 0)
    syn_core = np.zeros(pl.n_cores, dtype=np.int64)
    routes: dict[str, set[tuple[int, int]]] = {n: set() for n in program.populations}
    for name, proj in program.projections.items():
        for dst, src in _synapses(program, name):
            e = int(events[proj.src][src])
            syn_pop[proj.src] += e
            core = int(core_of[proj.dst][dst])
            syn_core[core] += e
            routes[proj.src].add((src, core))
    msgs = dict.fromkeys(("intra_core", "inter_core", "inter_chip", "host_input", "chip_hops"), 0)
    for pop, pairs in routes.items():
        for src, core in pairs:
            e = int(events[pop][src])
            home = int(core_of[pop][src])
            if home < 0:
                msgs["host_input"] += e
                continue
            msgs["intra_core" if home == core else "inter_core"] += e
            a, b = int(pl.core_chip[home]), int(pl.core_chip[core])
            msgs["inter_chip"] += e * (a != b)
            msgs["chip_hops"] += e * _hops(a, b, mesh_columns)
    return syn_pop, syn_core, msgs


def _hops(a: int, b: int, columns: int) -> int:
    (ra, ca), (rb, cb) = divmod(a, columns), divmod(b, columns)
    return abs(ra - rb) + abs(ca - cb)


@pytest.mark.parametrize("seed", SEEDS)
def test_counts_equal_brute_force_on_random_programs(seed):
    net = random_network(seed, steps=12, batch=3)
    hw = _small_cores(seed)
    # Exponents clamped into loihi2's ranges (the random families include out-of-range ones).
    program, report = compile_model(_clamp_to_target(net.graph, "loihi2"), hw)
    trace = get_backend("cpu")(program, net.inputs, probes=probe_all(program), hw=hw)
    spikes = population_spikes(program, net.inputs, trace)
    c = count_spikes(program, hw, spikes)
    syn_pop, syn_core, msgs = _recount(program, spikes, hw.system.mesh_columns.value)
    assert {n: r["synaptic_ops"] for n, r in c.per_population.items()} == syn_pop, net.family
    assert c.per_core["synaptic_ops"].tolist() == syn_core.tolist()
    assert {k: c.total(k, program) for k in msgs} == msgs
    assert c.effective_acs + c.effective_macs == sum(syn_pop.values())
    graded = {n for n in program.inputs if program.populations[n].message_bits}
    if not graded:
        assert c.effective_macs == 0
    # Every message arrives somewhere; every spike leaves from its neuron's core.
    kinds = ("intra_core", "inter_core", "host_input")
    assert c.per_core["messages_in"].sum() == sum(msgs[k] for k in kinds)
    assert c.per_core["messages_out"].sum() == msgs["intra_core"] + msgs["inter_core"]
    assert c.per_core["spikes"].sum() == c.total("spikes", program)
    # One spike per neuron per step: the compile report's fan-out traffic, per step.
    uniform = {n: np.ones((1, 1, p.size), np.uint8) for n, p in program.populations.items()}
    u = count_spikes(program, hw, uniform)
    t = traffic(
        program,
        account(program, hw),
        uniform_rates(program),
        program.placement.core_chip,
        hw.system.mesh_columns.value,
    )
    assert u.total("intra_core", program) == t["intra_core"]
    assert u.total("inter_core", program) == t["inter_core"]
    assert u.total("host_input", program) == t["host_input"]
    assert u.total("chip_hops", program) == t["inter_chip"]
    assert report["cores_used"] == program.placement.n_cores
