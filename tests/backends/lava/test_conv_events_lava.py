"""The fast engine's event-driven integer convolutions against Lava, in one Lava run: binary
spikes (sums below 2^23), split-sign halves from one source (merged into one pass), graded
payloads whose sums pass Lava's 24-bit output wrap, and 24-bit payloads whose float64 sums
leave int32 (numpy's cast); random strides, paddings, dilations and groups."""

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu import _jit
from backends.cpu.simulator import run as cpu_run
from backends.lava import compat
from ir import QLIF, Graph, Input, QConv2d
from ir.nodes import conv2d_output_hw
from neurons.lif import jit as lif_jit
from tests.backends.random_nets import Network, first_mismatch, merge

pytestmark = pytest.mark.lava


def _case(seed: int, bits: int, halves: bool) -> Network:
    rng = np.random.default_rng(seed)
    groups = int(rng.integers(1, 3))
    c_in, c_out, h, w = 2 * groups, 2 * groups, int(rng.integers(5, 8)), int(rng.integers(5, 8))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    geo = dict(
        stride=int(rng.integers(1, 3)),
        padding=int(rng.integers(0, 2)),
        dilation=int(rng.integers(1, 3)),
        groups=groups,
    )
    weight = rng.integers(-256, 256, (c_out, c_in // groups, kh, kw))
    out_hw = conv2d_output_hw((h, w), (kh, kw), (geo["stride"],) * 2, (geo["padding"],) * 2,
                              (geo["dilation"],) * 2)
    vth = 1 << min(16, 6 + bits)
    pops = {
        "in": Input((c_in, h, w), message_bits=bits),
        "c": QLIF((c_out, *out_hw), du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
                  vth=vth),
    }
    if halves:
        projs = {
            "exc": QConv2d("in", "c", weight=np.maximum(weight, 0), **geo),
            "inh": QConv2d("in", "c", weight=np.minimum(weight, 0), **geo),
        }
    else:
        projs = {"k": QConv2d("in", "c", weight=weight, **geo)}
    steps, n = 8, c_in * h * w
    if bits:
        half = 1 << (bits - 1)
        x = rng.integers(-half, half, (1, steps, n)) * (rng.random((1, steps, n)) < 0.5)
    else:
        x = (rng.random((1, steps, n)) < 0.4).astype(np.int64)
    return Network(Graph(populations=pops, projections=projs), x, "conv-events", seed)


def test_event_convolutions_match_lava(monkeypatch):
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    from backends.lava.run import run as lava_run

    cases = [(0, 0, False), (1, 0, True), (2, 0, True), (3, 16, False), (4, 16, True),
             (5, 24, False), (6, 24, False)]
    graph, inputs = merge([_case(seed, bits, halves) for seed, bits, halves in cases])
    probes = [Probe(n, ("spikes", "u", "v")) for n, p in graph.populations.items()
              if not isinstance(p, Input)]
    calls = []
    # the wrap mode of each call: conv_events' second last argument, conv_lif's fifth (fused
    # into the LIF update: sums within int32)
    for module, kernel, at in ((_jit, "conv_events", -2), (lif_jit, "conv_lif", 4)):
        original = getattr(module, kernel)
        monkeypatch.setattr(
            module, kernel, lambda *a, f=original, i=at: calls.append((f, a[i])) or f(*a)
        )
    fast = cpu_run(graph, inputs, probes=probes, engine="fast")
    # no wrap, 24-bit wrap, numpy's int32 cast: all reached, fused and alone
    assert {0, 1, 2} <= {wrap for _, wrap in calls}
    assert len({f for f, _ in calls}) == 2
    mismatch = first_mismatch(fast, lava_run(graph, inputs, probes=probes), probes, "fast: ")
    assert not mismatch, mismatch
