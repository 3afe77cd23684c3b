"""The shape shared by every section of a hardware config: a mapping of named numbers, each a
mapping `{value, source, estimate}`. `ir.hardware` (the limits) and `ir.cost_model` (the cost
model) parse their sections with these and differ only in what a value may be."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from typing import Any

from ir.errors import ConfigError

__all__ = ["number_mapping", "parse_section", "provenance", "section_values"]


def section_values(spec: Any, sections: Iterable[str]) -> Iterator[Any]:
    """The fields of every section dataclass of `spec`, in order (a config's numbers)."""
    for section in sections:
        part = getattr(spec, section)
        for f in fields(part):
            yield getattr(part, f.name)


def parse_section(
    raw: Any, key: str, cls: type, label: str, number: Callable[[Any, str], Any]
) -> Any:
    """Section `key` (a mapping with exactly the fields of dataclass `cls`), each field parsed by
    `number(raw_value, dotted_key)`."""
    if not isinstance(raw, dict):
        what = "missing section" if raw is None else f"expected a mapping, got {type(raw).__name__}"
        raise ConfigError(label, key, what)
    names = [f.name for f in fields(cls)]
    extra = sorted(set(map(str, raw)) - set(names))
    if extra:
        raise ConfigError(label, f"{key}.{extra[0]}", f"unknown key (expected: {', '.join(names)})")
    values = {}
    for name in names:
        if name not in raw:
            raise ConfigError(label, f"{key}.{name}", "missing key")
        values[name] = number(raw[name], f"{key}.{name}")
    return cls(**values)


def number_mapping(raw: Any, key: str, label: str, what: str) -> tuple[Any, str, bool]:
    """(value, source, estimate) of a `{value, source, estimate}` mapping; `what` names the value
    in the error for a mapping without one ("N", "X")."""
    if not isinstance(raw, dict) or "value" not in raw:
        raise ConfigError(
            label, key, f"expected a mapping {{value: {what}, source: '...', estimate: true|false}}"
        )
    extra = sorted(set(map(str, raw)) - {"value", "source", "estimate"})
    if extra:
        raise ConfigError(
            label, f"{key}.{extra[0]}", "unknown key (expected value, source, estimate)"
        )
    source, estimate = provenance(raw, key, label)
    return raw["value"], source, estimate


def provenance(raw: dict, key: str, label: str) -> tuple[str, bool]:
    """(source, estimate) of one `{value, source, estimate}` mapping, checked."""
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(
            label, f"{key}.source",
            "every number must say where it comes from (a non-empty string)",
        )
    estimate = raw.get("estimate", False)
    if not isinstance(estimate, bool):
        raise ConfigError(label, f"{key}.estimate", f"expected true or false, got {estimate!r}")
    return source.strip(), estimate
