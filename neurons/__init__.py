"""The neuron-model table: every neuron model snnc knows, one module each.

    MODELS               the models, in the order docs/neuron-models.md lists them
    model_of(node)       the model of a population node (float or fixed), or UnsupportedNodeError
    model_for_lava(name) the model whose Lava process is `name` (lava-dl netx files name those)
    BY_NAME[name]        a model by its table name ("lif", ...)
    variables_of(node)   what a probe may record of a population: "spikes" and its state

Each model (`neurons.base.NeuronModel`) holds its float equation, float and fixed-point IR
nodes, state variables, quantization rule, cpu kernels, Lava lowering and NIR mapping; passes,
backends, probes, `snnc hil`, traces and readouts dispatch on this table. Adding a model is one
module plus one entry in `MODELS` (DEVELOPERS.md "Adding things").
"""

from __future__ import annotations

from ir.errors import UnsupportedNodeError
from ir.nodes import Input, Population
from neurons import atrlif, delta, lif, resonate, rf_iz, sigma, sigma_delta
from neurons.base import NeuronModel

__all__ = [
    "BY_NAME",
    "BY_NODE",
    "MODELS",
    "NeuronModel",
    "model_for_lava",
    "model_of",
    "variables_of",
]

MODELS: tuple[NeuronModel, ...] = (
    lif.MODEL,
    atrlif.MODEL,
    sigma_delta.MODEL,
    resonate.MODEL,
    rf_iz.MODEL,
    delta.MODEL,
    sigma.MODEL,
)

BY_NAME: dict[str, NeuronModel] = {m.name: m for m in MODELS}
BY_NODE: dict[type[Population], NeuronModel] = {
    node: m for m in MODELS for node in (m.float_node, m.fixed_node) if node is not None
}


def model_of(node: Population, where: str = "population", by: str = "snnc") -> NeuronModel:
    """The table row of population `node` (not an Input)."""
    model = BY_NODE.get(type(node))
    if model is None:
        known = sorted(t.__name__ for t in BY_NODE)
        raise UnsupportedNodeError(where, type(node).__name__, known, by)
    return model


def model_for_lava(process: str, where: str, by: str) -> NeuronModel:
    """The table row whose Lava process is `process` ("LIF", "SigmaDelta", ...)."""
    for model in MODELS:
        if model.lava_process_name == process:
            return model
    known = sorted(m.lava_process_name for m in MODELS if m.lava_process_name)
    raise UnsupportedNodeError(where, process, known, by)


def variables_of(node: Population) -> tuple[str, ...]:
    """Recordable variables of a population: its emissions ("spikes": 0/1, or graded payloads)
    and, for neurons, the model's state variables."""
    if isinstance(node, Input):
        return ("spikes",)
    return ("spikes", *model_of(node).variables)
