"""The Ray executor: one local cluster for the module, started and closed by the code `snnc
sweep --executor ray` uses; the CLI calls below join it (a process that called ray.init)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.cli import main
from ir import save_graph
from tests.tiny_models import digits_mlp

pytest.importorskip("ray")

# 3 bits and 99 bits (beyond loihi2's 8: every such point fails), two T, bit-accurate and float
GRID = {"compile.weight-bits": [3, 99], "eval.steps": [8, 12], "eval.backend": ["cpu", "float"]}


@pytest.fixture(scope="module")
def cluster():
    from app.executors import RayExecutor

    executor = RayExecutor(workers=2)
    temp = Path(executor._temp)
    assert temp.is_dir() and executor.workers == 2
    yield executor
    executor.close()
    import ray

    assert not ray.is_initialized() and not temp.exists()  # shut down, its logs removed


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    import yaml

    path = tmp_path_factory.mktemp("ray")
    save_graph(digits_mlp(steps=16), path / "model.snnc")
    spec = {"model": "model.snnc", "target": "loihi2", "eval": {"dataset": "digits", "samples": 40},
            "grid": GRID}
    (path / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_local_and_ray_sweeps_write_the_same_results(cluster, folder, capfd):
    spec = str(folder / "spec.yaml")
    files = {}
    for name, extra in (("local", []), ("ray2", ["--executor", "ray"]),
                        ("ray1", ["--executor", "ray", "--workers", "1"])):
        assert main(["sweep", spec, "-o", str(folder / name), *extra]) == 0
        files[name] = (folder / name / "results.csv").read_bytes()
    assert files["local"] == files["ray2"] == files["ray1"]
    text = files["local"].decode()
    assert text.count(",ok,") == 4 and text.count(",failed,") == 4
    assert "weight_bits = 99 is outside 1..8" in text  # the error crossed the process boundary
    data = json.loads((folder / "ray2" / "results.json").read_text())
    assert "ray (Ray cluster of this process" in data["executor"]
    err = capfd.readouterr().err
    # Ray kept quiet: only snnc's own lines on the terminal
    assert all(line.startswith("snnc sweep: ") for line in err.splitlines()), err


def test_sharded_eval_on_ray_equals_unsharded(cluster, folder, capsys):
    model = str(folder / "model.snnc")
    outs = []
    for extra in ([], ["--executor", "ray", "--shards", "5"], ["--executor", "ray"]):
        assert (
            main(["eval", model, "--dataset", "digits", "--samples", "100", "--json", *extra]) == 0
        )
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0] == outs[1] == outs[2]


def test_a_shard_error_is_one_line(cluster, folder, capsys):
    model = str(folder / "model.snnc")
    assert (
        main(
            [
                "eval",
                model,
                "--dataset",
                "digits",
                "--samples",
                "10",
                "--steps",
                "4",
                "--backend",
                "cpu",
                "--executor",
                "ray",
                "--shards",
                "2",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err  # raised in a worker, printed here as snnc's own error
    assert err == (
        "snnc: error: the cpu backend runs compiled (fixed-point) programs; use "
        "--backend float for a float model, or compile it first\n"
    )
