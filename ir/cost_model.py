"""The cost model of a hardware target: energy and time per operation, the optional `cost`
section of `hw_configs/<name>.yaml`.

Every number is `{value: X, source: "where it comes from", estimate: bool}`, as the limits are;
values may be fractional (pJ, ns). The section is optional: without it a program's operation
counts are still reported, and energy and time are reported as unavailable.

```
cost:
  layout:      cores_per_tile, tile_mesh_columns        (integers: how cores sit on a chip's mesh)
  energy_pj:   synaptic_op, neuron_update, spike_within_tile, tile_hop_east_west,
               tile_hop_north_south, chip_hop
  time_ns:     the same six, plus barrier_one_tile, barrier_full_chip, barrier_multi_chip
```

The chip layout: the cores of a chip, in ascending core number, fill tiles of `cores_per_tile`
cores; tiles sit row-major on a mesh `tile_mesh_columns` wide (columns run east-west, rows
north-south). Chips sit row-major on a mesh `system.mesh_columns` wide. How `compiler.cost`
prices a spike message with these numbers, and the step-time formula, are in its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from ir.config_fields import number_mapping, parse_section, section_values
from ir.errors import ConfigError

__all__ = ["CostEnergy", "CostLayout", "CostModel", "CostTime", "CostValue", "parse_cost"]

# A value beyond these is a typo (units are pJ and ns).
_MAX_VALUE = 1e12


@dataclass(frozen=True)
class CostValue:
    """One number of a cost model, with its provenance."""

    value: float
    source: str
    estimate: bool
    key: str  # dotted YAML key ("cost.energy_pj.synaptic_op")
    unit: str  # "pJ", "ns" or "" (counts)


@dataclass(frozen=True)
class CostLayout:
    """How cores sit on a chip's mesh (integers)."""

    cores_per_tile: CostValue
    tile_mesh_columns: CostValue


@dataclass(frozen=True)
class CostEnergy:
    """Energy per operation, pJ."""

    synaptic_op: CostValue
    neuron_update: CostValue
    spike_within_tile: CostValue  # every spike message pays this once
    tile_hop_east_west: CostValue
    tile_hop_north_south: CostValue
    chip_hop: CostValue


@dataclass(frozen=True)
class CostTime:
    """Time per operation, ns."""

    synaptic_op: CostValue
    neuron_update: CostValue
    spike_within_tile: CostValue
    tile_hop_east_west: CostValue
    tile_hop_north_south: CostValue
    chip_hop: CostValue
    barrier_one_tile: CostValue
    barrier_full_chip: CostValue
    barrier_multi_chip: CostValue


_PARTS: dict[str, tuple[type, str]] = {
    "layout": (CostLayout, ""),
    "energy_pj": (CostEnergy, "pJ"),
    "time_ns": (CostTime, "ns"),
}


@dataclass(frozen=True)
class CostModel:
    layout: CostLayout
    energy_pj: CostEnergy
    time_ns: CostTime

    def values(self) -> Iterator[CostValue]:
        """Every number of the model, in schema order."""
        return section_values(self, _PARTS)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in _PARTS:
            spec = getattr(self, part)
            out[part] = {}
            for f in fields(spec):
                v = getattr(spec, f.name)
                value = int(v.value) if part == "layout" else v.value
                out[part][f.name] = {"value": value, "source": v.source, "estimate": v.estimate}
        return out


def parse_cost(raw: Any, label: str) -> CostModel:
    """The `cost` section of a hardware config (see the module docstring)."""
    if not isinstance(raw, dict):
        raise ConfigError(label, "cost", f"expected a mapping, got {type(raw).__name__}")
    extra = sorted(set(map(str, raw)) - set(_PARTS))
    if extra:
        raise ConfigError(label, f"cost.{extra[0]}", f"unknown key (expected: {', '.join(_PARTS)})")
    parts = {
        part: parse_section(
            raw.get(part), f"cost.{part}", cls, label,
            lambda v, key, unit=unit, part=part: _value(
                v, key, label, unit, integer=part == "layout"
            ),
        )
        for part, (cls, unit) in _PARTS.items()
    }
    return CostModel(**parts)


def _value(raw: Any, key: str, label: str, unit: str, integer: bool) -> CostValue:
    value, source, estimate = number_mapping(raw, key, label, "X")
    if integer:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 20:
            raise ConfigError(
                label, f"{key}.value", f"expected an integer from 1 to {1 << 20}, got {value!r}"
            )
    elif (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= _MAX_VALUE
    ):
        bounds = f"from 0 to {_MAX_VALUE:g} {unit}"
        raise ConfigError(label, f"{key}.value", f"expected a number {bounds}, got {value!r}")
    return CostValue(
        value=value if integer else float(value), source=source, estimate=estimate, key=key,
        unit=unit,
    )
