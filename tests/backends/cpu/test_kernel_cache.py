"""numba's on-disk cache of snnc's kernels is keyed by every kernel source
(`neurons.jit_common.KERNEL_MODULES`), so a kernel that inlines a primitive from another
module never loads machine code compiled from an older version of that primitive."""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from neurons import jit_common

ROOT = Path(__file__).resolve().parents[3]


def test_every_module_with_cached_kernels_is_in_the_digest():
    cached = set()
    # not tests, benchmarks (benchmarks/.cache holds an older engine's sources), .venv
    skip = {"tests", "benchmarks", "docs"}
    for top in ROOT.iterdir():
        if not top.is_dir() or top.name in skip or top.name.startswith("."):
            continue
        for path in top.rglob("*.py"):
            if re.search(r"njit\([^)]*cache=True", path.read_text()):
                cached.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert cached == set(jit_common.KERNEL_MODULES)


def test_the_kernels_cache_entries_carry_the_digest():
    from backends.cpu import _jit
    from neurons.lif import jit

    for kernel in (jit.dense_lif, _jit.dense_binary, jit_common.list_active):
        locator = kernel._cache._impl.locator
        assert type(locator).__name__.startswith("SnncKernel")
        assert locator.get_source_stamp()[1] == jit_common.kernel_digest()


_RUN = textwrap.dedent(
    """
    import numpy as np
    from backends.cpu import _jit
    spikes = np.ones((1, 3, 4), dtype=np.uint8)
    out = np.zeros((1, 3, 2))
    _jit.dense_binary_float(spikes, np.ones((4, 2)), 1, out)
    print(int(out.sum()))
    """
)


def test_an_edited_primitive_is_recompiled_into_the_kernels_that_inline_it(tmp_path):
    """A copy of the sources runs a cpu-backend kernel (cached on disk), then only
    neurons/jit_common.py changes (list_active lists nothing): the kernel, whose own file is
    unchanged, must not load its cached machine code."""
    for package in ("ir", "neurons", "backends"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))

    def run() -> int:
        done = subprocess.run([sys.executable, "-c", _RUN], cwd=tmp_path, capture_output=True,
                              text=True, check=True)
        return int(done.stdout.split()[-1])

    assert run() == 16  # 2 steps delivered, 4 sources, 2 destinations
    assert list((tmp_path / "backends" / "cpu" / "__pycache__").glob("_jit*.nbi"))
    common = tmp_path / "neurons" / "jit_common.py"
    text = common.read_text()
    assert text.count("    return count\n") == 1
    common.write_text(text.replace("    return count\n", "    return 0 * count\n"))
    assert run() == 0
