"""Property tests of the quantize pass on random float graphs (tests/strategies.py): every
integer within its bit width; weights within half an LSB of the chosen scale; decays within one
unit; thresholds exact; the program means what the quantizer says; no population falls silent
that spikes in float."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from backends import get_backend
from backends.base import Probe
from compiler.passes.base import PassContext
from compiler.passes.quantize import QuantizePass
from compiler.passes.split_signs import SplitSignsPass
from ir import LIF, QLIF, Conv2d, Graph, Input, QConv2d, QDense, QSparse, load_hw, verify
from ir.fixed import effective_weights, weight_lsb_shift
from neurons.lif import VTH_FLOOR
from tests.compiler import qhelpers
from tests.strategies import graphs

HW = load_hw("loihi2")


def _deployable(graph: Graph, integrate_and_fire: bool = False) -> Graph:
    """Random graphs may give a convolution's target a different threshold per neuron; a shared
    kernel can absorb thresholds only per channel (the pass rejects the rest, tested elsewhere),
    so those become per-channel here."""
    conv_targets = {p.dst for p in graph.projections.values() if isinstance(p, Conv2d)}
    pops = {}
    for name, pop in graph.populations.items():
        if isinstance(pop, LIF):
            if name in conv_targets and pop.v_th.ndim:
                per_chan = pop.v_th.reshape(pop.shape[0], -1)[:, :1]
                pop = pop.replace(
                    v_th=np.broadcast_to(
                        per_chan, (pop.shape[0], pop.size // pop.shape[0])
                    ).reshape(pop.shape)
                )
            if integrate_and_fire:
                pop = pop.replace(tau_syn=0.0, tau_mem=math.inf)
        pops[name] = pop
    return graph.replace(populations=pops)


options = st.fixed_dictionaries(
    {
        # 1-bit mixed sign holds only -1 and 0 (Lava clears 8 of 9 bits): positive weights clip at
        # any scale, so the error bound starts at 2 bits (1 bit is tested on its own).
        "weight_bits": st.integers(2, 8),
        "granularity": st.sampled_from(["per-layer", "per-channel"]),
        "split_signs": st.booleans(),
    }
)


def _quantize(graph: Graph, split_signs: bool = False, **opts) -> tuple[Graph, dict]:
    ctx = PassContext(hw=HW)
    if split_signs:
        graph = SplitSignsPass().run(graph, ctx)
    program = QuantizePass(**opts).run(graph, ctx)
    verify(program, HW)
    return program, ctx.reports["quantize"]


@settings(max_examples=80)
@given(graphs(domain="float"), options | st.fixed_dictionaries({"weight_bits": st.just(1)}))
def test_every_integer_within_its_bit_width(graph, opts):
    graph = _deployable(graph)
    program, report = _quantize(graph, **opts)
    bits = opts["weight_bits"]
    assert program.domain == "fixed"
    for name, q in program.projections.items():
        if isinstance(q, QConv2d):
            if name not in graph.projections:  # a split-signs part: NAME.pos or NAME.neg
                sign = "excitatory" if name.endswith(".pos") else "inhibitory"
            else:
                w = graph.projections[name].weight
                sign = (
                    "mixed"
                    if (w < 0).any() and (w > 0).any()
                    else ("inhibitory" if (w < 0).any() else "excitatory")
                )
            assert np.array_equal(effective_weights(q.weight, bits, sign), q.weight), name
            continue
        if isinstance(q, (QDense, QSparse)):
            w = q.weight if isinstance(q, QDense) else q.values
            # Lava's clip and truncation leave every stored weight as it is
            assert np.array_equal(effective_weights(w, bits, q.sign_mode), w), name
            assert q.num_weight_bits == bits
            assert (
                HW.synapse.weight_exp_min.value <= q.weight_exp <= HW.synapse.weight_exp_max.value
            )
            if q.sign_mode == "excitatory":
                assert w.min(initial=0) >= 0
            if q.sign_mode == "inhibitory":
                assert w.max(initial=0) <= 0
    for name, p in program.populations.items():
        if isinstance(p, Input):
            continue
        assert isinstance(p, QLIF)
        du, dv, vth = (p.per_neuron(f) for f in ("du", "dv", "vth"))  # per neuron, or shared
        assert du.min() >= 0 and du.max() <= 4095 and dv.min() >= 0 and dv.max() <= 4095
        assert vth.min() >= 0 and vth.max() <= 2**17 - 1
        assert -4096 <= p.bias_mant.min() and p.bias_mant.max() <= 4095
        assert 0 <= p.bias_exp.min() and p.bias_exp.max() <= 7
        rep = report["populations"][name]
        # u cannot wrap, or the report warns where it could (headroom stops at vth = VTH_FLOOR;
        # a convolution's fixed exponent can also pin the scale)
        assert rep["u_worst_case"] <= 2**23 - 1 or any(
            w.startswith(f"population {name!r}: the worst-case input") for w in report["warnings"]
        )
        if rep["limited_by"].startswith("headroom"):
            assert vth.min() >= VTH_FLOOR


@settings(max_examples=80)
@given(graphs(domain="float"), options)
def test_weight_error_within_half_an_lsb(graph, opts):
    graph = _deployable(graph)
    program, report = _quantize(graph, **opts)
    for name, proj in graph.projections.items():
        for part in [n for n in report["projections"] if n == name or n.startswith(name + ".")]:
            assert report["projections"][part]["clipped_fraction"] == 0.0
            assert report["projections"][part]["max_error_lsb"] <= 0.5 + 1e-9
        if isinstance(proj, Conv2d):
            # split signs: the parts NAME.pos / NAME.neg, each a kernel of one sign
            model = (
                graph
                if name in program.projections
                else SplitSignsPass().run(graph, PassContext(hw=HW))
            )
            for part in [n for n in program.projections if n == name or n.startswith(name + ".")]:
                w, w_hat = qhelpers.conv_effective(model, program, report, part)
                sign = (
                    "mixed"
                    if (w < 0).any() and (w > 0).any()
                    else ("inhibitory" if (w < 0).any() else "excitatory")
                )
                unfold = qhelpers.unfold_factors(model, proj.dst, report)
                lsb = (
                    2.0 ** weight_lsb_shift(opts["weight_bits"], sign)
                    * 64
                    / report["populations"][proj.dst]["scale"]
                )
                lsb = lsb * unfold.reshape(w.shape[0], -1)[:, 0][:, None, None, None]
                assert np.all(np.abs(w_hat - w) <= lsb / 2 * (1 + 1e-9) + 1e-15), part
            continue
        w, w_hat, lsb = qhelpers.dense_effective(graph, program, report, name)
        mask = w != 0
        w, w_hat, lsb = w[mask], w_hat[mask], lsb[mask]
        assert np.all(np.abs(w_hat - w) <= lsb / 2 * (1 + 1e-9) + 1e-15), name


@settings(max_examples=80)
@given(graphs(domain="float"))
def test_decay_rounding_within_one_unit_and_thresholds_exact(graph):
    graph = _deployable(graph)
    program, report = _quantize(graph)
    for name, pop in graph.populations.items():
        if not isinstance(pop, LIF):
            continue
        q = program.populations[name]
        # Every neuron's own decays (per-neuron time constants give per-neuron registers).
        alpha_syn, alpha_mem = (
            np.broadcast_to(np.reshape(a, -1), (pop.size,)) for a in pop.decays(graph.dt)
        )
        err_u = np.abs((4096 - q.per_neuron("du") - 1) - 4096 * alpha_syn)
        err_v = np.abs((4096 - q.per_neuron("dv")) - 4096 * alpha_mem)
        assert err_u.max() <= 1.0 + 1e-9 and err_v.max() <= 1.0 + 1e-9
        assert np.all(err_u[alpha_syn <= 4095.5 / 4096] <= 0.5 + 1e-9)
        assert np.all(err_v[alpha_mem >= 0.5 / 4096] <= 0.5 + 1e-9)
        rep = report["populations"][name]
        assert math.isclose(rep["du_error_units"], float(err_u.max()), abs_tol=1e-6)
        theta = rep["threshold"]
        assert math.isclose(q.vth * 64 / rep["scale"], theta, rel_tol=1e-12)


def _random_inputs(graph: Graph, seed: int, steps: int = 40, batch: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps, graph.n_inputs)) < 0.3).astype(np.uint8)


@settings(max_examples=40)
@given(graphs(domain="float"), st.sampled_from(["per-layer", "per-channel"]), st.integers(0, 2**16))
def test_no_silent_population_on_networks_that_spike_in_float(graph, granularity, seed):
    graph = _deployable(graph)
    program, _ = _quantize(graph, granularity=granularity)
    x = _random_inputs(graph, seed)
    names = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
    f = get_backend("float")(graph, x, probes=[Probe(n) for n in names])
    q = get_backend("cpu")(program, x, probes=[Probe(n) for n in names], hw=HW)
    for n in names:
        cells = f.get(n).size
        float_spikes = int(f.get(n).sum())
        # "spikes in float": at least 2% of neuron-steps, so one marginal crossing does not count
        if float_spikes >= 0.02 * cells:
            assert q.get(n).sum() > 0, (n, float_spikes)


@settings(max_examples=40)
@given(graphs(domain="float"), options, st.integers(0, 2**16))
def test_program_means_what_the_quantizer_says(graph, opts, seed):
    """Integrate-and-fire versions of random graphs: the program's spikes equal those of the float
    model rebuilt from its integers (no floor from negative exponents, no saturation)."""
    graph = _deployable(graph, integrate_and_fire=True)
    program, _ = _quantize(graph, **opts)
    assume(all(getattr(q, "weight_exp", 0) >= 0 for q in program.projections.values()))
    x = _random_inputs(graph, seed)
    names = [n for n, p in graph.populations.items() if not isinstance(p, Input)]
    probes = [Probe(n, ("spikes", "v")) for n in names]
    fixed = get_backend("cpu")(program, x, probes=probes, hw=HW)
    assume(all(np.abs(fixed.get(n, "v")).max() < 2**23 - 1 for n in names))
    ref = get_backend("float")(qhelpers.integer_float_model(program), x, probes=probes)
    for n in names:
        np.testing.assert_array_equal(fixed.get(n), ref.get(n))
        np.testing.assert_array_equal(fixed.get(n, "v"), ref.get(n, "v") * 64)
