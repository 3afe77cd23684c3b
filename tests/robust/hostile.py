"""Scripted hostile cases (issue 23): hostile files, user data, signals during Lava, memory.

Every case builds its files with a small seeded generator in a fresh folder, names the exact
`snnc` command, and runs it in a fresh process the way a user does:

    python -m tests.robust.hostile [--only SUBSTRING ...] [--list]

prints one row per case: exit status, what stderr ended with, peak memory (the child's
`ru_maxrss`, from `os.wait4`) and every problem found. A problem is any of: an exit status
other than the expected one (1 for bad input, 2 for usage errors, 130/143 for SIGINT/SIGTERM),
a traceback, more than one line on stderr (warnings aside), an output left by a failed command,
a temporary left in the folder or in TMPDIR (`.*.tmp-*`, `pymp-*`, `snnc-lava-*`), a user's
file changed or gone, a process of the command still alive after it exited (found by a token
in the environment every descendant inherits), raw terminal escapes on stdout or stderr, peak
memory over the documented budget, and a secret file (outside the input) read or its bytes in
an output.

`tests/robust/test_hostile.py` runs these cases as regression tests; the fuzz families in
`tests/fuzz/hostile_families.py` draw many variants of the same kinds of files.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# The snnc under test (default: this tree); SNNC_HOSTILE_ROOT runs the cases against another
# checkout, e.g. the code before a fix, to measure what changed.
SNNC_ROOT = Path(os.environ.get("SNNC_HOSTILE_ROOT", ROOT))
# Hard cap on the address space of a case, so that a case that would allocate tens of GB fails
# with MemoryError instead of taking the shared machine down.
ADDRESS_SPACE_CAP = 6 << 30
# Peak memory a case may reach: the documented budget of what snnc allocates for what it reads
# or plans (ir.budget.DEFAULT_MAX_LOAD_BYTES), the interpreter and libraries included (a
# refused file never comes near it: 40-200 MB measured).
BUDGET_BYTES = 1 << 30
TOKEN_VAR = "SNNC_HOSTILE_CASE"


@dataclass
class Case:
    """One scripted case. `argv` is the snnc command (without `snnc`)."""

    argv: list[str]
    expect: tuple[int, ...] = (1,)
    env: dict[str, str] = field(default_factory=dict)
    absent: list[Path] = field(default_factory=list)  # outputs a failed command must not leave
    keep: list[Path] = field(default_factory=list)  # user files that must survive, byte for byte
    secret: bytes | None = None  # bytes of a file outside the input that must not reach an output
    send: tuple[int, float, bool] | None = None  # (signal, seconds after `send_from`, to the group)
    # "start": snnc's code started (`handles_sigterm`); "workers": Lava's workers exist
    send_from: str = "start"
    kill_worker_after: float | None = None  # SIGKILL a Lava worker, seconds after the workers exist
    prefix: list[str] = field(default_factory=list)  # e.g. an unshare/mount wrapper
    timeout: float = 120.0
    check: Callable[[Result], list[str]] | None = None  # extra checks


@dataclass
class Result:
    code: int | None
    stdout: str
    stderr: str
    peak_bytes: int
    seconds: float
    problems: list[str]
    # seconds from the worker's SIGKILL (kill_worker_after) to the end
    after_kill: float | None = None

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


CASES: dict[str, Callable[[Path], Case]] = {}


def case(name: str):
    def deco(fn: Callable[[Path], Case]) -> Callable[[Path], Case]:
        CASES[name] = fn
        return fn
    return deco


# ----------------------------------------------------------------------------- building blocks


def float_model(seed: int = 0, n_in: int = 5, n_hidden: int = 8, n_out: int = 3, metadata=None):
    from ir import LIF, Dense, Graph, Input

    rng = np.random.default_rng(seed)
    return Graph(
        populations={
            "in": Input((n_in,)),
            "h": LIF((n_hidden,), tau_mem=1e-2),
            "out": LIF((n_out,), tau_mem=1e-2),
        },
        projections={
            "a": Dense("in", "h", weight=rng.normal(0.3, 0.5, (n_hidden, n_in))),
            "b": Dense("h", "out", weight=rng.normal(0.2, 0.5, (n_out, n_hidden))),
        },
        metadata=metadata or {},
    )


def small_program(n_out: int = 2, weight=None):
    from ir import QLIF, Graph, Input, QDense

    w = [[40, 4, -8], [8, 80, 8]] if weight is None else weight
    return Graph(populations={"in": Input((3,)), "o": QLIF((n_out,), du=100, dv=100, vth=10)},
                 projections={"w": QDense("in", "o", weight=w)})


def write_small_build(root: Path, name: str = "build", *, hw: str = "loihi2", program=None) -> Path:
    """A compiled BUILD of `small_program` and an input `in.npy` (2 samples x 5 steps)."""
    from compiler.build import write_build
    from compiler.compile import compile_model
    from ir import load_hw

    spec = load_hw(hw)
    prog, report = compile_model(program if program is not None else small_program(), spec)
    write_build(root / name, prog, spec, report)
    np.save(root / "in.npy", (np.arange(30).reshape(2, 5, 3) % 2).astype(np.uint8))
    return root / name


def lava_build(root: Path, samples: int = 4, steps: int = 200) -> Path:
    """A BUILD whose Lava run takes a few seconds (so signals land at every phase of it)."""
    from compiler.build import write_build
    from compiler.compile import compile_model
    from ir import LIF, Dense, Graph, Input, load_hw

    rng = np.random.default_rng(7)
    model = Graph(
        populations={
            "in": Input((6,)),
            "h": LIF((12,), tau_mem=1e-2),
            "out": LIF((4,), tau_mem=1e-2),
        },
        projections={
            "a": Dense("in", "h", weight=rng.normal(0.4, 0.5, (12, 6))),
            "b": Dense("h", "out", weight=rng.normal(0.3, 0.5, (4, 12))),
        },
    )
    spec = load_hw("tiny")
    program, report = compile_model(model, spec)
    write_build(root / "build", program, spec, report)
    x = (rng.random((samples, steps, 6)) < 0.3).astype(np.uint8)
    np.save(root / "in.npy", x)
    return root / "build"


def zip_entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def zip_bytes(entries: dict[str, bytes], big: dict[str, tuple[bytes, int]] | None = None,
              forged: dict[str, int] | None = None) -> bytes:
    """A zip of `entries`. `big`: entries given as (header, n zero bytes), streamed through
    deflate, so that 2^30 zero bytes cost no memory to write; `forged`: entries whose declared
    uncompressed size is rewritten afterwards (local and central headers), a lie a zip reader
    sees before it inflates anything."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, (head, zeros) in (big or {}).items():
            with zf.open(zipfile.ZipInfo(name), "w", force_zip64=True) as fh:
                fh.write(head)
                chunk = bytes(1 << 20)
                while zeros:
                    k = min(zeros, len(chunk))
                    fh.write(chunk[:k])
                    zeros -= k
    blob = bytearray(buf.getvalue())
    for name, size in (forged or {}).items():
        for sig, size_at, name_len_at, name_at in (
            (b"PK\x03\x04", 22, 26, 30),
            (b"PK\x01\x02", 24, 28, 46),
        ):
            at = 0
            while (at := blob.find(sig, at)) >= 0:
                n_len = struct.unpack_from("<H", blob, at + name_len_at)[0]
                if (
                    bytes(blob[at + name_at : at + name_at + n_len]) == name.encode()
                    and size < 2**32 - 1
                ):
                    struct.pack_into("<I", blob, at + size_at, size)
                at += 4
    return bytes(blob)


def write_zip(
    path: Path, entries: dict[str, bytes], *, big: dict[str, tuple[bytes, int]] | None = None
) -> None:
    path.write_bytes(zip_bytes(entries, big))


def npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def edit_header(path: Path, edit: Callable[[dict], object]) -> None:
    """Rewrite a graph file's snnc.json with `edit(head)` (in place; its arrays unchanged)."""
    entries = zip_entries(path)
    head = json.loads(entries["snnc.json"])
    new = edit(head)
    text = new if isinstance(new, (str, bytes)) else json.dumps(head)
    entries["snnc.json"] = text.encode() if isinstance(text, str) else text
    write_zip(path, entries)


def deep_json(depth: int, leaf: str = "0") -> str:
    return "[" * depth + leaf + "]" * depth


def export_nir_model(path: Path, graph=None) -> Path:
    from compiler.nir.exporter import export_nir
    from ir import LIF, Dense, Graph, Input

    if graph is None:
        graph = Graph(
            populations={"in": Input((4,)), "a": LIF((3,), tau_mem=1e-2)},
            projections={"p": Dense("in", "a", weight=np.linspace(-1, 1, 12).reshape(3, 4))},
            dt=1e-3,
        )
    export_nir(graph, path, warn=lambda m: None)
    return path


def replace_dataset(path: Path, name: str, make: Callable) -> None:
    """Replace the HDF5 dataset `name` of a file by what `make(h5file, name)` creates."""
    import h5py

    with h5py.File(path, "a") as f:
        del f[name]
        make(f, name)


def trace_file(root: Path, build: Path) -> Path:
    """A trace of the small build's program recorded by `snnc hil --record`."""
    from backends.cpu.simulator import run as cpu_run
    from backends.hil.harness import all_probes
    from backends.hil.trace_io import write_trace
    from compiler.build import read_build

    program = read_build(build).program
    x = np.load(root / "in.npy")
    write_trace(root / "t.npz", cpu_run(program, x, probes=all_probes(program)), x, program)
    return root / "t.npz"


def hw_text(**edits) -> str:
    """loihi2's YAML with `section.key=value` edits (value of the number)."""
    import yaml

    from ir import load_hw

    spec = load_hw("loihi2").to_dict()
    for dotted, value in edits.items():
        sec, key = dotted.split("__")
        spec[sec][key]["value"] = value
    return yaml.safe_dump(spec, sort_keys=False)


def unshare_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def mount_prefix(folder: Path, options: str) -> list[str]:
    """Run the command in a private mount namespace where `folder` is a small tmpfs."""
    script = f'mount -t tmpfs -o {options} tmpfs "{folder}" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, "sh"]


# ----------------------------------------------------------------------------- 1. HDF5 storage


@case("nir-external-raw-storage")
def _nir_external(root: Path) -> Case:
    secret = np.arange(12, dtype="<f8") * 1000.0 + 0.123
    (root / "secret.bin").write_bytes(secret.tobytes())
    path = export_nir_model(root / "x.nir")
    replace_dataset(path, "node/nodes/p/weight", lambda f, n: f.create_dataset(
        n, shape=(3, 4), dtype="<f8", external=[(str(root / "secret.bin"), 0, secret.nbytes)]))
    return Case(["import", str(path), "-o", str(root / "m.snnc")], absent=[root / "m.snnc"],
                secret=secret.tobytes())


@case("nir-virtual-dataset")
def _nir_virtual(root: Path) -> Case:
    import h5py

    secret = np.arange(12, dtype="<f8") * 1000.0 + 0.321
    with h5py.File(root / "secret.h5", "w") as f:
        f.create_dataset("data", data=secret.reshape(3, 4))
    path = export_nir_model(root / "x.nir")

    def make(f, n):
        layout = h5py.VirtualLayout(shape=(3, 4), dtype="<f8")
        layout[:] = h5py.VirtualSource(str(root / "secret.h5"), "data", shape=(3, 4))
        f.create_virtual_dataset(n, layout)

    replace_dataset(path, "node/nodes/p/weight", make)
    return Case(["import", str(path), "-o", str(root / "m.snnc")], absent=[root / "m.snnc"],
                secret=secret.tobytes())


@case("nir-unwritten-1gib-chunked")
def _nir_unwritten(root: Path) -> Case:
    path = export_nir_model(root / "x.nir")
    replace_dataset(path, "node/nodes/p/weight", lambda f, n: f.create_dataset(
        n, shape=(1 << 15, 1 << 12), dtype="<f8", chunks=(1024, 64)))
    return Case(["import", str(path), "-o", str(root / "m.snnc")], absent=[root / "m.snnc"])


@case("nir-gzip-bomb")
def _nir_gzip(root: Path) -> Case:
    path = export_nir_model(root / "x.nir")

    def make(f, n):
        d = f.create_dataset(n, shape=(1 << 14, 1 << 13), dtype="<f8", chunks=(1024, 1024),
                             compression="gzip", compression_opts=9, fillvalue=0.0)
        d[:1024, :1024] = 0.0  # one chunk written explicitly: the rest is the fill value

    replace_dataset(path, "node/nodes/p/weight", make)
    return Case(["import", str(path), "-o", str(root / "m.snnc")], absent=[root / "m.snnc"])


@case("nir-linear-4x8-into-3-lif")
def _nir_linear(root: Path) -> Case:
    import nir

    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([8])),
            "lin": nir.Linear(weight=np.ones((4, 8))),
            "lif": nir.LIF(
                tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)
            ),
            "output": nir.Output(output_type=np.array([3])),
        },
        edges=[("input", "lin"), ("lin", "lif"), ("lif", "output")],
        metadata={},
        type_check=False,
    )
    nir.write(root / "x.nir", graph)
    return Case(
        ["import", str(root / "x.nir"), "--dt", "1e-3", "-o", str(root / "m.snnc")],
        absent=[root / "m.snnc"],
    )


# ----------------------------------------------------------------------------- 2. user files


@case("compile-into-build-with-notes")
def _compile_notes(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    build = write_small_build(root)
    (build / "notes.txt").write_text("my notes\n")
    (build / "vib.decoder.npz").write_bytes(b"PK decoder docs/trainers.md puts beside the program")
    return Case(
        ["compile", str(root / "m.snnc"), "--target", "loihi2", "-o", str(build)],
        expect=(0,),
        keep=[build / "notes.txt", build / "vib.decoder.npz"],
    )


@case("compile-into-its-own-input-folder")
def _compile_proj(root: Path) -> Case:
    from ir import save_graph

    proj = root / "proj"
    proj.mkdir()
    save_graph(float_model(), proj / "program.snnc")
    (proj / "data.csv").write_text("1,2,3\n")
    return Case(
        ["compile", str(proj / "program.snnc"), "--target", "loihi2", "-o", str(proj)],
        keep=[proj / "program.snnc", proj / "data.csv"],
        absent=[proj / "hw.yaml", proj / "report.json"],
    )


@case("report-into-site-with-paper")
def _report_paper(root: Path) -> Case:
    build = write_small_build(root)
    site = root / "site"
    site.mkdir()
    (site / "index.html").write_text("<html>mine</html>")
    (site / "summary.json").write_text("{}")
    (site / "paper.pdf").write_bytes(b"%PDF-1.4 my paper")
    return Case(
        ["report", str(build), "-o", str(site)],
        keep=[site / "paper.pdf", site / "index.html", site / "summary.json"],
    )


@case("report-over-its-own-report-keeps-paper")
def _report_again(root: Path) -> Case:
    from compiler.cli import main as snnc_main

    build = write_small_build(root)
    site = root / "site"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert snnc_main(["report", str(build), "-o", str(site)]) == 0
    (site / "paper.pdf").write_bytes(b"%PDF-1.4 my paper")
    return Case(["report", str(build), "-o", str(site)], expect=(0,), keep=[site / "paper.pdf"])


def _fake_previous_demo(folder: Path) -> None:
    """A folder as `snnc demo` leaves it (written through ir.atomic, so with its manifest)."""
    from ir import save_graph
    from ir.atomic import atomic_output_dir

    with atomic_output_dir(folder) as tmp:
        save_graph(float_model(), tmp / "model.snnc")
        (tmp / "demo.json").write_text("{}\n")


@case("demo-into-a-users-folder")
def _demo_user(root: Path) -> Case:
    w = root / "w"
    w.mkdir()
    (w / "demo.json").write_text('{"mine": true}')
    (w / "thesis.txt").write_text("chapter 1\n")
    return Case(["demo", "-o", str(w), "--samples", "20", "--hil-samples", "1"],
                keep=[w / "demo.json", w / "thesis.txt"])


@case("demo-again-keeps-thesis")
def _demo_again(root: Path) -> Case:
    w = root / "w"
    _fake_previous_demo(w)
    (w / "thesis.txt").write_text("chapter 1\n")
    return Case(
        ["demo", "-o", str(w), "--samples", "20", "--hil-samples", "1"],
        expect=(0,),
        keep=[w / "thesis.txt"],
        timeout=600,
    )


@case("export-onto-its-input")
def _export_same(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    return Case(
        ["export", str(root / "m.snnc"), "-o", str(root / "m.snnc")], keep=[root / "m.snnc"]
    )


@case("import-onto-its-input")
def _import_same(root: Path) -> Case:
    path = export_nir_model(root / "x.nir")
    return Case(["import", str(path), "-o", str(path)], keep=[path])


@case("run-output-is-the-input")
def _run_same(root: Path) -> Case:
    build = write_small_build(root)
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "in.npy")],
        keep=[root / "in.npy"],
    )


@case("run-output-is-a-symlink-to-the-input")
def _run_symlink(root: Path) -> Case:
    build = write_small_build(root)
    (root / "link.npz").symlink_to(root / "in.npy")
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "link.npz")],
        keep=[root / "in.npy"],
    )


@case("run-output-is-a-hard-link-to-the-input")
def _run_hardlink(root: Path) -> Case:
    build = write_small_build(root)
    os.link(root / "in.npy", root / "same.npz")
    return Case(["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "same.npz")],
                keep=[root / "in.npy", root / "same.npz"])


@case("run-output-is-the-program-in-the-build")
def _run_into_build(root: Path) -> Case:
    build = write_small_build(root)
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(build / "program.snnc")],
        keep=[build / "program.snnc"],
    )


@case("hil-record-left-when-report-fails")
def _hil_record(root: Path) -> Case:
    build = write_small_build(root)
    return Case(
        [
            "hil",
            str(build),
            "--input",
            str(root / "in.npy"),
            "--target",
            "cpu",
            "--record",
            str(root / "t.npz"),
            "--report",
            str(root / "in.npy" / "r.json"),
        ],
        absent=[root / "t.npz"],
        keep=[root / "in.npy"],
    )


# ----------------------------------------------------------------------- 4. memory from small files


@case("snnc-weight-inflates-to-2^27-bytes")
def _snnc_inflate(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    entries = zip_entries(root / "m.snnc")
    head = json.loads(entries["snnc.json"])
    ref = head["projections"][0]["fields"]["weight"]["array"]
    del entries[ref]
    write_zip(root / "m.snnc", entries, big={ref: (npy_header((1 << 14, 1 << 13), "|i1"), 1 << 27)})
    return Case(
        ["compile", str(root / "m.snnc"), "--target", "loihi2", "-o", str(root / "b")],
        absent=[root / "b"],
    )


@case("snnc-placement-range-2^31")
def _snnc_range(root: Path) -> Case:
    build = write_small_build(root)

    def edit(head):
        head["placement"]["blocks"][0]["neurons"] = {"range": [0, 1 << 31]}

    edit_header(build / "program.snnc", edit)
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "o.npz")],
        absent=[root / "o.npz"],
    )


@case("trace-npz-inflates-to-1gib")
def _trace_bomb(root: Path) -> Case:
    build = write_small_build(root)
    t = trace_file(root, build)
    entries = zip_entries(t)
    write_zip(t, {k: v for k, v in entries.items() if k != "o.npy"},
              big={"o.npy": (npy_header((1, 1 << 30, 1), "|u1"), 1 << 30)})
    return Case(
        ["hil", str(build), "--replay", str(t), "--report", str(root / "r.json")],
        absent=[root / "r.json"],
    )


@case("run-2^20-steps-with-all-probes")
def _run_steps(root: Path) -> Case:
    from compiler.build import write_build
    from ir import QLIF, Graph, Input, QDense, load_hw

    program = Graph(populations={"in": Input((3,)), "o": QLIF((256,), du=100, dv=100, vth=10)},
                    projections={"w": QDense("in", "o", weight=np.full((256, 3), 40))})
    from compiler.compile import compile_model

    spec = load_hw("loihi2")
    prog, report = compile_model(program, spec)
    write_build(root / "build", prog, spec, report)
    np.save(root / "in.npy", np.ones((1, 5, 3), dtype=np.uint8))
    return Case(
        [
            "run",
            str(root / "build"),
            "--input",
            str(root / "in.npy"),
            "--steps",
            str(1 << 20),
            "--probe",
            "all",
            "-o",
            str(root / "o.npz"),
        ],
        absent=[root / "o.npz"],
    )


@case("eval-2^20-steps")
def _eval_steps(root: Path) -> Case:
    from ir import LIF, Dense, Graph, Input, save_graph

    rng = np.random.default_rng(3)
    meta = {"task": {"kind": "classification", "dataset": "digits", "n_classes": 10},
            "encoding": {"kind": "rate", "max_rate": 0.5, "steps": 8, "seed": 0},
            "readout": {"kind": "spike_count", "population": "out"}}
    model = Graph(
        populations={
            "in": Input((64,)),
            "h": LIF((256,), tau_mem=1e-2),
            "out": LIF((10,), tau_mem=1e-2),
        },
        projections={
            "a": Dense("in", "h", weight=rng.normal(0, 0.3, (256, 64))),
            "b": Dense("h", "out", weight=rng.normal(0, 0.3, (10, 256))),
        },
        metadata=meta,
    )
    save_graph(model, root / "m.snnc")
    return Case(["eval", str(root / "m.snnc"), "--dataset", "digits", "--steps", str(1 << 20)])


# ----------------------------------------------------------------------------- OS errors on outputs


@case("os-output-is-an-existing-folder")
def _os_dir(root: Path) -> Case:
    build = write_small_build(root)
    (root / "out.npz").mkdir()
    (root / "out.npz" / "keep.txt").write_text("x")
    return Case(["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "out.npz")],
                keep=[root / "out.npz" / "keep.txt"])


@case("os-output-parent-is-a-file")
def _os_parent_file(root: Path) -> Case:
    build = write_small_build(root)
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "in.npy" / "x")],
        keep=[root / "in.npy"],
    )


@case("os-output-name-254-characters")
def _os_long(root: Path) -> Case:
    build = write_small_build(root)
    name = "o" * 250 + ".npz"
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / name)],
        expect=(0,),
        check=lambda r: (
            [] if (root / name).is_file() else ["the 254-character output was not written"]
        ),
    )


@case("os-output-in-a-read-only-folder")
def _os_readonly(root: Path) -> Case:
    build = write_small_build(root)
    ro = root / "ro"
    ro.mkdir()
    return Case(["run", str(build), "--input", str(root / "in.npy"), "-o", str(ro / "o.npz")],
                prefix=mount_prefix(ro, "ro,size=64k"))


@case("os-output-disk-full")
def _os_full(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(n_hidden=64), root / "m.snnc")
    full = root / "full"
    full.mkdir()
    return Case(["compile", str(root / "m.snnc"), "--target", "loihi2", "-o", str(full / "b")],
                prefix=mount_prefix(full, "size=16k"))


# ----------------------------------------------------------------------------- parsers


@case("snnc-json-100000-deep")
def _deep_snnc(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    edit_header(
        root / "m.snnc",
        lambda head: json.dumps(head)[:-1] + ', "deep": ' + deep_json(100_000) + "}",
    )
    return Case(["inspect", str(root / "m.snnc")])


@case("snnc-json-5000-digit-integer")
def _bigint_snnc(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    edit_header(
        root / "m.snnc", lambda head: json.dumps(head).replace('"dt": 0.001', '"dt": ' + "7" * 5000)
    )
    return Case(["inspect", str(root / "m.snnc")])


@case("report-json-100000-deep")
def _deep_report(root: Path) -> Case:
    build = write_small_build(root)
    (build / "report.json").write_text('{"x": ' + deep_json(100_000) + "}")
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "o.npz")],
        absent=[root / "o.npz"],
    )


@case("report-json-5000-digit-integer")
def _bigint_report(root: Path) -> Case:
    build = write_small_build(root)
    (build / "report.json").write_text('{"cores_used": ' + "9" * 5000 + "}")
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "o.npz")],
        absent=[root / "o.npz"],
    )


def _trace_meta(root: Path, text: str) -> Case:
    build = write_small_build(root)
    t = trace_file(root, build)
    entries = zip_entries(t)
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(text.encode(), dtype=np.uint8))
    entries["__meta__.npy"] = buf.getvalue()
    write_zip(t, entries)
    return Case(
        ["hil", str(build), "--replay", str(t), "--report", str(root / "r.json")],
        absent=[root / "r.json"],
    )


@case("trace-meta-100000-deep")
def _deep_trace(root: Path) -> Case:
    return _trace_meta(root, '{"format": "snnc-trace", "x": ' + deep_json(100_000) + "}")


@case("trace-meta-5000-digit-integer")
def _bigint_trace(root: Path) -> Case:
    return _trace_meta(
        root, '{"format": "snnc-trace", "format_version": 1, "steps": ' + "9" * 5000 + "}"
    )


def _nir_meta(root: Path, text: str) -> Case:
    import h5py

    path = export_nir_model(root / "x.nir")
    replace_dataset(
        path,
        "node/metadata/snnc",
        lambda f, n: f.create_dataset(n, data=text, dtype=h5py.string_dtype()),
    )
    return Case(["import", str(path), "-o", str(root / "m.snnc")], expect=(0, 1))


@case("nir-metadata-100000-deep")
def _deep_nir(root: Path) -> Case:
    return _nir_meta(root, '{"format": "snnc-nir", "metadata": ' + deep_json(100_000) + "}")


@case("nir-metadata-5000-digit-integer")
def _bigint_nir(root: Path) -> Case:
    return _nir_meta(root, '{"format": "snnc-nir", "version": ' + "9" * 5000 + "}")


@case("hw-yaml-5000-deep")
def _deep_yaml(root: Path) -> Case:
    (root / "deep.yaml").write_text("[" * 5000 + "]" * 5000 + "\n")
    return Case(["hw", "show", str(root / "deep.yaml")])


def alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["xxxxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxxxxxxxx"]']
    for i in range(1, levels):
        lines.append(
            f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
            f"*a{i - 1}]"
        )
    lines.append(f"format_version: *a{levels - 1}")
    return "\n".join(lines) + "\n"


@case("hw-yaml-alias-bomb")
def _yaml_bomb(root: Path) -> Case:
    (root / "bomb.yaml").write_text(alias_bomb(7))
    return Case(
        ["hw", "show", str(root / "bomb.yaml")],
        check=lambda r: [f"stderr is {len(r.stderr)} characters"] if len(r.stderr) > 4000 else [],
    )


@case("hw-yaml-alias-bomb-deeper")
def _yaml_bomb2(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    (root / "bomb.yaml").write_text(alias_bomb(9))
    return Case(
        ["compile", str(root / "m.snnc"), "--hw", str(root / "bomb.yaml"), "-o", str(root / "b")],
        check=lambda r: [f"stderr is {len(r.stderr)} characters"] if len(r.stderr) > 4000 else [],
    )


# ----------------------------------------------------------------------------- other inputs


@case("report-json-wrong-types")
def _report_types(root: Path) -> Case:
    build = write_small_build(root)
    report = json.loads((build / "report.json").read_text())
    report["per_core"] = [{"core": "zero", "usage": "lots"}]
    report["cores_used"] = "many"
    report["quantization"] = ["not", "an", "object"]
    (build / "report.json").write_text(json.dumps(report))
    return Case(["report", str(build), "-o", str(root / "site")], absent=[root / "site"])


@case("fifo-as-model")
def _fifo(root: Path) -> Case:
    os.mkfifo(root / "m.snnc")
    return Case(["inspect", str(root / "m.snnc")], timeout=30)


@case("fifo-as-nir-model")
def _fifo_nir(root: Path) -> Case:
    os.mkfifo(root / "m.nir")
    return Case(
        ["compile", str(root / "m.nir"), "--target", "loihi2", "-o", str(root / "b")],
        timeout=30,
        absent=[root / "b"],
    )


@case("fifo-as-input-array")
def _fifo_npy(root: Path) -> Case:
    build = write_small_build(root)
    (root / "in.npy").unlink()
    os.mkfifo(root / "in.npy")
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "o.npz")], timeout=30
    )


@case("escape-codes-in-node-names")
def _escape_nodes(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    edit_header(
        root / "m.snnc",
        lambda head: (
            json.dumps(head)
            .replace('"name": "h"', '"name": "h\\u001b]0;owned\\u0007\\u001b[2J"')
            .replace('"src": "h"', '"src": "h\\u001b]0;owned\\u0007\\u001b[2J"')
            .replace('"dst": "h"', '"dst": "h\\u001b]0;owned\\u0007\\u001b[2J"')
        ),
    )
    return Case(["inspect", str(root / "m.snnc")], expect=(0, 1))


@case("escape-codes-in-hw-name")
def _escape_hw(root: Path) -> Case:
    (root / "x.yaml").write_text(
        hw_text().replace("name: loihi2", 'name: "loihi2\\e[2J\\e]0;owned\\a"')
    )
    return Case(["hw", "show", str(root / "x.yaml")], expect=(0, 1))


@case("escape-codes-in-an-error")
def _escape_error(root: Path) -> Case:
    (root / "x.yaml").write_text(
        hw_text().replace("semantics: lava_fixed_pt", 'semantics: "x\\e[2J\\e]0;owned\\a"')
    )
    return Case(["hw", "show", str(root / "x.yaml")])


@case("escape-codes-in-metadata")
def _escape_meta(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(metadata={"note": "\x1b]0;owned\x07\x1b[2J\x9b31m\r"}), root / "m.snnc")
    return Case(
        ["inspect", str(root / "m.snnc")],
        expect=(0,),
        check=lambda r: (
            [] if "\\x1b" in r.stdout or "\\u001b" in r.stdout else ["the escape is not shown"]
        ),
    )


@case("escape-codes-in-hw-description")
def _escape_hw_description(root: Path) -> Case:
    import yaml

    spec = yaml.safe_load(hw_text())
    spec["description"] = "Loihi\x1b]0;owned\x07\x1b[2J"
    spec["core"]["max_neurons"]["source"] = "\x1b[31mred\x9b0m"
    (root / "x.yaml").write_text(yaml.safe_dump(spec))
    return Case(["hw", "show", str(root / "x.yaml")], expect=(0,))


@case("hw-bias-exp-max-64")
def _bias_exp(root: Path) -> Case:
    (root / "x.yaml").write_text(hw_text(neuron__bias_exp_max=64))
    return Case(["hw", "show", str(root / "x.yaml")])


@case("loihi1-placement-with-loihi2-hw")
def _placement_target(root: Path) -> Case:
    import yaml

    from ir import load_hw

    build = write_small_build(root, hw="loihi1")
    (build / "hw.yaml").write_text(yaml.safe_dump(load_hw("loihi2").to_dict(), sort_keys=False))
    return Case(
        ["run", str(build), "--input", str(root / "in.npy"), "-o", str(root / "o.npz")],
        absent=[root / "o.npz"],
    )


@case("8-bit-program-with-weight-1000")
def _weight_1000(root: Path) -> Case:
    from compiler.build import write_build
    from compiler.compile import compile_model
    from ir import load_hw

    spec = load_hw("loihi2")
    prog, report = compile_model(small_program(), spec)
    proj = prog.projections["w"]
    weight = np.array(proj.weight)
    weight[0, 0] = 1000
    write_build(
        root / "build", prog.replace(projections={"w": proj.replace(weight=weight)}), spec, report
    )
    np.save(root / "in.npy", np.ones((1, 5, 3), dtype=np.uint8))
    return Case(
        ["run", str(root / "build"), "--input", str(root / "in.npy"), "-o", str(root / "o.npz")],
        absent=[root / "o.npz"],
    )


@case("env-max-load-bytes-8GB")
def _env(root: Path) -> Case:
    from ir import save_graph

    save_graph(float_model(), root / "m.snnc")
    return Case(["inspect", str(root / "m.snnc")], env={"SNNC_MAX_LOAD_BYTES": "8GB"})


@case("train-tem-max-iter-negative")
def _tem(root: Path) -> Case:
    return Case(
        ["train", "tem", "--dataset", "digits", "--max-iter", "-1", "-o", str(root / "m.snnc")],
        expect=(1, 2),
        absent=[root / "m.snnc"],
    )


def _vib(option: str, value: str) -> Callable[[Path], Case]:
    def build(root: Path) -> Case:
        return Case(
            [
                "train",
                "vib",
                "--task",
                "digits",
                option,
                value,
                "--epochs",
                "1",
                "--train-samples",
                "64",
                "-o",
                str(root / "v.snnc"),
            ],
            expect=(1, 2),
            absent=[root / "v.snnc"],
        )
    return build


for _opt, _val in (
    ("--beta", "inf"),
    ("--beta", "nan"),
    ("--lr-encoder", "nan"),
    ("--hidden", "100000000"),
):
    CASES[f"train-vib{_opt}-{_val}"] = _vib(_opt, _val)


# ----------------------------------------------------------------------------- 3. signals


# Steps per sample of the signal cases' BUILD: Lava's samples then last about 15 s after its
# workers exist on this loaded 2-core machine (measured; about 1 s per 200 steps on an idle
# one, so some 10 s), far past the latest signal counted from the workers
# (SIGNAL_FROM_WORKERS), so the signal always finds the run going; the
# run ends at the signal, so a longer run costs no time. A run that ends before the signal is a
# failure of the case ("ended before the signal was sent"); one that ignored the signal would
# end with exit 0 and fail it too.
SIGNAL_STEPS = 2000


def _signal_case(
    root: Path,
    argv_of: Callable[[Path], list[str]],
    sig: int,
    after: float,
    group: bool,
    send_from: str = "start",
    steps: int = SIGNAL_STEPS,
) -> Case:
    lava_build(root, steps=steps)
    argv = argv_of(root)
    return Case(argv, expect=(130,) if sig == signal.SIGINT else (143,), send=(sig, after, group),
                send_from=send_from, absent=[root / "o.npz", root / "r.json"], timeout=60)


def _lava_run(root: Path) -> list[str]:
    return [
        "run",
        str(root / "build"),
        "--backend",
        "lava",
        "--input",
        str(root / "in.npy"),
        "-o",
        str(root / "o.npz"),
    ]


def _lava_hil(root: Path) -> list[str]:
    return [
        "hil",
        str(root / "build"),
        "--input",
        str(root / "in.npy"),
        "--target",
        "lava",
        "--report",
        str(root / "r.json"),
    ]


# When the signal is sent: seconds after snnc's code started (`handles_sigterm`), over start-up
# (the parser, imports, the program's load, Lava's compile; its workers fork 1-3 s in), and
# seconds after Lava's workers exist (the first fork: the rest of the start-up, held, then the
# samples). Counting the run's moments from the workers makes them the same on an idle machine
# and a loaded one.
SIGNAL_FROM_START = (0.0, 0.02, 0.05, 0.15, 0.3, 0.6, 1.0)
SIGNAL_FROM_WORKERS = (0.0, 0.3, 1.0, 2.0)
for _sig, _sname in ((signal.SIGINT, "sigint"), (signal.SIGTERM, "sigterm")):
    for _group in (False, True):
        for _verb, _argv in (("run", _lava_run), ("hil", _lava_hil)):
            _name = f"lava-{_verb}-{_sname}{'-group' if _group else ''}"
            for _t in SIGNAL_FROM_START:
                if _verb == "hil" and _t < 0.3:  # the same start-up as run's
                    continue
                CASES[f"{_name}-at-{_t}s"] = lambda root, a=_argv, s=_sig, t=_t, g=_group: (
                    _signal_case(root, a, s, t, g)
                )
            for _t in SIGNAL_FROM_WORKERS:
                CASES[f"{_name}-at-workers+{_t}s"] = lambda root, a=_argv, s=_sig, t=_t, g=_group: (
                    _signal_case(root, a, s, t, g, "workers")
                )


WORKER_KILLED_END_S = 5.0  # how soon after a worker's SIGKILL the run must have ended


def _worker_killed_checks(r: Result) -> list[str]:
    problems = []
    if not re.fullmatch(
        r"snnc: error: Lava's worker process \d+ was killed by SIGKILL \(out of memory\?\); "
        r"the run cannot go on",
        r.last_line,
    ):
        problems.append(f"the line does not say a worker was killed: {r.last_line!r}")
    if r.after_kill is not None and r.after_kill > WORKER_KILLED_END_S:
        problems.append(
            f"ended {r.after_kill:.1f} s after the worker was killed (limit "
            f"{WORKER_KILLED_END_S:.0f} s)"
        )
    return problems


def _worker_killed(root: Path, after: float) -> Case:
    # A run that outlasts the kill on an idle machine too (8 samples of 200 steps took 2.2 s:
    # a kill 0.8 s after the first fork could find the run over).
    lava_build(root, samples=8, steps=SIGNAL_STEPS)
    return Case(_lava_run(root), kill_worker_after=after, absent=[root / "o.npz"], timeout=60,
                check=_worker_killed_checks)


for _t in (0.0, 0.3, 0.8):  # seconds after Lava's workers exist: start-up, then the samples
    CASES[f"lava-worker-killed-at-{_t}s"] = lambda root, t=_t: _worker_killed(root, t)


# ----------------------------------------------------------------------------- running


def handles_sigterm(pid: int) -> bool:
    """Whether process `pid` catches SIGTERM (the `SigCgt` mask of /proc/PID/status): snnc's
    `entry()` installs its handler first thing, so this says snnc's own code has started.
    Before that the interpreter is starting (site, .pth files: 50-90 ms measured here) and a
    signal has its default effect, which no Python code can change."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return False


PF_EXITING = 0x4  # linux/sched.h: set by do_exit() before the process's memory is torn down


def _ended(pid: int) -> bool:
    """Whether process `pid` has ended or is ending: a zombie its parent has not waited for yet,
    or a process inside the kernel's exit (PF_EXITING in /proc/PID/stat's flags field: exit_group
    has begun; tearing down a Lava run's address space takes milliseconds, and the kernel drops
    signals sent meanwhile). A signal sent to it now does nothing, and its status says nothing
    about how snnc handles one."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] in ("Z", "X") or bool(int(fields[6]) & PF_EXITING)
    except (OSError, IndexError, ValueError):
        return True


def _children(pid: int) -> list[int]:
    """Living children of `pid`, oldest first."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


def _shared_memory(pids: list[int]) -> set[str]:
    """The /dev/shm files processes `pids` map (Lava's channels: the manager's segments)."""
    found = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found |= {
            line.split(None, 5)[5].removesuffix(" (deleted)")
            for line in maps.splitlines()
            if len(line.split(None, 5)) == 6 and line.split(None, 5)[5].startswith("/dev/shm/")
        }
    return found


def _descendants_with_token(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"{TOKEN_VAR}={token}".encode() in env.split(b"\0"):
            found.append(int(entry.name))
    return found


_TEMPORARY_PATTERNS = (".*.tmp-*", ".*.old-*", ".*.new-*", "pymp-*", "snnc-lava-*", "*.part")


def _leftovers(folder: Path) -> list[str]:
    out = []
    for pattern in _TEMPORARY_PATTERNS:
        out += [str(p.relative_to(folder)) for p in folder.rglob(pattern)]
    return sorted(set(out))


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_case(c: Case, root: Path) -> Result:
    """Run one case's command in a fresh process in `root` (its private TMPDIR is root/tmp) and
    check everything (module docstring)."""
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    kept = {p: p.read_bytes() for p in c.keep if p.is_file()}
    _arm_secrets(root)
    token = uuid.uuid4().hex
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(SNNC_ROOT), env.get("PYTHONPATH", "")) if p
            ),
            "SNNC_PROGRESS": "0",
            "TMPDIR": str(tmp),
            TOKEN_VAR: token,
            "PYTHONFAULTHANDLER": "1",
        }
    )
    env.update(c.env)
    argv = [*c.prefix, sys.executable, "-m", "compiler.cli", *c.argv]
    out_path, err_path = root / ".stdout", root / ".stderr"
    start = time.monotonic()
    problems: list[str] = []
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=root,
            preexec_fn=_limits,
            start_new_session=True,
        )
        sent = False
        killed_at = forked = None
        status = rusage = None
        ready = None  # when snnc's own code started: its SIGTERM handler is installed
        mapped: set[str] = set()  # shared memory the run's processes mapped: none may be left
        looked = 0.0
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.monotonic() - start
            if elapsed - looked >= 0.1:
                mapped |= _shared_memory([proc.pid, *_children(proc.pid)])
                looked = elapsed
            watch = c.kill_worker_after is not None or (forked is None and c.send_from == "workers")
            workers = _children(proc.pid) if watch else []
            if forked is None and len(workers) >= 3:  # the resource tracker, the manager, a worker
                forked = time.monotonic()
            if c.send and ready is None and handles_sigterm(proc.pid):
                ready = time.monotonic()
            since = ready if c.send_from == "start" else forked
            if c.send and not sent and since is not None and time.monotonic() - since >= c.send[1]:
                if _ended(proc.pid):  # it ended between the look above and now
                    continue
                sig, _, group = c.send
                (os.killpg if group else os.kill)(proc.pid, sig)
                sent = True
            if c.kill_worker_after is not None and not sent:
                # (no child listed at this look: Lava is between forks; look again next tick)
                if (
                    forked is not None
                    and workers
                    and time.monotonic() - forked >= c.kill_worker_after
                ):
                    try:
                        os.kill(workers[-1], signal.SIGKILL)  # the newest: a worker
                    except ProcessLookupError:  # it ended since the look: look again
                        continue
                    sent = True
                    killed_at = time.monotonic()
            if elapsed > c.timeout:
                problems.append(f"hung: killed after {c.timeout:.0f} s")
                os.kill(proc.pid, signal.SIGABRT)  # faulthandler prints every thread's stack
                time.sleep(2)
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
    ended = time.monotonic()
    seconds = ended - start
    stdout = out_path.read_bytes().decode("utf-8", "replace")
    stderr = err_path.read_bytes().decode("utf-8", "replace")
    out_path.unlink()
    err_path.unlink()
    code = os.waitstatus_to_exitcode(status)
    if (c.send or c.kill_worker_after is not None) and not sent:
        problems.append(f"ended (exit {code}) before the signal was sent")
    alive = _descendants_with_token(token)
    if alive:
        problems.append(f"{len(alive)} processes left alive")
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    left = sorted(p for p in mapped if os.path.exists(p))
    if left:
        problems.append(f"shared memory left: {', '.join(left)}")
        for path in left:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return _checked(
        c,
        root,
        kept,
        Result(
            code,
            stdout,
            stderr,
            rusage.ru_maxrss * 1024,
            seconds,
            problems,
            None if killed_at is None else ended - killed_at,
        ),
    )


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def run_case_in_process(c: Case, root: Path) -> Result:
    """The same checks, with the command run by `compiler.cli.main` in this process (fast; for
    cases without a signal or a wrapper). Peak memory is this process's high-water mark over
    the command (reset through /proc/self/clear_refs), minus what it held before."""
    from compiler.cli import main

    assert c.send is None and not c.prefix, "needs a process of its own"
    (root / "tmp").mkdir(exist_ok=True)
    kept = {p: p.read_bytes() for p in c.keep if p.is_file()}
    _arm_secrets(root)
    saved = {k: os.environ.get(k) for k in (*c.env, "SNNC_PROGRESS")}
    os.environ.update({"SNNC_PROGRESS": "0", **c.env})
    old_tempdir, tempfile.tempdir = tempfile.tempdir, str(root / "tmp")
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    before = _vm("VmRSS")
    start = time.monotonic()
    try:
        os.chdir(root)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(c.argv)
            except SystemExit as e:  # argparse
                code = e.code if isinstance(e.code, int) else 2
    finally:
        os.chdir(cwd)
        tempfile.tempdir = old_tempdir
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.monotonic() - start
    peak = max(_vm("VmHWM") - before, 0)
    return _checked(c, root, kept, Result(code, out.getvalue(), err.getvalue(), peak, seconds, []))


def _secrets(root: Path) -> list[Path]:
    return sorted(root.glob("secret.*"))


def _arm_secrets(root: Path) -> None:
    """A read updates a file's access time when it is older than its modification time (the
    filesystem's relatime rule), so an access time of 1 that changes means the file was read."""
    for p in _secrets(root):
        os.utime(p, (1, p.stat().st_mtime))


def _done_before_signal(c: Case, path: Path, stdout: str) -> bool:
    """An output a signal may leave (docs/robustness.md): the command's work was done when the
    signal came (it reported the output on stdout, so the file was in place), the file is whole
    (every array of an .npz, the JSON of a report), and the signal's status still ends it."""
    if not c.send or str(path) not in stdout:
        return False
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                for key in f.files:
                    f[key]
        else:
            json.loads(path.read_text())
    except Exception:  # noqa: BLE001 - any failure to read it whole means it is not whole
        return False
    return True


def _checked(c: Case, root: Path, kept: dict[Path, bytes], result: Result) -> Result:
    code, stdout, stderr, problems = result.code, result.stdout, result.stderr, result.problems
    if not (c.send and any(p.startswith("ended") for p in problems)) and code not in c.expect:
        problems.append(f"exit {code}, expected {'/'.join(map(str, c.expect))}")
    if "Traceback" in stderr:
        problems.append("traceback")
    lines = [
        ln
        for ln in stderr.strip().splitlines()
        if not ln.startswith(("snnc: warning:", "snnc: note:"))
    ]
    if code != 0 and len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr")
    for text, where in ((stdout, "stdout"), (stderr, "stderr")):
        if any(ch in text for ch in ("\x1b", "\x07", "\x9b")):
            problems.append(f"raw terminal escape on {where}")
    if code != 0:
        problems += [
            f"left {p.name}"
            for p in c.absent
            if p.exists() and not _done_before_signal(c, p, stdout)
        ]
    problems += [f"temporary left: {p}" for p in _leftovers(root)]
    for p, data in kept.items():
        if not p.is_file():
            problems.append(f"user file {p.name} lost")
        elif p.read_bytes() != data:
            problems.append(f"user file {p.name} changed")
    if result.peak_bytes > BUDGET_BYTES:
        problems.append(f"peak memory {result.peak_bytes / 2**20:.0f} MiB")
    for p in _secrets(root):
        if p.stat().st_atime != 1:
            problems.append(f"{p.name}, a file outside the input, was read")
    if c.secret is not None:
        for p in root.rglob("*"):
            if p.is_file() and p.name not in ("secret.bin", "secret.h5") and _holds(p, c.secret):
                problems.append(f"the secret's bytes are in {p.name}")
    if c.check is not None:
        problems += c.check(result)
    return result


def _holds(path: Path, secret: bytes) -> bool:
    data = path.read_bytes()
    if secret[:16] in data:
        return True
    if zipfile.is_zipfile(path):  # an snnc model: the weights are in its arrays
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                raw = zf.read(info)
                if info.filename.endswith(".npy"):
                    with contextlib.suppress(Exception):
                        arr = np.load(io.BytesIO(raw), allow_pickle=False).astype("<f8")
                        if np.isin(np.frombuffer(secret, "<f8"), arr).any():
                            return True
    return False


def run_named(name: str, base: Path | None = None, timeout: float | None = None) -> Result:
    with tempfile.TemporaryDirectory(prefix="snnc-hostile-", dir=base) as d:
        root = Path(d)
        c = CASES[name](root)
        if timeout is not None:
            c.timeout = min(c.timeout, timeout)
        return run_case(c, root)


# The groups `--summary` counts the cases in (every case is in exactly one).
SUMMARY_GROUPS: list[tuple[str, Callable[[str], object]]] = [
    ("NIR storage, shapes", lambda n: n.startswith("nir-") and "metadata" not in n),
    (
        "outputs vs inputs and user files",
        lambda n: re.match(
            r"(compile-into|report-into|report-over|demo-|export-onto|import-onto|run-output|hil-record)",
            n,
        ),
    ),
    (
        "memory from small files",
        lambda n: re.match(r"(snnc-weight|snnc-placement|trace-npz|run-2\^20|eval-2\^20)", n),
    ),
    ("OS errors on output paths", lambda n: n.startswith("os-output")),
    (
        "deep JSON, long integers, YAML",
        lambda n: re.search(r"(100000-deep|5000-digit|hw-yaml-)", n),
    ),
    (
        "report.json types, FIFOs, escapes",
        lambda n: re.match(r"(report-json-wrong|fifo-|escape-codes)", n),
    ),
    ("hw / program limits", lambda n: re.match(r"(hw-bias|loihi1-|8-bit-)", n)),
    ("options, environment", lambda n: re.match(r"(env-|train-)", n)),
    (
        "Lava signal, timed from start",
        lambda n: n.startswith("lava-") and "-at-" in n and "worker" not in n,
    ),
    ("Lava signal, timed from workers", lambda n: "-at-workers+" in n),
    ("Lava worker SIGKILLed", lambda n: "worker-killed" in n),
]


# A problem line (`Result.problems`) -> the short kind `--summary` counts it as.
_PROBLEM_KINDS = (
    (r"^hung", "hung/ignored"),
    (r"^traceback", "traceback"),
    (r"^exit (\S+),", None),
    (r"processes left alive", "process left"),
    (r"^temporary left", "temporary left"),
    (r"^user file .* (lost|changed)", "user file lost/changed"),
    (r"^peak memory", "memory over budget"),
    (r"was read$", "outside file read"),
    (r"secret's bytes", "outside bytes in output"),
    (r"^left ", "output left"),
    (r"lines on stderr", "not one line"),
    (r"raw terminal", "raw escape"),
    (r"shared memory", "/dev/shm left"),
    (r"before the signal", "ended before the signal"),
    (r"^the line", "wrong line"),
    (r"^ended .* after the worker", "slow end"),
    (r"was not written", "output not written"),
    (r"^stderr is \d+ characters", "huge stderr"),
)


def _problem_kind(problem: str) -> str:
    for pattern, kind in _PROBLEM_KINDS:
        m = re.search(pattern, problem)
        if m:
            return kind or f"exit {m.group(1)}"
    return problem[:30]


def summary(before: list[dict], after: list[dict]) -> str:
    """Two `--json` files' rows (e.g. another checkout's and this one's) as one table: per group
    of cases, how many were clean before and after, and the most frequent problems before."""
    from collections import Counter

    old, new = {r["case"]: r for r in before}, {r["case"]: r for r in after}
    unmatched = [n for n in new if sum(bool(m(n)) for _, m in SUMMARY_GROUPS) != 1]
    assert not unmatched, f"cases in no group or in two: {unmatched}"
    lines = [
        f"{'cases':34s} {'n':>3s} {'before':>6s} {'after':>5s}  most frequent problems before "
        "(cases)"
    ]
    total_before = total_after = 0
    for title, match in SUMMARY_GROUPS:
        names = [n for n in new if match(n)]
        clean_before = sum(not old[n]["problems"] for n in names if n in old)
        clean_after = sum(not new[n]["problems"] for n in names)
        total_before += clean_before
        total_after += clean_after
        kinds = Counter(
            k
            for n in names
            if n in old
            for k in sorted({_problem_kind(p) for p in old[n]["problems"]})
        )
        what = ", ".join(f"{k} {v}" for k, v in kinds.most_common(4)) or "-"
        lines.append(f"{title:34s} {len(names):3d} {clean_before:6d} {clean_after:5d}  {what}")
    lines.append(f"{'all':34s} {len(new):3d} {total_before:6d} {total_after:5d}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--only", nargs="*", default=[], help="run the cases whose name contains one of these"
    )
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--summary", nargs=2, metavar=("BEFORE.json", "AFTER.json"),
                    help="print two --json runs as one table, grouped, and exit (runs nothing)")
    ap.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop a case that runs longer (reported as hung); default: each case's own, 40-120 s",
    )
    args = ap.parse_args()
    if args.summary:
        print(summary(*(json.loads(Path(f).read_text()) for f in args.summary)))
        return 0
    names = [n for n in CASES if not args.only or any(s in n for s in args.only)]
    if args.list:
        print("\n".join(names))
        return 0
    rows, failed = [], 0
    print(f"{'case':52s} {'exit':>5s} {'MiB':>6s} {'s':>5s}  problems / stderr")
    for name in names:
        r = run_named(name, timeout=args.timeout)
        failed += bool(r.problems)
        what = "; ".join(r.problems) if r.problems else "ok"
        print(
            f"{name:52s} {str(r.code):>5s} {r.peak_bytes / 2**20:6.0f} {r.seconds:5.1f}  {what}  | "
            f"{r.last_line[:150]}",
            flush=True,
        )
        rows.append(
            {
                "case": name,
                "exit": r.code,
                "peak_mib": round(r.peak_bytes / 2**20),
                "seconds": round(r.seconds, 2),
                "problems": r.problems,
                "stderr_last_line": r.last_line[:300],
            }
        )
    print(f"\n{len(names) - failed} of {len(names)} cases clean")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
