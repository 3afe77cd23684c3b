"""What a deployment costs, from the command line: `snnc eval` (text and --json), `snnc report
--steps`, `snnc hw show`, and hardware configs with and without a cost model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from app.cost import cost_vs_steps
from compiler.build import read_build, write_build
from compiler.cli import main
from compiler.compile import compile_model
from compiler.reporting import CostPoint
from ir import ConfigError, load_hw
from ir.hardware import load_hw_dict
from tests.tiny_models import digits_mlp
from trainers.datasets import load_dataset

STEPS = 12


def _hw(cost: bool = True):
    """loihi2 with 8-neuron cores, 2 per chip: the digits MLP spans 6 cores on 3 chips."""
    data = load_hw("loihi2").to_dict()
    data["name"] = "small-cores"
    data["core"]["max_neurons"]["value"] = 8
    data["chip"]["cores_per_chip"]["value"] = 2
    if not cost:
        del data["cost"]
    return load_hw_dict(data, "small-cores")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("cost")
    model = digits_mlp(steps=STEPS)
    for name, hw in (("build", _hw()), ("bare", _hw(cost=False))):
        program, report = compile_model(model, hw)
        write_build(root / name, program, hw, report)
    return root


def _json(capsys, *args) -> dict:
    assert main([str(a) for a in args]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_json_carries_the_cost_of_the_same_run(builds, capsys):
    out = _json(capsys, "eval", builds / "build", "--dataset", "digits", "--samples", 30, "--json")
    assert {"accuracy", "samples", "steps", "backend", "correct", "cost"} <= set(out)
    cost = out["cost"]
    assert (cost["samples"], cost["steps"], cost["target"]) == (30, STEPS, "small-cores")
    assert len(cost["per_core"]) == 6 and {r["chip"] for r in cost["per_core"]} == {0, 1, 2}
    per = cost["per_inference"]
    assert (
        per["messages"]["inter_chip"] > 0
        and per["hops"]["chip_hops"] >= per["messages"]["inter_chip"]
    )
    est = cost["estimate"]
    assert est["available"] and est["energy_per_inference_j"]["total"] > 0
    assert "cost.energy_pj.synaptic_op" in est["estimated_keys"]
    # The report's measurement of the same samples at the same T gives the same numbers.
    build = read_build(builds / "build")
    x, y = load_dataset("digits").split("test")
    (point,) = cost_vs_steps(
        build.program,
        build.hw,
        x[:30],
        y[:30],
        build.program.metadata["encoding"],
        build.program.metadata["readout"],
        [STEPS],
        seed=0,
        batch_size=7,
    )
    assert point.accuracy == out["accuracy"]
    assert json.loads(json.dumps(point.cost)) == cost


def test_eval_text_and_no_cost(builds, capsys):
    assert main(["eval", str(builds / "build"), "--dataset", "digits", "--samples", "10"]) == 0
    text = capsys.readouterr().out
    assert (
        "synaptic ops" in text
        and "estimate:" in text
        and text.rstrip().splitlines()[-1].startswith("accuracy: ")
    )
    out = _json(capsys, "eval", builds / "build", "--dataset", "digits", "--samples", 10, "--json",
                "--no-cost")
    assert "cost" not in out


def test_eval_without_cost_model_still_counts(builds, capsys):
    out = _json(capsys, "eval", builds / "bare", "--dataset", "digits", "--samples", 10, "--json")
    cost = out["cost"]
    assert cost["per_inference"]["synaptic_ops"] > 0
    assert (
        cost["estimate"]["available"] is False and "no cost section" in cost["estimate"]["reason"]
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--steps", "4,8"], 1, "--steps needs --dataset D"),
        (["--dataset", "digits", "--steps", "4,x"], 2, "expected comma-separated integers"),
        (["--dataset", "digits", "--steps", "0,4"], 2, "expected positive integers"),
    ],
)
def test_report_steps_errors(builds, tmp_path, capsys, args, code, message):
    with pytest.raises(SystemExit) if code == 2 else _nothing():
        result = main(["report", str(builds / "build"), "-o", str(tmp_path / "r"), *args])
        assert result == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_hw_show_prints_every_cost_number_with_its_source(capsys, tmp_path):
    assert main(["hw", "show", "loihi1"]) == 0
    text = capsys.readouterr().out
    hw = load_hw("loihi1")
    for v in hw.cost.values():
        line = next(ln for ln in text.splitlines() if ln.startswith(v.key + " "))
        assert f"{v.value:g}" in line and v.source in line and ("estimate" in line) == v.estimate
    assert "Davies 2018 Table 2" in text
    data = load_hw("tiny").to_dict()
    del data["cost"]
    path = tmp_path / "bare.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["hw", "show", str(path)]) == 0
    assert "cost model: none" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["loihi1", "loihi2", "tiny"])
def test_every_cost_number_has_a_source(name):
    values = list(load_hw(name).cost.values())
    assert len(values) == 17 and all(v.source for v in values)
    if name == "loihi2":  # no per-operation table is published for Loihi 2
        assert all(v.estimate for v in values)
    if name == "loihi1":
        published = {v.key for v in values if not v.estimate}
        assert (
            "cost.energy_pj.synaptic_op" in published
            and "cost.time_ns.barrier_full_chip" in published
        )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["energy_pj"]["synaptic_op"].update(value=-1.0),
         r"cost.energy_pj.synaptic_op.value: expected a number from 0 to 1e\+12 pJ, got -1.0"),
        (lambda c: c["time_ns"]["barrier_one_tile"].update(value=float("nan")),
         r"cost.time_ns.barrier_one_tile.value: expected a number"),
        (lambda c: c["energy_pj"]["chip_hop"].update(value="lots"),
         r"cost.energy_pj.chip_hop.value: expected a number"),
        (lambda c: c["layout"]["cores_per_tile"].update(value=1.5),
         r"cost.layout.cores_per_tile.value: expected an integer"),
        (lambda c: c["time_ns"]["neuron_update"].update(source=" "),
         r"cost.time_ns.neuron_update.source: every number must say where it comes from"),
        (lambda c: c["energy_pj"].pop("neuron_update"),
         r"cost.energy_pj.neuron_update: missing key"),
        (lambda c: c.update(power_mw={}), r"cost.power_mw: unknown key"),
        (lambda c: c["time_ns"]["synaptic_op"].update(estimate="yes"),
         r"cost.time_ns.synaptic_op.estimate: expected true or false"),
    ],
)
def test_cost_model_errors_name_the_key(tmp_path, edit, message):
    data = load_hw("tiny").to_dict()
    edit(data["cost"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"bad.yaml: " + message):
        load_hw(str(path))


def test_cost_model_round_trips_through_a_build(builds):
    hw = read_build(builds / "build").hw
    assert hw.cost is not None and hw.cost.to_dict() == _hw().cost.to_dict()
    assert read_build(builds / "bare").hw.cost is None
    assert np.isclose(hw.cost.energy_pj.synaptic_op.value, 6.84)


def _point(steps, accuracy, energy=None):
    est = ({"available": True, "energy_per_inference_j": {"total": energy},
            "time_per_inference_s": {"total": 2 * energy}} if energy is not None
           else {"available": False, "reason": "none"})
    return CostPoint(steps, accuracy, 10, {
        "estimate": est, "per_inference": {"synaptic_ops": 100.0 * steps, "spikes": 3.0 * steps}})


def test_cost_figures_draw_every_case():
    """Accuracy vs energy and time; vs counts without a cost model; vs T without accuracies;
    and the benchmark's one-panel-per-network comparison."""
    from compiler.reporting import figures

    with_model = [_point(t, 0.9 + t / 1000, 1e-6 * t) for t in (4, 8)]
    fig = figures.cost_figure({"a": with_model}, "t")
    left, right = fig.axes
    assert left.get_xlabel() == "estimated energy per inference (uJ)"
    assert right.get_xlabel() == "estimated time per inference (us)"
    np.testing.assert_allclose(left.lines[0].get_xdata(), [4.0, 8.0])
    np.testing.assert_allclose(left.lines[0].get_ydata(), [90.4, 90.8])
    bare = figures.cost_figure({"a": [_point(t, 0.5, None) for t in (4, 8)]}, "t")
    assert bare.axes[0].get_xlabel().startswith("synaptic ops per inference (no cost model)")
    unlabelled = figures.cost_figure({"a": [_point(t, None, 1e-6) for t in (4, 8)]}, "t")
    assert unlabelled.axes[0].get_xlabel() == "time steps per sample"
    both = figures.cost_comparison_figure({"n1": {"x": with_model}, "n2": {"y": with_model}}, "t")
    assert [ax.get_title(loc="left") for ax in both.axes] == ["n1", "n2"]
