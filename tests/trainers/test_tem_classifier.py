"""trainers.tem digits classifier from target spike times, and its CLI (`snnc train tem`,
`snnc identify`)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu.simulator import run, run_float
from compiler.cli import main
from ir import QLIF, Graph, Input, QDense, load_graph, save_graph
from ir.arrays_io import write_npz
from ir.serialize import graph_to_bytes
from tests.snnc_cli import run_cli
from trainers.datasets import load_dataset
from trainers.tem.classifier import (
    TemClassifierConfig,
    encode_samples,
    evaluate,
    integer_program,
    least_squares_accuracy,
    target_pattern,
    train_classifier,
)

SMALL = TemClassifierConfig(steps=16, period=3, max_iter=80)


@pytest.fixture(scope="module")
def small_digits():
    data = load_dataset("digits")
    return replace(data, x_train=data.x_train[:300], y_train=data.y_train[:300])


@pytest.fixture(scope="module")
def trained(small_digits):
    return train_classifier(small_digits, SMALL)


def test_target_pattern():
    # the first input arrives at step 2 (one-step projection delay): spikes at 1 + k * period
    assert np.flatnonzero(target_pattern(10, 3)).tolist() == [3, 6, 9]  # steps 4, 7, 10


def test_metadata_follows_the_model_metadata_convention(trained):
    meta = trained.graph.metadata
    assert meta["task"] == {"kind": "classification", "dataset": "digits", "n_classes": 10}
    assert meta["encoding"] == {"kind": "rate", "max_rate": 1.0, "steps": 16, "seed": 0}
    assert meta["readout"]["kind"] == "spike_count" and meta["readout"]["population"] == "out"
    assert meta["trainer"]["name"] == "tem" and meta["trainer"]["seed"] == 0
    assert meta["trainer"]["v_max_train"] < meta["trainer"]["v_limit"]


def test_weights_are_deployable_integers(trained):
    w = trained.weights
    assert np.abs(w).max() == 254 and np.all(w % 2 == 0)
    assert 1 <= trained.threshold < 2**17


def test_training_is_deterministic(small_digits, trained):
    again = train_classifier(small_digits, SMALL)
    assert graph_to_bytes(again.graph) == graph_to_bytes(trained.graph)


def test_accuracy_beats_chance_by_far_and_matches_least_squares_scale(small_digits, trained):
    acc = evaluate(trained.graph, small_digits, "test", samples=200)
    x_tr, y_tr = small_digits.split("train")
    x_te, y_te = small_digits.split("test")
    ls = least_squares_accuracy(x_tr, y_tr, x_te[:200], y_te[:200], 10)
    assert acc > 0.8 and ls > 0.8
    assert abs(acc - ls) < 0.1


def test_integer_program_spikes_equal_the_float_model(small_digits, trained):
    """The fixed-point program (QLIF/QDense) computes exactly what the float model computes."""
    program = integer_program(trained.graph)
    assert program.domain == "fixed"
    x, _ = small_digits.split("test")
    spikes = encode_samples(trained.graph.metadata["encoding"], x[:100])
    probe = [Probe("out", ("spikes", "v"))]
    fixed = run(program, spikes, probes=probe)
    flt = run_float(trained.graph, spikes, probes=probe)
    np.testing.assert_array_equal(fixed.get("out"), flt.get("out"))
    np.testing.assert_array_equal(fixed.get("out", "v"), 64 * flt.get("out", "v"))
    assert evaluate(program, small_digits, "test", backend="cpu", samples=100) == evaluate(
        trained.graph, small_digits, "test", samples=100
    )


def test_identify_a_corrupted_deployed_classifier(small_digits, trained):
    """The HIL diagnostic on a trained program: one weight of the target's copy changed."""
    from trainers.tem.identify import identify_weights

    program = integer_program(trained.graph)
    w = program.projections["in_to_out"].weight.copy()
    k = int(np.argmax(np.abs(w[3]) * (w[3] > 0)))  # a strong excitatory synapse of neuron 3
    w[3, k] -= 100
    target = program.with_node("in_to_out", program.projections["in_to_out"].replace(weight=w))
    x, _ = small_digits.split("test")
    spikes = encode_samples(trained.graph.metadata["encoding"], x[:200])
    out = run(target, spikes).get("out")
    result = identify_weights(program, "out", spikes, {"out": out})
    assert {n.neuron for n in result.neurons if n.status != "consistent"} == {3}
    (syn,) = result.single_change_candidates
    assert (syn.post, syn.pre) == (3, k) and syn.alone[0] <= w[3, k] <= syn.alone[1]
    assert syn.lower <= w[3, k] <= syn.upper


def test_cli_train_tem(tmp_path, capsys):
    out = tmp_path / "tem.snnc"
    code = main(
        [
            "train",
            "tem",
            "--dataset",
            "digits",
            "--train-samples",
            "120",
            "--steps",
            "12",
            "--max-iter",
            "30",
            "-o",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train_samples"] == 120 and summary["steps"] == 12
    assert set(summary["accuracy"]) == {"train", "val", "test"}
    assert set(summary["least_squares_test_accuracy"]) == {"pixels", "spike_counts"}
    graph = load_graph(out)
    assert graph.metadata["trainer"]["train_samples"] == 120
    assert graph.populations["out"].size == 10 and graph.n_inputs == 64


def test_cli_train_tem_bad_options_one_line(tmp_path):
    code, out, err = run_cli(
        "train",
        "tem",
        "--dataset",
        "digits",
        "--steps",
        "4",
        "--period",
        "4",
        "-o",
        str(tmp_path / "m.snnc"),
    )
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "need steps >= 2 and 1 <= period < steps, got steps=4, period=4" in err
    with pytest.raises(SystemExit) as exc:
        main(["train", "tem", "--dataset", "mnist", "-o", str(tmp_path / "m.snnc")])
    assert exc.value.code == 2


def _tiny_program(weights):
    return Graph(
        populations={"in": Input((6,)), "out": QLIF((2,), du=4095, dv=0, vth=200)},
        projections={"p": QDense("in", "out", weight=weights)},
    )


def test_cli_identify(tmp_path, capsys):
    rng = np.random.default_rng(0)
    w = rng.integers(-20, 90, (2, 6)) * 2
    changed = w.copy()
    changed[1, 4] += 30
    x = (rng.random((24, 60, 6)) < 0.4).astype(np.int64)
    save_graph(_tiny_program(w), tmp_path / "prog.snnc")
    np.save(tmp_path / "in.npy", x)
    write_npz(tmp_path / "out.npz", {"out": run(_tiny_program(changed), x).get("out")})
    args = [
        "identify",
        str(tmp_path / "prog.snnc"),
        "--input",
        str(tmp_path / "in.npy"),
        "--trace",
        str(tmp_path / "out.npz"),
        "--population",
        "out",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "neurons: 1 consistent, " in out and "[1]" in out
    assert f"p[1, 4]  {w[1, 4]} -> {changed[1, 4]}" in out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(s["post"], s["pre"]) for s in data["single_change_candidates"]] == [(1, 4)]
    code, out, err = run_cli(*args[:-1], "hidden")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "'hidden' is not a neuron population" in err


def test_cli_identify_from_a_hil_recording(tmp_path, capsys):
    """snnc hil --target-build (fault injection) --record, then snnc identify --record."""
    from compiler.build import write_build
    from ir import load_hw

    rng = np.random.default_rng(1)
    w = rng.integers(-20, 90, (2, 6)) * 2
    changed = w.copy()
    changed[0, 2] -= 40
    hw = load_hw("loihi2")
    write_build(tmp_path / "build", _tiny_program(w), hw, {})
    write_build(tmp_path / "target", _tiny_program(changed), hw, {})
    np.save(tmp_path / "in.npy", (rng.random((24, 60, 6)) < 0.4).astype(np.int64))
    hil = [
        "hil",
        str(tmp_path / "build"),
        "--reference",
        "cpu",
        "--target",
        "cpu",
        "--target-build",
        str(tmp_path / "target"),
        "--input",
        str(tmp_path / "in.npy"),
        "--record",
        str(tmp_path / "rec.npz"),
        "--report",
        str(tmp_path / "rep.json"),
    ]
    assert main(hil) == 1 and "DIVERGED" in capsys.readouterr().out
    identify = [
        "identify",
        str(tmp_path / "build"),
        "--record",
        str(tmp_path / "rec.npz"),
    ]
    for extra in (["--population", "out"], ["--spikes-only"]):  # default: the output population
        assert main(identify + extra) == 0
        assert f"p[0, 2]  {w[0, 2]} -> {changed[0, 2]}" in capsys.readouterr().out
    assert main([*identify, "--trace", str(tmp_path / "rec.npz")]) == 1
    assert "--trace goes with --input" in capsys.readouterr().err


def test_integer_export_keeps_potentials_inside_lavas_v_range():
    from trainers.tem.classifier import V_HEADROOM, V_LIMIT, integer_weights, max_potential

    rng = np.random.default_rng(0)
    spikes = (rng.random((20, 30, 50)) < 0.5).astype(np.uint8)
    w = -2.0 + rng.normal(0, 0.01, (3, 50))  # strongly inhibited, never firing: v runs far below 0
    b = np.zeros(3)
    w_int, threshold, b_int = integer_weights(w, b, spikes)
    reach = max_potential(w_int, b_int, threshold, spikes)
    assert np.abs(w_int).max() < 254  # the v range, not the weight range, set the scale
    assert reach <= V_HEADROOM * V_LIMIT * 1.01
