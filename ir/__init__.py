"""snnc's graph IR: populations and projections (float and fixed-point), placement, hardware
specs, the verifier, the printer and the file format. Imports nothing else of snnc's."""

from ir.errors import (
    BackendUnavailableError,
    CapacityError,
    ConfigError,
    DatasetMissingError,
    InputError,
    IRVerifyError,
    ModelFormatError,
    PassError,
    SnncError,
    UnsupportedNodeError,
)
from ir.graph import Graph
from ir.hardware import HardwareSpec, Limit, builtin_targets, load_hw
from ir.nodes import (
    LIF,
    QLIF,
    Conv2d,
    Dense,
    Input,
    Node,
    Population,
    Projection,
    QConv2d,
    QDense,
    QSparse,
    Sparse,
)
from ir.placement import Block, Placement
from ir.printer import print_graph
from ir.serialize import graph_from_bytes, graph_to_bytes, load_graph, save_graph
from ir.verify import verify

__all__ = [
    "LIF",
    "QLIF",
    "BackendUnavailableError",
    "Block",
    "CapacityError",
    "ConfigError",
    "Conv2d",
    "DatasetMissingError",
    "Dense",
    "Graph",
    "HardwareSpec",
    "IRVerifyError",
    "Input",
    "InputError",
    "Limit",
    "ModelFormatError",
    "Node",
    "PassError",
    "Placement",
    "Population",
    "Projection",
    "QConv2d",
    "QDense",
    "QSparse",
    "SnncError",
    "Sparse",
    "UnsupportedNodeError",
    "builtin_targets",
    "graph_from_bytes",
    "graph_to_bytes",
    "load_graph",
    "load_hw",
    "print_graph",
    "save_graph",
    "verify",
]
