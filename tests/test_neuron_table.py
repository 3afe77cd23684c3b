"""A neuron model is one module plus a row of the table (`neurons.MODELS`): nothing else in the
compiler, the backends or the IR names a model.

The check reads the code (not comments, docstrings or strings, where "LIF" is also a NIR node
type): no name or attribute in `compiler/`, `backends/` or `ir/` refers to a model's node
class, and nothing there imports a model's module; every reference goes through the table
(`neurons.model_of`, `neurons.variables_of`, `neurons.MODELS`, the model's methods). The LIF
nodes are defined in `ir/nodes.py` (and exported by `ir/__init__.py`), which is allowed: files
naming them load with `ir` alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import neurons
from neurons.base import NeuronModel

ROOT = Path(__file__).resolve().parents[1]
DISPATCH = ("compiler", "backends", "ir")
DEFINITIONS = {Path("ir/nodes.py"), Path("ir/__init__.py")}
MODEL_MODULES = {
    f"neurons.{p.stem if p.name != '__init__.py' else p.parent.name}"
    for p in (ROOT / "neurons").rglob("*.py")
    if p.parent.name != "neurons" or p.stem not in ("__init__", "base", "registers", "jit_common")
}


def _model_class_names() -> set[str]:
    names = set()
    for model in neurons.MODELS:
        for node in (model.float_node, model.fixed_node):
            if node is not None:
                names.add(node.__name__)
    return names


def _violations(path: Path, banned: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in banned:
            out.append(f"{path}:{node.lineno}: names {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in banned:
            out.append(f"{path}:{node.lineno}: names .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in MODEL_MODULES or any(a.name in banned for a in node.names):
                out.append(f"{path}:{node.lineno}: imports {node.module}")
        elif isinstance(node, ast.Import):
            out += [
                f"{path}:{node.lineno}: imports {a.name}"
                for a in node.names
                if a.name in MODEL_MODULES
            ]
    return out


def test_only_the_table_names_the_models():
    banned = _model_class_names()
    assert {"LIF", "QLIF", "SigmaDelta", "QSigmaDelta"} <= banned
    found = []
    for package in DISPATCH:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel in DEFINITIONS:
                continue
            found += _violations(path, banned)
    assert not found, "\n".join(found)


def test_every_model_row_is_complete():
    """Each row implements what the layers above ask of it and names unique node types."""
    seen = set()
    for model in neurons.MODELS:
        assert isinstance(model, NeuronModel)
        assert model.name and model.label and model.equation and model.variables
        assert model.fixed_node.domain == "fixed" and model.fixed_node not in seen
        seen.add(model.fixed_node)
        if model.float_node is not None:
            assert model.float_node.domain == "float" and model.quant_rule is not None
        for method in ("prepare", "lava_process"):
            assert getattr(type(model), method) is not getattr(NeuronModel, method), (
                model.name,
                method,
            )
        overrides_step = type(model).step is not NeuronModel.step
        # fixed-point-only models (no float node: delta, sigma) need no float kernel
        float_ok = model.float_kernel is not None or model.float_node is None
        assert overrides_step or (model.fixed_kernel is not None and float_ok), model.name
        assert neurons.BY_NAME[model.name] is model
