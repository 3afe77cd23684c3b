"""Fuzzers for every snnc loader and for the CLI's argument handling.

Each fuzzer draws malformed inputs with hypothesis (structured mutations of valid files:
truncation, byte flips, edited JSON/YAML fields, wrong types and shapes, absurd sizes, pickled
objects) and checks the one property that matters: the loader either succeeds or raises an
`SnncError` (which the CLI prints as one line) — never any other exception. CLI fuzzing also
checks exit codes (0/1/2), that stderr holds no traceback, and that no partial output is left.

`run(name, examples)` runs one fuzzer and returns (examples run, outcomes by kind).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ir import SnncError, graph_to_bytes, load_hw
from ir.arrays_io import read_spike_array
from ir.hardware import load_hw_dict
from ir.serialize import HEADER, graph_from_bytes

FUZZERS: dict[str, Callable[[int, Counter], None]] = {}


def fuzzer(name: str):
    def deco(fn):
        FUZZERS[name] = fn
        return fn
    return deco


def _settings(n: int):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def _expect_snnc_error_or_ok(fn: Callable[[], object], outcomes: Counter) -> None:
    try:
        fn()
    except SnncError as e:
        msg = str(e)
        assert "\n" not in msg and msg, f"error message must be one non-empty line: {msg!r}"
        outcomes["rejected"] += 1
    else:
        outcomes["accepted"] += 1


# ----------------------------------------------------------------------------- graph files

def _corpus_graphs() -> list[bytes]:
    from hypothesis import find

    from tests.strategies import graphs

    out = []
    for domain, placed in (("float", False), ("fixed", True), ("fixed", False)):
        g = find(graphs(domain=domain, placed=placed), lambda g: len(g.projections) >= 2)
        out.append(graph_to_bytes(g))
    return out


def _zip_entries(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    return [(i, zf.read(i)) for i in zf.infolist()]


def _rezip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=6,
)


def _mutate_json(obj, draw_path: list[int], value):
    """Replace one node of a JSON tree (chosen by draw_path) with `value`."""
    if not draw_path or not isinstance(obj, (dict, list)) or not obj:
        return value
    keys = list(obj.keys()) if isinstance(obj, dict) else list(range(len(obj)))
    k = keys[draw_path[0] % len(keys)]
    obj[k] = _mutate_json(obj[k], draw_path[1:], value)
    return obj


def _bad_npy(kind: int) -> bytes:
    buf = io.BytesIO()
    if kind == 0:
        np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    elif kind == 1:
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)})
    elif kind == 2:
        np.save(buf, np.array(["a", "b"]))
    elif kind == 3:
        np.save(buf, np.full((3, 3), np.nan))
    elif kind == 4:
        np.save(buf, np.zeros((0,)))
    elif kind == 5:
        np.save(buf, np.array([1 << 62, -(1 << 62)], dtype=np.int64))
    else:
        buf.write(b"\x93NUMPY\x01\x00garbage")
    return buf.getvalue()


@fuzzer("graph-file")
def fuzz_graph_file(n: int, outcomes: Counter) -> None:
    corpus = _corpus_graphs()

    @_settings(n)
    @given(st.data())
    def check(data):
        base = corpus[data.draw(st.integers(0, len(corpus) - 1))]
        how = data.draw(st.sampled_from(["truncate", "flip", "json", "array", "drop", "raw"]))
        if how == "truncate":
            blob = base[: data.draw(st.integers(0, len(base) - 1))]
        elif how == "flip":
            b = bytearray(base)
            for _ in range(data.draw(st.integers(1, 8))):
                b[data.draw(st.integers(0, len(b) - 1))] ^= data.draw(st.integers(1, 255))
            blob = bytes(b)
        elif how == "raw":
            blob = data.draw(st.binary(max_size=512))
        else:
            entries = [(i.filename, d) for i, d in _zip_entries(base)]
            if how == "json":
                head = json.loads(dict(entries)[HEADER])
                path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=5))
                head = _mutate_json(head, path, data.draw(_json_values))
                text = json.dumps(head, allow_nan=True)
                entries = [(nm, text.encode() if nm == HEADER else d) for nm, d in entries]
            elif how == "array":
                k = data.draw(st.integers(1, max(len(entries) - 1, 1)))
                entries[k % len(entries)] = (entries[k % len(entries)][0], _bad_npy(data.draw(st.integers(0, 6))))
            else:
                entries.pop(data.draw(st.integers(0, len(entries) - 1)))
            blob = _rezip(entries)
        _expect_snnc_error_or_ok(lambda: graph_from_bytes(blob, "fuzz.snnc"), outcomes)

    check()


# ----------------------------------------------------------------------------- hardware YAML

@fuzzer("hw-yaml")
def fuzz_hw_yaml(n: int, outcomes: Counter) -> None:
    base = load_hw("tiny").to_dict()
    base_text = yaml.safe_dump(base)

    @_settings(n)
    @given(st.data())
    def check(data):
        how = data.draw(st.sampled_from(["tree", "text", "truncate"]))
        if how == "tree":
            tree = json.loads(json.dumps(base))
            path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=4))
            tree = _mutate_json(tree, path, data.draw(_json_values))
            _expect_snnc_error_or_ok(lambda: load_hw_dict(tree, "fuzz.yaml"), outcomes)
            return
        text = base_text[: data.draw(st.integers(0, len(base_text)))] if how == "truncate" else data.draw(st.text(max_size=200))
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "fuzz.yaml"
            path.write_text(text)
            _expect_snnc_error_or_ok(lambda: load_hw(str(path)), outcomes)

    check()


# ----------------------------------------------------------------------------- input arrays

@fuzzer("input-npy")
def fuzz_input_npy(n: int, outcomes: Counter) -> None:
    @_settings(n)
    @given(st.data())
    def check(data):
        if data.draw(st.booleans()):
            shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)), 5)
        else:
            shape = tuple(data.draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)))
        dtype = data.draw(st.sampled_from(["<i8", "<i4", "|u1", "<f8", "|b1", "<U3", "object"]))
        buf = io.BytesIO()
        if dtype == "object":
            np.save(buf, np.empty(shape, dtype=object), allow_pickle=True)
        else:
            rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
            arr = (rng.integers(-2, 3, size=shape)).astype(dtype)
            np.save(buf, arr)
        blob = buf.getvalue()
        if data.draw(st.booleans()):
            blob = blob[: data.draw(st.integers(0, len(blob)))]
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "in.npy"
            path.write_bytes(blob)
            bits = data.draw(st.sampled_from([0, 0, 4]))
            _expect_snnc_error_or_ok(lambda: read_spike_array(path, 5, message_bits=bits), outcomes)

    check()


# ----------------------------------------------------------------------------- CLI arguments

_VERB_WORDS = ["hw", "list", "show", "inspect", "compile", "run", "eval", "hil", "train", "import",
               "export", "report", "demo", "--target", "--backend", "--input", "--steps", "-o",
               "--dataset", "--samples", "--dt", "--json", "loihi2", "tiny", "cpu", "lava", "float",
               "digits", "-1", "0", "1e9", "nan", "--help-not", "--version-x", ""]


@fuzzer("cli-args")
def fuzz_cli_args(n: int, outcomes: Counter) -> None:
    from compiler.cli import main

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "junk.snnc").write_bytes(b"PK\x03\x04junk")
        (root / "junk.npy").write_bytes(b"\x93NUMPY junk")
        words = [*_VERB_WORDS, str(root / "junk.snnc"), str(root / "junk.npy"), str(root / "missing"), str(root / "out")]

        @_settings(n)
        @given(st.lists(st.sampled_from(words), min_size=1, max_size=7))
        def check(argv):
            if "demo" in argv or "train" in argv:
                return  # long-running verbs: fuzzed through their own argument parsers only
            err = io.StringIO()
            out = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    code = main(argv)
                except SystemExit as e:  # argparse usage errors (2) and --help (0)
                    code = e.code if isinstance(e.code, int) else 2
            assert code in (0, 1, 2), (argv, code, err.getvalue())
            assert "Traceback" not in err.getvalue(), (argv, err.getvalue())
            if code == 1:
                assert err.getvalue().count("\n") == 1, (argv, err.getvalue())
            leftovers = [p.name for p in root.iterdir() if ".tmp-" in p.name]
            assert not leftovers, (argv, leftovers)
            outcomes[f"exit {code}"] += 1

        check()


def run(name: str, examples: int) -> Counter:
    outcomes: Counter = Counter()
    old = os.environ.get("SNNC_PROGRESS")
    os.environ["SNNC_PROGRESS"] = "0"
    try:
        FUZZERS[name](examples, outcomes)
    finally:
        if old is None:
            os.environ.pop("SNNC_PROGRESS", None)
        else:
            os.environ["SNNC_PROGRESS"] = old
    return outcomes
