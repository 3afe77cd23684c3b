"""Differential tests of the neuron-model table: random heterogeneous programs
(tests/backends/random_models.py: LIF, ATRLIF, sigma-delta and resonate-and-fire in one graph,
per-neuron registers that Lava runs as parameter groups, graded sigma-delta layers feeding other
models, dense, sparse, delayed, recurrent and convolutional projections) on the cpu backend's
two engines and on Lava, every emission and every state variable at every step.

`make test` runs 50 compact networks (one or two layers, one population with two parameter
groups at most) in 3 Lava runs (two samples of 8 steps, which also checks the reset of every
model's state between samples); `make test-full` adds 200 larger ones (6 per Lava run).
"""

from collections import Counter

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu.simulator import run as cpu_run
from backends.lava import compat
from ir import Input
from neurons import model_of, variables_of
from tests.backends.random_models import MODEL_NAMES, random_model_network, random_sdnn_network
from tests.backends.random_nets import first_mismatch, merge

FAST_SEEDS = range(50)
SLOW_SEEDS = range(1000, 1200)
# Lava forks one OS process per process (about 25 MB each): runs of ~110 (fast) or ~130 (slow)
# processes keep a run within about 3-4 GB.
PER_RUN = {"fast": 17, "slow": 6}


def _probes(graph):
    return [
        Probe(n, variables_of(p)) for n, p in graph.populations.items() if not isinstance(p, Input)
    ]


def _compare(seeds, steps: int, batch: int, compact: bool, make=None) -> None:
    from backends.lava.run import run as lava_run

    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    if make is None:

        def make(s):
            return random_model_network(s, steps, batch, compact)

    graph, inputs = merge([make(s) for s in seeds])
    probes = _probes(graph)
    lava = lava_run(graph, inputs, probes=probes)
    for engine in ("reference", "fast"):
        mismatch = first_mismatch(
            cpu_run(graph, inputs, probes=probes, engine=engine), lava, probes, f"{engine}: "
        )
        if mismatch:
            pytest.fail(mismatch)


def _chunks(seeds, per_run: int):
    seeds = list(seeds)
    return [
        pytest.param(
            seeds[i : i + per_run], id=f"seeds{seeds[i]}-{seeds[min(i + per_run, len(seeds)) - 1]}"
        )
        for i in range(0, len(seeds), per_run)
    ]


@pytest.mark.lava
@pytest.mark.parametrize("seeds", _chunks(FAST_SEEDS, PER_RUN["fast"]))
def test_random_heterogeneous_networks_match_lava(seeds):
    _compare(seeds, steps=8, batch=2, compact=True)


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("seeds", _chunks(SLOW_SEEDS, PER_RUN["slow"]))
def test_more_random_heterogeneous_networks_match_lava(seeds):
    _compare(seeds, steps=20, batch=2, compact=False)


@pytest.mark.lava
def test_random_sdnn_chains_match_lava():
    """Delta encoder -> sigma-delta layers -> sigma decoder chains (what lava-dl's SDNN files
    hold), 6 in one Lava run, two samples each (40 more in `make test-full`)."""
    _compare(
        range(6), steps=12, batch=2, compact=True, make=lambda s: random_sdnn_network(s, 12, 2)
    )


@pytest.mark.lava
@pytest.mark.slow
def test_more_random_sdnn_chains_match_lava():
    _compare(
        range(100, 140),
        steps=20,
        batch=2,
        compact=False,
        make=lambda s: random_sdnn_network(s, 20, 2),
    )


def test_the_suite_covers_every_model_and_its_hard_cases():
    """What the 50 networks of `make test` hold and reach (checked on the cpu trace, which the
    test above shows equal to Lava's)."""
    models: Counter = Counter()
    seen = Counter()
    for seed in FAST_SEEDS:
        net = random_model_network(seed, steps=8, batch=2, compact=True)
        g = net.graph
        tr = cpu_run(g, net.inputs, probes=_probes(g))
        kinds = {model_of(p).name for n, p in g.populations.items() if not isinstance(p, Input)}
        models.update(kinds)
        seen["mixed models"] += len(kinds) > 1
        for name, pop in g.populations.items():
            if isinstance(pop, Input):
                continue
            model = model_of(pop)
            seen["parameter groups > 1"] += len(model.parameter_groups(pop)) > 1
            out = tr.get(name)
            seen[f"{model.name} emits"] += int(np.count_nonzero(out))
            if model.graded:
                seen["graded payloads > 1"] += int(np.count_nonzero(np.abs(out) > 1))
                seen["graded feeds"] += any(p.src == name for p in g.projections.values())
        seen["conv"] += any(type(p).__name__ == "QConv2d" for p in g.projections.values())
        seen["recurrent"] += any(p.src == p.dst for p in g.projections.values())
        seen["imag port"] += any(p.port == "imag" for p in g.projections.values())
    assert set(models) == {*MODEL_NAMES, "rf_iz"}, models
    assert all(count > 0 for count in seen.values()) and len(seen) == 12, seen
