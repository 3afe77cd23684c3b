"""The `u_sum` tie-break of the spike-count readout (added for converted networks)."""

import numpy as np

from backends.base import Probe, Trace
from trainers.readout import classify, readout_probes

SPEC = {"kind": "spike_count", "population": "out", "tie_break": "u_sum"}


def test_u_sum_probes_the_current():
    assert readout_probes(SPEC) == (Probe("out", ("spikes", "u")),)


def test_u_sum_breaks_ties_by_summed_current_then_lowest_index():
    spikes = np.zeros((3, 4, 3), dtype=np.uint8)
    spikes[0, 1, [0, 2]] = 1  # sample 0: neurons 0 and 2 tie with one spike each
    spikes[1, 2, 1] = 1  # sample 1: neuron 1 wins on count whatever the current
    u = np.zeros((3, 4, 3), dtype=np.int64)
    u[0, :, 2] = 5  # neuron 2 received more input than neuron 0
    u[1, :, 0] = 100
    u[2, :, 1] = u[2, :, 2] = 7  # sample 2: no spikes, 1 and 2 tie on current -> lowest index
    trace = Trace("cpu", 4, 3, {"out": {"spikes": spikes, "u": u}})
    np.testing.assert_array_equal(classify(SPEC, trace), [2, 1, 1])
