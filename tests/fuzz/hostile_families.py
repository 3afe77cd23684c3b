"""`make fuzz` families for issue 23: hostile storage, bombs, parser limits, output paths, signals.

Each family draws many variants (hypothesis, derandomized) of one kind of hostile input that
`tests/robust/hostile.py` scripts once, and checks what every snnc command must guarantee:
the command succeeds or fails with one `SnncError` line (exit 1; 2 for usage, 130/143 for
SIGINT/SIGTERM), never a traceback; a failed command leaves no output and no temporary; no
user file changes; peak memory stays under the budget; nothing outside the named input is
read (a secret file's access time is watched: the filesystem updates it on a read).

In-process families run with `SNNC_MAX_LOAD_BYTES` at `FUZZ_BUDGET` (256 MiB), so that the
budget decides often at a size the shared machine can afford, and check the process's peak
memory over each example (`/proc/self/clear_refs`, `VmHWM`) against that budget.

    nir-storage    NIR files whose datasets use external raw storage, virtual datasets,
                   unwritten chunked or contiguous storage, filters (gzip, lzf, shuffle,
                   fletcher32, scaleoffset, nbit) with declared sizes up to 2^33 bytes, compact
                   storage, groups nested deep: `import_nir`
    snnc-bombs     snnc files whose arrays declare (or inflate to) sizes up to 2^34 bytes,
                   placement ranges up to 2^40, forged zip sizes: `graph_from_bytes`
    npz-bombs      traces and run outputs with the same: `read_trace`, `read_npz`
    deep-json      nesting up to 200,000 deep and integers of up to 10,000 digits in
                   snnc.json, report.json, a trace's __meta__, NIR metadata, an output
                   folder's manifest
    yaml-bombs     hardware YAML with alias trees, merge keys, nesting up to 20,000 deep,
                   python tags, huge scalars: `load_hw`
    output-paths   compile / report / run / export / import / hil with outputs that are an
                   input (by path, symlink, hard link, `..`), a folder holding an input, a
                   folder with a user's files (some named like snnc's), a previous output
                   the user edited, a damaged manifest, a file where a folder goes and the
                   reverse, names of 240-300 bytes: `compiler.cli.main`
    lava-signals   SIGINT or SIGTERM, to the process or its whole group, at a random moment
                   of `snnc run --backend lava` or `snnc hil --target lava` (start-up, the
                   moments after Lava's first worker exists, a short run's end): a fresh
                   process each, checked by `tests.robust.hostile.run_case`
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ir import SnncError
from ir.errors import MAX_MESSAGE_CHARS
from tests.fuzz.fuzzers import _cli, _settings, fuzzer
from tests.robust.hostile import npy_header, zip_bytes

FUZZ_BUDGET = 256 << 20
_SECRET = np.arange(64, dtype="<f8") * 1000.0 + 0.4242


# ----------------------------------------------------------------------------- shared


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def _budget(nbytes: int = FUZZ_BUDGET) -> Iterator[None]:
    old = os.environ.get("SNNC_MAX_LOAD_BYTES")
    os.environ["SNNC_MAX_LOAD_BYTES"] = str(nbytes)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SNNC_MAX_LOAD_BYTES", None)
        else:
            os.environ["SNNC_MAX_LOAD_BYTES"] = old


def _peak_of(fn: Callable[[], object]) -> tuple[object, int]:
    """(what fn returned or the SnncError it raised, bytes this process grew at its peak)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    before = _vm("VmRSS")
    try:
        result: object = fn()
    except SnncError as e:
        result = e
    return result, max(_vm("VmHWM") - before, 0)


def _judge(fn: Callable[[], object], outcomes: Counter, tag: str = "") -> object:
    """Run a loader: it returns or raises one SnncError line, within the fuzz budget."""
    result, peak = _peak_of(fn)
    assert peak <= FUZZ_BUDGET, f"peak memory grew by {peak / 2**20:.0f} MiB"
    if isinstance(result, SnncError):
        msg = str(result)
        assert msg and "\n" not in msg and len(msg) <= MAX_MESSAGE_CHARS + 40, msg[:300]
        outcomes[f"{tag}rejected"] += 1
    else:
        outcomes[f"{tag}accepted"] += 1
    return result


class _Secret:
    """A file outside the input whose bytes must never be read: reading it updates its atime
    (the filesystem's relatime rule: atime older than mtime), which `untouched` checks."""

    def __init__(self, root: Path) -> None:
        import h5py

        self.raw = root / "secret.bin"
        self.raw.write_bytes(_SECRET.tobytes())
        self.h5 = root / "secret.h5"
        with h5py.File(self.h5, "w") as f:
            f.create_dataset("data", data=_SECRET.reshape(8, 8))

    def arm(self) -> None:
        for p in (self.raw, self.h5):
            os.utime(p, (1, p.stat().st_mtime))

    def untouched(self) -> bool:
        return all(p.stat().st_atime == 1 for p in (self.raw, self.h5))


# ----------------------------------------------------------------------------- nir-storage

_FILTERS = ["gzip", "lzf", "shuffle+gzip", "fletcher32", "scaleoffset", "nbit"]


def _nir_base(root: Path) -> bytes:
    from tests.robust.hostile import export_nir_model

    return export_nir_model(root / "base.nir").read_bytes()


def _storage_edit(path: Path, data, secret: _Secret) -> str:
    import h5py

    how = data.draw(
        st.sampled_from(["external", "virtual", "unwritten", "compressed", "compact", "nested"])
    )
    with h5py.File(path, "a") as f:
        name = data.draw(
            st.sampled_from(
                [
                    "node/nodes/p/weight",
                    "node/nodes/a/tau",
                    "node/nodes/a/r",
                    "node/nodes/p/metadata/snnc/weight",
                    "node/metadata/dt",
                ]
            )
        )
        old = f[name]
        shape, dtype = old.shape, old.dtype
        del f[name]
        if how == "external":
            count = max(int(np.prod(shape)), 1)
            need = count * dtype.itemsize
            cut = data.draw(st.integers(0, need))  # one or two segments of the secret, anywhere
            segments = [(str(secret.raw), data.draw(st.integers(0, 1 << 20)), cut)] if cut else []
            segments.append((str(secret.raw), data.draw(st.integers(0, 1 << 20)), need - cut))
            f.create_dataset(
                name,
                shape=shape or (count,),
                dtype=dtype,
                external=[s for s in segments if s[2]] or [(str(secret.raw), 0, need)],
            )
        elif how == "virtual":
            rows, cols = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
            if data.draw(st.booleans()):
                layout = h5py.VirtualLayout(shape=(rows, cols), dtype="<f8")
                layout[:, :] = h5py.VirtualSource(str(secret.h5), "data", shape=(8, 8))[
                    :rows, :cols
                ]
            else:  # this file's own data, read through a virtual dataset
                layout = h5py.VirtualLayout(shape=(3,), dtype="<f8")
                layout[:] = h5py.VirtualSource(".", "node/nodes/a/r", shape=(3,))
            f.create_virtual_dataset(name, layout, fillvalue=data.draw(st.floats(-1, 1)))
        elif how in ("unwritten", "compressed"):
            rows = data.draw(st.sampled_from([1, 3, 1 << 10, 1 << 14, 1 << 17]))
            cols = data.draw(st.sampled_from([1, 4, 1 << 10, 1 << 13, 1 << 16]))
            kwargs: dict = {"chunks": (min(rows, 64), min(cols, 256))}
            if how == "compressed":
                flt = data.draw(st.sampled_from(_FILTERS))
                if "gzip" in flt:
                    kwargs["compression"] = "gzip"
                if flt == "lzf":
                    kwargs["compression"] = "lzf"
                if "shuffle" in flt:
                    kwargs["shuffle"] = True
                if flt == "fletcher32":
                    kwargs["fletcher32"] = True
                if flt == "scaleoffset":
                    kwargs["scaleoffset"] = 3
            elif data.draw(st.booleans()):
                kwargs = {}  # contiguous, never allocated
            d = f.create_dataset(
                name,
                shape=(rows, cols),
                dtype="<f8",
                fillvalue=data.draw(st.sampled_from([0.0, 1.5])),
                **kwargs,
            )
            if how == "compressed" and data.draw(st.booleans()):
                d[: min(rows, 64), : min(cols, 256)] = 0.0  # one real (tiny, compressible) chunk
        elif how == "compact":
            values = np.full(shape or (1,), 0.5, dtype=dtype)
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            dset = h5py.h5d.create(
                f.id,
                name.encode(),
                h5py.h5t.py_create(dtype),
                h5py.h5s.create_simple(values.shape),
                dcpl=dcpl,
            )
            dset.write(h5py.h5s.ALL, h5py.h5s.ALL, values)
        else:
            group = f.require_group("node/metadata")
            for level in range(data.draw(st.integers(10, 120))):
                group = group.create_group(f"g{level}")
            group.create_dataset("x", data=1.0)
            f.create_dataset(name, data=np.zeros(shape, dtype=dtype) if shape else 0.001)
    return how


@fuzzer("nir-storage", examples=1000, small=12)
def fuzz_nir_storage(n: int, outcomes: Counter) -> None:
    from compiler.nir.importer import import_nir

    with tempfile.TemporaryDirectory() as d, _budget():
        root = Path(d)
        secret = _Secret(root)
        base = _nir_base(root)

        @_settings(n)
        @given(st.data())
        def check(data):
            path = root / "x.nir"
            path.write_bytes(base)
            how = _storage_edit(path, data, secret)
            secret.arm()
            graph = _judge(lambda: import_nir(path, warn=lambda m: None), outcomes, f"{how}: ")
            assert secret.untouched(), f"{how}: a file outside the NIR file was read"
            if not isinstance(graph, SnncError):
                for proj in graph.projections.values():
                    weights = getattr(proj, "weight", getattr(proj, "values", np.zeros(0)))
                    assert not np.isin(_SECRET, weights).any(), (
                        "the secret's values are in the model"
                    )

        check()


# --------------------------------------------------------------------------- snnc-bombs / npz-bombs


_BIG_SHAPES = [
    (1 << 10,),
    (1 << 20,),
    (1 << 24,),
    (1 << 14, 1 << 13),
    (1 << 31,),
    (1 << 16, 1 << 16),
    (3, 1 << 30),
]
_DTYPES = ["|i1", "<i2", "<i4", "<f4", "<f8"]


def _bomb_entry(data) -> tuple[bytes | None, tuple[bytes, int] | None, int | None]:
    """(small entry, big streamed entry, forged size) for one array: a header declaring a large
    shape with data that is truncated, real (up to 128 MiB of zeros, sometimes), or whose zip
    sizes are forged."""
    shape = data.draw(st.sampled_from(_BIG_SHAPES))
    dtype = data.draw(st.sampled_from(_DTYPES))
    head = npy_header(shape, dtype)
    need = int(np.prod(shape)) * np.dtype(dtype).itemsize
    how = data.draw(st.sampled_from(["truncated", "truncated", "forged", "forged", "real"]))
    if how == "real" and need <= 128 << 20:
        return None, (head, need), None
    if how == "forged":
        return head + bytes(64), None, len(head) + need
    return head + bytes(data.draw(st.integers(0, 4096))), None, None


@fuzzer("snnc-bombs", examples=1000, small=15)
def fuzz_snnc_bombs(n: int, outcomes: Counter) -> None:
    from compiler.compile import compile_model
    from ir import graph_to_bytes, load_hw
    from ir.serialize import HEADER, graph_from_bytes
    from tests.robust.hostile import small_program, zip_entries

    program, _ = compile_model(small_program(), load_hw("loihi2"))
    base = graph_to_bytes(program)
    with tempfile.TemporaryDirectory() as d, _budget():
        (Path(d) / "b.snnc").write_bytes(base)
        entries = zip_entries(Path(d) / "b.snnc")

        @_settings(n)
        @given(st.data())
        def check(data):
            files = dict(entries)
            head = json.loads(files[HEADER])
            big, forged = {}, {}
            what = data.draw(st.sampled_from(["array", "array", "range", "shape", "entries"]))
            if what == "array":
                refs = sorted(k for k in files if k.endswith(".npy"))
                ref = data.draw(st.sampled_from(refs))
                small, streamed, size = _bomb_entry(data)
                del files[ref]
                if small is not None:
                    files[ref] = small
                if streamed is not None:
                    big[ref] = streamed
                if size is not None:
                    forged[ref] = size
            elif what == "range":
                lo = data.draw(st.sampled_from([0, 1, 1 << 20]))
                hi = data.draw(st.sampled_from([2, 3, 1 << 24, 1 << 31, 1 << 40, -1]))
                head["placement"]["blocks"][0]["neurons"] = {"range": [lo, hi]}
            elif what == "shape":
                pop = data.draw(st.sampled_from(head["populations"]))
                pop["fields"]["shape"] = [
                    data.draw(st.sampled_from([1 << 20, 1 << 24, 1 << 25, 1 << 31, 10**12]))
                ]
            else:
                for k in range(data.draw(st.integers(1000, 5000))):
                    files[f"arrays/x{k:06d}.npy"] = b""
            files[HEADER] = json.dumps(head).encode()
            blob = zip_bytes(files, big, forged)
            _judge(lambda: graph_from_bytes(blob, "fuzz.snnc"), outcomes, f"{what}: ")

        check()


@fuzzer("npz-bombs", examples=1000, small=15)
def fuzz_npz_bombs(n: int, outcomes: Counter) -> None:
    from backends.hil.trace_io import read_trace
    from compiler.build import read_build
    from ir.arrays_io import read_npz
    from tests.robust.hostile import trace_file, write_small_build, zip_entries

    with tempfile.TemporaryDirectory() as d, _budget():
        root = Path(d)
        build = write_small_build(root)
        program = read_build(build).program
        entries = zip_entries(trace_file(root, build))

        @_settings(n)
        @given(st.data())
        def check(data):
            files = dict(entries)
            ref = data.draw(st.sampled_from(sorted(files)))
            small, streamed, size = _bomb_entry(data)
            del files[ref]
            if small is not None:
                files[ref] = small
            path = root / "t.npz"
            path.write_bytes(
                zip_bytes(
                    files, {ref: streamed} if streamed else None, {ref: size} if size else None
                )
            )
            reader = data.draw(st.sampled_from(["trace", "npz"]))
            fn = (
                (lambda: read_trace(path, program))
                if reader == "trace"
                else (lambda: read_npz(path))
            )
            _judge(fn, outcomes, f"{reader}: ")

        check()


# ----------------------------------------------------------------------------- deep-json


def _hostile_json(data) -> str:
    """JSON text (or almost): deep nesting, huge integers, extreme floats, long strings. Sizes
    come from a drawn seed, uniform on a log scale (hypothesis's own small finite choices would
    run out of new examples long before 1,000)."""
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1)))
    how = rng.choice(["deep", "deep", "bigint", "float", "string", "mixed"])
    if how == "deep":
        depth = int(10 ** rng.uniform(0, 5.3))
        kinds = [("[", "]"), ('{"k":', "}")]
        seq = (
            [kinds[rng.random() < 0.5] for _ in range(depth)]
            if rng.random() < 0.3
            else [kinds[rng.random() < 0.5]] * depth
        )
        closing = "".join(c for _, c in reversed(seq))
        if rng.random() < 0.2:
            closing = closing[: rng.randrange(len(closing) + 1)]  # unterminated
        return "".join(o for o, _ in seq) + "1" + closing
    if how == "bigint":
        digits = int(10 ** rng.uniform(0, 4.2))
        key = rng.choice(["format_version", "steps", "dt", "cores_used", "files"])
        return (
            '{"format": "snnc-graph", "' + key + '": ' + rng.choice(["", "-"]) + "7" * digits + "}"
        )
    if how == "float":
        lit = rng.choice(
            [
                "1e99999",
                "-1e99999",
                "1" * rng.randrange(1, 10_000) + ".5",
                "NaN",
                "Infinity",
                "1e-99999",
                "0." + "0" * rng.randrange(1, 10_000) + "1",
            ]
        )
        return '{"dt": ' + lit + ', "steps": ' + lit + ', "format_version": ' + lit + "}"
    if how == "string":
        return json.dumps(
            {"format": "x" * int(10 ** rng.uniform(0, 6)), "k": "\ud800", "e": "\u001b[2J"}
        )
    inner = "[" * rng.randrange(1, 100) + "]" * rng.randrange(1, 100)
    return '{"a": [' + ",".join([inner, "9" * rng.randrange(1, 200), '"\u001b[2J"']) + "]}"


@fuzzer("deep-json", examples=1000, small=20)
def fuzz_deep_json(n: int, outcomes: Counter) -> None:
    import h5py

    from backends.hil.trace_io import read_trace
    from compiler.build import read_build
    from compiler.nir.importer import import_nir
    from ir.atomic import MANIFEST, check_output_dir
    from ir.serialize import HEADER, graph_from_bytes
    from tests.robust.hostile import export_nir_model, trace_file, write_small_build, zip_entries

    with tempfile.TemporaryDirectory() as d, _budget():
        root = Path(d)
        build = write_small_build(root)
        program = read_build(build).program
        trace = trace_file(root, build).read_bytes()
        graph_entries = zip_entries(build / "program.snnc")
        nir_base = export_nir_model(root / "base.nir").read_bytes()
        report = (build / "report.json").read_bytes()
        manifest = (build / MANIFEST).read_bytes()

        @_settings(n)
        @given(st.data())
        def check(data):
            text = _hostile_json(data)
            where = data.draw(
                st.sampled_from(["snnc.json", "report.json", "trace", "nir", "manifest"])
            )
            (build / "report.json").write_bytes(report)
            (build / MANIFEST).write_bytes(manifest)
            if where == "snnc.json":
                blob = zip_bytes({**graph_entries, HEADER: text.encode()})
                fn = lambda: graph_from_bytes(blob, "fuzz.snnc")  # noqa: E731
            elif where == "report.json":
                (build / "report.json").write_text(text)
                fn = lambda: read_build(build)  # noqa: E731
            elif where == "trace":
                (root / "t.npz").write_bytes(trace)
                files = zip_entries(root / "t.npz")
                buf = io.BytesIO()
                np.save(buf, np.frombuffer(text.encode(), dtype=np.uint8))
                files["__meta__.npy"] = buf.getvalue()
                (root / "t.npz").write_bytes(zip_bytes(files))
                fn = lambda: read_trace(root / "t.npz", program)  # noqa: E731
            elif where == "nir":
                path = root / "x.nir"
                path.write_bytes(nir_base)
                with h5py.File(path, "a") as f:
                    del f["node/metadata/snnc"]
                    f["node/metadata"].create_dataset("snnc", data=text, dtype=h5py.string_dtype())
                fn = lambda: import_nir(path, warn=lambda m: None)  # noqa: E731
            else:
                (build / MANIFEST).write_text(text)
                fn = lambda: check_output_dir(build, ("program.snnc",))  # noqa: E731
            _judge(fn, outcomes, f"{where}: ")

        check()


# ----------------------------------------------------------------------------- yaml-bombs


def _hostile_yaml(data, base: str) -> str:
    how = data.draw(
        st.sampled_from(["aliases", "aliases", "merge", "deep-flow", "deep-block", "tag", "scalar"])
    )
    if how in ("aliases", "merge"):
        levels, fan = data.draw(st.integers(1, 12)), data.draw(st.integers(2, 10))
        lines = ['a0: &a0 ["xxxxxxxxxxxxxxxx", "yyyyyyyyyyyyyyyy"]']
        for i in range(1, levels):
            if how == "merge":
                lines.append(
                    f"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: [{', '.join([f'*a{i - 1}'] * fan)}]}}"
                    if i > 1
                    else f"a{i}: &a{i} {{k: [{', '.join(['*a0'] * fan)}]}}"
                )
            else:
                lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]")
        key = data.draw(st.sampled_from(["format_version", "name", "core", "description"]))
        return "\n".join(lines) + f"\n{key}: *a{levels - 1}\n" + base
    if how == "deep-flow":
        depth = data.draw(st.sampled_from([10, 17, 100, 5000, 20_000]))
        return "core: " + "[" * depth + "]" * depth + "\n"
    if how == "deep-block":
        depth = data.draw(st.sampled_from([10, 17, 100, 1000]))
        return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"
    if how == "tag":
        return data.draw(st.sampled_from(["!!python/object/apply:os.system ['true']\n",
                                          "core: !!binary aGVsbG8=\n" + base, "name: !custom x\n"]))
    return base.replace(
        "name: tiny", "name: " + "x" * data.draw(st.sampled_from([10, 10_000, 900_000]))
    )


@fuzzer("yaml-bombs", examples=1000, small=20)
def fuzz_yaml_bombs(n: int, outcomes: Counter) -> None:
    import yaml

    from ir import load_hw

    base = yaml.safe_dump(load_hw("tiny").to_dict(), sort_keys=False)
    with tempfile.TemporaryDirectory() as d, _budget():
        path = Path(d) / "hw.yaml"

        @_settings(n)
        @given(st.data())
        def check(data):
            path.write_text(_hostile_yaml(data, base))
            _judge(lambda: load_hw(str(path)), outcomes)

        check()


# ----------------------------------------------------------------------------- output-paths


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


@fuzzer("output-paths", examples=1000, small=25)
def fuzz_output_paths(n: int, outcomes: Counter) -> None:
    from compiler.cli import main
    from ir import save_graph
    from ir.atomic import MANIFEST
    from tests.robust.hostile import export_nir_model, float_model, write_small_build

    names = ["program.snnc", "hw.yaml", "report.json", "index.html", "summary.json", "notes.txt",
             "vib.decoder.npz", "paper.pdf", MANIFEST, "sub/program.snnc", "occupancy.png"]
    with tempfile.TemporaryDirectory() as d:
        base = Path(d) / "base"
        base.mkdir()
        save_graph(float_model(), base / "m.snnc")
        write_small_build(base)
        export_nir_model(base / "x.nir")
        with contextlib.redirect_stdout(io.StringIO()):
            assert (
                main(
                    ["compile", str(base / "m.snnc"), "--target", "tiny", "-o", str(base / "prev")]
                )
                == 0
            )

        @_settings(n)
        @given(st.data())
        def check(data):
            root = Path(d) / "case"
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(base, root, symlinks=True)
            verb = data.draw(
                st.sampled_from(["compile", "compile", "run", "export", "import", "hil", "report"])
            )
            folder_out = verb in ("compile", "report")
            inputs = {
                "compile": ["m.snnc"],
                "run": ["build", "in.npy"],
                "export": ["m.snnc"],
                "import": ["x.nir"],
                "hil": ["build", "in.npy"],
                "report": ["build"],
            }[verb]
            how = data.draw(
                st.sampled_from(
                    [
                        "input",
                        "symlink",
                        "hardlink",
                        "dotdot",
                        "holds-input",
                        "user-folder",
                        "previous",
                        "edited",
                        "manifest",
                        "wrong-kind",
                        "parent-file",
                        "long",
                    ]
                )
            )
            target = root / "out"
            if how == "input":
                target = root / data.draw(st.sampled_from(inputs))
            elif how == "symlink":
                target.symlink_to(root / inputs[-1])
            elif how == "hardlink":
                src = root / ("in.npy" if "in.npy" in inputs else inputs[0])
                if src.is_file():
                    os.link(src, target)
            elif how == "dotdot":
                target = root / "build" / ".." / inputs[0]
            elif how == "holds-input":
                target = root / "build" if "build" in inputs and data.draw(st.booleans()) else root
            elif how in ("user-folder", "previous", "edited", "manifest"):
                if how == "user-folder":
                    target.mkdir()
                else:
                    shutil.copytree(root / "prev", target)
                for name in data.draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
                    if how != "user-folder" and name == MANIFEST:
                        continue
                    dest = target / name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if not dest.exists():
                        dest.write_bytes(b"user data " + name.encode())
                if how == "edited":
                    (
                        target
                        / data.draw(st.sampled_from(["program.snnc", "hw.yaml", "report.json"]))
                    ).write_bytes(b"mine")
                if how == "manifest":
                    (target / MANIFEST).write_bytes(
                        data.draw(
                            st.sampled_from(
                                [
                                    b"{",
                                    b"[]",
                                    b'{"format": "snnc-output-folder", '
                                    b'"files": {"../m.snnc": ["x"]}}',
                                    b"\xff",
                                ]
                            )
                        )
                    )
                # a file output among the user's files (a file named there is replaced)
                if not folder_out:
                    target = target / data.draw(
                        st.sampled_from(["o.npz", "notes.txt", "program.snnc", "sub/o.npz"])
                    )
            elif how == "wrong-kind":
                if folder_out:
                    target.write_bytes(b"a file where a folder goes")
                else:
                    target.mkdir()
                    (target / "keep.txt").write_bytes(b"keep")
            elif how == "parent-file":
                target = root / "in.npy" / "x"
            else:
                target = root / (
                    "o" * data.draw(st.integers(236, 300)) + (".npz" if not folder_out else "")
                )
            before = _tree(root)
            # What snnc may replace: its own unedited files of a previous output, and a file
            # output itself; everything else (inputs, the user's files) must be left as it was.
            replaceable = set()
            if how in ("previous", "edited"):
                replaceable = {f"out/{k}" for k in _tree(root / "prev")} - {
                    k
                    for k in before
                    if k.startswith("out/") and before[k] != _tree(root / "prev").get(k[4:])
                }
            argv = {
                "compile": ["compile", str(root / "m.snnc"), "--target", "tiny", "-o", str(target)],
                "run": [
                    "run",
                    str(root / "build"),
                    "--input",
                    str(root / "in.npy"),
                    "-o",
                    str(target),
                ],
                "export": ["export", str(root / "m.snnc"), "-o", str(target)],
                "import": ["import", str(root / "x.nir"), "-o", str(target)],
                "hil": [
                    "hil",
                    str(root / "build"),
                    "--input",
                    str(root / "in.npy"),
                    "--target",
                    "cpu",
                    "--report",
                    str(target),
                    "--record",
                    str(root / "rec.npz"),
                ],
                "report": ["report", str(root / "build"), "-o", str(target)],
            }[verb]
            must_refuse = how in ("input", "symlink", "dotdot", "holds-input") or (
                how == "hardlink" and target.exists()
            )
            code, _ = _cli(argv, outcomes, f"{verb}/{how}: ")
            after = _tree(root)
            if must_refuse:
                assert code != 0, f"{verb}/{how}: an output that is an input was accepted"
            if code == 0 and not folder_out:
                replaceable.add(
                    str(Path(os.path.relpath(os.path.realpath(target), os.path.realpath(root))))
                )
            lost = [k for k, v in before.items() if k not in replaceable and after.get(k) != v]
            assert not lost, f"{verb}/{how}: files changed or lost: {lost}"
            leftovers = [k for k in after if ".tmp-" in k or ".old-" in k or ".stage-" in k]
            assert not leftovers, leftovers
            if code != 0:
                assert not (root / "rec.npz").exists(), "a failed hil left its record"

        check()


# ----------------------------------------------------------------------------- lava-signals


def lava_signal_example(k: int) -> dict:
    """Example k of `lava-signals`: its draws (seeded by k), and what happened. `problems` are
    the failures (a short run that ended before its signal is not one; `finished_first` says
    so)."""
    from tests.robust.hostile import SIGNAL_STEPS, _lava_hil, _lava_run, _signal_case, run_case

    rng = random.Random(f"lava-signals {k}")
    verb = rng.choice(["run", "run", "hil"])
    sig = rng.choice([signal.SIGINT, signal.SIGTERM])
    group = rng.random() < 0.5
    # A fifth in the first 0.3 s after snnc's code started (imports, parser); three fifths in
    # the 2 s after Lava's workers exist (the rest of its start-up, held, and the samples of a
    # run that lasts longer: SIGNAL_STEPS); a fifth over a short run (200 steps, about 1-2.5 s
    # after the workers) and its end, where the run may finish first.
    draw = rng.random()
    if draw < 0.2:
        after, send_from, steps = rng.uniform(0, 0.3), "start", SIGNAL_STEPS
    elif draw < 0.8:
        after, send_from, steps = rng.uniform(0, 2.0), "workers", SIGNAL_STEPS
    else:
        after, send_from, steps = rng.uniform(0.5, 3.0), "workers", 200
    with tempfile.TemporaryDirectory(prefix="snnc-fuzz-") as d:
        root = Path(d)
        case = _signal_case(
            root, _lava_run if verb == "run" else _lava_hil, sig, after, group, send_from, steps
        )
        result = run_case(case, root)
    # Only the short run may finish before its signal; the long one must still be going.
    problems = [p for p in result.problems if not (p.startswith("ended") and steps < SIGNAL_STEPS)]
    name = "sigint" if sig == signal.SIGINT else "sigterm"
    return {
        "k": k, "verb": verb, "signal": name, "group": group, "from": send_from,
        "after": round(after, 3), "steps": steps, "code": result.code,
        "finished_first": any(p.startswith("ended") for p in result.problems),
        "problems": problems, "stderr": result.stderr[-2000:] if problems else "",
    }


def lava_signal_outcome(example: dict) -> str:
    """The outcome counted for an example (`make fuzz`'s table)."""
    group = " group" if example["group"] else ""
    end = "finished first" if example["finished_first"] else f"exit {example['code']}"
    return f"{example['verb']} {example['signal']}{group}: {end}"


@fuzzer("lava-signals", examples=1000, small=0)
def fuzz_lava_signals(n: int, outcomes: Counter) -> None:
    """A fresh `snnc` process per example (a signal needs one); each takes 2-5 s. Seeded
    random.Random draws, not hypothesis: a failure here depends on timing, and hypothesis would
    call one it cannot replay "flaky" instead of showing it. (`tests.fuzz.lava_signals_log`
    runs the same examples, logging each and going on after a failure.)"""
    for k in range(n):
        example = lava_signal_example(k)
        assert not example["problems"], example
        outcomes[lava_signal_outcome(example)] += 1
