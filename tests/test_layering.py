"""The layering contracts of pyproject.toml ([tool.importlinter]; `make lint` checks the tree).

Here they are run on a tiny fixture tree with snnc's package names: the clean tree keeps every
contract, and each deliberately wrong import breaks the contract that forbids it (so no
contract is one that cannot fail).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
_CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["name"]: c for c in _CONFIG["contracts"]}
CORE = "the compiler core imports only ir and neurons"


def test_compiler_core_contract_names_every_compiler_module():
    """Every module of `compiler` but the CLI is in the compiler-core contract (a new one
    would otherwise escape it)."""
    children = {
        f"compiler.{p.stem if p.suffix == '.py' else p.name}"
        for p in (ROOT / "compiler").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert set(CONTRACTS[CORE]["source_modules"]) == children - {
        "compiler.cli",
        "compiler.commands",
    }


# The fixture tree: module -> the snnc modules it imports, each allowed by the layering.
ALLOWED = {
    "ir.graph": [],
    "ir.errors": [],
    "neurons.base": ["ir.graph"],
    "backends.base": ["ir.graph", "neurons.base", "compiler.passes"],
    "trainers.readout": ["ir.graph"],
    "trainers.tem.classifier": ["trainers.readout"],
    "trainers.vib.evaluate": ["ir.errors"],
    "app.inputs": ["backends.base", "trainers.readout", "compiler.passes"],
    "compiler.cli": ["compiler.commands.run"],
    "compiler.commands.run": ["app.inputs", "backends.base", "trainers.readout"],
    **{m: ["ir.graph", "neurons.base"] for m in CONTRACTS[CORE]["source_modules"]},
}

# One wrong import per contract: (importer, imported, the contract it breaks).
WRONG = [
    ("ir.graph", "neurons.base", "ir imports nothing of snnc"),
    ("neurons.base", "compiler.passes", "neurons imports only ir"),
    ("compiler.passes", "app.inputs", CORE),
    ("compiler.nir", "compiler.commands.run", CORE),
    ("backends.base", "app.inputs", "backends import only ir, neurons and the compiler core"),
    (
        "trainers.tem.classifier",
        "backends.base",
        "only app/ and the CLI import backends and trainers",
    ),
    ("trainers.readout", "app.inputs", "trainers import neither app/ nor the CLI"),
    ("app.inputs", "compiler.commands.run", "app does not import the CLI"),
]


def _write_tree(root: Path, imports: dict[str, list[str]]) -> None:
    for module, imported in imports.items():
        parts = module.split(".")
        for i in range(1, len(parts)):
            pkg = root.joinpath(*parts[:i])
            pkg.mkdir(exist_ok=True)
            (pkg / "__init__.py").touch()
        body = "".join(f"import {m}\n" for m in imported)
        (root.joinpath(*parts[:-1]) / f"{parts[-1]}.py").write_text(body)


def _lint(tmp_path: Path, imports: dict[str, list[str]]) -> subprocess.CompletedProcess:
    _write_tree(tmp_path, imports)
    # The project's own contracts, less the exemptions (they name modules of the real tree).
    contracts = [
        {k: v for k, v in c.items() if k != "ignore_imports"} for c in _CONFIG["contracts"]
    ]
    lines = ["[importlinter]", "root_packages =", *(f"    {p}" for p in _CONFIG["root_packages"])]
    for i, c in enumerate(contracts):
        lines.append(f"\n[importlinter:contract:{i}]")
        for key, value in c.items():
            if isinstance(value, list):
                lines.append(f"{key} =")
                lines.extend(f"    {v}" for v in value)
            else:
                lines.append(f"{key} = {value}")
    (tmp_path / ".importlinter").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_clean_fixture_tree_keeps_every_contract(tmp_path):
    res = _lint(tmp_path, ALLOWED)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in res.stdout


@pytest.mark.parametrize(
    ("importer", "imported", "contract"), WRONG, ids=[w[0] + "->" + w[1] for w in WRONG]
)
def test_a_wrong_import_breaks_its_contract(tmp_path, importer, imported, contract):
    tree = {**ALLOWED, importer: [*ALLOWED[importer], imported]}
    res = _lint(tmp_path, tree)
    assert res.returncode == 1, res.stdout + res.stderr
    # (Contracts above it may break too: forbidden contracts follow indirect imports.)
    assert f"{contract} BROKEN" in res.stdout, res.stdout
    assert f"{importer} -> {imported}" in res.stdout


def test_every_contract_has_a_wrong_import_here():
    assert {contract for *_, contract in WRONG} == set(CONTRACTS)
