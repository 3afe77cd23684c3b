"""Hardware targets: a typed spec loaded from `hw_configs/<name>.yaml` (or any YAML file).

Every number in a config is a mapping `{value: N, source: "where it comes from", estimate: bool}`,
so that `snnc hw show` and the compile report can say which limits are known and which are
guesses. The schema below is the whole contract; a config that breaks it fails with one line
naming the file, the key and what was expected.

The synapse-memory cost model (the same form for every target; the numbers differ):
    bits(axon on a core) = word_bits * ceil((n_syn * (weight_bits + synapse_overhead_bits)
                                             + axon_overhead_bits) / word_bits)
where n_syn is the number of synapses that axon drives on that core; a core's synapse memory is
the sum over its input axons and must stay within core.synapse_memory_bits.

The optional `cost` section (energy and time per operation, each number with its source) is
`ir.cost_model.CostModel`; a config without it still compiles and runs (costs unavailable).

What every per-core resource counts (input axons per (projection, presynaptic neuron), output
axons per (neuron, destination core), weight bits per synapse) is defined once, in
`ir.resources`, which the verifier, the partitioner and the compile report share.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ir.config_fields import number_mapping, parse_section, section_values
from ir.cost_model import CostModel, parse_cost
from ir.errors import ConfigError
from ir.fixed import PROFILES, Profile

__all__ = [
    "ChipSpec",
    "CoreSpec",
    "HardwareSpec",
    "Limit",
    "NeuronSpec",
    "SynapseMemorySpec",
    "SynapseSpec",
    "SystemSpec",
    "builtin_targets",
    "load_hw",
    "load_hw_dict",
    "parse_yaml",
    "profile_fixed",
]

FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class Limit:
    """One number of a hardware config, with its provenance."""

    value: int
    source: str
    estimate: bool
    key: str  # dotted YAML key, for error messages ("core.max_neurons")


# Each section: (yaml key, field name, minimum value). All values are integers.
@dataclass(frozen=True)
class CoreSpec:
    """Per-core limits."""

    max_neurons: Limit
    max_input_axons: Limit  # distinct (projection, presynaptic neuron) pairs feeding the core
    max_output_axons: Limit  # distinct (source neuron, destination core) routes leaving the core
    max_populations: Limit  # distinct populations (neuron configurations) sharing one core
    synapse_memory_bits: Limit


@dataclass(frozen=True)
class SynapseMemorySpec:
    """Parameters of the synapse-memory cost model (module docstring)."""

    synapse_overhead_bits: Limit
    axon_overhead_bits: Limit
    word_bits: Limit

    def axon_bits(self, n_synapses: int, weight_bits: int) -> int:
        raw = (
            n_synapses * (weight_bits + self.synapse_overhead_bits.value)
            + self.axon_overhead_bits.value
        )
        word = self.word_bits.value
        return word * math.ceil(raw / word)


@dataclass(frozen=True)
class NeuronSpec:
    """Neuron state formats; must agree with the semantics profile."""

    state_bits: Limit
    decay_bits: Limit
    current_decay_offset: Limit
    vth_bits: Limit
    vth_shift: Limit
    activation_shift: Limit
    bias_mant_bits: Limit
    bias_exp_min: Limit
    bias_exp_max: Limit


@dataclass(frozen=True)
class SynapseSpec:
    """Synapse formats."""

    max_weight_bits: Limit
    weight_exp_min: Limit
    weight_exp_max: Limit
    max_message_bits: Limit  # graded-spike payload
    max_delay: Limit  # extra steps a synapse may delay


@dataclass(frozen=True)
class ChipSpec:
    cores_per_chip: Limit


@dataclass(frozen=True)
class SystemSpec:
    max_chips: Limit
    mesh_columns: Limit  # chips are laid out row-major on a mesh this many wide


_SECTIONS: dict[str, type] = {
    "core": CoreSpec,
    "synapse_memory": SynapseMemorySpec,
    "neuron": NeuronSpec,
    "synapse": SynapseSpec,
    "chip": ChipSpec,
    "system": SystemSpec,
}
# Minimum allowed value per key (limits that may be negative say so here).
_MINIMUM: dict[str, int] = {
    "synapse_memory.synapse_overhead_bits": 0,
    "synapse_memory.axon_overhead_bits": 0,
    "neuron.current_decay_offset": 0,
    "neuron.vth_shift": 0,
    "neuron.activation_shift": 0,
    "neuron.bias_exp_min": -32,
    "neuron.bias_exp_max": -32,
    "synapse.weight_exp_min": -32,
    "synapse.weight_exp_max": -32,
    "synapse.max_message_bits": 0,
    "synapse.max_delay": 0,
}


@dataclass(frozen=True)
class HardwareSpec:
    """A hardware target: its limits, formats and semantics profile."""

    name: str
    description: str
    semantics: str
    source_file: str
    core: CoreSpec
    synapse_memory: SynapseMemorySpec
    neuron: NeuronSpec
    synapse: SynapseSpec
    chip: ChipSpec
    system: SystemSpec
    cost: CostModel | None = None

    @property
    def profile(self) -> Profile:
        return PROFILES[self.semantics]

    def limits(self) -> Iterator[Limit]:
        """Every number of the config, in schema order (the cost model's: `cost.values()`)."""
        return section_values(self, _SECTIONS)

    def to_dict(self) -> dict[str, Any]:
        """The config as YAML-ready data (what `load_hw_dict` reads back)."""
        out: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "semantics": self.semantics,
        }
        for section in _SECTIONS:
            spec = getattr(self, section)
            out[section] = {
                f.name: {
                    "value": getattr(spec, f.name).value,
                    "source": getattr(spec, f.name).source,
                    "estimate": getattr(spec, f.name).estimate,
                }
                for f in fields(spec)
            }
        if self.cost is not None:
            out["cost"] = self.cost.to_dict()
        return out


def builtin_targets() -> list[str]:
    """Names of the targets shipped in the hw_configs package."""
    files = resources.files("hw_configs")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_hw(name_or_path: str | Path) -> HardwareSpec:
    """Load a built-in target by name (`loihi2`) or a YAML file by path."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in text_name:
        return _load_file(path)
    if text_name in builtin_targets():
        res = resources.files("hw_configs") / f"{text_name}.yaml"
        return _parse(res.read_text(encoding="utf-8"), f"hw_configs/{text_name}.yaml")
    raise ConfigError(
        text_name, None,
        f"unknown hardware target; built-in targets: {', '.join(builtin_targets())} "
        "(or give the path of a YAML file)",
    )


def _load_file(path: Path) -> HardwareSpec:
    label = str(path)
    if not path.is_file():
        raise ConfigError(label, None, "no such file")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            label, None, f"{size} bytes is too large for a hardware config (max {MAX_CONFIG_BYTES})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(label, None, f"cannot read as UTF-8 text ({e})") from None
    return _parse(text, label)


def _parse(text: str, label: str) -> HardwareSpec:
    return load_hw_dict(parse_yaml(text, label), label)


# A hardware config nests 3 deep (section, key, value mapping); 16 leaves room for comments'
# sake without letting PyYAML's composer recurse 5000 levels (RecursionError).
MAX_YAML_DEPTH = 16


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases and with bounded nesting.

    An alias (`*name`) repeats a node by reference: seven levels of seven aliases describe
    7^7 leaves in 400 bytes, which load as a small shared graph but print (in an error message)
    as tens of megabytes. No hardware config needs one. PyYAML's composer recurses once per
    nesting level, so depth is counted there (the parser and scanner do not recurse)."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a hardware config", event.start_mark
            )
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_YAML_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(text: str, label: str) -> Any:
    """YAML text of a hardware config as data (bounded: `_BoundedLoader`); ConfigError if not."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "syntax error"
        raise ConfigError(label, None, f"not valid YAML{where}: {problem}") from None


def load_hw_dict(data: Any, label: str = "<hardware config>") -> HardwareSpec:
    """Validate parsed YAML data against the schema and build the spec."""
    if not isinstance(data, dict):
        raise ConfigError(
            label, None, f"expected a mapping at the top level, got {type(data).__name__}"
        )
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(label, "format_version", f"expected {FORMAT_VERSION}, got {version!r}")
    strings = {}
    for key in ("name", "description", "semantics"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(label, key, f"missing or not a non-empty string (got {value!r})")
        strings[key] = value
    if strings["semantics"] not in PROFILES:
        raise ConfigError(
            label,
            "semantics",
            f"unknown profile {strings['semantics']!r}; known: {', '.join(PROFILES)}",
        )
    known = {"format_version", "name", "description", "semantics", "cost", *_SECTIONS}
    extra = sorted(set(map(str, data)) - known)
    if extra:
        raise ConfigError(label, extra[0], "unknown key")
    sections = {name: _section(data, name, cls, label) for name, cls in _SECTIONS.items()}
    cost = parse_cost(data["cost"], label) if "cost" in data else None
    spec = HardwareSpec(source_file=label, **strings, **sections, cost=cost)
    _check_consistency(spec, label)
    return spec


def _section(data: dict, name: str, cls: type, label: str) -> Any:
    return parse_section(data.get(name), name, cls, label, lambda raw, key: _limit(raw, key, label))


def _limit(raw: Any, key: str, label: str) -> Limit:
    value, source, estimate = number_mapping(raw, key, label, "N")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(label, f"{key}.value", f"expected an integer, got {value!r}")
    minimum = _MINIMUM.get(key, 1)
    if value < minimum:
        qualifier = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(label, f"{key}.value", f"expected {qualifier}, got {value}")
    if value > 1 << 40:
        raise ConfigError(label, f"{key}.value", f"{value} is beyond any plausible hardware limit")
    return Limit(value=value, source=source, estimate=estimate, key=key)


# Neuron formats the semantics profile fixes (`ir.fixed.Profile` fields of the same name).
_PROFILE_NEURON_FIELDS = (
    "state_bits", "decay_bits", "current_decay_offset", "vth_bits", "vth_shift",
    "activation_shift", "bias_mant_bits",
)


def profile_fixed(spec: HardwareSpec) -> dict[str, str]:
    """Keys whose value the semantics profile fixes (or bounds), and how: `snnc hw show` marks
    them, `_check_consistency` enforces them."""
    prof = spec.profile
    out = {
        f"neuron.{f}": f"semantics {spec.semantics} fixes this at {getattr(prof, f)}"
        for f in _PROFILE_NEURON_FIELDS
    }
    out["synapse.max_weight_bits"] = (
        f"semantics {spec.semantics} supports at most {prof.max_weight_bits}"
    )
    return out


def _check_consistency(spec: HardwareSpec, label: str) -> None:
    """The neuron formats must be the profile's, since the simulator and Lava implement it."""
    prof = spec.profile
    expect = {f: getattr(prof, f) for f in _PROFILE_NEURON_FIELDS}
    for fname, want in expect.items():
        got = getattr(spec.neuron, fname).value
        if got != want:
            raise ConfigError(
                label,
                f"neuron.{fname}.value",
                f"semantics {spec.semantics} fixes this at {want}, got {got}",
            )
    if spec.synapse.max_weight_bits.value > prof.max_weight_bits:
        raise ConfigError(
            label,
            "synapse.max_weight_bits.value",
            f"semantics {spec.semantics} supports at most {prof.max_weight_bits}, got "
            f"{spec.synapse.max_weight_bits.value}",
        )
    ranges = {
        "neuron": (
            (0, (1 << prof.bias_exp_bits) - 1),
            f"an unsigned {prof.bias_exp_bits}-bit bias_exp",
        ),
        "synapse": (
            prof.weight_exp_range,
            f"weight exponents within its {prof.state_bits}-bit state",
        ),
    }
    for key in (
        "neuron.bias_exp_min",
        "neuron.bias_exp_max",
        "synapse.weight_exp_min",
        "synapse.weight_exp_max",
    ):
        sec, name = key.split(".")
        (lo, hi), what = ranges[sec]
        got = getattr(getattr(spec, sec), name).value
        if not lo <= got <= hi:
            raise ConfigError(
                label,
                f"{key}.value",
                f"semantics {spec.semantics} has {what}: {lo}..{hi}, got {got}",
            )
    for lo, hi in (
        ("neuron.bias_exp_min", "neuron.bias_exp_max"),
        ("synapse.weight_exp_min", "synapse.weight_exp_max"),
    ):
        sec, a = lo.split(".")
        b = hi.split(".")[1]
        if getattr(getattr(spec, sec), a).value > getattr(getattr(spec, sec), b).value:
            raise ConfigError(label, f"{lo}.value", f"must not exceed {hi}")
