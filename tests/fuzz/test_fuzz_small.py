"""A small share of `make fuzz` in `make test`: every fuzzer, a few dozen to 150 examples (the
fuzzers that run a CLI verb per example get fewer; issue 23's families say how many themselves,
and lava-signals, a Lava process per example, is sampled by tests/robust/test_hostile.py)."""

import pytest

from tests.fuzz.fuzzers import FUZZERS, SMALL, run

# Fuzzers that run a whole CLI verb (load, compile or simulate) or decompress a data set per
# example.
HEAVY = {
    "build-folder",
    "hil-trace",
    "out-npz",
    "hw-compile",
    "model-metadata",
    "idx-dataset",
    "netx-file",
}


@pytest.mark.parametrize("name", sorted(n for n in FUZZERS if SMALL[n]))
def test_fuzzer_small(name):
    outcomes = run(name, 40 if name in HEAVY else SMALL[name])
    assert sum(outcomes.values()) > 0
