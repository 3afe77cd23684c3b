"""The quantize pass: register formulas, a hand-derived golden, the fixed program's meaning,
per-channel groups, threshold folding, convolutions, graded inputs, errors and the report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from backends import get_backend
from backends.base import Probe
from compiler.passes.base import PassContext
from compiler.passes.quantize import QuantizationError, QuantizePass
from compiler.quantization import formats
from ir import LIF, QLIF, Conv2d, Dense, Graph, Input, QDense, Sparse, load_hw, print_graph, verify
from ir.fixed import effective_weights
from tests.compiler import qhelpers

HW = load_hw("loihi2")


def quantize(graph: Graph, **opts) -> tuple[Graph, dict]:
    ctx = PassContext(hw=HW)
    program = QuantizePass(**opts).run(graph, ctx)
    verify(program, HW)
    return program, ctx.reports["quantize"]


# --------------------------------------------------------------------------- formats


def test_decay_registers_lava_golden():
    # Lava's impulse-response test: du = 2047 halves u every step ((4096 - 2048) / 4096).
    assert formats.du_from_alpha(0.5) == 2047
    assert formats.alpha_from_du(2047) == 0.5
    assert formats.du_from_alpha(0.0) == 4095  # u cleared every step: exact
    assert formats.du_from_alpha(1.0) == 0  # no decay is not representable: 4095/4096
    assert formats.dv_from_alpha(1.0) == 0  # dv = 0 is exactly no decay (dm_offset = 0)
    assert formats.dv_from_alpha(0.0) == 4095
    assert formats.dv_from_alpha(0.5) == 2048


def test_decay_rounding_within_half_unit_in_range():
    for alpha in np.linspace(1 / 4096, 4094 / 4096, 997):
        assert abs(formats.alpha_from_du(formats.du_from_alpha(alpha)) - alpha) * 4096 <= 0.5 + 1e-9
        assert abs(formats.alpha_from_dv(formats.dv_from_alpha(alpha)) - alpha) * 4096 <= 0.5 + 1e-9


@pytest.mark.parametrize("sign", ["mixed", "excitatory", "inhibitory"])
@pytest.mark.parametrize("bits", range(1, 9))
def test_weight_format_is_exactly_lavas_lattice(sign, bits):
    fmt = formats.WeightFormat(sign, bits, 0, 0)
    m = np.arange(fmt.mant_min, fmt.mant_max + 1)
    v = m << fmt.lsb_shift
    # Every mantissa survives Lava's clip + truncate unchanged ...
    assert np.array_equal(effective_weights(v, bits, sign), v)
    # ... and Lava can produce no other value.
    everything = np.unique(effective_weights(np.arange(-300, 300), bits, sign))
    assert np.array_equal(everything, v)


def test_bias_registers_pick_finest_exponent():
    mant, exp, clipped = formats.bias_registers(
        np.array([0.4, 100.6, 4095.0, 4096.0, -9000.0, 2e6]), 0, 7
    )
    assert mant.tolist()[:3] == [0, 101, 4095] and exp.tolist()[:3] == [0, 0, 0]
    assert (mant[3], exp[3]) == (2048, 1)
    assert (mant[4], exp[4]) == (-2250, 2)
    assert clipped.tolist() == [False] * 5 + [True] and mant[5] == 4095 and exp[5] == 7


def test_bits_used():
    assert formats.bits_used(np.array([-128, 127]), "mixed") == 8
    assert formats.bits_used(np.array([-1, 0]), "mixed") == 1
    assert formats.bits_used(np.array([3, 1]), "mixed") == 3
    assert formats.bits_used(np.array([255, 0]), "excitatory") == 8
    assert formats.bits_used(np.array([-5]), "inhibitory") == 3


# --------------------------------------------------------------------------- golden


def test_golden_hand_derived():
    """A case worked out by hand (the numbers in the comments are the pass's formulas).

    theta = 2, weights in [-1, 1] -> mixed sign, 8 bits: lsb_shift k = 1, mantissa -128..127,
    full-range factor c0 = 127 (level limit 7 + 1 + log2 127 = 14.99). Other limits on
    L = log2(S / 64): vth <= 131071 -> 16.0; v range 64 thresholds -> 23 - log2(128) - 6 = 10;
    worst-case u: 64 * 1.5 * S <= 2^23 - 1 -> 16.4. So L = 10. Within (9, 10] every weight is a
    multiple of 1/64, so c = 64 is exact: L = 10, vth = 2^10 * 2 = 2048, S = 65536, E = 4,
    weight_exp = E - k = 3, V = (64 w) << 1.
    """
    g = Graph(
        populations={"in": Input((3,)), "h": LIF((2,), v_th=2.0)},
        projections={"p": Dense("in", "h", weight=[[0.5, -0.25, 1.0], [0.125, 0.0, -1.0]])},
    )
    program, report = quantize(g)
    assert print_graph(program) == (
        "graph domain=fixed dt=0.001 inputs=in outputs=h\n"
        "population in: Input shape=(3,) message_bits=0\n"
        "population h: QLIF shape=(2,) du=4095 dv=0 vth=2048 bias_mant=0 bias_exp=0 "
        "reset_interval=0 reset_offset=0\n"
        "projection p: in -> h QDense weight=i64[2,3](64 -32 128 16 0 -128) delay=0 weight_exp=3 "
        "num_weight_bits=8 sign_mode=mixed\n"
    )
    pop = report["populations"]["h"]
    assert pop["scale"] == 65536.0 and pop["threshold_rel_error"] == 0.0
    assert pop["limited_by"] == "v range: 64 thresholds below zero"
    # A spike on input 2 (w = 1.0): a = 128 << 3 = 1024, u = a << 6 = 65536 = S * 1.0.
    assert pop["u_worst_case"] == 64 * (64 + 128) * 8
    proj = report["projections"]["p"]
    assert proj["rel_error"] == 0.0 and proj["clipped_fraction"] == 0.0
    assert proj["parts"][0]["scale"] == 128.0 and proj["parts"][0]["lsb"] == 1 / 64


# --------------------------------------------------------------------------- meaning of the program


def _random_mlp(seed: int, per_neuron_threshold: bool = False, bias: bool = True) -> Graph:
    rng = np.random.default_rng(seed)
    v_th = rng.uniform(0.5, 2.0, 12) if per_neuron_threshold else 1.0
    return Graph(
        populations={
            "in": Input((30,)),
            "h": LIF((12,), v_th=v_th, bias=rng.normal(0, 0.02, 12) if bias else 0.0),
            "out": LIF((5,), v_th=1.5),
        },
        projections={
            "fc1": Dense(
                "in", "h", weight=rng.normal(0, 0.3, (12, 30)) * rng.uniform(0.1, 1, (12, 1))
            ),
            "fc2": Dense("h", "out", weight=rng.normal(0, 0.6, (5, 12))),
            "skip": Sparse(
                "in", "out", rows=[0, 1, 3], cols=[2, 7, 9], values=[0.2, -0.4, 0.3], delay=1
            ),
        },
    )


def _spikes(seed: int, shape) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < 0.3).astype(np.uint8)


@pytest.mark.parametrize("granularity", ["per-layer", "per-channel"])
@pytest.mark.parametrize("folded", [False, True])
def test_program_is_exactly_the_scaled_integer_model(granularity, folded):
    """The cpu backend's spikes equal a float model built from the program's integers alone:
    so weight_exp, lsb shifts, bias_exp and vth mean what the quantizer assumed."""
    program, _ = quantize(_random_mlp(1, folded), granularity=granularity)
    x = _spikes(2, (6, 60, 30))
    probes = [Probe("h", ("spikes", "v")), Probe("out", ("spikes", "v"))]
    fixed = get_backend("cpu")(program, x, probes=probes, hw=HW)
    ref = get_backend("float")(qhelpers.integer_float_model(program), x, probes=probes)
    for pop in ("h", "out"):
        assert np.abs(fixed.get(pop, "v")).max() < 2**23 - 1  # no saturation in this run
        np.testing.assert_array_equal(fixed.get(pop), ref.get(pop))
        np.testing.assert_array_equal(fixed.get(pop, "v"), ref.get(pop, "v") * 64)


def test_fixed_tracks_float_closely():
    model = _random_mlp(3)
    program, report = quantize(model)
    x = _spikes(4, (16, 100, 30))
    f = get_backend("float")(model, x, probes=[Probe("h"), Probe("out")])
    q = get_backend("cpu")(program, x, probes=[Probe("h"), Probe("out")], hw=HW)
    for pop in ("h", "out"):
        nf, nq = int(f.get(pop).sum()), int(q.get(pop).sum())
        assert nf > 100 and abs(nq - nf) <= 0.05 * nf, (pop, nf, nq)
    assert all(p["rel_error"] < 0.01 for p in report["projections"].values())


def test_per_channel_groups_rows_and_beats_per_layer():
    program_l, rep_l = quantize(_random_mlp(5))
    program_c, rep_c = quantize(_random_mlp(5), granularity="per-channel")
    parts = qhelpers.parts_of(program_c, "fc1")
    assert len(parts) > 1 and parts[0] == "fc1.g0"
    rows = np.concatenate([np.unique(program_c.projections[p].rows) for p in parts])
    assert sorted(rows.tolist()) == list(range(12))  # every destination neuron in exactly one group
    exps = [program_c.projections[p].weight_exp for p in parts]
    assert len(set(exps)) == len(exps)
    assert rep_c["projections"]["fc1"]["rel_error"] < rep_l["projections"]["fc1"]["rel_error"]
    # Rows of small weights gain most: their own exponent puts their largest weight at full range.
    model = _random_mlp(5)

    def row_errors(program, report):
        w, w_hat, _ = qhelpers.dense_effective(model, program, report, "fc1")
        return np.linalg.norm(w_hat - w, axis=1) / np.linalg.norm(w, axis=1)

    assert row_errors(program_c, rep_c).mean() < 0.6 * row_errors(program_l, rep_l).mean()
    assert [p["name"] for p in rep_c["projections"]["fc1"]["parts"]] == parts
    assert sum(p["rows"] for p in rep_c["projections"]["fc1"]["parts"]) == 12


def test_folded_thresholds_keep_float_spikes():
    """Folding per-neuron thresholds into the weights is exact in float; the quantized program
    follows the per-neuron-threshold model as closely as the scalar one."""
    model = _random_mlp(7, per_neuron_threshold=True)
    program, report = quantize(model)
    assert report["populations"]["h"]["thresholds_folded"] and isinstance(
        program.populations["h"].vth, int
    )
    assert program.populations["h"].bias_mant.shape == (12,)
    x = _spikes(8, (16, 100, 30))
    f = get_backend("float")(model, x, probes=[Probe("h")])
    q = get_backend("cpu")(program, x, probes=[Probe("h")], hw=HW)
    nf, nq = int(f.get("h").sum()), int(q.get("h").sum())
    assert nf > 100 and abs(nq - nf) <= 0.05 * nf


def test_excitatory_and_inhibitory_sign_modes_and_fewer_bits():
    g = Graph(
        populations={"in": Input((4,)), "h": LIF((2,))},
        projections={
            "e": Dense("in", "h", weight=[[0.1, 0.4, 0.0, 0.3], [0.2, 0.2, 0.2, 0.2]]),
            "i": Dense("in", "h", weight=[[-0.1, 0.0, -0.05, 0.0], [-0.3, 0.0, 0.0, 0.0]]),
        },
    )
    program, report = quantize(g, weight_bits=4)
    e, i = program.projections["e"], program.projections["i"]
    assert (e.sign_mode, i.sign_mode) == ("excitatory", "inhibitory")
    assert e.num_weight_bits == i.num_weight_bits == 4
    for q in (e, i):
        assert np.array_equal(effective_weights(q.weight, 4, q.sign_mode), q.weight)
        assert np.all(q.weight % 16 == 0)  # 4-bit unsigned mantissas sit at bit 4 of Lava's weight
    assert report["projections"]["e"]["parts"][0]["bits_used"] <= 4


def test_decays_and_bias():
    g = Graph(
        populations={
            "in": Input((2,)),
            "h": LIF((2,), tau_syn=5e-3, tau_mem=20e-3, v_th=1.0, bias=[0.01, -0.02]),
        },
        projections={"p": Dense("in", "h", weight=[[0.5, 0.2], [0.1, 0.3]])},
        dt=1e-3,
    )
    program, report = quantize(g)
    h = program.populations["h"]
    assert h.du == formats.du_from_alpha(math.exp(-1 / 5)) and h.dv == formats.dv_from_alpha(
        math.exp(-1 / 20)
    )
    pop = report["populations"]["h"]
    assert pop["du_error_units"] <= 0.5 and pop["dv_error_units"] <= 0.5
    effective = np.left_shift(h.bias_mant, h.bias_exp)
    np.testing.assert_allclose(
        effective / pop["scale"], [0.01, -0.02], atol=0.5 / pop["scale"] * 2 ** h.bias_exp.max()
    )
    assert pop["bias_max_error"] < 1e-4
    # the worst case includes the current's geometric growth: 1 / (1 - alpha_syn)
    gain = 4096 / (h.du + 1)
    assert (
        pop["u_worst_case"] <= 2**23 - 1
        and pop["u_worst_case"] >= 0.7 * 64 * gain * 0.7 * pop["scale"] / 64
    )


def test_tau_syn_inf_gets_a_note():
    g = Graph(
        populations={"in": Input((1,)), "h": LIF((1,), tau_syn=math.inf)},
        projections={"p": Dense("in", "h", weight=[[0.5]])},
    )
    program, report = quantize(g)
    assert program.populations["h"].du == 0
    assert report["populations"]["h"]["du_error_units"] == pytest.approx(1.0)
    assert any("tau_syn = inf" in n for n in report["notes"])


def test_convolution_and_pooling():
    rng = np.random.default_rng(0)
    g = Graph(
        populations={
            "in": Input((1, 6, 6)),
            "c": LIF((2, 4, 4), v_th=np.repeat([0.8, 1.6], 16).reshape(2, 4, 4)),
            "pool": LIF((2, 2, 2)),
            "out": LIF((3,)),
        },
        projections={
            "conv": Conv2d("in", "c", weight=rng.normal(0, 0.5, (2, 1, 3, 3))),
            "avg": Conv2d("c", "pool", weight=np.full((2, 1, 2, 2), 0.25), stride=2, groups=2),
            "fc": Dense("pool", "out", weight=rng.normal(0, 0.5, (3, 8))),
        },
    )
    program, report = quantize(g, granularity="per-channel")
    assert report["projections"]["conv"]["granularity"] == "per-layer"  # no exponent to vary
    assert report["populations"]["c"]["thresholds_folded"]
    w, w_hat = qhelpers.conv_effective(g, program, report, "conv")
    lsb = 2.0 * 64 / report["populations"]["c"]["scale"] * np.array([0.8, 1.6])[:, None, None, None]
    assert np.all(np.abs(w_hat - w) <= lsb / 2 * (1 + 1e-9))
    pool = program.projections["avg"]
    # all-positive: excitatory (8-bit mantissa 0..255, no sign bit); 0.25 is dyadic, so the
    # integer level represents it exactly (128 = 0.25 * 512) where filling the range (255) would not
    assert np.all(pool.weight == 128)
    assert report["projections"]["avg"]["rel_error"] == 0.0
    x = _spikes(1, (4, 30, 36))
    probes = [Probe(p, ("spikes", "v")) for p in ("c", "pool", "out")]
    fixed = get_backend("cpu")(program, x, probes=probes, hw=HW)
    ref = get_backend("float")(qhelpers.integer_float_model(program), x, probes=probes)
    for p in ("c", "pool", "out"):
        np.testing.assert_array_equal(fixed.get(p), ref.get(p))


def test_conv_threshold_varying_within_channel_is_an_error():
    g = Graph(
        populations={"in": Input((1, 3, 3)), "c": LIF((1, 2, 2), v_th=[[[1.0, 2.0], [1.0, 1.0]]])},
        projections={"conv": Conv2d("in", "c", weight=np.ones((1, 1, 2, 2)))},
    )
    with pytest.raises(QuantizationError, match=r"population 'c': v_th varies within a channel"):
        quantize(g)


def test_graded_input_headroom():
    g = Graph(
        populations={"in": Input((16,), message_bits=8), "h": LIF((4,), v_th=200.0)},
        projections={"p": Dense("in", "h", weight=np.random.default_rng(0).normal(0, 1, (4, 16)))},
    )
    program, report = quantize(g)
    pop = report["populations"]["h"]
    assert pop["u_worst_case"] <= 2**23 - 1
    w = program.projections["p"]
    # |a| <= sum |V| << exp times the largest payload magnitude 2^7
    bound = np.abs(w.weight).sum(axis=1).max() * 2.0**w.weight_exp * 128 * 64
    assert pop["u_worst_case"] >= bound
    x = np.random.default_rng(1).integers(0, 128, (3, 20, 16))
    fixed = get_backend("cpu")(program, x, probes=[Probe("h", ("spikes", "u"))], hw=HW)
    assert np.abs(fixed.get("h", "u")).max() < 2**23


@pytest.mark.parametrize(
    "v_th, match",
    [
        (-1.0, r"population 'h': v_th = -1.0 is negative"),
        ([1.0, 0.0], r"population 'h': v_th varies per neuron and reaches 0.0"),
    ],
)
def test_threshold_errors(v_th, match):
    g = Graph(
        populations={"in": Input((1,)), "h": LIF((2,), v_th=v_th)},
        projections={"p": Dense("in", "h", weight=[[1.0], [1.0]])},
    )
    with pytest.raises(QuantizationError, match=match):
        quantize(g)


def test_per_neuron_tau_gives_per_neuron_decays():
    """Each neuron gets its own dv (Lava runs the two as separate processes); the report shows
    the range and the number of parameter groups."""
    g = Graph(
        populations={"in": Input((1,)), "h": LIF((2,), tau_mem=[0.01, 0.02])},
        projections={"p": Dense("in", "h", weight=[[1.0], [1.0]])},
    )
    program, report = quantize(g)
    h = program.populations["h"]
    assert h.dv.tolist() == [390, 200]
    rep = report["populations"]["h"]
    assert rep["dv"] == {"min": 200, "max": 390, "distinct": 2}
    assert rep["parameter_groups"] == 2


@pytest.mark.parametrize(
    "opts, match",
    [
        (
            {"weight_bits": 9},
            r"weight_bits = 9 is outside 1..8 \(hw_configs/loihi2.yaml: synapse.max_weight_bits\)",
        ),
        ({"weight_bits": 0}, r"weight_bits = 0 is outside 1..8"),
        ({"granularity": "per-row"}, r"granularity 'per-row'"),
        ({"clip_percentile": 20}, r"clip_percentile = 20 is outside 50..100"),
        ({"v_range": 0.5}, r"v_range = 0.5 is outside"),
    ],
)
def test_option_errors(opts, match):
    with pytest.raises(QuantizationError, match=match):
        quantize(_random_mlp(0), **opts)


def test_clip_percentile_clips_and_reports():
    model = _random_mlp(9)
    _, full = quantize(model)
    _, clip = quantize(model, clip_percentile=90.0)
    assert full["projections"]["fc1"]["clipped_fraction"] == 0.0
    # Scales may now clip the top 10% of |w|; the one with the least squared error is taken.
    assert 0.0 < clip["projections"]["fc1"]["clipped_fraction"] <= 0.10
    assert clip["projections"]["fc1"]["max_error_lsb"] <= 0.5
    assert clip["warnings"] == []  # clipping that was asked for is not a warning


def test_fixed_graph_is_returned_unchanged():
    g = Graph(
        populations={"in": Input((1,)), "h": QLIF((1,), vth=10)},
        projections={"p": QDense("in", "h", weight=[[2]])},
    )
    ctx = PassContext(hw=HW)
    assert QuantizePass().run(g, ctx) is g
    assert "skipped" in ctx.reports["quantize"]


def test_report_is_json_and_complete():
    _, report = quantize(_random_mlp(2), granularity="per-channel")
    json.dumps(report, allow_nan=False)
    for p in report["projections"].values():
        assert {"src", "dst", "parts", "clipped_fraction", "rel_error", "max_error_lsb"} <= set(p)
        for part in p["parts"]:
            assert {"scale", "weight_exp", "num_weight_bits", "bits_used", "sign_mode"} <= set(part)
    for p in report["populations"].values():
        assert {
            "scale",
            "vth",
            "threshold_rel_error",
            "du",
            "dv",
            "du_error_units",
            "dv_error_units",
        } <= set(p)


def test_deterministic():
    a, ra = quantize(_random_mlp(4), granularity="per-channel")
    b, rb = quantize(_random_mlp(4), granularity="per-channel")
    assert print_graph(a) == print_graph(b) and json.dumps(ra) == json.dumps(rb)


# --------------------------------------------------------------------------- non-spiking readout


def _leaky_readout(v_th_out) -> Graph:
    rng = np.random.default_rng(7)
    return Graph(
        populations={
            "x": Input((6,)),
            "out": LIF((3,), tau_syn=0.0, tau_mem=4e-3, v_th=v_th_out),
        },
        projections={"fc": Dense("x", "out", weight=rng.uniform(-0.3, 0.6, (3, 6)))},
        dt=1e-3,
    )


def test_non_spiking_population_never_fires_and_tracks_float_v():
    """v_th = +inf (NIR's LI): vth at its 17-bit maximum and a scale whose worst-case v stays
    below vth << 6, so even the strongest input (every positive synapse, every step) never fires."""
    g = _leaky_readout(math.inf)
    program, report = quantize(g)
    out = program.populations["out"]
    pop_report = report["populations"]["out"]
    assert out.vth == (1 << 17) - 1 and pop_report["non_spiking"] is True
    assert pop_report["threshold"] is None
    json.dumps(report, allow_nan=False)  # the report stays valid JSON
    worst = (g.projections["fc"].weight > 0).astype(np.int64)  # drive only positive synapses
    x = np.broadcast_to(worst.any(axis=0), (1, 200, 6)).astype(np.int64)
    probes = [Probe("out", ("spikes", "v"))]
    fixed = get_backend("cpu")(program, x, steps=200, probes=probes, hw=HW)
    assert fixed.get("out", "spikes").sum() == 0
    rng = np.random.default_rng(0)
    x = (rng.random((4, 60, 6)) < 0.5).astype(np.int64)
    fixed = get_backend("cpu")(program, x, steps=60, probes=probes, hw=HW)
    flt = get_backend("float")(g, x, steps=60, probes=probes)
    v_fixed = fixed.get("out", "v") / pop_report["scale"]
    assert np.abs(v_fixed - flt.get("out", "v")).max() < 0.01 * np.abs(flt.get("out", "v")).max()


def test_mixed_infinite_and_finite_thresholds_are_refused():
    g = _leaky_readout(np.array([1.0, math.inf, 1.0]))
    with pytest.raises(QuantizationError, match=r"population 'out': v_th mixes \+inf"):
        quantize(g)


def test_integer_valued_model_compiles_exactly():
    """An IF layer with even-integer weights, integer biases and threshold (what `snnc train tem`
    writes) quantizes without error at the integer level, so the program spikes as the model."""
    rng = np.random.default_rng(3)
    g = Graph(
        populations={
            "in": Input((64,)),
            "out": LIF(
                (10,), tau_syn=0.0, v_th=420.0, bias=rng.integers(-150, 30, 10).astype(float)
            ),
        },
        projections={"p": Dense("in", "out", weight=2.0 * rng.integers(-80, 127, (10, 64)))},
    )
    program, report = quantize(g)
    assert report["projections"]["p"]["rel_error"] == 0.0
    assert report["populations"]["out"]["threshold_rel_error"] == 0.0
    assert report["populations"]["out"]["bias_max_error"] == 0.0
    x = _spikes(5, (8, 48, 64))
    probes = [Probe("out", ("spikes",))]
    fixed = get_backend("cpu")(program, x, probes=probes, hw=HW)
    flt = get_backend("float")(g, x, probes=probes)
    assert fixed.get("out", "spikes").sum() > 0
    np.testing.assert_array_equal(fixed.get("out", "spikes"), flt.get("out", "spikes"))


# --------------------------------------------------------------------------- bias correction


def _mean_drive(program: Graph, model: Graph, dst: str, rates: dict, scale: float):
    """(fixed, float) mean input per step of `dst` at the given source rates, in Lava's v
    units: 64 * sum_i W_eff r_i + bias_mant << bias_exp, and S * (sum_i w r_i + b)."""
    from ir.conv import conv2d

    def drive(proj, weight, r):
        if isinstance(proj, Conv2d):
            shape = model.populations[proj.src].shape
            return conv2d(
                r.reshape(1, *shape), weight, proj.stride, proj.padding, proj.dilation, proj.groups
            ).reshape(-1)
        if isinstance(proj, Sparse):
            return np.bincount(proj.rows, weights=weight * r[proj.cols], minlength=len(fixed))
        return weight @ r

    pop, q = model.populations[dst], program.populations[dst]
    fixed = np.broadcast_to(np.left_shift(q.bias_mant, q.bias_exp), pop.shape).reshape(-1)
    fixed = fixed.astype(np.float64)
    flt = np.broadcast_to(pop.bias, pop.shape).reshape(-1) * scale
    for name, proj in model.projections.items():
        if proj.dst != dst:
            continue
        node = program.projections[name]
        w_int = node.weight if not isinstance(proj, Sparse) else node.values
        if hasattr(node, "sign_mode"):
            w_int = effective_weights(w_int, node.num_weight_bits, node.sign_mode)
        w_int = w_int * 2.0 ** getattr(node, "weight_exp", 0)
        w = proj.values if isinstance(proj, Sparse) else proj.weight
        fixed = fixed + 64.0 * drive(proj, w_int.astype(float), rates[proj.src])
        flt = flt + scale * drive(proj, w, rates[proj.src])
    return fixed, flt


@pytest.mark.parametrize("kind", ["dense", "sparse", "conv"])
def test_bias_correction_removes_the_mean_drift_at_the_calibration_rates(kind):
    rng = np.random.default_rng(7)
    if kind == "conv":
        shape_in, shape_out = (2, 6, 6), (3, 3, 3)
        proj = Conv2d("in", "h", weight=rng.normal(0.02, 0.3, (3, 2, 3, 3)), stride=2, padding=1)
    else:
        shape_in, shape_out = (40,), (12,)
        w = rng.normal(0.02, 0.3, (12, 40))
        proj = Dense("in", "h", weight=w)
        if kind == "sparse":
            rows, cols = np.nonzero(rng.random((12, 40)) < 0.5)
            proj = Sparse("in", "h", rows=rows, cols=cols, values=w[rows, cols])
    bias = rng.normal(0.0, 0.05, shape_out)
    g = Graph(
        populations={"in": Input(shape_in), "h": LIF(shape_out, bias=bias)},
        projections={"p": proj},
    )
    rates = {"in": rng.random(int(np.prod(shape_in)))}
    ctx = PassContext(hw=HW, calibration={"rates": rates})
    corrected = QuantizePass().run(g, ctx)
    report = ctx.reports["quantize"]
    assert report["options"]["bias_correction"] is True
    plain, plain_report = quantize(g)
    assert plain_report["options"]["bias_correction"] is False
    scale = report["populations"]["h"]["scale"]
    assert plain_report["populations"]["h"]["scale"] == scale  # the weights are the same
    fixed, flt = _mean_drive(corrected, g, "h", rates, scale)
    before, _ = _mean_drive(plain, g, "h", rates, scale)
    bias_exp = corrected.populations["h"].bias_exp
    bias_lsb = np.broadcast_to(np.left_shift(1, bias_exp), shape_out).reshape(-1)
    # what remains is the bias register's own rounding
    assert np.all(np.abs(fixed - flt) <= bias_lsb / 2 + 1e-6 * np.abs(flt).max())
    assert np.abs(before - flt).max() > 4 * np.abs(fixed - flt).max()
    assert report["populations"]["h"]["bias_correction_max"] > 0
