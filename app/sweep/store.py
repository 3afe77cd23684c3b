"""The sweep folder's store of finished work, so that an interrupted sweep keeps it.

    DIR/points/KEY.json    one finished point (its metrics, or its one-line error)
    DIR/models/KEY.snnc    one trained model (a spec with a `train:` section)

KEY is the SHA-256 of what determines the result: each step's parsed options (defaults
included), the content hashes of the inputs (model file, target config, evaluation split), and
for a trained model its trainer's options. Each entry is written atomically by the driver the
moment its result arrives, so whatever the sweep had finished survives Ctrl-C or a crash; a
`--resume`d sweep reads them instead of running again. A point that failed is stored too (the
results show its error) and runs again on `--resume`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ir.atomic import atomic_write_bytes, atomic_write_text
from ir.errors import InputError

__all__ = ["RESULT_FILES", "Store", "content_key"]

RECORD_VERSION = 1
RESULT_FILES = ("results.csv", "results.json", "accuracy.png")


def content_key(data: Any) -> str:
    """SHA-256 of canonical JSON (sorted keys): the same parameters, the same key."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.points = root / "points"
        self.models = root / "models"

    def check(self, resume: bool) -> None:
        """Refuse a folder that is neither new, empty nor a sweep's; refuse to run over a
        previous sweep's stored points unless resuming."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise InputError(f"{root} exists and is not a folder")
        if not root.exists() or not any(root.iterdir()):
            return
        if not self.points.is_dir():
            raise InputError(
                f"{root} exists and is not a sweep folder; refusing to write into it "
                "(choose another -o)"
            )
        stored = sum(1 for _ in self.points.glob("*.json"))
        if stored and not resume:
            raise InputError(
                f"{root} holds a previous sweep ({stored} stored points): give --resume to "
                "continue it (finished points are kept), or choose another -o"
            )

    def point(self, key: str) -> dict[str, Any] | None:
        path = self.points / f"{key}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # absent, or unreadable: run the point again
            return None
        ok = isinstance(record, dict) and record.get("format_version") == RECORD_VERSION
        return record if ok and record.get("key") == key else None

    def put_point(self, key: str, record: dict[str, Any]) -> None:
        data = {"format_version": RECORD_VERSION, "key": key, **record}
        text = json.dumps(data, sort_keys=True, indent=1, allow_nan=False) + "\n"
        atomic_write_text(self.points / f"{key}.json", text)

    def model(self, key: str) -> bytes | None:
        path = self.models / f"{key}.snnc"
        try:
            return path.read_bytes()
        except OSError:
            return None

    def put_model(self, key: str, data: bytes) -> None:
        atomic_write_bytes(self.models / f"{key}.snnc", data)

    def start(self) -> None:
        """Create the folder; remove a previous run's results, so that an interrupted run
        leaves no results file that does not describe it (the stored points stay)."""
        self.points.mkdir(parents=True, exist_ok=True)
        for name in RESULT_FILES:
            (self.root / name).unlink(missing_ok=True)
