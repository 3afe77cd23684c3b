"""`snnc compile` and `snnc eval` from the command line: outputs, determinism, one-line errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from compiler.cli import main
from ir import LIF, Dense, Graph, Input, save_graph
from ir.atomic import MANIFEST
from tests.snnc_cli import run_cli, run_in_process
from tests.tiny_models import digits_mlp


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "digits.snnc"
    save_graph(digits_mlp(steps=16), path)
    return path


@pytest.fixture
def cli():
    """The CLI in this process (tests.snnc_cli.run_in_process)."""
    return run_in_process


def test_compile_writes_build_and_prints_report(model_file, tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["compile", str(model_file), "--target", "loihi2", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "fc1         in -> h" in text
        and "population  scale" in text
        and text.rstrip().endswith("report.json)")
    )
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "loihi2" and set(report["quantization"]["projections"]) == {
        "fc1",
        "fc2",
    }
    # the partition and place passes' keys (DESIGN.md), and their table
    keys = {
        "cores_used",
        "cores_lower_bound",
        "chips_used",
        "per_core",
        "traffic",
        "naive_sequential",
    }
    assert keys <= set(report) and "cores       1 used, lower bound 1" in text
    assert {f.name for f in out.iterdir()} == {"program.snnc", "hw.yaml", "report.json", MANIFEST}


def test_compile_options_reach_the_program(model_file, tmp_path, capsys):
    out = tmp_path / "b"
    assert (
        main(
            [
                "compile",
                str(model_file),
                "--target",
                "loihi2",
                "-o",
                str(out),
                "--split-signs",
                "--granularity",
                "per-channel",
                "--weight-bits",
                "6",
                "--v-range",
                "32",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "fc1.pos.g0" in text and "fc1.neg" in text and "per-channel, 6-bit weights" in text
    from compiler.build import read_build

    build = read_build(out)
    options = build.program.metadata["compile"]["options"]
    assert options["split_signs"] and options["weight_bits"] == 6 and options["v_range"] == 32.0
    assert build.program.metadata["compile"]["seed"] == 5
    assert all(p.num_weight_bits == 6 for p in build.program.projections.values())


def test_compile_is_deterministic(model_file, tmp_path):
    for name in ("a", "b"):
        assert (
            main(
                [
                    "compile",
                    str(model_file),
                    "--hw",
                    "hw_configs/loihi2.yaml",
                    "--granularity",
                    "per-channel",
                    "-o",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    for f in ("program.snnc", "hw.yaml", "report.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_eval_float_model_and_build_on_the_same_spikes(model_file, tmp_path, capsys):
    build = tmp_path / "build"
    assert main(["compile", str(model_file), "--target", "loihi2", "-o", str(build)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                str(model_file),
                "--dataset",
                "digits",
                "--samples",
                "120",
                "--batch-size",
                "50",
                "-v",
            ]
        )
        == 0
    )
    out_float = capsys.readouterr().out
    assert out_float.splitlines()[-1].startswith("accuracy: ") and "backend float" in out_float
    timing = out_float.splitlines()[-2]
    assert timing.startswith("time      load ") and " simulate " in timing, timing
    assert main(["eval", str(build), "--dataset", "digits", "--samples", "120", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {
        "accuracy",
        "samples",
        "steps",
        "backend",
        "correct",
        "dataset",
        "split",
        "seed",
    } <= set(result)
    assert result["backend"] == "cpu" and result["samples"] == 120 and result["steps"] == 16
    acc_float = float(re.search(r"accuracy: (\d\.\d{4})$", out_float).group(1))
    assert acc_float > 0.8 and abs(result["accuracy"] - acc_float) <= 0.05


def test_eval_batching_does_not_change_the_result(model_file, capsys):
    results = []
    for batch in ("7", "64"):
        assert (
            main(
                [
                    "eval",
                    str(model_file),
                    "--dataset",
                    "digits",
                    "--samples",
                    "30",
                    "--batch-size",
                    batch,
                    "--json",
                ]
            )
            == 0
        )
        results.append(json.loads(capsys.readouterr().out)["correct"])
    assert results[0] == results[1]


def test_compile_with_calibration_warns_loudly(model_file, tmp_path):
    args = ["compile", model_file, "--target", "loihi2", "--weight-bits", "1"]
    args += ["--calibrate", "digits", "--samples", "16"]
    code, out, err = run_cli(*args, "-o", tmp_path / "b", "--no-bias-correction")
    assert code == 0
    assert "calibration: digits val, 16 samples" in out and "SILENT" in out
    assert "snnc: WARNING: population 'out' is SILENT after quantization" in err
    # By default the lost mean drive comes back as bias, and the report says how much.
    code, out, err = run_cli(*args, "-o", tmp_path / "c")
    assert code == 0
    assert "bias correction reaches" in err and "thresholds per step" in err


def test_print_ir_after(model_file, tmp_path, capsys):
    assert (
        main(
            [
                "compile",
                str(model_file),
                "--target",
                "loihi2",
                "-o",
                str(tmp_path / "b"),
                "--print-ir-after",
                "quantize",
            ]
        )
        == 0
    )
    assert "// IR after quantize\ngraph domain=fixed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--target", "loihi2", "--print-ir-after", "frobnicate"],
            "--print-ir-after 'frobnicate': the passes are quantize",
        ),
        (["--target", "loihi9"], "loihi9: unknown hardware target"),
        (
            ["--target", "tiny", "--hw", "hw_configs/loihi2.yaml"],
            "describes target 'loihi2', not --target 'tiny'",
        ),
        (["--target", "loihi2", "--weight-bits", "12"], "weight_bits = 12 is outside 1..8"),
        ([], "name a target with --target"),
    ],
)
def test_compile_errors_are_one_line(model_file, tmp_path, cli, args, message):
    code, _, err = cli("compile", model_file, "-o", tmp_path / "b", *args)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err and message in err
    assert not (tmp_path / "b").exists()


def test_compile_that_does_not_fit_fails_in_one_line(model_file, tmp_path, cli):
    code, _, err = cli("compile", model_file, "--target", "tiny", "-o", tmp_path / "b")
    assert code == 1 and err.count("\n") == 1
    assert "pass partition (after quantize)" in err and "tiny.yaml: core.max_input_axons" in err


def test_compile_into_a_users_folder_keeps_their_files(model_file, tmp_path):
    # a real process: snnc adds its files to a folder of the user's and never touches theirs;
    # a file of theirs where snnc would write is one line and exit 1 (ir.atomic's manifest)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    code, _, err = run_cli("compile", model_file, "--target", "loihi2", "-o", precious)
    assert code == 0, err
    assert (precious / "notes.txt").read_text() == "keep me" and (
        precious / "program.snnc"
    ).is_file()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "hw.yaml").write_text("my own notes on the target")
    code, _, err = run_cli("compile", model_file, "--target", "loihi2", "-o", mine)
    assert code == 1 and "hw.yaml exists and snnc did not write it" in err and err.count("\n") == 1
    assert (mine / "hw.yaml").read_text() == "my own notes on the target" and not (
        mine / "program.snnc"
    ).exists()


def test_eval_errors_are_one_line(model_file, tmp_path, cli):
    bare = tmp_path / "bare.snnc"
    save_graph(
        Graph(
            populations={"in": Input((64,)), "out": LIF((10,))},
            projections={"p": Dense("in", "out", weight=np.zeros((10, 64)))},
        ),
        bare,
    )
    cases = [
        (["eval", bare, "--dataset", "digits"], f"{bare}: metadata.encoding: missing"),
        (
            ["eval", model_file, "--dataset", "fashion-mnist"],
            "was trained on 'digits', not 'fashion-mnist'",
        ),
        (["eval", model_file, "--dataset", "cifar"], "unknown dataset 'cifar'"),
        (
            ["eval", model_file, "--dataset", "digits", "--backend", "cpu"],
            "the cpu backend runs compiled (fixed-point) programs",
        ),
        (
            ["eval", model_file, "--dataset", "digits", "--backend", "quantum"],
            "unknown backend 'quantum'",
        ),
        (["eval", tmp_path, "--dataset", "digits"], "program.snnc: missing"),
    ]
    for args, message in cases:
        code, _, err = cli(*args)
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err and message in err, (
            args,
            err,
        )


def test_eval_input_size_mismatch(tmp_path):
    g = digits_mlp(steps=16)
    meta = {k: v for k, v in g.metadata.items() if k != "task"}
    path = tmp_path / "m.snnc"
    save_graph(g.replace(metadata=meta), path)
    code, _, err = run_cli("eval", path, "--dataset", "fashion-mnist", "--samples", "5")
    assert code == 1 and err.count("\n") == 1
    assert (
        "has 64 inputs, fashion-mnist images have 784 pixels" in err
        or "Fashion-MNIST is not installed" in err
    )


@pytest.mark.lava
def test_eval_on_lava_matches_cpu(model_file, tmp_path):
    """The compiled program classifies samples identically on Lava's fixed_pt models."""
    from app.evaluation import evaluate
    from backends.lava import compat
    from compiler.build import read_build
    from trainers.datasets import load_dataset

    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    out = tmp_path / "build"
    assert (
        main(["compile", str(model_file), "--target", "loihi2", "-o", str(out), "--split-signs"])
        == 0
    )
    build = read_build(out)
    x, y = load_dataset("digits").split("test")
    meta = build.program.metadata
    preds = {
        b: evaluate(
            build.program, build.hw, b, x[:6], y[:6], meta["encoding"], meta["readout"], 16, 0
        )["predictions"]
        for b in ("cpu", "lava")
    }
    np.testing.assert_array_equal(preds["lava"], preds["cpu"])
