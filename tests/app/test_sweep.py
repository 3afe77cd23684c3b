"""`snnc sweep` on the local executor, and `snnc eval --shards`: determinism, resume after
Ctrl-C, failing points, one-line spec errors (the Ray executor: test_ray.py)."""

from __future__ import annotations

import csv
import json
import sys

import pytest

from compiler.cli import main
from ir import save_graph
from tests.robust.helpers import interrupt_when
from tests.tiny_models import digits_mlp

GRID = {
    "compile.weight-bits": [3, 8],
    "eval.steps": [8, 12],
    "compile.granularity": ["per-layer", "per-channel"],
}


def write_spec(folder, grid=GRID, samples=40, **extra) -> str:
    import yaml

    spec = {"model": "model.snnc", "target": "loihi2",
            "eval": {"dataset": "digits", "samples": samples}, "grid": grid, **extra}
    spec = {k: v for k, v in spec.items() if v is not None}  # None: leave the key out
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep")
    save_graph(digits_mlp(steps=16), path / "model.snnc")
    return path


@pytest.fixture(scope="module")
def reference(folder):
    """An uninterrupted local sweep of GRID (8 points): results.csv's bytes."""
    out = folder / "reference"
    assert main(["sweep", write_spec(folder), "-o", str(out)]) == 0
    return (out / "results.csv").read_bytes()


def test_sweep_writes_a_row_per_point_in_grid_order(folder, reference):
    rows = list(csv.DictReader(reference.decode().splitlines()))
    assert [tuple(r[k] for k in GRID) for r in rows] == [
        (b, t, g) for b in ("3", "8") for t in ("8", "12") for g in ("per-layer", "per-channel")]
    assert all(r["status"] == "ok" and r["samples"] == "40" and r["cores_used"] == "1"
               for r in rows)
    # the accuracy is correct / samples; more steps, more spikes
    assert all(float(r["accuracy"]) == pytest.approx(int(r["correct"]) / 40, abs=5e-7)
               for r in rows)
    assert float(rows[2]["spikes_per_inference"]) > float(rows[0]["spikes_per_inference"])
    # what each deployed point costs (loihi2 has a cost model): more steps, more synaptic ops
    # and more energy
    for key in ("synaptic_ops_per_inference", "energy_uj_per_inference", "time_us_per_inference"):
        assert all(float(r[key]) > 0 for r in rows), key
        assert float(rows[2][key]) > float(rows[0][key]), key
    data = json.loads((folder / "reference" / "results.json").read_text())
    assert [p["status"] for p in data["points"]] == ["ok"] * 8
    assert all(p["seconds"]["eval"] > 0 for p in data["points"])  # timings here, not in the CSV
    assert (folder / "reference" / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_a_point_equals_compile_then_eval(folder, reference, tmp_path, capsys):
    """Point (8 bits, T=12, per-channel) is what `snnc compile` + `snnc eval` give."""
    build = tmp_path / "build"
    assert main(["compile", str(folder / "model.snnc"), "--target", "loihi2", "--weight-bits", "8",
                 "--granularity", "per-channel", "-o", str(build)]) == 0
    capsys.readouterr()
    assert main(["eval", str(build), "--dataset", "digits", "--samples", "40", "--steps", "12",
                 "--json"]) == 0
    row = list(csv.DictReader(reference.decode().splitlines()))[7]
    assert int(row["correct"]) == json.loads(capsys.readouterr().out)["correct"]


def test_interrupted_sweep_resumes_to_the_same_results(folder, reference, tmp_path, capsys,
                                                      monkeypatch):
    """Ctrl-C once the first point is stored: exit 130, no results file, the finished points
    kept; --resume runs only the rest (and never imports Ray) and writes the same bytes."""
    spec, out = write_spec(folder), tmp_path / "sweep"
    result = interrupt_when(["sweep", spec, "-o", str(out)],
                            lambda: any((out / "points").glob("*.json")),
                            SNNC_TEST_PAUSE_BEFORE_RENAME="0.4")
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "snnc: interrupted"
    assert "Traceback" not in result.stderr
    stored = len(list((out / "points").glob("*.json")))
    assert 1 <= stored < 8
    assert not any(
        (out / name).exists() for name in ("results.csv", "results.json", "accuracy.png")
    )
    assert not list(out.rglob(".*tmp-*"))
    # without --resume the folder is refused, not overwritten
    assert main(["sweep", spec, "-o", str(out)]) == 1
    assert "give --resume to continue it" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails: local never needs it
    assert main(["sweep", spec, "-o", str(out), "--resume"]) == 0
    assert f"{stored} stored, {8 - stored} to run" in capsys.readouterr().err
    assert (out / "results.csv").read_bytes() == reference
    data = json.loads((out / "results.json").read_text())
    assert data["points_resumed"] == stored and data["points_run"] == 8 - stored


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(folder, tmp_path, capsys):
    spec = write_spec(folder, grid={"compile.weight-bits": [99, 4]}, samples=20)
    assert main(["sweep", spec, "-o", str(tmp_path / "s")]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader((tmp_path / "s" / "results.csv").read_text().splitlines()))
    assert [r["status"] for r in rows] == ["failed", "ok"]
    error = rows[0]["error"]
    assert "weight_bits = 99 is outside 1..8" in error and "synapse.max_weight_bits" in error
    assert "\n" not in error and rows[0]["accuracy"] == ""
    assert "1 failed" in captured.out and f"FAILED: {error}" in captured.err


def test_a_train_section_trains_each_model_once_and_resume_reuses_it(folder, tmp_path, capsys):
    """train.* keys: one model per distinct training; stored models are not trained again."""
    spec = write_spec(
        folder, grid={"train.max-iter": [10, 30], "compile.weight-bits": [4, 8]}, samples=20
    )
    text = (
        (folder / "spec.yaml")
        .read_text()
        .replace(
            "model: model.snnc",
            "train: {trainer: tem, dataset: digits, train-samples: 100, steps: 12}",
        )
    )
    (folder / "spec.yaml").write_text(text)
    out = tmp_path / "s"
    assert main(["sweep", spec, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "training 2 model(s)" in err
    assert len(list((out / "models").glob("*.snnc"))) == 2
    first = (out / "results.csv").read_bytes()
    for p in (out / "points").glob("*.json"):  # lose the points, keep the models
        p.unlink()
    assert main(["sweep", spec, "-o", str(out), "--resume"]) == 0
    assert "training" not in capsys.readouterr().err
    assert (out / "results.csv").read_bytes() == first


SPEC_ERRORS = [
    (
        {"grid": {"compile.weight-bitz": [4]}},
        "grid.compile.weight-bitz: unknown option of `snnc compile`; known: calibrate, "
        "clip-percentile",
    ),
    (
        {"grid": {"compile.weight-bits": ["four"]}},
        "grid.compile.weight-bits: --weight-bits: invalid int value: 'four'",
    ),
    (
        {"grid": {"compile.granularity": ["per-neuron"]}},
        "grid.compile.granularity: --granularity: invalid choice: 'per-neuron' "
        "(choose from per-layer, per-channel)",
    ),
    (
        {"grid": {"compile.split-signs": [1]}},
        "grid.compile.split-signs: --split-signs is a flag: give true or false, got 1",
    ),
    (
        {"grid": {"compile.target": ["loihi1"]}},
        "grid.compile.target: not a sweep option (set the target with the spec's top-level "
        "'target:')",
    ),
    (
        {"grid": {"train.epochs": [1]}},
        "grid.train.epochs: a train option, but the spec names a model, not 'train:'",
    ),
    ({"grid": {"eval.steps": 4}}, "grid.eval.steps: expected a non-empty list of values, got 4"),
    ({"grid": {"eval.steps": [4, 4]}}, "grid.eval.steps: lists 4 twice"),
    (
        {"grid": {"steps": [4]}},
        "grid.steps: expected STEP.OPTION with STEP one of train, compile, eval",
    ),
    ({"eval": {"samples": 4}}, "eval: the following arguments are required: --dataset"),
    (
        {"eval": {"dataset": "digits", "batch-size": "x"}},
        "eval.batch-size: --batch-size: invalid int value: 'x'",
    ),
    ({"target": "loihi9"}, "target: loihi9: unknown hardware target"),
    ({"model": "absent.snnc"}, "model: {folder}/absent.snnc: no such file or folder"),
    ({"modl": 1}, "modl: unknown key; the keys are model, train, target, dt, compile, eval, grid"),
    (
        {"train": {"trainer": "conversion"}},
        "model: give either 'model:' (a model file) or 'train:', not both",
    ),
    (
        {"model": None, "train": {"trainer": "vib"}},
        "train.trainer: expected one of conversion, tem (trainers of classifiers), got 'vib'",
    ),
    (
        {"model": None, "train": {"trainer": "tem", "dataset": "digits", "epochs": 3}},
        "train.epochs: unknown option of `snnc train tem`; known: dataset, l2, margin",
    ),
]


@pytest.mark.parametrize(("change", "message"), SPEC_ERRORS)
def test_spec_errors_are_one_line_naming_the_key(folder, tmp_path, capsys, change, message):
    spec = write_spec(
        folder,
        **{k: v for k, v in change.items() if k != "grid"},
        **({"grid": change["grid"]} if "grid" in change else {}),
    )
    assert main(["sweep", spec, "-o", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    message = message.format(folder=folder)
    assert err.count("\n") == 1 and err.startswith(f"snnc: error: {spec}: {message}"), err
    assert not (tmp_path / "s").exists()


def test_sharded_eval_equals_unsharded(folder, tmp_path, capsys):
    model = str(folder / "model.snnc")
    outs = []
    for extra in ([], ["--shards", "7"], ["--shards", "3", "--batch-size", "5"]):
        assert (
            main(["eval", model, "--dataset", "digits", "--samples", "90", "--json", *extra]) == 0
        )
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0] == outs[1] == outs[2]
    # a compiled program's cost too: the shards' integer counts add up to the unsharded ones
    build = str(tmp_path / "build")
    assert main(["compile", model, "--target", "loihi2", "-o", build]) == 0
    capsys.readouterr()
    costs = []
    for extra in ([], ["--shards", "4", "--batch-size", "7"]):
        assert main(["eval", build, "--dataset", "digits", "--samples", "30", "--steps", "12",
                     "--json", *extra]) == 0
        costs.append(json.loads(capsys.readouterr().out))
    assert costs[0]["cost"]["per_inference"]["synaptic_ops"] > 0 and costs[0] == costs[1]
    assert main(["eval", model, "--dataset", "digits", "--shards", "0"]) == 1
    assert main(["eval", model, "--dataset", "digits", "--workers", "2"]) == 1
    assert "--executor ray for parallel workers" in capsys.readouterr().err
