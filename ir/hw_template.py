"""A hardware config as a commented YAML template (`snnc hw show NAME --yaml`): the way to start a
new target. Every key carries a comment saying what it limits, and the keys the semantics profile
fixes say so; `load_hw` reads the text back to the same spec.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ir.hardware import HardwareSpec, profile_fixed

__all__ = ["KEY_HELP", "yaml_template"]

# What each number limits or means (the YAML key's comment; ir/resources.py defines the counts).
KEY_HELP: dict[str, str] = {
    "core.max_neurons": "neurons one core holds",
    "core.max_input_axons": "distinct (projection, presynaptic neuron) pairs feeding one core",
    "core.max_output_axons": "distinct (source neuron, destination core) routes leaving one core",
    "core.max_populations": "neuron configurations (populations, parameter groups) per core",
    "core.synapse_memory_bits": "synapse memory per core (bits; cost model: synapse_memory below)",
    "synapse_memory.synapse_overhead_bits": "bits per synapse beyond its weight",
    "synapse_memory.axon_overhead_bits": "bits per input axon's synapse list",
    "synapse_memory.word_bits": "memory word: an axon's list is rounded up to whole words",
    "neuron.state_bits": "u and v register width",
    "neuron.decay_bits": "du, dv are fractions of 2^decay_bits",
    "neuron.current_decay_offset": "u keeps (2^decay_bits - du - offset) / 2^decay_bits per step",
    "neuron.vth_bits": "threshold mantissa width",
    "neuron.vth_shift": "vth is shifted left by this",
    "neuron.activation_shift": "bias and weights are shifted left by this",
    "neuron.bias_mant_bits": "bias mantissa width (signed)",
    "neuron.bias_exp_min": "smallest bias exponent",
    "neuron.bias_exp_max": "largest bias exponent",
    "synapse.max_weight_bits": "weight mantissa bits",
    "synapse.weight_exp_min": "smallest weight exponent",
    "synapse.weight_exp_max": "largest weight exponent",
    "synapse.max_message_bits": "graded-spike payload bits (0: binary spikes only)",
    "synapse.max_delay": "extra steps a synapse may delay",
    "chip.cores_per_chip": "cores on one chip",
    "system.max_chips": "chips in the system",
    "system.mesh_columns": "chips are laid out row-major on a mesh this many wide",
    "cost.layout.cores_per_tile": "cores sharing one router tile",
    "cost.layout.tile_mesh_columns": "tiles per row of a chip's mesh",
}


def _number(value: Any) -> str:
    # PyYAML's own spelling: a float such as 1e-05 becomes 1.0e-05, which YAML 1.1 reads back as
    # a float (json's "1e-05" would read back as a string)
    return yaml.safe_dump(value, default_flow_style=True).splitlines()[0]


def yaml_template(spec: HardwareSpec) -> str:
    """`spec` as commented YAML that `load_hw` reads back to the same numbers."""
    data = spec.to_dict()
    fixed = profile_fixed(spec)
    units = {v.key: v.unit for v in spec.cost.values()} if spec.cost is not None else {}
    lines = [
        f"# Hardware target template, from `snnc hw show {spec.name} --yaml` ({spec.source_file}).",
        "# Edit the values and their sources, rename the target, then use it with",
        "#   snnc hw show FILE.yaml        (check it)",
        "#   snnc compile MODEL --hw FILE.yaml -o BUILD",
        "# Every number is {value, source, estimate}: say where a number comes from, and mark",
        "# guesses estimate: true (reports list them). Keys marked FIXED are set by the semantics",
        f"# profile ({spec.semantics}: the arithmetic snnc's simulator and Lava implement); a",
        "# config that changes them is refused.",
        f"format_version: {data['format_version']}",
        f"name: {json.dumps(data['name'])}",
        f"description: {json.dumps(data['description'])}",
        f"semantics: {json.dumps(data['semantics'])}  # one of the profiles in ir/fixed.py",
    ]

    def emit(prefix: str, section: dict[str, Any], indent: int) -> None:
        pad = " " * indent
        for key, entry in section.items():
            dotted = f"{prefix}.{key}"
            if "value" not in entry:  # a nested part (cost.layout, cost.energy_pj, ...)
                lines.append(f"{pad}{key}:")
                emit(dotted, entry, indent + 2)
                continue
            notes = [KEY_HELP.get(dotted, "")]
            if units.get(dotted):
                notes.append(units[dotted])
            if dotted in fixed:
                notes.append(f"FIXED: {fixed[dotted]}")
            comment = "; ".join(n for n in notes if n)
            lines.append(f"{pad}{key}:" + (f"  # {comment}" if comment else ""))
            lines.append(f"{pad}  value: {_number(entry['value'])}")
            lines.append(f"{pad}  source: {json.dumps(entry['source'])}")
            lines.append(f"{pad}  estimate: {'true' if entry['estimate'] else 'false'}")

    for section in ("core", "synapse_memory", "neuron", "synapse", "chip", "system", "cost"):
        if section not in data:
            continue
        lines.append("")
        lines.append(f"{section}:")
        emit(section, data[section], 2)
    return "\n".join(lines) + "\n"
