"""A small share of `make fuzz` in `make test`: every fuzzer, a few dozen to 150 examples (the
fuzzers that run a CLI verb per example get fewer)."""

import pytest

from tests.fuzz.fuzzers import FUZZERS, run

# Fuzzers that run a whole CLI verb (load, compile or simulate) or decompress a data set per example.
HEAVY = {"build-folder", "hil-trace", "out-npz", "hw-compile", "model-metadata", "idx-dataset", "netx-file"}


@pytest.mark.parametrize("name", sorted(FUZZERS))
def test_fuzzer_small(name):
    outcomes = run(name, 40 if name in HEAVY else 150)
    assert sum(outcomes.values()) > 0
