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
import shutil
import tempfile
import warnings
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
# Examples per fuzzer in `make fuzz`, and in `make test`'s small share
# (tests/fuzz/test_fuzz_small.py).
EXAMPLES: dict[str, int] = {}
SMALL: dict[str, int] = {}


def fuzzer(name: str, examples: int = 10_000, small: int = 150):
    def deco(fn):
        FUZZERS[name] = fn
        EXAMPLES[name], SMALL[name] = examples, small
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
    from hypothesis import HealthCheck, Phase, find, settings

    from tests.strategies import graphs

    # The first matching graph, not a shrunk one: shrinking these graphs can take minutes, and
    # any graph with two projections seeds the fuzzer as well (derandomized: the same corpus).
    first = settings(database=None, derandomize=True, phases=(Phase.generate,),
                     max_examples=1000, suppress_health_check=list(HealthCheck))
    out = []
    for domain, placed in (("float", False), ("fixed", True), ("fixed", False)):
        g = find(graphs(domain=domain, placed=placed), lambda g: len(g.projections) >= 2,
                 settings=first)
        out.append(graph_to_bytes(g))
    return out


def _zip_entries(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    return [(i, zf.read(i)) for i in zf.infolist()]


def _rezip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # a malformation we want
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
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
        np.lib.format.write_array_header_1_0(
            buf, {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)}
        )
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


def _mutate_graph_blob(data, base: bytes) -> bytes:
    """One malformed variant of a graph file: truncated, bytes flipped, header JSON edited, an
    array replaced by a bad .npy, an entry dropped, or random bytes."""
    how = data.draw(st.sampled_from(["truncate", "flip", "json", "array", "drop", "raw"]))
    if how == "truncate":
        return base[: data.draw(st.integers(0, len(base) - 1))]
    if how == "flip":
        return _flip(data, base)
    if how == "raw":
        return data.draw(st.binary(max_size=512))
    entries = [(i.filename, d) for i, d in _zip_entries(base)]
    if how == "json":
        head = json.loads(dict(entries)[HEADER])
        path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=5))
        head = _mutate_json(head, path, data.draw(_json_values))
        text = json.dumps(head, allow_nan=True)
        entries = [(nm, text.encode() if nm == HEADER else d) for nm, d in entries]
    elif how == "array":
        k = data.draw(st.integers(1, max(len(entries) - 1, 1)))
        entries[k % len(entries)] = (
            entries[k % len(entries)][0],
            _bad_npy(data.draw(st.integers(0, 6))),
        )
    else:
        entries.pop(data.draw(st.integers(0, len(entries) - 1)))
    return _rezip(entries)


def _flip(data, base: bytes) -> bytes:
    b = bytearray(base)
    for _ in range(data.draw(st.integers(1, 8))):
        b[data.draw(st.integers(0, len(b) - 1))] ^= data.draw(st.integers(1, 255))
    return bytes(b)


@fuzzer("graph-file")
def fuzz_graph_file(n: int, outcomes: Counter) -> None:
    corpus = _corpus_graphs()

    @_settings(n)
    @given(st.data())
    def check(data):
        base = corpus[data.draw(st.integers(0, len(corpus) - 1))]
        blob = _mutate_graph_blob(data, base)
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
        text = (
            base_text[: data.draw(st.integers(0, len(base_text)))]
            if how == "truncate"
            else data.draw(st.text(max_size=200))
        )
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


# ----------------------------------------------------------------------------- NIR files

_FIXTURE_NIR = Path(__file__).resolve().parents[1] / "fixtures" / "nir" / "snntorch_conv.nir"


def _nir_corpus() -> list[bytes]:
    """snnTorch's conv fixture, and snnc's export of a graph using every exported node kind."""
    from compiler.nir.exporter import export_nir
    from ir import LIF, Dense, Graph, Input, Sparse

    rng = np.random.default_rng(0)
    graph = Graph(
        populations={
            "in": Input((4,)),
            "a": LIF((3,), tau_syn=2e-3, tau_mem=1e-2, v_th=0.5, bias=0.1),
            "b": LIF((3,), tau_mem=np.inf, v_th=0.7, bias=np.array([0.1, 0.0, -0.1])),
            "c": LIF((2,), tau_syn=np.inf, tau_mem=5e-3, v_th=np.inf),
        },
        projections={
            "p": Dense("in", "a", weight=rng.normal(size=(3, 4)), delay=2),
            "q": Sparse("a", "b", rows=[0, 1, 2], cols=[0, 1, 2], values=[1.0, 2.0, 3.0]),
            "r": Dense("b", "c", weight=rng.normal(size=(2, 3))),
        },
        dt=1e-3,
    )
    with tempfile.TemporaryDirectory() as d:
        export_nir(graph, Path(d) / "c.nir", warn=lambda m: None)
        return [_FIXTURE_NIR.read_bytes(), (Path(d) / "c.nir").read_bytes()]


def _nir_edit(path: Path, data) -> None:
    """One structured edit of a NIR file: a field, a type name, a node, the edges or the dt."""
    import h5py

    with h5py.File(path, "a") as f:
        nodes = f["node/nodes"]
        names = sorted(nodes)
        name = names[data.draw(st.integers(0, len(names) - 1))]
        how = data.draw(st.sampled_from(["field", "delete", "type", "node", "edges", "dt"]))
        if how in ("field", "delete"):
            keys = sorted(k for k in nodes[name] if k != "metadata")
            key = keys[data.draw(st.integers(0, len(keys) - 1))] if keys else "type"
            del nodes[name][key]
            if how == "field":
                shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=3)))
                kind = data.draw(st.sampled_from(["f8", "i8", "b1", "str", "nan"]))
                if kind == "str":
                    text = data.draw(
                        st.text(st.characters(blacklist_characters="\x00"), max_size=6)
                    )
                    nodes[name].create_dataset(key, data=text, dtype=h5py.string_dtype())
                else:
                    values = np.random.default_rng(data.draw(st.integers(0, 99))).normal(
                        0, 3, shape
                    )
                    nodes[name].create_dataset(
                        key, data=np.full(shape, np.nan) if kind == "nan" else values.astype(kind)
                    )
        elif how == "type":
            del nodes[name]["type"]
            nodes[name].create_dataset(
                "type",
                data=data.draw(
                    st.sampled_from(
                        [
                            "LIF",
                            "IF",
                            "CubaLIF",
                            "LI",
                            "Affine",
                            "Conv2d",
                            "SumPool2d",
                            "Flatten",
                            "Delay",
                            "NIRGraph",
                            "Bogus",
                        ]
                    )
                ),
                dtype=h5py.string_dtype(),
            )
        elif how == "node":
            del nodes[name]
        elif how == "edges":
            pool = [*names, "ghost"]
            pairs = data.draw(
                st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(pool)), max_size=6)
            )
            del f["node/edges"]
            f["node"].create_dataset(
                "edges",
                data=np.array(pairs, dtype=object).reshape(-1, 2),
                dtype=h5py.string_dtype(),
            )
        else:
            if "metadata" in f["node"] and "dt" in f["node/metadata"]:
                del f["node/metadata/dt"]
            f["node"].require_group("metadata").create_dataset(
                "dt", data=data.draw(st.floats(allow_nan=True))
            )


@fuzzer("nir-file")
def fuzz_nir_file(n: int, outcomes: Counter) -> None:
    from compiler.nir.importer import import_nir

    _fuzz_hdf5(
        n,
        outcomes,
        _nir_corpus(),
        _nir_edit,
        lambda path: import_nir(path, warn=lambda m: None),
        "fuzz.nir",
    )


def _fuzz_hdf5(n: int, outcomes: Counter, corpus: list[bytes], edit, load, name: str) -> None:
    """Load `n` mutations (`_write_mutated`) of an HDF5 corpus; each loads or raises SnncError."""

    @_settings(n)
    @given(st.data())
    def check(data):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / name
            _write_mutated(path, corpus, data, edit)
            _expect_snnc_error_or_ok(lambda: load(path), outcomes)

    check()


def _write_mutated(
    path: Path, corpus: list[bytes], data, edit: Callable[[Path, object], None]
) -> None:
    """Write one mutation of an HDF5 corpus file to `path`: a structured `edit`, a truncation,
    byte flips, or random bytes."""
    base = corpus[data.draw(st.integers(0, len(corpus) - 1))]
    how = data.draw(st.sampled_from(["edit", "edit", "truncate", "flip", "raw"]))
    if how == "truncate":
        path.write_bytes(base[: data.draw(st.integers(0, len(base) - 1))])
    elif how == "flip":
        b = bytearray(base)
        for _ in range(data.draw(st.integers(1, 8))):
            b[data.draw(st.integers(0, len(b) - 1))] ^= data.draw(st.integers(1, 255))
        path.write_bytes(bytes(b))
    elif how == "raw":
        path.write_bytes(data.draw(st.binary(max_size=512)))
    else:
        path.write_bytes(base)
        edit(path, data)


# ----------------------------------------------------------------------------- netx files

_FIXTURES_NETX = Path(__file__).resolve().parents[1] / "fixtures" / "netx"
_NETX_TYPES = [
    "input",
    "flatten",
    "dense",
    "dense_rec",
    "dense_comp",
    "conv",
    "pool",
    "convT",
    "unpool",
    "average",
    "concat",
    "bogus",
]


def _netx_edit(path: Path, data) -> None:
    """One structured edit of a netx file: a layer field or neuron field (deleted, or replaced by
    another type or shape, NaN, huge), a layer type, a layer removed or renamed."""
    import h5py

    with h5py.File(path, "a") as f:
        layers = f["layer"]
        names = sorted(layers)
        name = names[data.draw(st.integers(0, len(names) - 1))]
        how = data.draw(
            st.sampled_from(["field", "field", "neuron", "delete", "type", "layer", "rename"])
        )
        group = layers[name]
        if how == "neuron" and "neuron" in group:
            group = group["neuron"]
        if how in ("field", "neuron", "delete"):
            keys = sorted(k for k in group if not isinstance(group[k], h5py.Group))
            key = keys[data.draw(st.integers(0, len(keys) - 1))] if keys else "type"
            if key in group:
                del group[key]
            if how != "delete":
                shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=3)))
                kind = data.draw(st.sampled_from(["f8", "i8", "b1", "str", "nan", "huge"]))
                if kind == "str":
                    text = data.draw(
                        st.text(st.characters(blacklist_characters="\x00"), max_size=6)
                    )
                    group.create_dataset(key, data=text, dtype=h5py.string_dtype())
                elif kind == "huge":
                    group.create_dataset(
                        key,
                        data=np.full(shape, data.draw(st.sampled_from([2**40, -(2**62), 1e30]))),
                    )
                else:
                    values = np.random.default_rng(data.draw(st.integers(0, 99))).normal(
                        0, 300, shape
                    )
                    group.create_dataset(
                        key, data=np.full(shape, np.nan) if kind == "nan" else values.astype(kind)
                    )
        elif how == "type":
            del group["type"]
            group.create_dataset(
                "type", (1,), "S10", [data.draw(st.sampled_from(_NETX_TYPES)).encode()]
            )
        elif how == "layer":
            del layers[name]
        else:
            layers.move(name, data.draw(st.sampled_from(["99", "x", "-1", str(len(names))])))


@fuzzer("netx-file")
def fuzz_netx_file(n: int, outcomes: Counter) -> None:
    from compiler.netx.importer import import_netx

    corpus = [p.read_bytes() for p in sorted(_FIXTURES_NETX.glob("*.net"))]
    _fuzz_hdf5(
        n,
        outcomes,
        corpus,
        _netx_edit,
        lambda path: import_netx(path, warn=lambda m: None),
        "fuzz.net",
    )


# ----------------------------------------------------------------------------- CLI arguments

_VERB_WORDS = ["hw", "list", "show", "inspect", "compile", "run", "eval", "hil", "train", "import",
               "export", "report", "demo", "--target", "--backend", "--input", "--steps", "-o",
               "--dataset", "--samples", "--dt", "--json", "loihi2", "tiny", "cpu", "lava", "float",
               "digits", "-1", "0", "1e9", "nan", "--help-not", "--version-x", ""]


@fuzzer("cli-args")
def fuzz_cli_args(n: int, outcomes: Counter) -> None:
    from compiler.cli import build_parser, main

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "junk.snnc").write_bytes(b"PK\x03\x04junk")
        (root / "junk.npy").write_bytes(b"\x93NUMPY junk")
        words = [
            *_VERB_WORDS,
            str(root / "junk.snnc"),
            str(root / "junk.npy"),
            str(root / "missing"),
            str(root / "out"),
        ]

        @_settings(n)
        @given(st.lists(st.sampled_from(words), min_size=1, max_size=7))
        def check(argv):
            long_running = "demo" in argv or "train" in argv
            err = io.StringIO()
            out = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    # demo and train run for minutes: their arguments are parsed only
                    if long_running:
                        build_parser().parse_args(argv)
                        code = 0
                    else:
                        code = main(argv)
                except SystemExit as e:  # argparse usage errors (2) and --help (0)
                    code = e.code if isinstance(e.code, int) else 2
            assert code in (0, 1, 2), (argv, code, err.getvalue())
            assert "Traceback" not in err.getvalue(), (argv, err.getvalue())
            if code == 1:
                assert err.getvalue().count("\n") == 1, (argv, err.getvalue())
            leftovers = [p.name for p in root.iterdir() if ".tmp-" in p.name]
            assert not leftovers, (argv, leftovers)
            outcomes[f"{'parsed only, ' if long_running else ''}exit {code}"] += 1

        check()


# ----------------------------------------------------------------- shared by the file fuzzers below

def _cli(argv: list[str], outcomes: Counter, tag: str = "") -> tuple[int, str]:
    """Run the CLI in-process; exit 0/1/2 only, no traceback, exit 1 prints one line."""
    from compiler.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse usage errors
            code = e.code if isinstance(e.code, int) else 2
    text = err.getvalue()
    assert code in (0, 1, 2), (argv, code, text)
    assert "Traceback" not in text, (argv, text)
    if code == 1:
        lines = [
            ln
            for ln in text.splitlines()
            if ln.startswith("snnc: error:") or ln.startswith("snnc: hil:")
        ]
        assert len(lines) == 1, (argv, text)
    outcomes[f"{tag}exit {code}"] += 1
    return code, text


def _no_temporaries(folder: Path) -> None:
    leftovers = [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert not leftovers, leftovers


def _npz_entries(blob: bytes) -> list[tuple[str, bytes]]:
    return [(i.filename, d) for i, d in _zip_entries(blob)]


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _odd_array(data) -> np.ndarray:
    """A well-formed array of an unexpected shape, dtype or value (NaN, inf, huge, negative)."""
    shape = tuple(data.draw(st.lists(st.integers(0, 4), max_size=4)))
    dtype = data.draw(st.sampled_from(["<i8", "|u1", "<i2", "<f8", "<f4", "|b1", "<u4"]))
    arr = (
        np.random.default_rng(data.draw(st.integers(0, 99)))
        .integers(-3, 4, size=shape)
        .astype(dtype)
    )
    if arr.size and dtype in ("<f8", "<f4"):
        arr.flat[0] = data.draw(
            st.sampled_from([np.nan, np.inf, -np.inf, 1e300 if dtype == "<f8" else 3e38])
        )
    return arr


def _mutate_npz_blob(data, base: bytes, meta_key: str | None = None) -> bytes:
    """One malformed variant of an .npz: truncated, flipped, an entry dropped / replaced by a bad
    .npy or an array of another shape or dtype, an extra entry, or (meta_key) its JSON edited."""
    hows = ["truncate", "flip", "drop", "bad-npy", "odd-array", "extra", "raw"]
    how = data.draw(st.sampled_from([*hows, "meta", "meta"] if meta_key else hows))
    if how == "truncate":
        return base[: data.draw(st.integers(0, len(base) - 1))]
    if how == "flip":
        return _flip(data, base)
    if how == "raw":
        return data.draw(st.binary(max_size=256))
    entries = _npz_entries(base)
    k = data.draw(st.integers(0, len(entries) - 1))
    if how == "drop":
        entries.pop(k)
    elif how == "bad-npy":
        entries[k] = (entries[k][0], _bad_npy(data.draw(st.integers(0, 6))))
    elif how == "odd-array":
        entries[k] = (entries[k][0], _npy(_odd_array(data)))
    elif how == "extra":
        name = data.draw(
            st.sampled_from(["ghost.npy", "notes.txt", "out:w.npy", "__meta__.npy", "a/b.npy"])
        )
        entries.append((name, _npy(_odd_array(data)) if name.endswith(".npy") else b"hello"))
    else:
        raw = dict(entries)[f"{meta_key}.npy"]
        meta = json.loads(np.load(io.BytesIO(raw), allow_pickle=False).tobytes().decode())
        path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=3))
        meta = _mutate_json(meta, path, data.draw(_json_values))
        text = json.dumps(meta, allow_nan=True).encode()
        entries = [(nm, _npy(np.frombuffer(text, dtype=np.uint8)) if nm == f"{meta_key}.npy" else d)
                   for nm, d in entries]
    return _rezip(entries)


def _small_program_build(root: Path) -> tuple[Path, Path]:
    """A BUILD compiled from a small float model for `tiny` (its hidden layer cut over two cores),
    and an input array for it: the valid artifacts the file fuzzers mutate."""
    from compiler.build import write_build
    from compiler.compile import compile_model
    from ir import LIF, Dense, Graph, Input

    rng = np.random.default_rng(12)
    model = Graph(
        populations={
            "in": Input((6,)),
            "h": LIF((20,), tau_syn=2e-3, tau_mem=1e-2, v_th=1.0, bias=0.05),
            "out": LIF((4,), tau_mem=1e-2, v_th=1.0),
        },
        projections={
            "w1": Dense("in", "h", weight=rng.normal(0.4, 0.5, (20, 6))),
            "rec": Dense("h", "h", weight=rng.normal(0.0, 0.2, (20, 20))),
            "w2": Dense("h", "out", weight=rng.normal(0.3, 0.4, (4, 20))),
        },
        metadata={"encoding": {"kind": "direct", "steps": 8, "seed": 0}},
    )
    hw = load_hw("tiny")
    program, report = compile_model(model, hw)
    write_build(root / "base", program, hw, report)
    x = (np.random.default_rng(3).random((2, 8, 6)) < 0.4).astype(np.uint8)
    np.save(root / "in.npy", x)
    return root / "base", root / "in.npy"


# ----------------------------------------------------------------------------- BUILD folders

_HW_LIMIT_KEYS = [
    ("core", "max_neurons"),
    ("core", "max_input_axons"),
    ("core", "synapse_memory_bits"),
    ("chip", "cores_per_chip"),
    ("system", "max_chips"),
    ("system", "mesh_columns"),
    ("synapse", "max_delay"),
    ("synapse", "max_message_bits"),
    ("synapse", "weight_exp_min"),
]


def _mutate_hw_text(data, base_text: str) -> str:
    base = yaml.safe_load(base_text)
    how = data.draw(st.sampled_from(["tree", "limit", "truncate", "text"]))
    if how == "tree":
        path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=4))
        return yaml.safe_dump(_mutate_json(base, path, data.draw(_json_values)))
    if how == "limit":  # a plausible-looking number that is absurd, zero or negative
        sec, key = data.draw(st.sampled_from(_HW_LIMIT_KEYS))
        base[sec][key]["value"] = data.draw(
            st.sampled_from([0, -1, 1, 2, 10**12, 1 << 40, (1 << 40) + 1, 10**30])
        )
        return yaml.safe_dump(base)
    if how == "truncate":
        return base_text[: data.draw(st.integers(0, len(base_text)))]
    return data.draw(st.text(max_size=120))


@fuzzer("build-folder")
def fuzz_build_folder(n: int, outcomes: Counter) -> None:
    """`snnc run BUILD --input IN.npy -o OUT.npz` on damaged BUILD folders
    (compiler.build.read_build): a damaged program.snnc, hw.yaml or report.json, a missing member, a
    member that is a folder."""
    from compiler.build import HW, PROGRAM, REPORT

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        base, inp = _small_program_build(root)
        members = {m: (base / m).read_bytes() for m in (PROGRAM, HW, REPORT)}

        @_settings(n)
        @given(st.data())
        def check(data):
            build = root / "build"
            if build.exists():
                shutil.rmtree(build)
            build.mkdir()
            files = dict(members)
            which = data.draw(
                st.sampled_from([PROGRAM, PROGRAM, HW, HW, REPORT, "missing", "folder"])
            )
            if which == PROGRAM:
                files[PROGRAM] = _mutate_graph_blob(data, members[PROGRAM])
            elif which == HW:
                files[HW] = _mutate_hw_text(data, members[HW].decode()).encode()
            elif which == REPORT:
                how = data.draw(st.sampled_from(["truncate", "json", "raw"]))
                if how == "truncate":
                    files[REPORT] = members[REPORT][
                        : data.draw(st.integers(0, len(members[REPORT]) - 1))
                    ]
                elif how == "raw":
                    files[REPORT] = data.draw(st.binary(max_size=64))
                else:
                    tree = json.loads(members[REPORT])
                    path = data.draw(st.lists(st.integers(0, 50), min_size=0, max_size=3))
                    files[REPORT] = json.dumps(
                        _mutate_json(tree, path, data.draw(_json_values)), allow_nan=True
                    ).encode()
            for name, blob in files.items():
                if which == "missing" and name == data.draw(
                    st.sampled_from(sorted(files)), label="dropped"
                ):
                    continue
                if which == "folder" and name == data.draw(
                    st.sampled_from(sorted(files)), label="as folder"
                ):
                    (build / name).mkdir()
                    continue
                (build / name).write_bytes(blob)
            out = root / "out.npz"
            code, _ = _cli(["run", str(build), "--input", str(inp), "-o", str(out)], outcomes)
            assert code in (0, 1)
            assert out.exists() == (code == 0), "a failed run must leave no output"
            if code == 0:
                out.unlink()
            _no_temporaries(root)

        check()


# ----------------------------------------------------------------------------- HIL traces

@fuzzer("hil-trace")
def fuzz_hil_trace(n: int, outcomes: Counter) -> None:
    """`snnc hil BUILD --replay TRACE --report R.json` on damaged traces (backends.hil.trace_io)."""
    from backends import get_backend
    from backends.hil.harness import all_probes
    from backends.hil.trace_io import write_trace
    from compiler.build import read_build

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        base, inp = _small_program_build(root)
        build = read_build(base)
        x = np.load(inp)
        trace = get_backend("cpu")(build.program, x, probes=all_probes(build.program), hw=build.hw)
        write_trace(root / "good.npz", trace, x, build.program)
        good = (root / "good.npz").read_bytes()

        @_settings(n)
        @given(st.data())
        def check(data):
            path, report = root / "trace.npz", root / "r.json"
            path.write_bytes(_mutate_npz_blob(data, good, meta_key="__meta__"))
            code, err = _cli(
                ["hil", str(base), "--replay", str(path), "--report", str(report)], outcomes
            )
            diverged = code == 1 and "targets diverge" in err
            assert code in (0, 1)
            assert report.exists() == (code == 0 or diverged), (
                "a rejected trace must leave no report"
            )
            if report.exists():
                report.unlink()
            _no_temporaries(root)

        check()


# ---------------------------------------------------------------------- recorded OUT.npz (identify)

@fuzzer("out-npz")
def fuzz_out_npz(n: int, outcomes: Counter) -> None:
    """`snnc identify BUILD --input IN.npy --trace OUT.npz` on damaged run outputs
    (ir.arrays_io.read_npz)."""
    from compiler.build import read_build

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        base, inp = _small_program_build(root)
        assert (
            _cli(
                [
                    "run",
                    str(base),
                    "--input",
                    str(inp),
                    "--probe",
                    "all",
                    "-o",
                    str(root / "good.npz"),
                ],
                Counter(),
            )[0]
            == 0
        )
        good = (root / "good.npz").read_bytes()
        program = read_build(base).program

        @_settings(n)
        @given(st.data())
        def check(data):
            path = root / "out.npz"
            path.write_bytes(_mutate_npz_blob(data, good))
            pop = data.draw(st.sampled_from(["out", "h"]))
            neurons = "0,1" if pop == "out" else "3"
            code, _ = _cli(["identify", str(base), "--input", str(inp), "--trace", str(path),
                            "--population", pop, "--neurons", neurons, "--json"], outcomes)
            assert code in (0, 1)
            assert program.populations[pop].size > 3

        check()


# ----------------------------------------------------------------------------- VIB decoder files

@fuzzer("vib-decoder")
def fuzz_vib_decoder(n: int, outcomes: Counter) -> None:
    """trainers.vib.decoder: the decoder spec in a model's metadata and the `*.decoder.npz` beside
    it, read as `snnc eval` reads them, then used (decode) when accepted."""
    from trainers.vib.decoder import (
        DecoderSpec,
        decode,
        file_sha256,
        read_decoder_file,
        write_decoder_file,
    )

    rng = np.random.default_rng(4)
    spec = DecoderSpec(
        decoding="time",
        window=3,
        n_readout=4,
        architecture="mlp",
        hidden=5,
        n_out=10,
        output="log_softmax",
    )
    layers = [(rng.normal(size=s), rng.normal(size=s[0])) for s in spec.layer_shapes()]
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        sha = write_decoder_file(root / "good.npz", spec, {"deployed": layers, "sampled": layers},
                                 (rng.normal(size=(10, 16)), rng.normal(size=10)))
        good = (root / "good.npz").read_bytes()
        meta = spec.to_json()

        @_settings(n)
        @given(st.data())
        def check(data):
            path = root / "dec.npz"
            spec_meta = json.loads(json.dumps(meta))
            if data.draw(st.booleans()):
                path.write_bytes(_mutate_npz_blob(data, good))
            else:
                path.write_bytes(good)
                spec_meta = _mutate_json(
                    spec_meta,
                    data.draw(st.lists(st.integers(0, 20), min_size=1, max_size=2)),
                    data.draw(_json_values),
                )
            variant = data.draw(st.sampled_from(["deployed", "sampled", "bogus"]))

            def load():
                if not isinstance(spec_meta, dict):
                    return None  # the metadata check in trainers.vib.cli rejects non-objects first
                s = DecoderSpec.from_json(spec_meta, "fuzz.snnc")
                got, clf = read_decoder_file(
                    path,
                    s,
                    sha256=data.draw(st.sampled_from([None, sha])),
                    variant=variant,
                    classifier=data.draw(st.sampled_from([None, (10, 16)])),
                )
                if s.n_features <= 4096:
                    decode(np.zeros((1, s.n_features)), got, s)
                return clf

            _expect_snnc_error_or_ok(load, outcomes)
            assert file_sha256(root / "good.npz") == sha

        check()


# -------------------------------------------------------------------------- Fashion-MNIST IDX files

def _idx(arr: np.ndarray) -> bytes:
    import struct

    return (
        struct.pack(">I", 0x0800 + arr.ndim)
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + arr.astype(np.uint8).tobytes()
    )


@fuzzer("idx-dataset")
def fuzz_idx_dataset(n: int, outcomes: Counter) -> None:
    """trainers.datasets: Fashion-MNIST's gzipped IDX files (SNNC_FASHION_MNIST_DIR points at
    damaged copies: bad gzip, truncated, wrong magic, absurd dimensions, labels out of range,
    image and label counts that differ)."""
    import gzip

    from trainers.datasets import _FMNIST_FILES, load_dataset

    rng = np.random.default_rng(0)
    images = np.zeros((5010, 28, 28), dtype=np.uint8)  # just more than the 5000 held out for val
    images[:, 10:14, 10:14] = rng.integers(0, 256, size=(5010, 4, 4))
    raw = {
        "train_x": _idx(images),
        "train_y": _idx(np.arange(5010) % 10),
        "test_x": _idx(images[:7]),
        "test_y": _idx(np.arange(7) % 10),
    }
    packed = {k: gzip.compress(v, mtime=0) for k, v in raw.items()}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        old = os.environ.get("SNNC_FASHION_MNIST_DIR")
        os.environ["SNNC_FASHION_MNIST_DIR"] = str(root)
        try:
            @_settings(n)
            @given(st.data())
            def check(data):
                key = data.draw(st.sampled_from(sorted(raw)))
                how = data.draw(
                    st.sampled_from(
                        [
                            "gz-truncate",
                            "gz-flip",
                            "truncate",
                            "header",
                            "labels",
                            "count",
                            "missing",
                        ]
                    )
                )
                files = dict(packed)
                body = bytearray(raw[key])
                if how == "gz-truncate":
                    files[key] = files[key][: data.draw(st.integers(0, len(files[key]) - 1))]
                elif how == "gz-flip":
                    files[key] = _flip(data, files[key])
                elif how == "truncate":
                    files[key] = gzip.compress(
                        bytes(body[: data.draw(st.integers(0, len(body)))]), mtime=0
                    )
                elif how == "header":
                    at = data.draw(st.integers(0, 15)) & ~3
                    body[at : at + 4] = data.draw(
                        st.sampled_from([0, 1, 28, 0x0801, 0x0803, 2**31, 2**32 - 1])
                    ).to_bytes(4, "big")
                    files[key] = gzip.compress(bytes(body), mtime=0)
                elif how == "labels":
                    labels = np.frombuffer(raw["test_y"], np.uint8, offset=8).copy()
                    labels[data.draw(st.integers(0, labels.size - 1))] = data.draw(
                        st.integers(10, 255)
                    )
                    files["test_y"] = gzip.compress(_idx(labels), mtime=0)
                elif how == "count":
                    files["test_y"] = gzip.compress(
                        _idx(np.arange(data.draw(st.integers(0, 30))) % 10), mtime=0
                    )
                for k, blob in files.items():
                    target = root / _FMNIST_FILES[k]
                    if how == "missing" and k == key:
                        target.unlink(missing_ok=True)
                    else:
                        target.write_bytes(blob)
                _expect_snnc_error_or_ok(lambda: load_dataset("fashion-mnist"), outcomes)

            check()
        finally:
            if old is None:
                os.environ.pop("SNNC_FASHION_MNIST_DIR", None)
            else:
                os.environ["SNNC_FASHION_MNIST_DIR"] = old


# ------------------------------------------------------------------- hardware YAML, used by compile

@fuzzer("hw-compile")
def fuzz_hw_compile(n: int, outcomes: Counter) -> None:
    """`snnc compile MODEL --hw FILE.yaml -o BUILD` with damaged or absurd hardware configs: the
    config loads or is rejected, and an accepted one never makes a pass allocate per core or
    chip."""
    from ir import LIF, Dense, Graph, Input, save_graph

    rng = np.random.default_rng(5)
    model = Graph(
        populations={
            "in": Input((5,)),
            "h": LIF((12,), tau_mem=1e-2),
            "out": LIF((3,), tau_mem=1e-2),
        },
        projections={
            "a": Dense("in", "h", weight=rng.normal(size=(12, 5)), delay=2),
            "b": Dense("h", "out", weight=rng.normal(size=(3, 12))),
        },
    )
    base_text = yaml.safe_dump(load_hw("tiny").to_dict())
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        save_graph(model, root / "m.snnc")

        @_settings(n)
        @given(st.data())
        def check(data):
            (root / "hw.yaml").write_text(_mutate_hw_text(data, base_text))
            build = root / "build"
            code, _ = _cli(
                ["compile", str(root / "m.snnc"), "--hw", str(root / "hw.yaml"), "-o", str(build)],
                outcomes,
            )
            assert code in (0, 1)
            assert build.exists() == (code == 0), "a failed compile must leave no BUILD"
            if code == 0:
                shutil.rmtree(build)
            _no_temporaries(root)

        check()


# ----------------------------------------------------------------------------- model metadata

_ODD_VALUES = [
    None,
    True,
    -1,
    0,
    2.5,
    10**12,
    2**70,
    "12",
    "abc",
    "vib",
    "latency",
    [],
    {},
    float("nan"),
    float("inf"),
]


@contextlib.contextmanager
def _cached_datasets():
    """Load each dataset once per fuzzer (the loader is fuzzed on its own in idx-dataset)."""
    import functools

    import trainers.datasets as datasets

    real = datasets.load_dataset
    datasets.load_dataset = functools.lru_cache(maxsize=4)(real)
    try:
        yield
    finally:
        datasets.load_dataset = real


@fuzzer("model-metadata")
def fuzz_model_metadata(n: int, outcomes: Counter) -> None:
    """What `snnc eval` and `snnc hil --dataset` read from a model's or program's metadata (task,
    encoding, readout, trainer; DEVELOPERS.md "Model metadata"), edited at random or set to odd
    values (strings, NaN, negative or absurd step counts, unknown kinds, a "vib" trainer)."""
    from compiler.build import PROGRAM, read_build
    from ir import LIF, Dense, Graph, Input, save_graph

    rng = np.random.default_rng(8)
    meta = {"task": {"kind": "classification", "dataset": "digits", "n_classes": 10},
            "encoding": {"kind": "rate", "max_rate": 0.5, "steps": 6, "seed": 3},
            "readout": {"kind": "spike_count", "population": "out", "tie_break": "lowest_index"},
            "trainer": {"name": "conversion", "seed": 0}}
    model = Graph(populations={"in": Input((64,)), "out": LIF((10,), tau_mem=1e-2, v_th=1.0)},
                  projections={"w": Dense("in", "out", weight=rng.normal(0.1, 0.3, (10, 64)))},
                  outputs=("out",), metadata=meta)
    with tempfile.TemporaryDirectory() as d, _cached_datasets():
        root = Path(d)
        save_graph(model, root / "base.snnc")
        assert (
            _cli(
                [
                    "compile",
                    str(root / "base.snnc"),
                    "--target",
                    "loihi2",
                    "-o",
                    str(root / "base"),
                ],
                Counter(),
            )[0]
            == 0
        )
        program = read_build(root / "base").program

        @_settings(n)
        @given(st.data())
        def check(data):
            tree = json.loads(json.dumps(meta))
            if data.draw(st.booleans()):
                path = data.draw(st.lists(st.integers(0, 20), min_size=1, max_size=3))
                tree = _mutate_json(tree, path, data.draw(_json_values))
            else:
                section = data.draw(st.sampled_from(["task", "encoding", "readout", "trainer"]))
                keys = sorted(tree[section]) + ["kind", "name", "steps"]
                tree[section][data.draw(st.sampled_from(keys))] = data.draw(
                    st.sampled_from(_ODD_VALUES)
                )
            if not isinstance(tree, dict):
                tree = {"metadata": tree}
            tree = json.loads(json.dumps(tree, allow_nan=True))
            steps = data.draw(
                st.sampled_from(
                    [[], [], ["--steps", "5"], ["--steps", "0"], ["--steps", str(10**12)]]
                )
            )
            if data.draw(st.booleans()):
                try:
                    save_graph(model.replace(metadata=tree), root / "m.snnc")
                except SnncError:  # the model itself refuses this metadata (e.g. NaN is not JSON)
                    outcomes["refused by the model"] += 1
                    return
                _cli(
                    [
                        "eval",
                        str(root / "m.snnc"),
                        "--dataset",
                        "digits",
                        "--samples",
                        "2",
                        "--backend",
                        "float",
                        *steps,
                    ],
                    outcomes,
                    "eval ",
                )
            else:
                build = root / "build"
                if build.exists():
                    shutil.rmtree(build)
                shutil.copytree(root / "base", build)
                try:
                    (build / PROGRAM).write_bytes(graph_to_bytes(program.replace(metadata=tree)))
                except SnncError:
                    outcomes["refused by the model"] += 1
                    return
                report = root / "r.json"
                code, _ = _cli(
                    [
                        "hil",
                        str(build),
                        "--dataset",
                        "digits",
                        "--samples",
                        "2",
                        "--reference",
                        "cpu",
                        "--target",
                        "cpu",
                        "--report",
                        str(report),
                        *steps,
                    ],
                    outcomes,
                    "hil ",
                )
                assert report.exists() == (code == 0)
                if report.exists():
                    report.unlink()

        check()


# ----------------------------------------------------------------------------- sweep specs

@fuzzer("sweep-spec")
def fuzz_sweep_spec(n: int, outcomes: Counter) -> None:
    """`snnc sweep` SPEC files: mutated trees (every key and value checked against the
    commands' parsers) and arbitrary text. Nothing runs: load_spec only reads and checks."""
    from app.sweep.spec import load_spec

    base = {"model": "m.snnc", "target": "tiny", "compile": {"split-signs": True},
            "eval": {"dataset": "digits", "samples": 8},
            "grid": {"compile.weight-bits": [4, 8], "eval.steps": [4], "compile.granularity":
                     ["per-layer", "per-channel"]}}
    base_text = yaml.safe_dump(base)

    @_settings(n)
    @given(st.data())
    def check(data):
        how = data.draw(st.sampled_from(["tree", "tree", "text", "truncate"]))
        if how == "tree":
            tree = json.loads(json.dumps(base))
            path = data.draw(st.lists(st.integers(0, 50), min_size=1, max_size=4))
            text = yaml.safe_dump(_mutate_json(tree, path, data.draw(_json_values)))
        elif how == "truncate":
            text = base_text[: data.draw(st.integers(0, len(base_text)))]
        else:
            text = data.draw(st.text(max_size=200))
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "spec.yaml"
            path.write_text(text)
            _expect_snnc_error_or_ok(lambda: load_spec(path), outcomes)

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


# Issue 23's families (hostile storage, bombs, parser limits, output paths, signals) register
# themselves here.
from tests.fuzz import hostile_families  # noqa: E402,F401
