"""Update one section of benchmarks/RESULTS.md, leaving the others as they are."""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

from ir.atomic import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine_line() -> str:
    import os

    return (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} with {os.cpu_count()} "
        "cores, "
        f"Python {platform.python_version()}."
    )


def update_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the section delimited by <!-- key:start --> / <!-- key:end -->."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"<!-- {key}:start -->\n## {title}\n\n{body.rstrip()}\n<!-- {key}:end -->\n"
    pattern = re.compile(
        rf"<!-- {re.escape(key)}:start -->.*?<!-- {re.escape(key)}:end -->\n?", re.S
    )
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block
    )
    atomic_write_text(RESULTS, text)
