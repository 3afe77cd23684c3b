"""A NIR node as the importer works on it, after the file is read and nested graphs flattened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurons import MODELS

__all__ = [
    "MEMBRANES",
    "NEURON_TYPES",
    "NIR_MODEL",
    "SPIKING",
    "SYNAPSE_STAGES",
    "ParsedNode",
    "node_label",
]

# NIR neuron type -> the snnc neuron model that imports it (`neurons` table: `nir_types`)
NIR_MODEL = {t: m for m in MODELS for t in m.nir_types}
NEURON_TYPES = tuple(NIR_MODEL)
# NIR neuron types by role
SYNAPSE_STAGES = ("LI", "I")  # a leaky or perfect integrator that can be another neuron's current
MEMBRANES = ("LIF", "IF", "LI", "I", "Threshold")
SPIKING = ("LIF", "IF", "CubaLIF", "Threshold")


@dataclass(eq=False)
class ParsedNode:
    """A NIR node after flattening: dotted `name`, type, checked parameters, NIR metadata."""

    name: str
    type: str
    params: dict[str, Any]
    meta: dict[str, Any]


def node_label(node: ParsedNode) -> str:
    """How an error names the node."""
    return f"node {node.name!r} ({node.type})"
