"""LIF with v_th = +inf: a non-spiking leaky integrator (NIR's LI, CubaLI and I readouts)."""

import math

import numpy as np
import pytest

from backends import get_backend
from backends.base import Probe
from ir import LIF, Dense, Graph, Input, IRVerifyError
from ir.serialize import graph_from_bytes, graph_to_bytes


def test_infinite_threshold_never_spikes_and_integrates():
    graph = Graph(
        populations={
            "in": Input((1,)),
            "li": LIF((2,), tau_mem=math.inf, v_th=np.array([math.inf, math.inf])),
        },
        projections={"p": Dense("in", "li", weight=np.array([[1.0], [2.0]]))},
    )
    trace = get_backend("float")(
        graph, np.ones((1, 5, 1), dtype=np.int64), probes=[Probe("li", ("spikes", "v"))]
    )
    assert trace.get("li").sum() == 0
    np.testing.assert_array_equal(trace.get("li", "v")[0, :, 1], [0, 2, 4, 6, 8])
    assert graph_to_bytes(graph_from_bytes(graph_to_bytes(graph))) == graph_to_bytes(graph)


@pytest.mark.parametrize("bad", [math.nan, -math.inf])
def test_nan_or_negative_infinite_threshold_is_refused(bad):
    with pytest.raises(IRVerifyError, match="LIF.v_th"):
        LIF((1,), v_th=bad)
    with pytest.raises(IRVerifyError, match="LIF.bias"):
        LIF((1,), bias=math.inf)
