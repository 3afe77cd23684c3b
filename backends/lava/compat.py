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

__all__ = ["LAVA_VERSION", "ensure_lava", "lava_available"]

LAVA_VERSION = "0.10.0"
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


def _installed_version() -> str | None:
    try:
        return importlib.metadata.version("lava-nc")
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


def lava_available() -> bool:
    """True when Lava imports through the shim (used by tests to skip)."""
    try:
        ensure_lava()
        import lava.magma.compiler.var_model  # noqa: F401
    except (BackendUnavailableError, ImportError):
        return False
    return True
