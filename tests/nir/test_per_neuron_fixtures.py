"""Networks as users bring them: NIR files that snnTorch 1.0.0 and Norse 1.1.0 export with one
time constant per neuron (or per channel) import, compile for loihi2 and loihi1, and the
deployed program tracks the float model (tests/fixtures/nir/per_neuron,
tests/nir/per_neuron_check.py).

Correlations are of per-(sample, output neuron) spike counts on the fixture inputs. The
deployed program is compared with snnc's float model of the file and with the framework's own
output (snnc's float import reproduces each framework's spikes exactly).
"""

from __future__ import annotations

import numpy as np
import pytest

from backends.base import Probe
from backends.lava import compat
from tests.nir import per_neuron_check as check

MIN_CORRELATION = 0.95


@pytest.fixture(scope="module")
def fixtures():
    return check.check_all()


def test_the_fixtures_are_the_frameworks_own_per_neuron_exports(fixtures):
    assert {fx.info["framework"] for fx in fixtures} == {"snntorch", "norse"}
    for fx in fixtures:
        assert fx.info["versions"][fx.info["framework"]] in ("1.0.0", "1.1.0")
        # Per-neuron time constants really reach the float model and the compiled program.
        varying = [p for n, p in fx.graph.populations.items() if n not in fx.graph.inputs
                   and np.ndim(p.tau_mem)]
        assert varying, f"{fx.name}: no population with per-neuron tau_mem"
        groups = fx.deployed["loihi2"].report["quantization"]["populations"]
        assert any(p.get("parameter_groups", 1) > 1 for p in groups.values()), fx.name


@pytest.mark.parametrize("target", check.TARGETS)
def test_deployed_programs_track_the_float_model(fixtures, target):
    for fx in fixtures:
        d = fx.deployed[target]
        assert fx.float_counts.sum() > 0 and d.counts.sum() > 0, fx.name
        assert fx.float_correlation >= 0.999, (fx.name, fx.float_correlation)  # the import is exact
        assert d.float_correlation >= MIN_CORRELATION, (fx.name, target, d.float_correlation)
        assert d.correlation >= MIN_CORRELATION, (fx.name, target, d.correlation)


def _cpu_equals_lava(fixtures, target: str, samples: int, steps: int | None = None) -> None:
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    mismatches, processes, populations = check.cpu_vs_lava(fixtures, target, samples, steps)
    assert not mismatches, mismatches
    # Per-neuron decays: Lava runs several processes (parameter groups) per population.
    assert processes > 2 * populations


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("target", check.TARGETS)
def test_deployed_fixtures_run_identically_on_cpu_and_lava(fixtures, target):
    """Every sample, every step (`make test` checks parameter groups on Lava through
    tests/backends/lava/test_models_differential.py and tests/cli/test_models_cli.py)."""
    _cpu_equals_lava(fixtures, target, samples=8)


def test_nir_neuron_nodes_with_per_neuron_parameters_deploy(tmp_path):
    """CubaLIF with per-neuron time constants and w_in, a Delay, IF with per-neuron thresholds
    and an LI readout with per-neuron tau (NIR nodes the table maps to LIF) import, compile and
    track their float model."""
    import nir

    from backends import get_backend
    from compiler.compile import compile_model
    from compiler.nir.importer import import_nir
    from ir import load_hw
    from tests.nir.helpers import inp, out, spikes, write_nir

    rng = np.random.default_rng(7)
    dt, n_in, n1, n2, n3 = 1e-3, 10, 8, 6, 4
    nodes = {
        "x": inp(n_in),
        "fc1": nir.Linear(rng.normal(0.6, 0.5, (n1, n_in))),
        "cuba": nir.CubaLIF(
            tau_syn=rng.uniform(2e-3, 6e-3, n1),
            tau_mem=rng.uniform(5e-3, 3e-2, n1),
            r=np.ones(n1),
            v_leak=np.zeros(n1),
            v_threshold=np.full(n1, 0.3),
            w_in=rng.uniform(2.0, 6.0, n1),
        ),
        "delay": nir.Delay(np.full(n1, 2 * dt)),
        "fc2": nir.Linear(rng.normal(0.5, 0.5, (n2, n1))),
        "if": nir.IF(r=np.ones(n2), v_threshold=rng.uniform(0.6, 1.2, n2)),
        "fc3": nir.Linear(rng.normal(0.5, 0.5, (n3, n2))),
        "li": nir.LI(tau=rng.uniform(5e-3, 2e-2, n3), r=np.ones(n3), v_leak=np.zeros(n3)),
        "y": out(n3),
    }
    edges = [("x", "fc1"), ("fc1", "cuba"), ("cuba", "delay"), ("delay", "fc2"), ("fc2", "if"),
             ("if", "fc3"), ("fc3", "li"), ("li", "y")]
    graph = import_nir(write_nir(tmp_path / "n.nir", nodes, edges, {"dt": dt}), warn=lambda m: None)
    assert np.ndim(graph.populations["cuba"].tau_mem) and np.ndim(graph.populations["li"].tau_mem)
    program, report = compile_model(graph, load_hw("loihi2"))
    assert report["quantization"]["populations"]["cuba"]["parameter_groups"] == n1
    x = spikes(rng, 4, 60, n_in)
    probes = [Probe("if"), Probe("li", ("spikes", "v"))]
    fl = get_backend("float")(graph, x, probes=probes)
    fx = get_backend("cpu")(program, x, probes=probes)
    a, b = fl.get("if").sum(axis=1).reshape(-1), fx.get("if").sum(axis=1).reshape(-1)
    assert a.sum() > 0 and np.corrcoef(a, b)[0, 1] >= MIN_CORRELATION
    scale = report["quantization"]["populations"]["li"]["scale"]
    v_float, v_fixed = fl.get("li", "v").reshape(-1), fx.get("li", "v").reshape(-1) / scale
    assert np.corrcoef(v_float, v_fixed)[0, 1] >= 0.99
    assert not fx.get("li").any()  # the readout never spikes
