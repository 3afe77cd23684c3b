"""The VIB encoder as a fixed-point program: scored through the host decoder on the cpu backend
and on Lava, with identical spikes."""

from __future__ import annotations

import numpy as np
import pytest

from backends.lava import compat
from ir.graph import Graph
from ir.nodes import LIF, QLIF, Dense, Input, QDense
from tests.trainers.vib_models import random_result
from trainers.vib.evaluate import evaluate_vib
from trainers.vib.export import write_model


def _hand_fixed(graph: Graph, seed: int) -> Graph:
    """A fixed-point twin of a VIB encoder graph, built by hand (random 8-bit weights, decays
    from the float alphas), with the float model's metadata so that evaluation finds the decoder."""
    rng = np.random.default_rng(seed)
    pops, projs = {}, {}
    for name, pop in graph.populations.items():
        if isinstance(pop, Input):
            pops[name] = pop
            continue
        assert isinstance(pop, LIF)
        a_syn, a_mem = (float(a) for a in pop.decays(graph.dt))
        # Lava: u keeps (4096 - du - 1) / 4096, v keeps (4096 - dv) / 4096 per step.
        du = int(np.clip(round(4095 - 4096 * a_syn), 0, 4095))
        dv = int(np.clip(round(4096 - 4096 * a_mem), 0, 4095))
        pops[name] = QLIF(
            pop.shape, du=du, dv=dv, vth=40, bias_mant=rng.integers(0, 2000, pop.size), bias_exp=0
        )
    for name, proj in graph.projections.items():
        assert isinstance(proj, Dense)
        projs[name] = QDense(
            proj.src, proj.dst, weight=2 * rng.integers(-40, 90, proj.weight.shape), weight_exp=0
        )
    return Graph(populations=pops, projections=projs, dt=graph.dt, outputs=graph.outputs,
                 metadata=dict(graph.metadata))


@pytest.mark.parametrize("task", ["predictive-coding", "digits"])
def test_fixed_point_encoder_is_scored_through_the_host_decoder(tmp_path, task):
    graph, _ = write_model(random_result(task), tmp_path / "m.snnc")
    program = _hand_fixed(graph, 0)
    res = evaluate_vib(
        program, tmp_path / "m.snnc", backend="cpu", samples=6, batch=4, keep_spikes=True
    )
    assert res["backend"] == "cpu" and res["samples"] == 6
    assert 0.02 < res["readout_rate"] < 0.98 and res["spikes"].shape[0] == 6


@pytest.mark.lava
@pytest.mark.parametrize(("task", "samples"), [("predictive-coding", 2), ("digits", 3)])
def test_fixed_point_encoder_gives_identical_spikes_on_lava_and_cpu(tmp_path, task, samples):
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    overrides = {"steps": 20, "hidden": (6,)} if task == "predictive-coding" else {}
    graph, _ = write_model(random_result(task, **overrides), tmp_path / "m.snnc")
    program = _hand_fixed(graph, 1)
    cpu = evaluate_vib(
        program, tmp_path / "m.snnc", backend="cpu", samples=samples, keep_spikes=True
    )
    lava = evaluate_vib(
        program, tmp_path / "m.snnc", backend="lava", samples=samples, keep_spikes=True
    )
    assert 0.02 < cpu["readout_rate"] < 0.98
    assert np.array_equal(lava["spikes"], cpu["spikes"])
    assert lava["accuracy"] == cpu["accuracy"]
