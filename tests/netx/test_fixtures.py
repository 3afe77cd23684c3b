"""SLAYER-exported netx fixtures: imported, compiled for loihi2, run on the cpu backend and on Lava,
compared with netx's own output (`hdf5.Network` on `Loihi2SimCfg(select_tag='fixed_pt')`) and,
for the layers netx refuses, with SLAYER's own forward pass. The references are committed
(tests/fixtures/netx/generate.py); test_live.py re-runs netx itself."""

from __future__ import annotations

import numpy as np
import pytest

from backends.cpu.simulator import run as run_cpu
from compiler.compile import compile_model
from compiler.model_io import load_model
from ir.graph import Graph
from ir.hardware import load_hw
from tests.backends.random_nets import Network, merge
from tests.netx.helpers import NETX_RUNS, REFUSED, assert_matches, fixture, program_output

ALL = NETX_RUNS + REFUSED


def _padded(inputs: np.ndarray, latency: int) -> np.ndarray:
    """The input with `latency` empty steps appended, so the program runs as long as netx plus
    the steps it lags."""
    pad = np.zeros((inputs.shape[0], latency, inputs.shape[2]), dtype=inputs.dtype)
    return np.concatenate([inputs, pad], axis=1)


def _compiled(name: str) -> tuple[Graph, int]:
    graph = load_model(fixture(name).path)
    program, _ = compile_model(graph, load_hw("loihi2"))
    return program, graph.metadata["import"]["latency"]


@pytest.fixture(scope="module")
def programs() -> dict[str, tuple[Graph, int]]:
    return {name: _compiled(name) for name in ALL}


@pytest.mark.parametrize("name", ALL)
def test_cpu_matches_the_reference(name, programs):
    """Compiled for loihi2 and run block by block on the cpu backend: netx's output (SLAYER's
    where netx refuses the file) spike for spike, `latency` steps later."""
    fx = fixture(name)
    program, latency = programs[name]
    trace = run_cpu(program, _padded(fx.inputs, latency), blocks=True)
    out = program_output(program, trace.get(program.outputs[0]))[:, latency:]
    assert out.shape == fx.reference.shape
    # a fixture active enough to mean something (sigma-delta: graded payloads, nonzero)
    assert np.count_nonzero(fx.reference) > 0.05 * fx.reference.size
    assert_matches(program, out, fx.reference)


def test_latency_is_one_step_after_input_neurons(programs):
    """netx feeds its input neurons without a synapse step; snnc's projection adds one. The
    import records it and nothing else moves: unshifted, the outputs differ."""
    assert {n: programs[n][1] for n in ALL} == {
        n: int(n in ("cuba_conv", "sdnn_pilot")) for n in ALL
    }
    fx = fixture("cuba_conv")
    program, _ = programs["cuba_conv"]
    out = run_cpu(program, fx.inputs).get(program.outputs[0])
    assert np.any(out != fx.netx)


def test_slayer_float_forward_equals_netx_where_netx_runs():
    """Why SLAYER's forward is the reference for the layers netx refuses: where netx runs a CUBA
    file without input neurons, SLAYER's float forward is its output exactly (the input neurons of
    cuba_conv take the raw spikes in netx, 1/64 of what SLAYER gives them)."""
    for name in ("cuba_mlp", "cuba_rec", "cuba_delay"):
        fx = fixture(name)
        np.testing.assert_array_equal(fx.slayer, fx.netx)


@pytest.mark.lava
def test_lava_matches_the_reference():
    """All fixtures in one Lava run (one graph of disjoint parts), compiled for loihi2 and run
    block by block as Lava processes: the same outputs as netx (SLAYER where netx refuses)."""
    from backends.lava import compat

    if not compat.lava_available():
        pytest.skip("lava-nc not importable")
    from backends.lava.run import run as run_lava

    fixtures = [fixture(name) for name in ALL]
    graphs = [load_model(fx.path) for fx in fixtures]
    latency = [g.metadata["import"]["latency"] for g in graphs]
    batch = 1  # the cpu test covers every sample (and other Lava tests the reset between samples)
    steps = max(fx.inputs.shape[1] + lat for fx, lat in zip(fixtures, latency))
    graph, inputs = merge(
        [
            Network(
                g,
                np.pad(fx.inputs[:batch], ((0, 0), (0, steps - fx.inputs.shape[1]), (0, 0))),
                "netx",
                k,
            )
            for k, (g, fx) in enumerate(zip(graphs, fixtures))
        ]
    )
    program, _ = compile_model(graph, load_hw("loihi2"))
    trace = run_lava(program, inputs, steps=steps)
    for k, (g, fx, lat) in enumerate(zip(graphs, fixtures, latency)):
        out = program_output(g, trace.get(f"n{k}_{g.outputs[0]}"))[:, lat: lat + fx.inputs.shape[1]]
        assert_matches(g, out, fx.reference[:batch], fx.name)
