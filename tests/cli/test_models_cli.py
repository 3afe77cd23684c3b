"""The neuron-model table from the command line, as a user meets it: a float model mixing every
model (graded sigma-delta layers feeding LIF, ATRLIF and resonate-and-fire neurons, per-neuron
time constants) compiles, runs with probes named by each model, passes `snnc hil` against Lava,
and clusters its decays with `--decay-levels`; what a target or NIR cannot express fails in one
line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ir import LIF, Dense, Graph, Input, save_graph
from neurons.atrlif import ATRLIF
from neurons.resonate import RF
from neurons.sigma_delta import SigmaDelta
from tests.robust.helpers import snnc


def _model() -> Graph:
    rng = np.random.default_rng(5)
    dt = 1e-3
    return Graph(
        {
            "in": Input((8,)),
            "sd": SigmaDelta((6,), vth=0.1, bias=rng.normal(0, 0.1, 6)),
            "lif": LIF(
                (5,), tau_syn=rng.uniform(1e-3, 4e-3, 5), tau_mem=rng.uniform(5e-3, 3e-2, 5)
            ),
            "atr": ATRLIF(
                (4,), delta_i=0.3, delta_v=rng.uniform(0.1, 0.4, 4), theta_0=1.0, theta_step=0.3
            ),
            "rf": RF((3,), period=[6.0, 9.0, 9.0], alpha=0.05, vth=0.5),
        },
        {
            "p": Dense("in", "sd", weight=rng.normal(0.4, 0.4, (6, 8))),
            "q": Dense("sd", "lif", weight=rng.normal(0.6, 0.4, (5, 6))),
            "r": Dense("lif", "atr", weight=rng.normal(0.6, 0.4, (4, 5))),
            "s": Dense("in", "rf", weight=rng.normal(0.5, 0.3, (3, 8))),
        },
        dt=dt,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    save_graph(_model(), root / "m.snnc")
    x = (np.random.default_rng(0).random((2, 30, 8)) < 0.35).astype(np.uint8)
    np.save(root / "in.npy", x)
    result = snnc("compile", str(root / "m.snnc"), "--target", "loihi2", "-o", str(root / "build"))
    assert result.returncode == 0, result.stderr
    return root, result.stdout


def test_compile_reports_every_models_registers(built):
    _, stdout = built
    report = json.loads((built[0] / "build" / "report.json").read_text())
    pops = report["quantization"]["populations"]
    assert pops["lif"]["parameter_groups"] == 5 and pops["atr"]["parameter_groups"] == 4
    assert pops["rf"]["parameter_groups"] == 2
    assert "sd" in stdout and "lif" in stdout


def test_run_probes_the_variables_each_model_declares(built):
    root, _ = built
    out = root / "out.npz"
    result = snnc(
        "run",
        str(root / "build"),
        "--backend",
        "cpu",
        "--input",
        str(root / "in.npy"),
        "--probe",
        "sd:spikes,sigma,residue;atr:spikes,theta,r;rf:real,imag",
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    with np.load(out) as data:
        assert {
            "sd",
            "sd:sigma",
            "sd:residue",
            "atr",
            "atr:theta",
            "atr:r",
            "rf:real",
            "rf:imag",
        } <= set(data)
        assert data["sd"].dtype.kind == "i" and np.abs(data["sd"]).max() > 1  # graded payloads
    bad = snnc("run", str(root / "build"), "--backend", "cpu", "--input", str(root / "in.npy"),
               "--probe", "sd:u", "-o", str(root / "bad.npz"))
    assert bad.returncode == 1
    assert (
        "probe sd: variables must be among spikes, sigma, act, residue, error, got ('u',)"
        in bad.stderr
    )


@pytest.mark.lava
def test_hil_compares_every_models_state_with_lava(built):
    root, _ = built
    report = root / "hil.json"
    result = snnc("hil", str(root / "build"), "--input", str(root / "in.npy"), "--target", "lava",
                  "--report", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    agreement = json.loads(report.read_text())["agreement"]
    assert set(agreement["sd"]) == {"spikes", "sigma", "act", "residue", "error"}
    assert set(agreement["atr"]) == {"spikes", "i", "v", "theta", "r"}
    assert all(v == 1.0 for pop in agreement.values() for v in pop.values())


def test_decay_levels_clusters_and_reports(built):
    root, _ = built
    result = snnc("compile", str(root / "m.snnc"), "--target", "loihi2", "--decay-levels", "2",
                  "-o", str(root / "build2"))
    assert result.returncode == 0, result.stderr
    pops = json.loads((root / "build2" / "report.json").read_text())["quantization"]["populations"]
    assert pops["lif"]["dv"]["distinct"] == 2 and pops["lif"]["dv_added_error_units"] > 0
    assert pops["lif"]["parameter_groups"] <= 4
    line = next(row for row in result.stdout.splitlines() if row.startswith("lif "))
    assert "/2 (" in line and " +" in line  # range/levels (error) +added
    bad = snnc(
        "compile",
        str(root / "m.snnc"),
        "--target",
        "loihi2",
        "--decay-levels",
        "0",
        "-o",
        str(root / "b3"),
    )
    assert bad.returncode == 1 and "decay_levels = 0 must be an integer >= 1" in bad.stderr
    assert not (root / "b3").exists()


def test_what_a_target_or_nir_cannot_express_fails_in_one_line(built):
    root, _ = built
    result = snnc("compile", str(root / "m.snnc"), "--target", "loihi1", "-o", str(root / "l1"))
    assert result.returncode == 1
    assert "population 'sd': message_bits = 24 is outside [0, 0]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = snnc("export", str(root / "m.snnc"), "-o", str(root / "m.nir"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "a SigmaDelta (sigma_delta neuron) has no NIR form" in result.stderr
    assert not (root / "m.nir").exists()
