"""JSON from files snnc did not write itself, parsed within bounds.

Python's `json` recurses once per nesting level (100,000-deep arrays raise RecursionError) and
refuses integers of more than 4300 digits with a ValueError naming `sys.set_int_max_str_digits`.
`loads` checks the nesting depth first, without recursion (brackets outside strings, counted
in one pass), and parses integers through a hook that refuses more than `MAX_INT_DIGITS`
digits, so every malformed document is one `ModelFormatError` naming the file and the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from ir.errors import ModelFormatError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "loads"]

# snnc's own documents nest at most 8 deep (a compile report's per-core resources).
MAX_DEPTH = 64
# A seed or a sha256 as a number would be 78 digits at most; no field needs more.
MAX_INT_DIGITS = 80
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class _TooManyDigits(ValueError):
    pass


def _int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _TooManyDigits(digits)
    return int(text)


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (an upper bound for invalid JSON)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    opens = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((opens == ord("[")) | (opens == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def loads(data: str | bytes, label: str, field: str | None = None) -> Any:
    """Parse JSON text from `label`; ModelFormatError(label, field) for anything malformed."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ModelFormatError(
                label, field, f"not UTF-8 text ({e.reason} at byte {e.start})"
            ) from None
    depth = nesting_depth(data)
    if depth > MAX_DEPTH:
        raise ModelFormatError(
            label, field, f"JSON nested {depth} deep, more than the {MAX_DEPTH} levels snnc reads"
        )
    try:
        return json.loads(data, parse_int=_int)
    except _TooManyDigits as e:
        raise ModelFormatError(
            label,
            field,
            f"an integer of {e.args[0]} digits, more than the {MAX_INT_DIGITS} snnc reads",
        ) from None
    except json.JSONDecodeError as e:
        raise ModelFormatError(
            label, field, f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
        ) from None
    except (ValueError, RecursionError) as e:  # e.g. a float literal Python cannot parse
        raise ModelFormatError(label, field, f"not valid JSON ({type(e).__name__})") from None
