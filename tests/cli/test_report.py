"""`snnc report`: the files, their links, determinism, atomic writing, one-line errors, and the
numbers behind the figures (accuracy vs T equals `snnc eval` at every T; traffic adds up)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from app.activity import accuracy_curve, curve_steps, record_activity
from app.evaluation import evaluate
from backends.base import Probe
from compiler.build import write_build
from compiler.cli import main
from compiler.compile import CompileOptions, compile_model
from compiler.reporting import (
    Activity,
    ReportInputs,
    TrafficBreakdown,
    figures,
    is_report,
    traffic_breakdown,
    write_report,
)
from ir import save_graph
from ir.atomic import MANIFEST
from ir.hardware import load_hw, load_hw_dict
from tests.tiny_models import digits_mlp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEPS = 12


def _small_cores_hw():
    """loihi2 with 8-neuron cores, 2 per chip: the digits MLP (42 neurons) needs 6 cores on 3
    chips, so traffic flows between cores and chips."""
    data = load_hw("loihi2").to_dict()
    data["name"] = "small-cores"
    data["core"]["max_neurons"]["value"] = 8
    data["chip"]["cores_per_chip"]["value"] = 2
    return load_hw_dict(data, "small-cores")


@pytest.fixture(scope="module")
def model():
    return digits_mlp(steps=STEPS)


@pytest.fixture(scope="module")
def files(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    save_graph(model, root / "model.snnc")
    for name, hw in (("build", load_hw("loihi2")), ("build-multi", _small_cores_hw())):
        program, report = compile_model(model, hw, CompileOptions())
        write_build(root / name, program, hw, report)
    return root


def _report(files, out, *extra):
    return main(["report", str(files / "build"), "-o", str(out), *map(str, extra)])


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"#][^"]*)"', html)


def test_report_writes_linked_figures_deterministically(files, tmp_path, capsys):
    args = ("--dataset", "digits", "--model", files / "model.snnc", "--eval-samples", 40,
            "--samples", 3, "--steps", f"4,8,{STEPS}")
    assert _report(files, tmp_path / "a", *args) == 0
    assert _report(files, tmp_path / "b", *args) == 0
    out = capsys.readouterr().out
    assert "index.html" in out
    a = tmp_path / "a"
    expected = {"index.html", "summary.json", "occupancy.png", "traffic.png", "rasters.png",
                "quantization.png", "accuracy.png", "cost.png"}
    assert {f.name for f in a.iterdir()} == expected | {MANIFEST}
    for png in a.glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, png.name
        assert b"Software" not in data and b"matplotlib" not in data
    html = (a / "index.html").read_text()
    links = _links(html)
    assert sorted(set(links)) == sorted(expected - {"index.html", "summary.json"})
    assert all((a / link).is_file() for link in links)
    assert "accuracy, deployed (cpu, bit-accurate)" in html and "float model" in html
    for f in expected:  # same inputs, same bytes (the label is the same BUILD path)
        assert (a / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert is_report(a)
    # The cost table and figure (--steps): one row per T; the row at the model's T is what
    # `snnc eval` counts on the same samples.
    summary = json.loads((a / "summary.json").read_text())
    assert [c["steps"] for c in summary["cost"]] == [4, 8, STEPS]
    energies = [c["cost"]["estimate"]["energy_per_inference_j"]["total"] for c in summary["cost"]]
    assert energies == sorted(energies)  # more steps: more updates and spikes
    assert "Cost per inference" in html and "cost per inference, T = 12 (estimate)" in html
    assert (
        main(["eval", str(files / "build"), "--dataset", "digits", "--samples", "40", "--json"])
        == 0
    )
    ev = json.loads(capsys.readouterr().out)
    assert summary["cost"][-1]["cost"] == ev["cost"]
    assert summary["cost"][-1]["accuracy"] == ev["accuracy"]


def test_report_without_dataset_still_has_rasters_from_the_models_dataset(files, tmp_path):
    out = tmp_path / "r"
    assert main(["report", str(files / "build-multi"), "-o", str(out), "--samples", "2"]) == 0
    names = {f.name for f in out.iterdir()}
    assert {"occupancy.png", "traffic.png", "rasters.png", "quantization.png"} <= names
    assert "accuracy.png" not in names
    html = (out / "index.html").read_text()
    assert "Not evaluated: pass --dataset D" in html and "6 used" in html
    assert "Cost per inference" in html and "Counted on 2 samples of digits test" in html


def test_report_from_input_spikes(files, tmp_path, model):
    spikes = np.random.default_rng(0).integers(0, 2, size=(2, 9, model.n_inputs), dtype=np.uint8)
    np.save(tmp_path / "in.npy", spikes)
    out = tmp_path / "r"
    assert _report(files, out, "--input", tmp_path / "in.npy") == 0
    assert "in.npy" in (out / "index.html").read_text()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "not a BUILD folder (no such folder)"),
        (lambda p: p.mkdir(), "program.snnc: missing; not a BUILD folder"),
    ],
)
def test_bad_build_is_one_line_exit_1(tmp_path, capsys, setup, message):
    setup(tmp_path / "nobuild")
    assert main(["report", str(tmp_path / "nobuild"), "-o", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_corrupt_report_json_is_one_line(files, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(files / "build", bad)
    (bad / "report.json").write_text("{not json")
    assert main(["report", str(bad), "-o", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "report.json: not valid JSON" in err and err.count("\n") == 1


def test_report_keeps_other_files_and_never_writes_into_its_build(files, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    (other / "paper.pdf").write_bytes(b"%PDF")
    assert _report(files, other, "--samples", 1) == 0
    assert (other / "notes.txt").read_text() == "mine" and (other / "index.html").is_file()
    assert _report(files, other, "--samples", 1) == 0  # replaces its own files, keeps the rest
    assert (other / "paper.pdf").read_bytes() == b"%PDF"
    (other / "summary.json").write_text("edited by hand")
    assert _report(files, other, "--samples", 1) == 1
    assert (
        "summary.json exists and snnc did not write it (or it was changed since)"
        in capsys.readouterr().err
    )
    assert _report(files, files / "build", "--samples", 1) == 1  # the BUILD itself
    assert "is the input" in capsys.readouterr().err
    assert (files / "build" / "program.snnc").is_file()
    out = tmp_path / "r"
    assert _report(files, out, "--samples", 1) == 0
    assert _report(files, out, "--samples", 1) == 0


def test_report_is_written_atomically(files, tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    assert _report(files, out, "--samples", 1) == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    calls = []

    def failing_save(fig, path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        path.write_bytes(b"partial")

    monkeypatch.setattr(figures, "save_png", failing_save)
    assert _report(files, out, "--samples", 1) == 130
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before  # the old report, intact
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary left behind


@pytest.mark.parametrize("backend", ["float", "cpu"])
def test_accuracy_curve_equals_eval_at_every_checkpoint(files, model, backend):
    from compiler.build import read_build
    from trainers.datasets import load_dataset

    build = read_build(files / "build")
    graph, hw = (model, None) if backend == "float" else (build.program, build.hw)
    x, y = load_dataset("digits").split("test")
    x, y = x[:30], y[:30]
    steps = [1, 5, 12, 20]
    curve = accuracy_curve(graph, hw, backend, x, y, steps, 3, label=backend, dataset="digits",
                           split="test", batch_size=16)
    enc, readout = graph.metadata["encoding"], graph.metadata["readout"]
    for t in steps:
        ref = evaluate(graph, hw, backend, x, y, enc, readout, t, 3, batch_size=7)
        assert curve.at(t) == ref["accuracy"], t


def test_latency_encoding_runs_each_checkpoint(model):
    from trainers.datasets import load_dataset

    latency = model.replace(metadata={**dict(model.metadata),
                                      "encoding": {"kind": "latency", "steps": 10, "seed": 0}})
    steps = curve_steps(latency.metadata["encoding"], 16, 10)
    assert 10 in steps and len(steps) < 16 and max(steps) == 16
    x, y = load_dataset("digits").split("test")
    curve = accuracy_curve(latency, None, "float", x[:20], y[:20], steps, 0, label="l",
                           dataset="digits", split="test")
    for t in (10, 16):
        ref = evaluate(latency, None, "float", x[:20], y[:20], latency.metadata["encoding"],
                       latency.metadata["readout"], t, 0)
        assert curve.at(t) == ref["accuracy"]


def test_accuracy_needs_a_spike_count_readout(files, tmp_path, capsys):
    from ir.errors import InputError

    vib_like = digits_mlp(steps=STEPS)
    vib_like = vib_like.replace(metadata={**dict(vib_like.metadata),
                                          "readout": {"kind": "vib_decoder"}})
    with pytest.raises(
        InputError, match="needs a spike_count readout, the model's is 'vib_decoder'"
    ):
        accuracy_curve(vib_like, None, "float", np.zeros((1, 64)), np.zeros(1), [1], 0,
                       label="m", dataset="digits", split="test")


def test_traffic_breakdown_adds_up_to_the_compile_report(files):
    from compiler.build import read_build

    build = read_build(files / "build-multi")
    t = traffic_breakdown(build.program, build.hw)
    assert t.n_cores == build.report["cores_used"] == 6
    for key in ("intra_core", "inter_core", "inter_chip", "host_input"):
        assert sum(p[key] for p in t.per_source.values()) == pytest.approx(t.totals[key])
        assert t.totals[key] == pytest.approx(build.report["traffic"][key], rel=1e-6)
    src, dst, w = t.pairs
    assert np.all(src != dst) and w.sum() == pytest.approx(t.totals["inter_core"])


def test_recorded_activity_matches_the_backend(files):
    from backends.cpu.simulator import run
    from compiler.build import read_build

    build = read_build(files / "build-multi")
    program = build.program
    spikes = np.random.default_rng(1).integers(0, 2, size=(3, 8, 64), dtype=np.uint8)
    act = record_activity(program, build.hw, spikes, "random")
    assert list(act.spikes) == ["in", "h", "out"] and act.predictions.shape == (3,)
    trace = run(program, spikes, probes=[Probe("h")], hw=build.hw)
    np.testing.assert_array_equal(act.spikes["h"], trace.get("h"))
    np.testing.assert_array_equal(act.spikes["in"], spikes)


def _synthetic_report(n_cores: int, cores_per_chip: int) -> dict:
    rng = np.random.default_rng(0)
    limits = {"neurons": 100, "input_axons": 50, "output_axons": 50,
              "synapse_memory_bits": 4096, "populations": 4}
    per_core = [
        {"core": c, "chip": c // cores_per_chip, "holds": ["p"],
         **{r: {"use": int(rng.integers(0, v + 1)), "limit": v} for r, v in limits.items()}}
        for c in range(n_cores)
    ]
    return {"target": "synthetic", "cores_used": n_cores, "cores_lower_bound": n_cores - 3,
            "chips_used": -(-n_cores // cores_per_chip), "per_core": per_core}


@pytest.mark.parametrize(("n_cores", "per_chip", "unit"),
                         [(3, 2, None), (40, 8, "core"), (130, 4, "chip"), (200, 1, "groups")])
def test_figures_scale_to_hundreds_of_cores(tmp_path, n_cores, per_chip, unit):
    report = _synthetic_report(n_cores, per_chip)
    figures.save_png(figures.occupancy_figure(report), tmp_path / "occ.png")
    rng = np.random.default_rng(1)
    src = rng.integers(0, n_cores, 500)
    dst = (src + rng.integers(1, n_cores, 500)) % n_cores
    pairs = (src, dst, rng.random(500))
    core_chip = np.arange(n_cores) // per_chip
    t = TrafficBreakdown({"a": {"intra_core": 1.0, "inter_core": 2.0, "inter_chip": 3.0,
                                "host_input": 0.0}}, pairs, core_chip, "synthetic")
    figures.save_png(figures.traffic_figure(t), tmp_path / "traffic.png")
    index, labels, how = figures._traffic_groups(t)
    assert index.size == n_cores and len(labels) <= figures.MAX_HEATMAP_CELLS
    assert unit is None or how.startswith(unit if unit != "groups" else "cores, in groups")
    for name in ("occ.png", "traffic.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)


def test_rasters_split_many_populations_and_subsample_large_ones(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"p{i}" for i in range(8)]
    spikes = {n: rng.integers(0, 2, size=(2, 20, 1000 if n == "p1" else 12), dtype=np.uint8)
              for n in names}
    act = Activity(spikes, "synthetic", "cpu", labels=np.array([3, 1]),
                   predictions=np.array([3, 0]))
    figs = figures.raster_figures(act, names, inputs=("p0",), readout="p7")
    assert len(figs) == 2
    titles = [ax.get_title(loc="left") for f in figs for ax in f.axes]
    assert any("every 4th shown" in t for t in titles)
    assert any("(input, from the host)" in t for t in titles)
    assert any("shaded row: the true label" in t for t in titles)


def test_write_report_lists_what_is_missing(files, tmp_path):
    from compiler.build import read_build

    build = read_build(files / "build")
    names = write_report(tmp_path / "r", ReportInputs("build", build.program, build.hw, {}))
    assert names == ["index.html", "summary.json", "traffic.png"]
    html = (tmp_path / "r" / "index.html").read_text()
    assert "no per-core resources" in html and "No activity recorded" in html
    assert Path(tmp_path / "r" / "traffic.png").is_file()
