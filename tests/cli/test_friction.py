"""What a new user runs (issue 24): each test reproduces a command from the issue and checks the
new behaviour, on models of its own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compiler.cli import main
from tests.trainers.vib_models import random_result
from trainers.vib.evaluate import evaluate_vib
from trainers.vib.export import write_model


@pytest.fixture
def cli(capsys):
    def call(*args):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


@pytest.fixture(scope="module")
def vib(tmp_path_factory):
    """A VIB digits model (random weights, its host decoder beside it) and its BUILD."""
    d = tmp_path_factory.mktemp("vib")
    model = d / "vib.snnc"
    graph, _ = write_model(random_result("digits", seed=3), model)
    assert main(["compile", str(model), "--target", "loihi2", "-o", str(d / "build")]) == 0
    return model, d / "build", graph


# ----------------------------------------------------------------- 1. VIB eval and report


def test_eval_scores_vib_model_and_build_through_the_host_decoder(vib, cli):
    model, build, graph = vib
    code, out, err = cli("eval", model, "--dataset", "digits", "--samples", 30, "--json")
    assert code == 0, err
    float_result = json.loads(out)
    expected = evaluate_vib(graph, model, backend="float", samples=30)
    assert float_result["accuracy"] == expected["accuracy"]
    assert float_result["metric"] == "classifier_accuracy_on_reconstructions"
    code, out, err = cli("eval", build, "--dataset", "digits", "--samples", 30)
    assert code == 0, err
    assert "backend     cpu, 30 samples of test" in out
    assert out.strip().splitlines()[-1].startswith("accuracy: ")
    code, _, err = cli("eval", build, "--dataset", "fashion-mnist", "--samples", 3)
    assert code == 1 and "evaluate it with --dataset digits" in err


def test_report_dataset_on_a_vib_build_gives_accuracy_and_neuron_rasters(vib, cli, tmp_path, monkeypatch):
    from compiler.reporting import figures

    model, build, _ = vib
    seen = []
    real = figures.raster_figures
    monkeypatch.setattr(figures, "raster_figures",
                        lambda act, order, inputs=(), readout=None, sample=0:
                        seen.append(readout) or real(act, order, inputs, readout, sample))
    out_dir = tmp_path / "rep"
    code, out, err = cli("report", build, "-o", out_dir, "--dataset", "digits",
                         "--eval-samples", 20, "--model", model, "--samples", 2)
    assert code == 0, err
    summary = json.loads((out_dir / "summary.json").read_text())
    curves = {c["backend"]: c for c in summary["accuracy"]}
    assert set(curves) == {"float", "cpu"} and curves["cpu"]["steps"] == [6]
    assert (out_dir / "accuracy.png").is_file() and (out_dir / "rasters.png").is_file()
    # the readout's 8 rows are decoder features, not classes: no class axis, no "true label"
    assert seen == [None]


def test_raster_of_a_spike_count_readout_still_marks_classes():
    from compiler.reporting import Activity
    from compiler.reporting.figures import raster_figures

    rng = np.random.default_rng(0)
    act = Activity({"in": rng.integers(0, 2, (1, 5, 4), dtype=np.uint8),
                    "out": rng.integers(0, 2, (1, 5, 3), dtype=np.uint8)}, "test", "cpu",
                   labels=np.array([1]))
    fig = raster_figures(act, ["in", "out"], ["in"], "out")[0]
    assert fig.axes[1].get_ylabel() == "class"
    fig = raster_figures(act, ["in", "out"], ["in"], None)[0]
    assert fig.axes[1].get_ylabel() == "neuron"
