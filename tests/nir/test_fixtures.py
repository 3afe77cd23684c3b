"""Third-party NIR files (snnTorch 1.0.0, Norse 1.1.0; written by tests/fixtures/nir/generate.py):
snnc's float simulation reproduces each framework's own output, step for step after the latency
of snnc's projections (see tests/nir/fixture_check.py)."""

import json

import numpy as np
import pytest

from compiler.model_io import load_model
from compiler.nir.importer import import_nir
from ir.errors import ModelFormatError
from tests.nir.fixture_check import FIXTURES, fixture_names, run_fixture

NAMES = fixture_names()


def test_two_frameworks_with_provenance():
    frameworks = set()
    for name in NAMES:
        info = json.loads((FIXTURES / f"{name}.json").read_text())
        assert {"framework", "versions", "seed", "framework_dt", "import_dt", "compare"} <= set(
            info
        )
        assert info["framework"] in info["versions"] and isinstance(info["seed"], int)
        frameworks.add(info["framework"])
        for suffix in (".nir", ".input.npy", ".output.npy"):
            assert (FIXTURES / f"{name}{suffix}").is_file()
    assert frameworks >= {"snntorch", "norse"}


@pytest.mark.parametrize("name", NAMES)
def test_float_simulation_reproduces_the_framework(name):
    r = run_fixture(name)
    assert r.latency == r.info["latency_steps"]
    m = r.metrics()
    if r.info["compare"] == "spikes_exact":
        assert r.warnings == []
        assert m["framework_spikes"] > 100  # the comparison has spikes to compare
        np.testing.assert_array_equal(r.snnc, r.framework)
    elif r.info["compare"] == "voltage_close":
        assert m["voltage_range"] > 0.1
        np.testing.assert_allclose(r.snnc, r.framework, rtol=0, atol=1e-6)  # float32 in Norse
    else:
        # Biases act during the pipeline fill and on a synaptic current (steady-state mapping,
        # warned): the spikes differ, the per-neuron counts stay close.
        assert any("steady state" in w for w in r.warnings)
        assert not m["identical"]
        assert m["count_correlation"] > 0.95


def test_norse_time_constants_need_dt_squared():
    """Norse 1.1.0 writes tau * dt (norse#411): without --dt the export is recognised and imported
    with dt = 1e-6; snnTorch's dt is refused with the advice that works (issue 24)."""
    path = FIXTURES / "norse_mlp.nir"
    with pytest.raises(
        ModelFormatError,
        match=r"node '1' \(LIF\)\.tau: forward Euler needs dt <= tau.*"
        r"Norse 1\.1\.0's export.*import it with --dt 1e-06$",
    ):
        import_nir(path, dt=1e-4, warn=lambda m: None)
    warnings: list[str] = []
    assert import_nir(path, warn=warnings.append).dt == 1e-6 and "Norse 1.1.0" in warnings[0]
    graph = load_model(path, dt=1e-6)
    alpha_s, alpha_m = graph.populations["1"].decays(graph.dt)
    assert float(alpha_s) == 0.0 and float(alpha_m) == pytest.approx(1 - 1e-3 * 100.0, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_fixture_compiles_for_loihi2_and_runs_on_the_cpu_backend(name, tmp_path):
    """Through the CLI: the imported network compiles to 8-bit Lava fixed point and runs
    bit-accurately; its output stays close to the float simulation (quantization moves a few
    spikes: measured per-neuron spike-count correlation 0.992..0.9995, readout v 0.986)."""
    from backends import get_backend
    from backends.base import Probe
    from compiler.build import read_build
    from compiler.cli import main

    r = run_fixture(name)
    build = tmp_path / "build"
    argv = ["compile", str(FIXTURES / f"{name}.nir"), "--dt", str(r.info["import_dt"])]
    assert main([*argv, "--target", "loihi2", "-o", str(build)]) == 0
    out_npz = tmp_path / "out.npz"
    x_path = FIXTURES / f"{name}.input.npy"
    assert (
        main(["run", str(build), "--backend", "cpu", "--input", str(x_path), "-o", str(out_npz)])
        == 0
    )
    b = read_build(build)
    out = r.graph.output_names[0]
    x = np.load(x_path, allow_pickle=False).astype(np.int64)
    steps = x.shape[1] + r.latency
    variable = "v" if r.info["compare"] == "voltage_close" else "spikes"
    probes = [Probe(out, ("spikes", variable))]
    fixed = get_backend("cpu")(b.program, x, steps=steps, probes=probes, hw=b.hw)
    flt = get_backend("float")(r.graph, x, steps=steps, probes=probes)
    with np.load(out_npz, allow_pickle=False) as saved:
        np.testing.assert_array_equal(
            saved[out], fixed.get(out, "spikes")[:, : saved[out].shape[1]]
        )
    if variable == "spikes":
        ours, ref = fixed.get(out, "spikes").sum(axis=1), flt.get(out, "spikes").sum(axis=1)
        assert ref.sum() > 100
        assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.98
    else:
        assert fixed.get(out, "spikes").sum() == 0  # a non-spiking readout stays silent
        scale = b.report["quantization"]["populations"][out]["scale"]
        v_fixed, v_float = fixed.get(out, "v") / scale, flt.get(out, "v")
        assert np.corrcoef(v_fixed.ravel(), v_float.ravel())[0, 1] > 0.97
