"""Same inputs, same bytes, across processes: `snnc train tem` and `snnc compile` (with
calibration, on a target that cuts the layer over cores) run twice in fresh interpreters with
different working folders and hash seeds; and every artifact records its seeds."""

from __future__ import annotations

import json

import pytest
import yaml

from compiler.build import read_build
from ir import load_graph, load_hw
from ir.atomic import MANIFEST
from tests.robust.helpers import snnc


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    root = tmp_path_factory.mktemp("twice")
    # cores of 4 neurons and 128 input axons: TEM's 10 neurons need 3
    hw = load_hw("tiny").to_dict()
    hw["core"]["max_neurons"]["value"], hw["core"]["max_input_axons"]["value"] = 4, 128
    (root / "hw.yaml").write_text(yaml.safe_dump(hw))
    runs = []
    for k, hash_seed in enumerate(("1", "2")):
        cwd = root / f"cwd{k}"
        cwd.mkdir()
        model, build = root / f"tem{k}.snnc", root / f"build{k}"
        result = snnc(
            "train",
            "tem",
            "--dataset",
            "digits",
            "--train-samples",
            "120",
            "-o",
            str(model),
            cwd=cwd,
            PYTHONHASHSEED=hash_seed,
        )
        assert result.returncode == 0, result.stderr
        result = snnc(
            "compile",
            str(root / "tem0.snnc"),
            "--hw",
            str(root / "hw.yaml"),
            "--calibrate",
            "digits",
            "--samples",
            "16",
            "-o",
            str(build),
            cwd=cwd,
            PYTHONHASHSEED=hash_seed,
        )
        assert result.returncode == 0, result.stderr
        runs.append((model, build))
    return root, runs


def test_training_twice_gives_the_same_model_bytes(twice):
    _, ((a, _), (b, _)) = twice
    assert a.read_bytes() == b.read_bytes()


def test_compiling_twice_gives_the_same_build_bytes(twice):
    _, ((_, a), (_, b)) = twice
    names = sorted(p.name for p in a.iterdir())
    assert (
        names
        == sorted(p.name for p in b.iterdir())
        == sorted(["hw.yaml", "program.snnc", "report.json", MANIFEST])
    )
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert len(read_build(a).program.placement.blocks) > 1  # the layer really is cut over cores


def test_every_artifact_records_its_seeds(twice):
    root, ((model, build), _) = twice
    meta = load_graph(model).metadata
    assert isinstance(meta["trainer"]["seed"], int) and isinstance(meta["encoding"]["seed"], int)
    built = read_build(build)
    compile_meta = built.program.metadata["compile"]
    assert (
        compile_meta["seed"] == 0
        and compile_meta["calibration"]["seed"] == meta["encoding"]["seed"]
    )
    assert built.program.metadata["trainer"] == meta["trainer"]  # the model's metadata is kept
    assert built.report["options"]["seed"] == 0 and built.report["partition"]["seed"] == 0
    report = root / "hil.json"
    result = snnc(
        "hil",
        str(build),
        "--dataset",
        "digits",
        "--samples",
        "2",
        "--target",
        "cpu",
        "--report",
        str(report),
    )
    assert result.returncode == 0, result.stderr
    inputs = json.loads(report.read_text())["inputs"]
    assert inputs == {
        "dataset": "digits",
        "split": "test",
        "samples": 2,
        "seed": meta["encoding"]["seed"],
    }
