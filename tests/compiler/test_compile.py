"""compile_model (the pipeline), calibration statistics, the printed report, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backends import get_backend
from backends.base import Probe
from compiler.build import read_build, write_build
from compiler.compile import Calibration, CompileOptions, compile_model, compile_passes
from compiler.quantization.calibrate import ActivityStats, compare
from compiler.quantization.report import format_quantization
from ir import LIF, QLIF, Dense, Graph, Input, QDense, load_hw
from ir.atomic import MANIFEST
from tests.tiny_models import digits_mlp
from trainers.encoders import encode

HW = load_hw("loihi2")


def simulate(graph, inputs, variables):
    probes = [Probe(n, variables) for n, p in graph.populations.items() if not isinstance(p, Input)]
    if graph.domain == "float":
        return get_backend("float")(graph, inputs, probes=probes).data
    return get_backend("cpu")(graph, inputs, probes=probes, hw=HW).data


def _calibration(model: Graph, n: int = 24, steps: int = 16) -> Calibration:
    from trainers.datasets import load_dataset

    x = load_dataset("digits").x_val[:n]
    spikes = encode(model.metadata["encoding"], x, steps, 0)
    desc = {"dataset": "digits", "split": "val", "samples": n, "steps": steps, "seed": 0}
    return Calibration(inputs=spikes, simulate=simulate, description=desc, batch_size=10)


def test_pipeline():
    assert [p.name for p in compile_passes(CompileOptions())] == [
        "quantize",
        "partition",
        "split-exact",
        "place",
    ]
    assert next(p.name for p in compile_passes(CompileOptions(split_signs=True))) == "split-signs"


def test_compile_model_program_metadata_and_report():
    model = digits_mlp()
    program, report = compile_model(model, HW, CompileOptions(granularity="per-channel", seed=3))
    assert program.domain == "fixed"
    meta = dict(program.metadata)
    assert (
        meta["encoding"] == model.metadata["encoding"]
        and meta["readout"] == model.metadata["readout"]
    )
    assert meta["compile"] == {
        "target": "loihi2",
        "seed": 3,
        "options": CompileOptions(granularity="per-channel", seed=3).to_json(),
    }
    assert report["target"] == "loihi2" and report["format_version"] == 1
    q = report["quantization"]
    assert set(q["populations"]) == {"h", "out"} and set(q["projections"]) == {"fc1", "fc2"}
    json.dumps(report, allow_nan=False)


def test_calibration_compares_float_and_fixed_rates():
    model = digits_mlp()
    program, report = compile_model(model, HW, calibration=_calibration(model))
    cal = report["quantization"]["calibration"]
    assert cal["dataset"] == "digits" and cal["samples"] == 24
    for name in ("h", "out"):
        p = cal["populations"][name]
        assert p["status"] == "ok" and p["rate_float"] > 0
        assert p["rate_abs_diff"] <= 0.02 and 0 <= p["u_peak_fraction"] < 1
    assert program.metadata["compile"]["calibration"]["split"] == "val"
    assert program.placement is not None and report["partition"]["rates"] == "calibration"
    assert "calibration: digits val, 24 samples" in format_quantization(report["quantization"])


def test_one_bit_weights_silence_a_population_loudly():
    """1-bit mixed-sign weights hold only -1 and 0 (Lava clears 8 of the 9 bits): the positive
    drive disappears and the network goes quiet; calibration must say so."""
    model = digits_mlp()
    _, report = compile_model(
        model,
        HW,
        CompileOptions(weight_bits=1, bias_correction=False),
        calibration=_calibration(model),
    )
    q = report["quantization"]
    pops = q["calibration"]["populations"]
    assert (
        pops["h"]["status"] == "silent"
        and 0 < pops["h"]["rate_fixed"] < 0.05 * pops["h"]["rate_float"]
    )
    assert pops["out"]["status"] == "silent" and pops["out"]["rate_fixed"] == 0
    assert any(
        "'h' is SILENT after quantization" in w and "in fixed point at rate" in w
        for w in q["warnings"]
    )
    assert any(
        "'out' is SILENT after quantization" in w and "in fixed point never" in w
        for w in q["warnings"]
    )
    assert any(
        "'fc1'" in w and "1-bit mixed-sign weights hold only -1 and 0" in w for w in q["warnings"]
    )
    assert "SILENT" in format_quantization(q)


def test_compare_flags_silent_and_saturated():
    def stats(domain, counts, u=1.0, floor=0, ceil=0):
        s = ActivityStats(domain=domain, samples=2, steps=10)
        for name, c in counts.items():
            s.spike_counts[name] = np.array(c)
            s.u_abs_max[name], s.v_floor_hits[name], s.v_ceiling_hits[name] = u, floor, ceil
        return s

    f = stats("float", {"a": [4, 0], "b": [2, 2], "c": [5, 5], "d": [1, 1]}, u=2.0)
    q = stats("fixed", {"a": [0, 0], "b": [19, 20], "c": [5, 6], "d": [1, 1]}, u=3.0)
    report, warnings = compare(f, q, {"a": 1.0, "b": 1.0, "c": 1.0, "d": 2**23})
    assert report["a"]["status"] == "silent" and report["b"]["status"] == "saturated"
    assert report["c"]["status"] == "ok" and report["c"]["rate_rel_diff"] == pytest.approx(0.1)
    assert report["d"]["status"] == "saturated" and report["d"]["u_float_peak_fraction"] > 1
    assert len(warnings) == 3 and "SILENT" in warnings[0] and "fires at rate 0.975" in warnings[1]
    assert "wrap" in warnings[2]


def test_print_ir_after_quantize(capsys):
    compile_model(digits_mlp(), HW, print_after=("quantize",))
    err = capsys.readouterr().err
    assert err.startswith("// IR after quantize\ngraph domain=fixed")


def test_calibrating_a_fixed_program_reports_its_rates():
    model = digits_mlp()
    program, _ = compile_model(model, HW)
    again, report = compile_model(program, HW, calibration=_calibration(model))
    assert "skipped" in report["quantization"]
    pops = report["quantization"]["calibration"]["populations"]
    assert pops["h"]["status"] == "ok" and "rate_float" not in pops["h"]
    assert pops["h"]["rate_fixed"] > 0 and again.placement is not None


def test_already_fixed_model_is_not_requantized():
    g = Graph(
        populations={"in": Input((2,)), "h": QLIF((1,), vth=5)},
        projections={"p": QDense("in", "h", weight=[[2, 4]])},
    )
    program, report = compile_model(g, HW)
    assert program.projections["p"] is g.projections["p"]
    assert "skipped" in report["quantization"] and "quantization: skipped" in format_quantization(
        report["quantization"]
    )


def test_compiling_twice_gives_the_same_bytes(tmp_path):
    model = digits_mlp()
    outs = []
    for i in range(2):
        program, report = compile_model(
            model,
            HW,
            CompileOptions(granularity="per-channel"),
            calibration=_calibration(model, n=8),
        )
        write_build(tmp_path / f"b{i}", program, HW, report)
        outs.append({f.name: f.read_bytes() for f in sorted((tmp_path / f"b{i}").iterdir())})
    assert outs[0] == outs[1] and set(outs[0]) == {
        "program.snnc",
        "hw.yaml",
        "report.json",
        MANIFEST,
    }
    build = read_build(tmp_path / "b0")
    assert build.report["quantization"]["options"]["granularity"] == "per-channel"


def test_printed_report_golden():
    g = Graph(
        populations={"in": Input((3,)), "h": LIF((2,), v_th=2.0)},
        projections={"p": Dense("in", "h", weight=[[0.5, -0.25, 1.0], [0.125, 0.0, -1.0]])},
    )
    _, report = compile_model(g, HW)
    assert format_quantization(report["quantization"]) == (
        "quantization (per-layer, 8-bit weights, clip percentile 100.0, v range 64.0 thresholds)\n"
        "\n"
        "projection  src -> dst  type    sign   exp  bits  scale  rows  clipped  rel.err  "
        "max.err/lsb\n"
        "p           in -> h     QDense  mixed    3   8/8    128     2   0.000%    0.00%  "
        "      0.000\n"
        "\n"
        "population  scale   vth  thr.err  folded  du (err/4096)  dv (err/4096)  bias.err/thr  "
        "bias.corr/thr  headroom.bits  scale limited by\n"
        "h           65536  2048   0.000%  no        4095 (0.00)       0 (0.00)             0  "
        "            -            6.4  v range: 64 thresholds below zero\n"
    )


def test_a_cut_source_is_quantized_split_exact_from_the_float_weights():
    """Issue 20: a float model whose hidden layer the partition cuts (here 1100 LIF on loihi1,
    1024 a core) and whose next projection would get a negative exponent is compiled twice: the
    second time that projection is quantized with whole activation units per synapse (E >= 0),
    which the cut cannot change, and the report says what that cost."""
    from compiler.passes.split_exact import placement_pieces, split_hazards
    from ir.fixed import effective_weights
    from tests.backends.random_nets import split_case

    case = split_case(18)
    assert case.family == "wide-loihi1"
    program, report = compile_model(case.model, case.hw)
    summary = report["split_exact"]
    assert summary["exact_sources"] == ["l0"] and summary["pipeline_runs"] == 2
    (made,) = summary["projections"]
    assert made["projection"] == "fc1"
    assert made["pieces"] == len(placement_pieces(program)["l0"]) > 1
    assert made["rel_error"] > made["rel_error_unconstrained"]
    q = report["quantization"]["projections"]["fc1"]
    assert q["split_exact"] and q["rel_error"] == made["rel_error"]
    fc1 = program.projections["fc1"]
    w = effective_weights(fc1.weight, fc1.num_weight_bits, fc1.sign_mode)
    # Whole units: E = lsb_shift + weight_exp >= 0 (8-bit mixed: lsb_shift 1, weight_exp -1).
    assert fc1.sign_mode == "mixed" and fc1.weight_exp == -1 and np.all(w % 2 == 0)
    assert split_hazards(program) == {}
    assert report["quantization"]["projections"]["fc0"]["split_exact"] is False
