"""`snnc demo`: the whole pipeline on a reduced evaluation, its output folder and summary, and
what it does when Lava is missing or the output folder is someone else's."""

from __future__ import annotations

import json

import pytest

from app import demo
from compiler.cli import main


@pytest.mark.torch
def test_demo_end_to_end(tmp_path, capsys):
    pytest.importorskip("torch")
    from backends.lava import compat

    out = tmp_path / "demo-out"
    assert main(["demo", "-o", str(out), "--samples", "40", "--hil-samples", "1"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "snnc", "accuracy", "cores", "hil", "report", "files"
    ]
    assert "on 40 test samples" in lines[1] and "used on loihi2, lower bound" in lines[2]
    assert "snnc demo [5/5] done" in captured.err
    summary = json.loads((out / "demo.json").read_text())
    assert summary["test_samples"] == 40 and summary["steps"] == 64
    assert 0.8 < summary["float_accuracy"] <= 1 and 0.8 < summary["deployed_accuracy"] <= 1
    assert summary["cores_used"] >= summary["cores_lower_bound"] >= 1
    assert (out / "model.snnc").is_file() and (out / "build" / "program.snnc").is_file()
    report = out / "report"
    assert {"index.html", "occupancy.png", "traffic.png", "rasters.png", "quantization.png",
            "accuracy.png"} <= {f.name for f in report.iterdir()}
    html = (report / "index.html").read_text()
    assert "<td>HIL</td>" in html
    if compat.lava_available():
        assert lines[3].startswith("hil         AGREE: cpu vs lava, 1 sample x 64 steps")
        assert json.loads((out / "hil-report.json").read_text())["agree"] is True
    else:
        assert "skipped: Lava is not available" in lines[3]
    assert [p.name for p in tmp_path.iterdir()] == ["demo-out"]  # written atomically


def test_demo_refuses_to_replace_a_users_file(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep")
    # not written by snnc (no manifest lists it)
    (tmp_path / "demo.json").write_text('{"mine": true}')
    assert main(["demo", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "demo.json exists and snnc did not write it" in err
    assert err.count("\n") == 1 and (tmp_path / "mine.txt").read_text() == "keep"
    assert (tmp_path / "demo.json").read_text() == '{"mine": true}'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--samples", "0"], "--samples must be positive, got 0"),
        (["--hil-samples", "-1"], "--hil-samples must be positive, got -1"),
        (["--seed", "-3"], "--seed must be a non-negative integer, got -3"),
    ],
)
def test_demo_option_errors_are_one_line(tmp_path, capsys, args, message):
    assert main(["demo", "-o", str(tmp_path / "d"), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "d").exists()


def test_hil_is_skipped_with_the_reason_when_lava_cannot_be_imported(monkeypatch):
    from backends.lava import compat
    from ir.errors import BackendUnavailableError

    def missing():
        raise BackendUnavailableError("lava-nc is not installed; `make setup` installs it")

    monkeypatch.setattr(compat, "ensure_lava", missing)
    result, why = demo._hil(None, None, 1)
    assert result is None and "lava-nc is not installed" in why
    line = demo.hil_line(None, why)
    assert line.startswith("skipped: Lava is not available (lava-nc is not installed")
