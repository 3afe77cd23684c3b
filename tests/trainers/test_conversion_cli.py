"""`snnc train conversion`: a model with the metadata snnc eval reads, deterministic bytes,
one-line errors."""


import numpy as np
import pytest

pytest.importorskip("torch")

from backends import get_backend
from compiler.cli import main
from ir import load_graph
from tests.snnc_cli import run_cli, run_in_process
from trainers.datasets import load_dataset
from trainers.encoders import encode
from trainers.readout import classify, readout_probes

pytestmark = pytest.mark.torch

QUICK = ["--dataset", "digits", "--epochs", "10", "--steps", "24", "--tune-samples", "60"]


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("conv") / "digits.snnc"
    code, out, err = run_cli("train", "conversion", *QUICK, "--l4", "bias", "-o", str(path))
    assert code == 0, err
    return path, out


def test_train_writes_a_model_with_eval_metadata(digits_model):
    path, out = digits_model
    assert "ann: mlp 64-128-64-10" in out and "snn: val accuracy" in out and f"wrote {path}" in out
    g = load_graph(path)
    meta = g.metadata
    assert meta["task"] == {"kind": "classification", "dataset": "digits", "n_classes": 10}
    assert meta["encoding"] == {"kind": "rate", "max_rate": 1.0, "steps": 24, "seed": 0}
    assert meta["readout"] == {"kind": "spike_count", "population": "out", "tie_break": "u_sum"}
    trainer = meta["trainer"]
    assert trainer["name"] == "conversion" and trainer["seed"] == 0
    assert trainer["tuning"]["split"] == "val" and trainer["tuning"]["l4"] == "bias"
    assert trainer["tuning"]["seed"] != meta["encoding"]["seed"]
    assert len(trainer["conversion"]["scales"]) == 3


def test_model_classifies_digits_on_the_float_backend(digits_model):
    """The test split through the metadata's own encoder and readout: far above chance even after
    10 epochs and T=24 (the full-size check is benchmarks/conversion.py)."""
    path, _ = digits_model
    g = load_graph(path)
    data = load_dataset("digits")
    x, y = data.x_test[:120], data.y_test[:120]
    spikes = encode(g.metadata["encoding"], x, 24, g.metadata["encoding"]["seed"])
    trace = get_backend("float")(g, spikes, probes=readout_probes(g.metadata["readout"]))
    acc = (classify(g.metadata["readout"], trace) == y).mean()
    assert acc > 0.85


def test_training_is_deterministic(digits_model, tmp_path):
    """Same options, same bytes: in another process than the fixture's, so nothing is shared."""
    path, _ = digits_model
    again = tmp_path / "again.snnc"
    code, _, err = run_in_process(
        "train", "conversion", *QUICK, "--l4", "bias", "-o", str(again)
    )
    assert code == 0, err
    assert again.read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "digits", "--l4-strength", "0.1"], "--l4-strength needs an --l4 variant"),
        (["--dataset", "digits", "--steps", "0"], "--steps must be >= 1"),
        (["--dataset", "digits", "--percentile", "0"], "--percentile must be in (0, 100]"),
        (["--dataset", "digits", "--max-rate", "1.5"], "--max-rate must be in (0, 1]"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    out = tmp_path / "m.snnc"
    code, _, err = run_in_process("train", "conversion", *args, "-o", str(out))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not out.exists()


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    import os

    env = {**os.environ, "SNNC_FASHION_MNIST_DIR": str(tmp_path / "nowhere")}
    code, _, err = run_cli(
        "train", "conversion", "--dataset", "fashion-mnist", "-o", str(tmp_path / "m"), env=env
    )
    assert code == 1 and err.count("\n") == 1
    assert "apt-get install dataset-fashion-mnist" in err


def test_usage_errors_exit_2(tmp_path, capsys):
    for args in (
        ["--dataset", "mnist"],
        ["--dataset", "digits", "--l4", "l3"],
        ["--dataset", "digits", "--tune-steps", "a"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(["train", "conversion", *args, "-o", str(tmp_path / "m")])
        assert exc.value.code == 2 and "usage" in capsys.readouterr().err


def test_cnn_on_digits(tmp_path):
    out = tmp_path / "cnn.snnc"
    code, _, err = run_in_process(
        "train",
        "conversion",
        "--dataset",
        "digits",
        "--arch",
        "cnn",
        "--epochs",
        "3",
        "--steps",
        "8",
        "--tune-samples",
        "20",
        "-o",
        str(out),
    )
    assert code == 0, err
    g = load_graph(out)
    assert [type(p).__name__ for p in g.projections.values()] == ["Conv2d", "Dense"]
    assert g.populations["h1"].shape == (16, 8, 8)
    assert np.isfinite(g.projections["fc2"].weight).all()
