"""Make lava-nc 0.10.0 importable on Python 3.11, without touching site-packages.

Why it fails: `lava/magma/compiler/var_model.py` declares dataclass fields whose defaults are
instances of another dataclass (`x: ByteEncoder = ByteEncoder()`, in CoreEncoder, ChipEncoder and
AxonEncoder). A plain `@dataclass` sets `__hash__ = None`, and since Python 3.11 `dataclasses`
rejects any unhashable default as mutable (ValueError at import). Nothing else in Lava 0.10.0
blocks 3.11.

What this does: `ensure_lava()` installs a meta-path finder for exactly that one module. When it
loads, the finder checks that the file is byte-for-byte the one this shim was written for
(sha256 below), rewrites each `name: ByteEncoder = ByteEncoder()` into
`name: ByteEncoder = _snnc_field(default_factory=ByteEncoder)`, and compiles the rewritten source
directly (never the cached bytecode in __pycache__, which would hold the unpatched module).
Lava starts its process models in workers forked from this process (multiprocessing's default
start method on Linux), so the workers inherit the patched module.

Any other lava-nc version, or a changed var_model.py, fails with one clear line instead of being
patched blindly.

One more thing stops `import lava` in a process that has already used multiprocessing:
Lava's message infrastructure calls `multiprocessing.set_start_method('fork')` when it is
imported (lava/magma/runtime/message_infrastructure/multiprocessing.py), which raises
"context has already been set" once anything has fixed the start method, even to 'fork'
(numba's threading layer does, on its first parallel call). `ensure_lava()` clears an
already-chosen 'fork' so that Lava's call sets the same method again; any other start method
is refused with one line, because Lava's workers rely on fork.

lava-dl 0.6.0 (SLAYER and netx; `ensure_lava_dl()`) imports on top of that, with one more gap:
`lava.lib.dl.slayer` imports its object-detection package at import time, which does
`from torchvision import ops, transforms` (slayer/object_detection/boundingbox/utils.py:13,
dataset/bdd100k.py:14, dataset/prophesee_automotive.py:8) and uses them only inside functions.
The torchvision wheel that matches torch 2.13 fails to import on a CPU-only machine, so
`ensure_lava_dl()` puts a stub `torchvision` (with `ops` and `transforms`) in `sys.modules`
when no torchvision is importable: SLAYER's blocks, their export and netx never touch it, and
anything that does gets an AttributeError naming the stub. Nothing else in lava-dl 0.6.0 needs
more than snnc's own pins plus `opencv-python-headless` (`import cv2`, same file:6); its declared
`ninja`, `unittest2`, `pytest<8` and `pillow<11` are not imported on CPU (ninja builds the CUDA
kernels only), so `make setup-lavadl` installs lava-dl and opencv with --no-deps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import re
import sys
from types import ModuleType

from ir.errors import BackendUnavailableError

__all__ = [
    "LAVA_DL_VERSION",
    "LAVA_VERSION",
    "ensure_lava",
    "ensure_lava_dl",
    "lava_available",
    "lava_dl_available",
]

LAVA_VERSION = "0.10.0"
LAVA_DL_VERSION = "0.6.0"
_TORCHVISION_STUBS = ("ops", "transforms")  # what lava-dl 0.6.0 imports from torchvision
_SLAYER = "lava.lib.dl.slayer"
_TARGET = "lava.magma.compiler.var_model"
# sha256 of lava/magma/compiler/var_model.py as shipped in the lava-nc 0.10.0 wheel.
_TARGET_SHA256 = "3b8acb73dc3ff38d159065aa0339b90f371f99f162e68d10a3117afbd916afa8"
_DEFAULT_RE = re.compile(r"^(\s+\w+): ByteEncoder = ByteEncoder\(\)$", re.MULTILINE)
# Eight fields: x, y, p (CoreEncoder); x, y, z (ChipEncoder); hi, lo (AxonEncoder).
_EXPECTED_REWRITES = 8
_FIELD_NAME = "_snnc_field"
_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


class _PatchedVarModelLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str):  # type: ignore[override]
        raw = self.get_data(self.path)
        digest = hashlib.sha256(raw).hexdigest()
        if digest != _TARGET_SHA256:
            raise BackendUnavailableError(
                f"lava compatibility shim: {self.path} is not the lava-nc {LAVA_VERSION} file it "
                f"was written for (sha256 {digest[:12]}...); reinstall with `make setup`"
            )
        source, count = _DEFAULT_RE.subn(
            rf"\1: ByteEncoder = {_FIELD_NAME}(default_factory=ByteEncoder)", raw.decode("utf-8")
        )
        if count != _EXPECTED_REWRITES:
            raise BackendUnavailableError(
                f"lava compatibility shim: expected {_EXPECTED_REWRITES} ByteEncoder defaults in "
                f"{self.path}, found {count}"
            )
        return compile(source, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__[_FIELD_NAME] = dataclasses.field
        super().exec_module(module)


class _VarModelFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return None
        spec.loader = _PatchedVarModelLoader(fullname, spec.origin)
        return spec


def _installed_version(dist: str = "lava-nc") -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def ensure_lava() -> None:
    """Make `import lava...` work here, or raise BackendUnavailableError saying why not.

    Idempotent and cheap after the first call. Call it before importing anything from `lava`.
    """
    version = _installed_version()
    if version is None:
        raise BackendUnavailableError(
            f"lava-nc is not installed; `make setup` installs lava-nc=={LAVA_VERSION}"
        )
    if version != LAVA_VERSION:
        raise BackendUnavailableError(
            f"lava-nc {version} is installed, but snnc's compatibility shim is written for "
            f"{LAVA_VERSION}; install lava-nc=={LAVA_VERSION} (`make setup`)"
        )
    _allow_lava_start_method()
    if sys.version_info < (3, 11):
        return  # Lava's own supported Pythons import it unpatched.
    if _TARGET in sys.modules:
        return  # already imported (through this shim)
    if not any(isinstance(f, _VarModelFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _VarModelFinder())


def _allow_lava_start_method() -> None:
    """Let Lava's import-time set_start_method('fork') succeed (see the module docstring)."""
    import multiprocessing

    if _LAVA_MP in sys.modules:
        return
    current = multiprocessing.get_start_method(allow_none=True)
    if current is None:
        return
    if current != "fork":
        raise BackendUnavailableError(
            f"Lava needs the 'fork' multiprocessing start method, but this process already "
            f"uses {current!r}"
        )
    multiprocessing.set_start_method(None, force=True)


def ensure_lava_dl() -> None:
    """Make `import lava.lib.dl.slayer` and `lava.lib.dl.netx` work here (lava-dl 0.6.0 on top of
    `ensure_lava()`, with the torchvision stub of the module docstring), or raise
    BackendUnavailableError saying why not. Idempotent."""
    ensure_lava()
    version = _installed_version("lava-dl")
    if version != LAVA_DL_VERSION:
        found = "is not installed" if version is None else f"{version} is installed"
        raise BackendUnavailableError(
            f"lava-dl {found}; snnc's netx tests use lava-dl=={LAVA_DL_VERSION} "
            "(`make setup-lavadl`)"
        )
    if "torchvision" not in sys.modules and not _torchvision_imports():
        sys.modules["torchvision"] = _torchvision_stub()
        for sub in _TORCHVISION_STUBS:
            sys.modules[f"torchvision.{sub}"] = getattr(sys.modules["torchvision"], sub)
    if _SLAYER not in sys.modules:
        _import_quietly(_SLAYER)


def _import_quietly(module: str) -> None:
    """Import `module` without the notice SLAYER prints on stdout when the optional Prophesee
    toolbox is missing (slayer/object_detection/dataset/prophesee_automotive.py:19-24): snnc's
    stdout carries command results. Anything else printed goes to stderr."""
    import contextlib
    import io

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        importlib.import_module(module)
    lines = captured.getvalue().splitlines()
    if lines and "Prophesee" in lines[0]:
        lines = lines[3:]  # the notice is three lines
    if lines:
        print("\n".join(lines), file=sys.stderr)


def _torchvision_imports() -> bool:
    """True when a real torchvision is installed and imports (then it is used as is)."""
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        importlib.import_module("torchvision")
    except Exception:  # the torch-2.13 wheel raises RuntimeError/OSError on CPU-only machines
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True


class _StubModule(ModuleType):
    """A module whose every attribute lookup fails with a line naming the stub."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(
            f"{self.__name__}.{attr}: torchvision is a stub here (backends/lava/compat.py "
            "ensure_lava_dl); SLAYER's object detection needs a working torchvision"
        )


def _torchvision_stub() -> ModuleType:
    root = _StubModule("torchvision")
    root.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    for sub in _TORCHVISION_STUBS:
        module = _StubModule(f"torchvision.{sub}")
        module.__spec__ = importlib.machinery.ModuleSpec(f"torchvision.{sub}", None)
        setattr(root, sub, module)
    return root


def lava_dl_available() -> bool:
    """True when SLAYER and netx import through `ensure_lava_dl()` (used by tests to skip)."""
    return _importable(ensure_lava_dl, "lava.lib.dl.netx")


def lava_available() -> bool:
    """True when Lava imports through the shim (used by tests to skip)."""
    return _importable(ensure_lava, "lava.magma.compiler.var_model")


def _importable(ensure, module: str) -> bool:
    try:
        ensure()
        importlib.import_module(module)
    except (BackendUnavailableError, ImportError):
        return False
    return True
