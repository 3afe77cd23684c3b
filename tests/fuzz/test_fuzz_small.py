"""A small share of `make fuzz` in `make test`: every fuzzer, a few hundred examples."""

import pytest

from tests.fuzz.fuzzers import FUZZERS, run


@pytest.mark.parametrize("name", sorted(FUZZERS))
def test_fuzzer_small(name):
    outcomes = run(name, 150)
    assert sum(outcomes.values()) > 0
