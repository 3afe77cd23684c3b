"""`snnc import`, `snnc export`, and .nir wherever a model is read."""

import subprocess
import sys

import nir
import numpy as np
import pytest

from backends import get_backend
from compiler.cli import main
from compiler.model_io import load_model
from ir import QLIF, Graph, Input, QDense, load_graph, save_graph
from ir.serialize import graph_to_bytes
from tests.nir.fixture_check import FIXTURES

MLP = FIXTURES / "snntorch_mlp.nir"


def test_import_then_export(tmp_path, capsys):
    model, again = tmp_path / "mlp.snnc", tmp_path / "mlp.nir"
    assert main(["import", str(MLP), "--dt", "1e-4", "-o", str(model)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"imported {MLP} -> {model}" in captured.out and "dt 0.0001 s (argument)" in captured.out
    assert "outputs: 5" in captured.out
    graph = load_graph(model)
    assert (
        graph.metadata["import"]["sha256"] and graph.metadata["import"]["discretization"] == "euler"
    )
    assert main(["export", str(model), "-o", str(again)]) == 0
    assert "9 NIR nodes" in capsys.readouterr().out
    nir.read(again)
    assert graph_to_bytes(load_model(again)) == graph_to_bytes(graph)


def test_import_warns_on_stderr_when_dt_is_guessed(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "import", str(MLP), "-o", str(tmp_path / "m.snnc")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert proc.stderr.startswith("snnc: warning: ") and proc.stderr.count("\n") == 1
    assert "assuming dt = 0.0001 s" in proc.stderr and "--dt" in proc.stderr


def test_nir_is_a_model_wherever_one_is_read(tmp_path, capsys):
    assert main(["inspect", str(MLP), "--dt", "1e-4"]) == 0
    assert "projection 1.w_rec: 1.lif -> 1.lif Dense" in capsys.readouterr().out
    out = tmp_path / "out.npz"
    assert main(["run", str(MLP), "--dt", "1e-4", "--backend", "float", "--input",
                 str(FIXTURES / "snntorch_mlp.input.npy"), "--steps", "43", "-o", str(out)]) == 0
    spikes = np.load(out)["5"]
    # snnTorch's output, three steps later (one per projection): the fixture test's claim, via the
    # CLI.
    np.testing.assert_array_equal(spikes[:, 3:], np.load(FIXTURES / "snntorch_mlp.output.npy"))
    graph = load_model(MLP, dt=1e-4)
    x = np.load(FIXTURES / "snntorch_mlp.input.npy").astype(np.int64)
    np.testing.assert_array_equal(get_backend("float")(graph, x, steps=43).get("5"), spikes)


def test_export_of_a_fixed_point_program_is_refused(tmp_path):
    program = Graph(populations={"in": Input((2,)), "h": QLIF((2,), vth=10)},
                    projections={"p": QDense("in", "h", weight=np.ones((2, 2), dtype=np.int64))})
    save_graph(program, tmp_path / "prog.snnc")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "compiler.cli",
            "export",
            str(tmp_path / "prog.snnc"),
            "-o",
            str(tmp_path / "p.nir"),
        ],
        capture_output=True,
        text=True,
    )
    assert (
        proc.returncode == 1
        and proc.stderr.count("\n") == 1
        and "needs a float model" in proc.stderr
    )
    assert not (tmp_path / "p.nir").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["import", str(MLP)],
        ["import", str(MLP), "-o", "x", "--discretization", "rk4"],
        ["export", "m.snnc"],
    ],
)
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_bad_dt_is_one_line(tmp_path, capsys):
    assert main(["import", str(MLP), "--dt", "0", "-o", str(tmp_path / "m.snnc")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dt must be a positive number" in err
