"""The fast chain simulator computes what the float backend computes for the same graph."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from backends import get_backend  # noqa: E402
from backends.base import Probe  # noqa: E402
from trainers.conversion.chain import Chain, LinearMap  # noqa: E402
from trainers.conversion.convert import to_graph  # noqa: E402
from trainers.conversion.fastsim import SnnChain, predict, simulate  # noqa: E402
from trainers.readout import classify  # noqa: E402

pytestmark = pytest.mark.torch


def _grid(rng, shape, scale):
    """Weights on a 2^-8 grid: every partial sum is exact in float64, so the two simulators'
    different summation orders give bit-identical potentials."""
    return np.round(rng.normal(scale=scale, size=shape) * 256) / 256


def _snn(seed, conv):
    rng = np.random.default_rng(seed)
    if conv:
        # The second map reads its input through a 2x2 average pool (folded in the graph).
        maps = [
            LinearMap("conv", _grid(rng, (3, 1, 3, 3), 0.6), (1, 6, 6), (3, 6, 6), padding=(1, 1)),
            LinearMap(
                "conv", _grid(rng, (4, 3, 3, 3), 0.6), (3, 6, 6), (4, 3, 3), padding=(1, 1), pool=2
            ),
            LinearMap("dense", _grid(rng, (5, 36), 0.4), (4, 3, 3), (5,)),
        ]
    else:
        maps = [
            LinearMap("dense", _grid(rng, (12, 10), 0.5), (10,), (12,)),
            LinearMap("dense", _grid(rng, (8, 12), 0.5), (12,), (8,)),
            LinearMap("dense", _grid(rng, (4, 8), 0.5), (8,), (4,)),
        ]
    biases = tuple(np.round(rng.uniform(-0.05, 0.1, size=m.n_out) * 64) / 64 for m in maps)
    v_th = tuple(float(v) for v in rng.choice([0.5, 1.0, 1.5], size=len(maps)))
    return SnnChain(tuple(maps), v_th, biases), Chain(tuple(maps))


@settings(max_examples=12)
@given(
    seed=st.integers(0, 2**31 - 1),
    conv=st.booleans(),
    steps=st.integers(1, 40),
    chunk=st.integers(1, 9),
)
def test_fastsim_matches_float_backend(seed, conv, steps, chunk):
    snn, chain = _snn(seed, conv)
    graph = to_graph(snn, chain, metadata={})
    rng = np.random.default_rng(seed + 1)
    n_in = chain.maps[0].n_in
    spikes = (rng.random((3, steps, n_in)) < 0.5).astype(np.uint8)
    trace = get_backend("float")(
        graph, spikes, probes=[Probe(n, ("spikes", "u")) for n in ("h1", "h2", "out")]
    )
    seen: dict[int, list[np.ndarray]] = {0: [], 1: [], 2: []}
    res = simulate(
        snn,
        spikes,
        (steps,),
        dtype="float64",
        chunk=chunk,
        layer_hook=lambda layer, a, s: seen[layer].append(s.numpy()),
    )
    for layer, name in enumerate(("h1", "h2", "out")):
        np.testing.assert_array_equal(
            np.concatenate(seen[layer], axis=1), trace.get(name, "spikes")
        )
    np.testing.assert_array_equal(res.counts[-1], trace.get("out").sum(axis=1))
    np.testing.assert_allclose(
        res.current[-1], trace.get("out", "u").sum(axis=1), rtol=0, atol=1e-9
    )
    spec = {"kind": "spike_count", "population": "out", "tie_break": "u_sum"}
    np.testing.assert_array_equal(predict(res.counts[-1], res.current[-1]), classify(spec, trace))
    per_layer = [trace.get(n).sum(axis=(1, 2)) for n in ("h1", "h2", "out")]
    np.testing.assert_array_equal(res.spikes[-1], np.stack(per_layer, axis=1))


def test_checkpoints_equal_shorter_runs():
    """Counts at checkpoint T are those of a T-step run (the benchmark reads every T from one)."""
    snn, _ = _snn(5, conv=False)
    spikes = (np.random.default_rng(0).random((4, 30, 10)) < 0.6).astype(np.uint8)
    long = simulate(snn, spikes, (7, 16, 30), dtype="float64")
    for k, t in enumerate((7, 16, 30)):
        short = simulate(snn, spikes[:, :t], (t,), dtype="float64")
        np.testing.assert_array_equal(long.counts[k], short.counts[0])
        np.testing.assert_array_equal(long.current[k], short.current[0])


def test_predict_breaks_ties_by_current_then_index():
    counts = np.array([[2, 3, 3, 0], [0, 0, 0, 0], [1, 1, 0, 0]])
    current = np.array([[9.0, 1.0, 2.0, 0.0], [0.0, 0.5, 0.5, 0.1], [3.0, 3.0, 0.0, 9.0]])
    np.testing.assert_array_equal(predict(counts, current), [2, 1, 0])
