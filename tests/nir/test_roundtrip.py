"""snnc -> NIR -> snnc: exact (property test), NIR-valid, deterministic; and the NIR parameters
alone (snnc's metadata stripped) describe the same network."""

import json
import math
import tempfile
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backends import get_backend
from backends.base import Probe
from compiler.nir.exporter import ExportError, export_nir, nir_outputs
from compiler.nir.importer import import_nir
from ir import LIF, QLIF, Conv2d, Dense, Graph, Input, QDense, Sparse
from ir.serialize import graph_to_bytes
from tests.strategies import graphs

PROPERTY = settings(
    max_examples=40, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)


def _export(graph, path, method="euler"):
    warnings: list[str] = []
    try:
        export_nir(graph, path, discretization=method, warn=warnings.append)
    except ExportError:
        assume(False)  # a graph NIR cannot express (tested by name below)
    return warnings


@PROPERTY
@given(graph=graphs(domain="float"), method=st.sampled_from(["euler", "exp"]))
def test_round_trip_preserves_every_parameter(graph, method):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.nir"
        warnings = _export(graph, path, method)
        assert len(warnings) == sum(
            bool(getattr(p, "reset_interval", 0)) for p in graph.populations.values()
        )
        first = path.read_bytes()
        nir.read(path)  # the reference reader accepts it, type checks included
        back = import_nir(path, warn=warnings.append)
        assert graph_to_bytes(back) == graph_to_bytes(graph)
        export_nir(graph, path, discretization=method, warn=warnings.append)
        assert path.read_bytes() == first  # same graph, same bytes


def _strip_snnc(path: Path) -> None:
    """Remove everything snnc wrote for itself: what is left is plain NIR (plus dt)."""
    with h5py.File(path, "a") as f:
        del f["node/metadata/snnc"]
        for name in list(f["node/nodes"]):
            if "metadata" in f["node/nodes"][name]:
                del f["node/nodes"][name]["metadata"]


def _dense(graph, proj):
    if isinstance(proj, Dense):
        return proj.weight
    w = np.zeros((graph.populations[proj.dst].size, graph.populations[proj.src].size))
    w[proj.rows, proj.cols] = proj.values
    return w


@PROPERTY
@given(
    graph=graphs(domain="float"),
    method=st.sampled_from(["euler", "exp"]),
    seed=st.integers(0, 2**16),
)
def test_nir_parameters_alone_describe_the_same_network(graph, method, seed):
    assume(not any(getattr(p, "reset_interval", 0) for p in graph.populations.values()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.nir"
        _export(graph, path, method)
        _strip_snnc(path)
        back = import_nir(path, warn=lambda m: None)
    assert back.dt == graph.dt and back.metadata["import"]["dt_source"] == "file"
    assert set(back.populations) == set(graph.populations) and set(back.projections) == set(
        graph.projections
    )
    assert set(back.output_names) == set(nir_outputs(graph))
    for name, pop in graph.populations.items():
        new = back.populations[name]
        assert type(new) is type(pop) and new.size == pop.size
        if isinstance(pop, LIF):
            for f in ("v_th", "bias"):
                np.testing.assert_allclose(
                    new.per_neuron(f), pop.per_neuron(f), rtol=1e-12, atol=1e-15
                )
            for a, b in zip(new.decays(graph.dt), pop.decays(graph.dt), strict=True):
                a, b = (
                    np.broadcast_to(np.reshape(x, -1) if np.ndim(x) else x, (pop.size,))
                    for x in (a, b)
                )
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    for name, proj in graph.projections.items():
        new = back.projections[name]
        assert (new.src, new.dst) == (proj.src, proj.dst)
        if isinstance(proj, Conv2d):
            np.testing.assert_allclose(new.weight, proj.weight, rtol=1e-12)
        else:
            np.testing.assert_allclose(
                _dense(back, new), _dense(graph, proj), rtol=1e-12, atol=1e-15
            )
    x = (np.random.default_rng(seed).random((2, 25, graph.n_inputs)) < 0.4).astype(np.int64)
    probes = [Probe(n, ("spikes",)) for n, p in graph.populations.items() if isinstance(p, LIF)]
    run = get_backend("float")
    want, got = run(graph, x, probes=probes), run(back, x, probes=probes)
    for pr in probes:
        np.testing.assert_array_equal(got.get(pr.population), want.get(pr.population))


def test_recorded_metadata(tmp_path):
    graph = Graph(
        populations={"in": Input((3,)), "h": LIF((2,), tau_mem=1e-2, v_th=0.5)},
        projections={"p": Dense("in", "h", weight=np.ones((2, 3)))},
        dt=5e-4,
        outputs=("h",),
        metadata={"task": {"kind": "classification"}},
    )
    export_nir(graph, tmp_path / "m.nir")
    g = nir.read(tmp_path / "m.nir")
    assert float(g.metadata["dt"]) == 5e-4 and g.metadata["discretization"] == "euler"
    info = json.loads(g.metadata["snnc"])
    assert info["format"] == "snnc-nir" and info["metadata"] == {"task": {"kind": "classification"}}
    lif = g.nodes["h"]
    assert isinstance(lif, nir.LIF)
    # Forward Euler at dt reproduces alpha = exp(-dt/tau) with unit input gain.
    np.testing.assert_allclose(1 - 5e-4 / lif.tau, np.exp(-5e-4 / 1e-2), rtol=1e-14)
    np.testing.assert_allclose(lif.r * 5e-4 / lif.tau, 1.0, rtol=1e-14)


def test_export_refuses_what_nir_cannot_express(tmp_path):
    path = tmp_path / "m.nir"
    fixed = Graph(populations={"in": Input((2,)), "h": QLIF((2,), vth=10)},
                  projections={"p": QDense("in", "h", weight=np.ones((2, 2), dtype=np.int64))})
    with pytest.raises(ExportError, match="needs a float model"):
        export_nir(fixed, path)
    spatial = Graph(populations={"in": Input((1, 3, 3)), "c": LIF((2, 2, 2), tau_mem=1e-2)},
                    projections={"conv": Conv2d("in", "c", weight=np.ones((2, 1, 2, 2))),
                                 "rec": Dense("c", "c", weight=np.ones((8, 8)))})
    with pytest.raises(ExportError, match="projection 'rec' .*no reshape node"):
        export_nir(spatial, path)
    mixed = Graph(
        populations={"in": Input((2,)), "h": LIF((2,), tau_mem=np.array([1e-2, math.inf]))},
        projections={"p": Dense("in", "h", weight=np.ones((2, 2)))},
    )
    with pytest.raises(
        ExportError, match="population 'h': tau_mem is finite for some neurons and inf for others"
    ):
        export_nir(mixed, path)
    delays = Graph(
        populations={"in": Input((2,)), "h": LIF((2,), tau_mem=1e-2)},
        projections={
            "p": Dense("in", "h", weight=np.ones((2, 2)), delay=np.array([[0, 1], [1, 0]]))
        },
    )
    with pytest.raises(
        ExportError, match="projection 'p' .*per-source plus a per-destination delay"
    ):
        export_nir(delays, path)
    bias = Graph(
        populations={
            "in": Input((1, 3, 3)),
            "c": LIF((1, 2, 2), bias=np.arange(4.0).reshape(1, 2, 2)),
        },
        projections={
            "conv": Conv2d("in", "c", weight=np.ones((1, 1, 2, 2))),
            "conv2": Conv2d("in", "c", weight=np.ones((1, 1, 2, 2))),
        },
    )
    with pytest.raises(ExportError, match="population 'c': a bias on a neuron without leak"):
        export_nir(bias, path)
    assert not path.exists()


def test_separable_delays_and_graded_inputs_round_trip(tmp_path):
    delay = np.array([[1, 3, 2], [2, 4, 3]])  # per destination (1, 2) plus per source (0, 2, 1)
    graph = Graph(
        populations={
            "in": Input((3,), message_bits=8),
            "h": LIF((2,), tau_syn=2e-3, tau_mem=math.inf, v_th=3.0, bias=np.array([0.1, 0.2])),
        },
        projections={"p": Dense("in", "h", weight=np.ones((2, 3)) * 0.5, delay=delay)},
        dt=1e-3,
    )
    export_nir(graph, tmp_path / "m.nir")
    g = nir.read(tmp_path / "m.nir")
    assert {type(n).__name__ for n in g.nodes.values()} >= {"Delay", "LI", "IF", "Affine"}
    back = import_nir(tmp_path / "m.nir", warn=lambda m: None)
    assert graph_to_bytes(back) == graph_to_bytes(graph)


def test_imported_fixture_round_trips(tmp_path):
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "nir" / "snntorch_conv.nir"
    graph = import_nir(fixture, dt=1e-4)
    export_nir(graph, tmp_path / "again.nir")
    assert graph_to_bytes(import_nir(tmp_path / "again.nir")) == graph_to_bytes(graph)


def test_sparse_one_to_one_is_a_scale(tmp_path):
    graph = Graph(
        populations={"in": Input((4,)), "h": LIF((4,), tau_mem=1e-2)},
        projections={
            "p": Sparse("in", "h", rows=np.arange(4), cols=np.arange(4), values=[1.0, 2, 3, 4])
        },
    )
    export_nir(graph, tmp_path / "m.nir")
    assert isinstance(nir.read(tmp_path / "m.nir").nodes["p"], nir.Scale)
    assert graph_to_bytes(import_nir(tmp_path / "m.nir")) == graph_to_bytes(graph)


@pytest.mark.parametrize("tau_syn", [0.0, 3e-3, math.inf])
@pytest.mark.parametrize("tau_mem", [8e-3, math.inf])
@pytest.mark.parametrize("v_th", [0.4, math.inf])
def test_every_neuron_form_round_trips(tmp_path, tau_syn, tau_mem, v_th):
    """LIF/CubaLIF/IF and their synapse-stage forms; non-spiking LI/CubaLI/I; biases on each."""
    graph = Graph(
        populations={
            "in": Input((3,)),
            "h": LIF(
                (2,), tau_syn=tau_syn, tau_mem=tau_mem, v_th=v_th, bias=np.array([0.05, -0.02])
            ),
        },
        projections={
            "p": Dense("in", "h", weight=np.array([[0.5, -0.2, 0.3], [0.1, 0.4, -0.6]])),
            "q": Sparse("in", "h", rows=[1], cols=[2], values=[0.25]),
        },
        dt=1e-3,
    )
    export_nir(graph, tmp_path / "m.nir")
    nir.read(tmp_path / "m.nir")
    assert graph_to_bytes(import_nir(tmp_path / "m.nir")) == graph_to_bytes(graph)
    _strip_snnc(tmp_path / "m.nir")
    back = import_nir(tmp_path / "m.nir", warn=lambda m: None)
    x = (np.random.default_rng(1).random((2, 30, 3)) < 0.5).astype(np.int64)
    probe = [Probe("h", ("spikes", "v"))]
    want, got = (
        get_backend("float")(graph, x, probes=probe),
        get_backend("float")(back, x, probes=probe),
    )
    np.testing.assert_array_equal(got.get("h"), want.get("h"))
    np.testing.assert_allclose(got.get("h", "v"), want.get("h", "v"), rtol=1e-9, atol=1e-12)
