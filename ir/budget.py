"""The memory budget: how many bytes one snnc command may allocate for what it reads and runs.

A small hostile file can declare a large size: a zip entry that inflates 1000-fold, an HDF5
dataset that was never written, a placement range of 2^31 neurons, a trace of 2^30 steps.
Every loader and the run planner turn what they are about to allocate into bytes and check it
here *before* allocating, so such a file fails with one line naming the input and the size.

    bytes of a loaded array = 2 x values x 8    (the int64 / float64 array loaders return,
                                                 and the copy the IR node keeps)
                            + 2 x stored bytes  (the raw bytes read, and the array parsed
                                                 from them before converting)
    bytes of a run               = batch x steps x 8 x (inputs + neurons + recorded values)
                                   (every engine keeps each population's spike train for the
                                   whole run; recorded u and v add one value each per neuron)

Loaders add up the arrays of one file (`Tally`); a run is checked as a whole. The budget is
`DEFAULT_MAX_LOAD_BYTES` (1 GiB) unless the environment variable `SNNC_MAX_LOAD_BYTES` holds
another whole number of bytes; a value that is not one is an error (one line), not a default.
What a command's process holds at its peak is this budget plus the interpreter and libraries
(120-330 MB measured, `tests/robust/hostile.py`) plus the working copies a pass makes of what
it was given.
"""

from __future__ import annotations

import os

from ir.errors import InputError

__all__ = [
    "DEFAULT_MAX_LOAD_BYTES",
    "ENV",
    "VALUE_BYTES",
    "Tally",
    "check_bytes",
    "format_bytes",
    "loaded_array_bytes",
    "max_load_bytes",
]

ENV = "SNNC_MAX_LOAD_BYTES"
DEFAULT_MAX_LOAD_BYTES = 1 << 30
# Loaders hold every array as int64 or float64; engines record every value in 8 bytes or less.
VALUE_BYTES = 8


def loaded_array_bytes(values: int, stored: int) -> int:
    """What loading an array of `values` values stored in `stored` bytes allocates at its peak
    (module docstring; measured: a 2^24-value int8 weight peaks at 256 MiB loaded)."""
    return 2 * values * VALUE_BYTES + 2 * stored


def max_load_bytes() -> int:
    """The budget in bytes: SNNC_MAX_LOAD_BYTES, or DEFAULT_MAX_LOAD_BYTES when unset."""
    raw = os.environ.get(ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_LOAD_BYTES
    text = raw.strip().replace("_", "")
    if not text.isdigit() or int(text) <= 0:
        raise InputError(
            f"{ENV}={raw[:40]!r}: expected a whole number of bytes greater than zero "
            f"(e.g. {8 << 30} for 8 GiB; the default is {DEFAULT_MAX_LOAD_BYTES})"
        )
    return int(text)


def format_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def check_bytes(need: int, what: str) -> None:
    """Raise InputError when `need` bytes (for `what`, named with its file) exceed the budget."""
    limit = max_load_bytes()
    if need > limit:
        raise InputError(
            f"{what} needs {format_bytes(need)} ({need} bytes), more than the "
            f"{format_bytes(limit)} snnc allocates for one command ({ENV}={limit}; raise it to "
            "allow more)"
        )


class Tally:
    """Bytes of one file's arrays, added up as they are declared, checked before each is read."""

    def __init__(self, label: str) -> None:
        self.label, self.total = label, 0

    def add(self, nbytes: int, what: str) -> None:
        before = self.total
        self.total += int(nbytes)
        where = f"{self.label}: {what}" + (
            f" (with the {format_bytes(before)} declared before it)" if before else ""
        )
        check_bytes(self.total, where)
