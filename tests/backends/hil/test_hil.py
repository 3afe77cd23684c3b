"""HIL harness: agreement, fault injection localized to population/neuron/step, record/replay,
and the CLI contract (exit 1 on divergence, JSON report)."""

import json

import numpy as np
import pytest

from backends.hil.compare import compare_traces
from backends.hil.harness import run_hil
from backends.hil.trace_io import read_trace, write_trace
from compiler.build import write_build
from compiler.cli import main
from ir import QLIF, Block, Graph, Input, InputError, Placement, QDense, load_hw


def _program(placed: bool = True) -> Graph:
    rng = np.random.default_rng(5)
    pops = {
        "in": Input((12,)),
        "h": QLIF(
            (10,), du=2047, dv=512, vth=300, bias_mant=rng.integers(-20, 40, size=10), bias_exp=3
        ),
        "out": QLIF((4,), du=4095, dv=0, vth=400),
    }
    projs = {
        "fc1": QDense("in", "h", weight=2 * rng.integers(-60, 120, size=(10, 12)), weight_exp=0),
        "fc2": QDense("h", "out", weight=2 * rng.integers(-80, 127, size=(4, 10)), weight_exp=1),
    }
    placement = None
    if placed:
        placement = Placement(
            (
                Block.from_range("h", 0, 6, 0),
                Block.from_range("h", 6, 10, 1),
                Block.from_range("out", 0, 4, 2),
            ),
            [0, 0, 0],
            "tiny",
        )
    return Graph(populations=pops, projections=projs, placement=placement, metadata={"seed": 5})


def _inputs(batch=3, steps=20, seed=1):
    return (np.random.default_rng(seed).random((batch, steps, 12)) < 0.3).astype(np.int64)


def test_same_program_agrees():
    p = _program()
    result = run_hil(p, _inputs(), reference="cpu", target="cpu")
    assert result.comparison.agree and result.comparison.total > 0
    assert all(a == 1.0 for v in result.comparison.compared.values() for a in v.values())


def test_weight_fault_is_localized_to_neuron_and_first_step():
    p = _program()
    i, j = 7, 3
    w = p.projections["fc1"].weight.copy()
    w[i, j] += 20
    faulty = p.with_node("fc1", p.projections["fc1"].replace(weight=w))
    x = _inputs()
    result = run_hil(p, x, reference="cpu", target="cpu", target_program=faulty)
    first = result.comparison.first
    assert first is not None
    # Input j first spikes at (1-based) step k; the Dense delivers it at k + 1, into h[i].u.
    steps_with_spike = [int(np.argmax(x[b, :, j])) + 1 for b in range(len(x)) if x[b, :, j].any()]
    k = min(steps_with_spike)
    assert (first.population, first.neuron, first.variable, first.step) == ("h", i, "u", k + 1)
    assert first.block == 1 and first.core == 1  # neuron 7 is in block h#1 on core 1
    assert first.target - first.reference == 20 << 6  # the weight difference, scaled by act_shift


def test_threshold_fault_is_localized():
    p = _program()
    faulty = p.with_node("out", p.populations["out"].replace(vth=200))
    x = _inputs(steps=40)
    ref = run_hil(p, x, reference="cpu", target="cpu")
    result = run_hil(p, x, reference="cpu", target="cpu", target_program=faulty)
    first = result.comparison.first
    assert first is not None and first.population == "out"
    v = ref.reference.get("out", "v")
    # The first (step, sample) where some neuron's v lies in (200<<6, 400<<6]: the faulty copy
    # spikes there and the reference does not.
    crossings = np.argwhere((v > 200 << 6) & (v <= 400 << 6))
    t0 = crossings[:, 1].min()
    b0 = crossings[crossings[:, 1] == t0][:, 0].min()
    assert first.step == t0 + 1 and first.sample == b0
    assert first.variable in ("v", "spikes")


def test_record_and_replay(tmp_path):
    p = _program()
    x = _inputs()
    result = run_hil(p, x, reference="cpu", target="cpu")
    path = tmp_path / "trace.npz"
    write_trace(path, result.target, x, p)
    trace, inputs, meta = read_trace(path, p)
    assert np.array_equal(inputs, x) and meta["backend"] == "cpu"
    assert compare_traces(p, result.reference, trace).agree
    other = p.with_node("out", p.populations["out"].replace(vth=201))
    with pytest.raises(InputError, match="recorded from a different program"):
        read_trace(path, other)


def _write(tmp_path, name, program):
    path = tmp_path / name
    write_build(path, program, load_hw("tiny"), {})
    return path


def test_cli_agree_and_diverge(tmp_path, capsys):
    p = _program()
    build = _write(tmp_path, "build", p)
    x = _inputs()
    np.save(tmp_path / "in.npy", x)
    report = tmp_path / "r.json"
    code = main(
        [
            "hil",
            str(build),
            "--reference",
            "cpu",
            "--target",
            "cpu",
            "--input",
            str(tmp_path / "in.npy"),
            "--report",
            str(report),
            "--record",
            str(tmp_path / "t.npz"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "verdict: AGREE" in out
    assert json.loads(report.read_text())["agree"] is True
    w = p.projections["fc2"].weight.copy()
    w[2, 4] -= 40
    faulty = _write(tmp_path, "faulty", p.with_node("fc2", p.projections["fc2"].replace(weight=w)))
    code = main(
        [
            "hil",
            str(build),
            "--target",
            "cpu",
            "--input",
            str(tmp_path / "in.npy"),
            "--report",
            str(report),
            "--target-build",
            str(faulty),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "verdict: DIVERGED" in captured.out
    data = json.loads(report.read_text())
    assert (
        data["first_divergence"]["population"] == "out" and data["first_divergence"]["neuron"] == 2
    )
    code = main(["hil", str(build), "--replay", str(tmp_path / "t.npz"), "--report", str(report)])
    assert code == 0 and "verdict: AGREE" in capsys.readouterr().out


def test_cli_bad_inputs_one_line(tmp_path, capsys):
    build = _write(tmp_path, "build", _program())
    np.save(tmp_path / "bad.npy", np.zeros((1, 5, 7), dtype=np.int64))
    code = main(["hil", str(build), "--target", "cpu", "--input", str(tmp_path / "bad.npy")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "has 7 inputs per step, the model has 12" in err
    code = main(
        ["hil", str(tmp_path / "nope"), "--target", "cpu", "--input", str(tmp_path / "bad.npy")]
    )
    assert code == 1


@pytest.mark.lava
@pytest.mark.parametrize("fault", ["weight", "threshold"])
def test_fault_injection_against_lava(fault):
    from backends.lava.compat import lava_available

    if not lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed")
    p = _program()
    x = _inputs(batch=2, steps=24)
    clean = run_hil(p, x, reference="cpu", target="lava")
    assert clean.comparison.agree
    if fault == "weight":
        w = p.projections["fc1"].weight.copy()
        w[7, 3] += 20
        faulty = p.with_node("fc1", p.projections["fc1"].replace(weight=w))
        expect = ("h", 7, "u")
    else:
        faulty = p.with_node("out", p.populations["out"].replace(vth=200))
        expect = None
    cpu_view = run_hil(p, x, reference="cpu", target="cpu", target_program=faulty).comparison.first
    lava_view = run_hil(
        p, x, reference="cpu", target="lava", target_program=faulty
    ).comparison.first
    assert lava_view is not None and lava_view == cpu_view
    if expect:
        assert (lava_view.population, lava_view.neuron, lava_view.variable) == expect
