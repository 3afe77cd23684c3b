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


# ------------------------------------------------------------ 1. VIB eval and report


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


@pytest.mark.slow
@pytest.mark.lava
def test_eval_of_a_vib_build_on_lava_equals_the_cpu_backend(vib, cli):
    from backends.lava import compat

    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    _, build, _ = vib
    results = {}
    for backend in ("cpu", "lava"):
        code, out, err = cli(
            "eval", build, "--dataset", "digits", "--samples", 6, "--backend", backend, "--json"
        )
        assert code == 0, err
        results[backend] = json.loads(out)
    assert results["lava"]["backend"] == "lava"
    for key in ("accuracy", "readout_rate", "samples"):
        assert results["lava"][key] == results["cpu"][key]


def test_report_dataset_on_a_vib_build_gives_accuracy_and_neuron_rasters(
    vib, cli, tmp_path, monkeypatch
):
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


# ------------------------------------------------------------ 2. input formats


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    """A float conv network on a (1, 8, 8) input, and 4 samples of 50 steps as float32 0/1
    (batch, T, C, H, W), the way frameworks store spikes."""
    from ir import LIF, Graph, Input, save_graph
    from ir.nodes import Conv2d, Dense

    d = tmp_path_factory.mktemp("conv")
    rng = np.random.default_rng(11)
    g = Graph(
        populations={"in": Input((1, 8, 8)),
                     "c": LIF((4, 6, 6), tau_syn=0.005, tau_mem=0.01, v_th=1.0),
                     "out": LIF((3,), tau_syn=0.005, tau_mem=0.01, v_th=1.0)},
        projections={"conv": Conv2d("in", "c", weight=rng.normal(0.6, 0.5, (4, 1, 3, 3))),
                     "fc": Dense("c", "out", weight=rng.normal(0.2, 0.3, (3, 144)))},
        dt=1e-3,
    )
    save_graph(g, d / "conv.snnc")
    x = (rng.random((4, 50, 1, 8, 8)) < 0.3).astype(np.float32)
    return d, x


def test_run_accepts_float_01_image_shaped_and_time_major_inputs(conv, cli):
    d, x = conv
    flat = d / "flat.npy"
    np.save(flat, x.reshape(4, 50, 64).astype(np.uint8))
    np.save(d / "img.npy", x)
    np.save(d / "tm.npy", x.transpose(1, 0, 2, 3, 4))
    outs = {}
    for name, extra in (("flat", ()), ("img", ()), ("tm", ("--time-major",))):
        code, _, err = cli(
            "run",
            d / "conv.snnc",
            "--backend",
            "float",
            "--input",
            d / f"{name}.npy",
            "-o",
            d / f"{name}.npz",
            *extra,
        )
        assert code == 0, err
        outs[name] = np.load(d / f"{name}.npz")["out"]
    assert outs["flat"].shape == (4, 50, 3) and outs["flat"].sum() > 0
    assert np.array_equal(outs["flat"], outs["img"]) and np.array_equal(outs["flat"], outs["tm"])
    # a time-major file read without --time-major: a note, not silence
    code, _, err = cli(
        "run", d / "conv.snnc", "--backend", "float", "--input", d / "tm.npy", "-o", d / "x.npz"
    )
    assert code == 0 and "read as 50 samples of 4 steps" in err and "--time-major" in err


@pytest.mark.parametrize(("array", "message"), [
    (lambda x: x[..., :7], "expected shape (batch, T, 64) or (batch, T, 1, 8, 8) (C, H, W of input "
                           "population 'in', flattened in C order), got (4, 50, 1, 8, 7)"),
    (lambda x: x.reshape(4, 50, 64)[..., :60], "has 60 inputs per step, the model has 64"),
    (lambda x: x * 0.5, "float spikes must be exactly 0.0 or 1.0 (found 0.5"),
])
def test_bad_inputs_say_what_is_expected(conv, cli, array, message):
    d, x = conv
    np.save(d / "bad.npy", array(x))
    code, _, err = cli(
        "run", d / "conv.snnc", "--backend", "float", "--input", d / "bad.npy", "-o", d / "bad.npz"
    )
    assert code == 1 and err.count("\n") == 1 and message in err, err
    assert not (d / "bad.npz").exists()


def test_graded_float_inputs_must_be_whole_numbers(tmp_path):
    from ir.arrays_io import read_spike_array
    from ir.errors import InputError

    np.save(tmp_path / "g.npy", np.array([[[3.0, -2.0]]], dtype=np.float32))
    got = read_spike_array(tmp_path / "g.npy", 2, message_bits=8)
    assert got.tolist() == [[[3, -2]]]
    np.save(tmp_path / "h.npy", np.array([[[3.5, -2.0]]], dtype=np.float64))
    with pytest.raises(InputError, match="whole numbers"):
        read_spike_array(tmp_path / "h.npy", 2, message_bits=8)
    np.save(tmp_path / "w.npy", np.array([[[200.0, 0.0]]]))
    with pytest.raises(InputError, match=r"signed 8 bits \[-128, 127\]"):
        read_spike_array(tmp_path / "w.npy", 2, message_bits=8)


# ------------------------------------------------------------ 3. latency and --align

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "nir"


@pytest.mark.parametrize("name", ["snntorch_mlp", "snntorch_conv"])
def test_import_prints_latency_and_run_align_matches_the_framework(name, cli, tmp_path):
    """snnTorch's own output (the fixture) is snnc's output L steps later: --align gives it back
    exactly; conv: fed as float (batch, T, C, H, W), time-major."""
    info = json.loads((FIXTURES / f"{name}.json").read_text())
    lag = info["latency_steps"]
    model = tmp_path / "m.snnc"
    code, out, err = cli("import", FIXTURES / f"{name}.nir", "-o", model, "--dt", info["import_dt"])
    assert code == 0, err
    assert f"latency {lag} steps: the output at step t + {lag} answers the input at step t" in out
    x = np.load(FIXTURES / f"{name}.input.npy")
    reference = np.load(FIXTURES / f"{name}.output.npy")
    extra: tuple = ()
    if name == "snntorch_conv":
        from compiler.model_io import load_model

        shape = load_model(model).populations["input"].shape
        x = x.reshape(len(x), x.shape[1], *shape).astype(np.float32).swapaxes(0, 1)
        extra = ("--time-major",)
    np.save(tmp_path / "x.npy", x)
    runs = {}
    for aligned in (True, False):
        out_file = tmp_path / f"{aligned}.npz"
        code, out, err = cli("run", model, "--input", tmp_path / "x.npy", "-o", out_file, *extra,
                             *(("--align",) if aligned else ()))
        assert code == 0, err
        arrays = np.load(out_file)
        runs[aligned] = arrays[arrays.files[0]]
    assert np.array_equal(runs[True], reference)
    assert runs[False].shape == reference.shape and not np.array_equal(runs[False], reference)


def test_compile_stores_latency_and_hil_align_runs_the_fill(conv, cli, tmp_path):
    d, x = conv
    build = tmp_path / "b"
    code, out, err = cli("compile", d / "conv.snnc", "--target", "loihi2", "-o", build)
    assert code == 0 and "latency 2 steps" in out, err
    report = json.loads((build / "report.json").read_text())
    assert report["latency"] == {"steps": 2, "populations": {"c": 1, "in": 0, "out": 2}}
    np.save(tmp_path / "x.npy", x[:2, :10])
    code, out, err = cli(
        "hil",
        build,
        "--reference",
        "float",
        "--model",
        d / "conv.snnc",
        "--target",
        "cpu",
        "--input",
        tmp_path / "x.npy",
        "--align",
        "--report",
        tmp_path / "h.json",
    )
    assert code == 0, err
    assert "ran 10 + 2 steps" in out and "2 samples x 12 steps" in out


def test_latency_follows_delays_and_ignores_recurrence():
    from ir import LIF, Graph, Input
    from ir.latency import latency, population_latency
    from ir.nodes import Dense

    lif = LIF((2,), tau_syn=0.005, tau_mem=0.01, v_th=1.0)
    w = np.ones((2, 2))
    g = Graph(
        populations={"in": Input((2,)), "a": lif, "b": lif, "c": lif},
        projections={
            "ia": Dense("in", "a", weight=w),
            "ab": Dense("a", "b", weight=w, delay=np.array(3)),
            "bb": Dense("b", "b", weight=w),
            "ba": Dense("b", "a", weight=w),
            "ic": Dense("in", "c", weight=w),
            "bc": Dense("b", "c", weight=w),
        },
        dt=1e-3,
    )
    assert population_latency(g) == {"in": 0, "a": 1, "b": 5, "c": 6}
    assert latency(g) == 6


# ------------------------------------------------------------ 4. dt: the exporter detected


@pytest.mark.parametrize(("name", "exporter"), [
    ("norse_mlp", "Norse 1.1.0"), ("norse_readout", "Norse 1.1.0"), ("snntorch_mlp", "snnTorch"),
    ("per_neuron/norse_lif_per_neuron", "Norse 1.1.0"),
    ("per_neuron/snntorch_synaptic_per_neuron", "snnTorch"),
])
def test_import_without_dt_detects_the_exporter_and_reproduces_it(name, exporter, cli, tmp_path):
    """The files of tests/fixtures/nir, written by Norse 1.1.0's and snnTorch's own exporters:
    imported without --dt, the float run (aligned) gives the framework's own output."""
    info = json.loads((FIXTURES / f"{name}.json").read_text())
    model = tmp_path / "m.snnc"
    code, out, err = cli("import", FIXTURES / f"{name}.nir", "-o", model)
    assert code == 0, err
    assert (
        f"it looks like {exporter}'s export" in err
        and f"assuming dt = {info['import_dt']!r} s" in err
    )
    assert f"dt {info['import_dt']!r} s (assumed, {exporter.split()[0]} export detected)" in out
    reference = np.load(FIXTURES / f"{name}.output.npy")
    if reference.dtype != np.uint8:
        return  # a voltage readout: compared in tests/nir/test_fixtures.py
    code, _, err = cli(
        "run", model, "--input", FIXTURES / f"{name}.input.npy", "--align", "-o", tmp_path / "o.npz"
    )
    assert code == 0, err
    got = np.load(tmp_path / "o.npz")
    assert np.array_equal(got[got.files[0]], reference)


def test_norse_file_with_snntorch_dt_gets_the_advice_that_works(cli, tmp_path):
    code, _, err = cli(
        "import", FIXTURES / "norse_mlp.nir", "--dt", "1e-4", "-o", tmp_path / "m.snnc"
    )
    assert code == 1 and err.count("\n") == 1
    assert err.rstrip().endswith("import it with --dt 1e-06") and "--discretization exp" not in err


# ------------------------------------------------------------ 5. errors that name the cause


def _dense_net(path, sizes, seed=0):
    from ir import LIF, Graph, Input, save_graph
    from ir.nodes import Dense

    rng = np.random.default_rng(seed)
    names = ["in", *(f"l{i}" for i in range(1, len(sizes)))]
    pops = {"in": Input((sizes[0],))}
    pops.update(
        {n: LIF((k,), tau_syn=0.005, tau_mem=0.01, v_th=1.0) for n, k in zip(names[1:], sizes[1:])}
    )
    projs = {
        f"p{i}": Dense(names[i], names[i + 1], weight=rng.normal(0, 1, (sizes[i + 1], sizes[i])))
        for i in range(len(sizes) - 1)
    }
    save_graph(Graph(populations=pops, projections=projs, dt=1e-3), path)


def test_too_many_cores_names_the_binding_resource(cli, tmp_path):
    from pathlib import Path

    _dense_net(tmp_path / "big.snnc", [8, 400])
    code, _, err = cli("compile", tmp_path / "big.snnc", "--target", "tiny", "-o", tmp_path / "b")
    assert code == 1 and err.count("\n") == 1
    assert (
        "needs 25 cores, the limit is 16" in err
        and "the binding resource is neurons (core.max_neurons" in err
    )
    assert "its total, 400, alone needs at least 25 cores whatever the placement" in err
    # output axons bind: 64 neurons on cores of 16 each reach a 16-neuron layer on other cores,
    # 4 output axons per core; one chip of one core ("1 core", not "1 cores")
    tiny = (Path(__file__).resolve().parents[2] / "hw_configs" / "tiny.yaml").read_text()
    yaml = (tiny.replace("max_output_axons: {value: 48", "max_output_axons: {value: 4")
                .replace("max_input_axons: {value: 48", "max_input_axons: {value: 100")
                .replace("cores_per_chip: {value: 4", "cores_per_chip: {value: 1")
                .replace("max_chips: {value: 4", "max_chips: {value: 1"))
    (tmp_path / "axons.yaml").write_text(yaml)
    _dense_net(tmp_path / "fan.snnc", [8, 64, 16])
    code, _, err = cli(
        "compile", tmp_path / "fan.snnc", "--hw", tmp_path / "axons.yaml", "-o", tmp_path / "b"
    )
    assert code == 1 and "the binding resource is output axons (core.max_output_axons)" in err
    assert "its total, 64, alone needs at least 16 cores whatever the placement" in err
    assert "chips of 1 core would be needed" in err and "1 cores" not in err
    # 16 cores: the 64 output axons fit in total (16 x 4), the placement's packing needs 17
    (tmp_path / "a16.yaml").write_text(
        yaml.replace("max_chips: {value: 1", "max_chips: {value: 16")
    )
    code, _, err = cli(
        "compile", tmp_path / "fan.snnc", "--hw", tmp_path / "a16.yaml", "-o", tmp_path / "b"
    )
    assert code == 1 and "needs 17 cores, the limit is 16" in err
    assert (
        "the fullest on 16 of 17 cores" in err
        and "at least 16 of the 16 cores the system has" in err
    )


def _calibration_row(text: str, population: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("population  float rate"))
    return next(line.split() for line in lines[start:] if line.split()[:1] == [population])


def test_quantization_report_flags_output_rate_drift(cli, tmp_path):
    """tests/tiny_models' digits MLP at 2-bit weights without bias correction: the output's
    total rate stays (+0.7%) but 76% of its spikes move between neurons (eval accuracy 0.92 ->
    0.63): DRIFT and a warning, not `ok`; at 8 bits (the target's default) `ok`."""
    from ir import save_graph
    from tests.tiny_models import digits_mlp

    save_graph(digits_mlp(steps=16), tmp_path / "dm.snnc")
    common = ("--target", "loihi2", "--calibrate", "digits")
    code, out, err = cli(
        "compile",
        tmp_path / "dm.snnc",
        *common,
        "--weight-bits",
        2,
        "--no-bias-correction",
        "-o",
        tmp_path / "q2",
    )
    assert code == 0, err
    assert (
        _calibration_row(out, "out")[-1] == "DRIFT"
        and "population 'out' DRIFTS after quantization" in err
    )
    cal = json.loads((tmp_path / "q2" / "report.json").read_text())["quantization"]["calibration"]
    assert (
        cal["populations"]["out"]["status"] == "drift"
        and cal["populations"]["out"]["rate_rel_diff"] > 0.5
    )
    code, out, err = cli("compile", tmp_path / "dm.snnc", *common, "-o", tmp_path / "q8")
    assert code == 0 and "DRIFT" not in err
    assert _calibration_row(out, "out")[-1] == "ok"


def test_missing_encoding_says_what_to_do_not_where_developers_look(cli, tmp_path):
    _dense_net(tmp_path / "m.snnc", [64, 10])
    code, _, err = cli(
        "compile",
        tmp_path / "m.snnc",
        "--target",
        "loihi2",
        "--calibrate",
        "digits",
        "-o",
        tmp_path / "b",
    )
    assert code == 1 and err.count("\n") == 1 and "DEVELOPERS.md" not in err
    assert "metadata.encoding: missing" in err and "--calibrate IN.npy" in err
    code, _, err = cli("eval", tmp_path / "m.snnc", "--dataset", "digits")
    assert code == 1 and "DEVELOPERS.md" not in err and "--input IN.npy" in err


# ------------------------------------------------------------ 6. hw show --yaml


@pytest.mark.parametrize("target", ["loihi1", "loihi2", "tiny"])
def test_hw_show_yaml_writes_a_commented_template_that_loads_back(target, cli, tmp_path):
    from ir.hardware import builtin_targets, load_hw

    assert target in builtin_targets()
    out = tmp_path / "new.yaml"
    code, text, err = cli("hw", "show", target, "--yaml", "-o", out)
    assert code == 0 and f"wrote {out}" in text, err
    body = out.read_text()
    assert body.startswith("# Hardware target template") and "# neurons one core holds" in body
    assert "FIXED: semantics lava_fixed_pt fixes this at 24" in body
    assert load_hw(out).to_dict() == load_hw(target).to_dict()
    code, printed, _ = cli("hw", "show", target, "--yaml")
    assert code == 0 and printed == body
    # the file is not overwritten; a FIXED key changed is refused by the loader with one line
    code, _, err = cli("hw", "show", target, "--yaml", "-o", out)
    assert code == 1 and "exists" in err
    edited = body.replace(
        "  state_bits:  # u and v register width; FIXED: semantics lava_fixed_pt fixes this at 24\n"
        "    value: 24",
        "  state_bits:\n    value: 32",
    )
    assert edited != body
    (tmp_path / "edited.yaml").write_text(edited)
    code, _, err = cli("hw", "show", tmp_path / "edited.yaml")
    assert (
        code == 1
        and "neuron.state_bits.value: semantics lava_fixed_pt fixes this at 24, got 32" in err
    )


def test_hw_show_marks_the_keys_the_profile_fixes(cli):
    code, out, _ = cli("hw", "show", "loihi2")
    rows = {
        line.split()[0]: line
        for line in out.splitlines()
        if line[:1].isalpha() and "." in line.split()[0]
    }
    assert " fixed " in rows["neuron.state_bits"] and " fixed " in rows["synapse.max_weight_bits"]
    assert (
        " fixed " not in rows["core.max_neurons"] and " fixed " not in rows["neuron.bias_exp_min"]
    )


# ------------------------------------------------------------ 7. inspect says tau was converted


def test_inspect_says_tau_was_converted_to_the_exponential_form(cli):
    code, out, _ = cli("inspect", FIXTURES / "snntorch_mlp.nir", "--dt", "1e-4")
    assert code == 0
    assert "tau_mem=0.0004481420356198878" in out  # the IR's own number (alpha = exp(-dt/tau))
    assert (
        "converted to snnc's exponential form" in out
        and "#   3.tau_mem 0.0005 -> 0.000448142" in out
    )


def _readme_script():
    from tests.test_docs import _readme_outputs

    return _readme_outputs()


def test_readme_marked_blocks_are_sessions_of_the_script():
    script = _readme_script()
    _, blocks = script.all_blocks()  # README.md and docs/*.md
    assert (
        {b.name for b in blocks}
        == set(script.SESSIONS)
        >= {"tem", "align", "input-shape", "hw-template"}
    )
    assert all(b.commands and all(cmd for cmd, _ in b.commands) for b in blocks)
    assert script.matches(["a 0.23 s", "...", "z"], ["a 1.5 s", "b", "c", "z"])
    assert not script.matches(["a", "z"], ["a", "b", "z"])


@pytest.mark.slow
def test_readme_outputs_of_the_new_options_hold():
    """Runs the docs' commands of the quick sessions (the tem trainer's is left to `make
    readme-outputs`) and checks what the docs show."""
    script = _readme_script()
    assert script.main(["--only", "nir-import", "align", "input-shape", "hw-template"]) == 0


# ------------------------------------------------------------ 3b. latency in eval and OUT.npz


def _late_answer_graph(metadata=None):
    """in -> h -> out (latency 2): neuron k of out answers input k one step later per layer, so
    an input spike in the last two of T steps is answered only past step T."""
    from ir import LIF, Graph, Input
    from ir.nodes import Dense

    n = 64
    lif = LIF((n,), tau_syn=0.001, tau_mem=0.001, v_th=0.1)
    return Graph(
        populations={
            "in": Input((n,)),
            "h": lif,
            "out": LIF((10,), tau_syn=0.001, tau_mem=0.001, v_th=0.1),
        },
        projections={
            "ih": Dense("in", "h", weight=np.eye(n) * 5),
            "ho": Dense("h", "out", weight=np.kron(np.eye(10), np.ones((1, 7)))[:, :n] * 5),
        },
        dt=1e-3,
        metadata=metadata or {},
    )


def test_evaluate_align_answers_the_last_input_steps():
    """Time-to-first-spike input: a weak pixel spikes in the last step; without --align the output
    never answers it (counts 0, class 0), aligned it does."""
    from app.evaluation import evaluate

    x = np.zeros((2, 64))
    x[0, 7 * 3] = 0.05  # class 3's pixel, spiking at step round(0.95 * 3) = 3, the last of T = 4
    x[1, 7 * 5] = 0.9  # class 5's, spiking at step 0
    y = np.array([3, 5])
    readout = {"kind": "spike_count", "population": "out"}
    plain = evaluate(_late_answer_graph(), None, "float", x, y, {"kind": "latency"}, readout, 4, 0)
    aligned = evaluate(
        _late_answer_graph(), None, "float", x, y, {"kind": "latency"}, readout, 4, 0, align=True
    )
    assert plain["predictions"].tolist() == [0, 5] and aligned["predictions"].tolist() == [3, 5]


def test_eval_align_and_run_store_the_latency(cli, tmp_path):
    """`snnc eval --align` on digits (CLI and JSON); `snnc run` stores L in OUT.npz's __meta__;
    `snnc identify` refuses an aligned recording; --align is refused for a host readout."""
    from ir import save_graph

    model = tmp_path / "m.snnc"
    save_graph(_late_answer_graph({"encoding": {"kind": "latency", "steps": 4, "seed": 0},
                                   "readout": {"kind": "spike_count", "population": "out"}}), model)
    code, out, err = cli("eval", model, "--dataset", "digits", "--samples", "10", "--json")
    assert code == 0, err
    assert json.loads(out)["latency"] == 2 and json.loads(out)["aligned"] is False
    code, out, _ = cli("eval", model, "--dataset", "digits", "--samples", "10", "--align")
    assert code == 0 and "--align: ran 4 + 2 steps" in out
    x = (np.random.default_rng(0).random((3, 5, 64)) < 0.2).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    for extra in ((), ("--align",)):
        out_file = tmp_path / f"o{len(extra)}.npz"
        code, _, err = cli(
            "run", model, "--input", tmp_path / "x.npy", "-o", out_file, "--probe", "h;out", *extra
        )
        assert code == 0, err
        with np.load(out_file) as f:
            meta = json.loads(f["__meta__"].tobytes())
            assert f["out"].shape == (3, 5, 10)
        assert meta == {
            "format": "snnc-run-output",
            "format_version": 1,
            "backend": "float",
            "steps": 5,
            "steps_run": 5 + 2 * len(extra),
            "latency": 2,
            "population_latency": {"h": 1, "out": 2},
            "aligned": bool(extra),
        }
    code, _, err = cli(
        "identify", model, "--input", tmp_path / "x.npy", "--trace", tmp_path / "o1.npz"
    )
    assert code == 1 and "recorded with --align" in err


def test_evaluate_cuts_its_batches_to_the_memory_budget(monkeypatch):
    """A --batch-size whose run would exceed SNNC_MAX_LOAD_BYTES is cut to what fits: the same
    predictions (each sample has its own spikes), where the whole batch was refused before."""
    from app.evaluation import evaluate
    from backends.base import Probe, run_bytes_per_sample

    graph = _late_answer_graph()
    x = np.random.default_rng(5).random((9, 64))
    y = np.arange(9) % 10
    readout = {"kind": "spike_count", "population": "out"}
    whole = evaluate(graph, None, "float", x, y, {"kind": "latency"}, readout, 6, 0, batch_size=9)
    per_sample = run_bytes_per_sample(graph, 6, (Probe("out", ("spikes",)),))
    monkeypatch.setenv("SNNC_MAX_LOAD_BYTES", str(2 * per_sample))
    cut = evaluate(graph, None, "float", x, y, {"kind": "latency"}, readout, 6, 0, batch_size=9)
    assert cut["predictions"].tolist() == whole["predictions"].tolist()
