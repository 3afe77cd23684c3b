"""Every loader through the CLI: truncated files, wrong versions, NaN weights, absurd sizes, a
network too large for its target; one line on stderr, exit 1, no output. Plus a regression test
for each loader bug `make fuzz` found."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import struct
import zipfile

import numpy as np
import pytest
import yaml

from backends.hil.trace_io import read_trace, write_trace
from compiler.build import write_build
from compiler.cli import main
from compiler.passes.place import snake_chips
from ir import LIF, QLIF, Dense, Graph, Input, InputError, QDense, load_hw, save_graph
from ir.arrays_io import MAX_STEPS
from ir.serialize import HEADER, graph_to_bytes
from tests.robust.helpers import snnc, temporaries


def _cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("snnc: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def _float_model(n_hidden: int = 8) -> Graph:
    rng = np.random.default_rng(2)
    return Graph(
        populations={
            "in": Input((5,)),
            "h": LIF((n_hidden,), tau_mem=1e-2),
            "out": LIF((3,), tau_mem=1e-2),
        },
        projections={
            "a": Dense("in", "h", weight=rng.normal(0.3, 0.5, (n_hidden, 5))),
            "b": Dense("h", "out", weight=rng.normal(0.2, 0.5, (3, n_hidden))),
        },
    )


def _program() -> Graph:
    return Graph(populations={"in": Input((3,)), "o": QLIF((2,), du=100, dv=100, vth=10)},
                 projections={"w": QDense("in", "o", weight=[[40, 4, -8], [8, 80, 8]])})


@pytest.fixture()
def build(tmp_path):
    write_build(tmp_path / "build", _program(), load_hw("loihi2"), {"format_version": 1})
    np.save(tmp_path / "in.npy", (np.arange(15).reshape(1, 5, 3) % 2).astype(np.uint8))
    return tmp_path


# ----------------------------------------------------------------------------- truncated files

@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9])
def test_truncated_model_compile_fails_in_one_line_without_output(tmp_path, keep):
    blob = graph_to_bytes(_float_model())
    (tmp_path / "m.snnc").write_bytes(blob[: int(len(blob) * keep)])
    code, err = _cli(
        "compile", str(tmp_path / "m.snnc"), "--target", "loihi2", "-o", str(tmp_path / "b")
    )
    _one_line_error(code, err, "m.snnc")
    assert not (tmp_path / "b").exists() and temporaries(tmp_path, "b") == []


def test_truncated_program_in_build(build):
    program = build / "build" / "program.snnc"
    program.write_bytes(program.read_bytes()[:200])
    code, err = _cli(
        "run", str(build / "build"), "--input", str(build / "in.npy"), "-o", str(build / "o.npz")
    )
    _one_line_error(code, err, "program.snnc")
    assert not (build / "o.npz").exists()


def test_truncated_input_array(build):
    raw = (build / "in.npy").read_bytes()
    (build / "in.npy").write_bytes(raw[:-4])
    code, err = _cli(
        "run", str(build / "build"), "--input", str(build / "in.npy"), "-o", str(build / "o.npz")
    )
    _one_line_error(code, err, "in.npy", "truncated")
    assert not (build / "o.npz").exists()


def test_truncated_trace_and_hw_yaml(build):
    program = _program()
    x = np.load(build / "in.npy")
    from backends.cpu.simulator import run as cpu_run

    write_trace(build / "t.npz", cpu_run(program, x), x, program)
    (build / "t.npz").write_bytes((build / "t.npz").read_bytes()[:-40])
    code, err = _cli(
        "hil",
        str(build / "build"),
        "--replay",
        str(build / "t.npz"),
        "--report",
        str(build / "r.json"),
    )
    _one_line_error(code, err, "t.npz")
    assert not (build / "r.json").exists()
    hw = build / "build" / "hw.yaml"
    hw.write_text(hw.read_text()[: len(hw.read_text()) // 2])
    code, err = _cli(
        "run", str(build / "build"), "--input", str(build / "in.npy"), "-o", str(build / "o.npz")
    )
    _one_line_error(code, err, "hw.yaml")


def test_truncated_nir_file(tmp_path):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "nir" / "snntorch_mlp.nir"
    (tmp_path / "m.nir").write_bytes(fixture.read_bytes()[:3000])
    code, err = _cli(
        "compile", str(tmp_path / "m.nir"), "--target", "loihi2", "-o", str(tmp_path / "b")
    )
    _one_line_error(code, err, "m.nir")
    assert not (tmp_path / "b").exists()


# ----------------------------------------------------------------------------- wrong versions

def _rewrite_header(path, **changes) -> None:
    with zipfile.ZipFile(path) as zf:
        entries = [(i.filename, zf.read(i)) for i in zf.infolist()]
    head = json.loads(dict(entries)[HEADER])
    head.update(changes)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, json.dumps(head).encode() if name == HEADER else data)


def test_wrong_versions_are_named(build):
    save_graph(_float_model(), build / "m.snnc")
    _rewrite_header(build / "m.snnc", format_version=2)
    code, err = _cli("compile", str(build / "m.snnc"), "--target", "loihi2", "-o", str(build / "b"))
    _one_line_error(code, err, "format_version", "version 1", "2")
    hw = build / "build" / "hw.yaml"
    data = yaml.safe_load(hw.read_text())
    data["format_version"] = 7
    hw.write_text(yaml.safe_dump(data))
    code, err = _cli(
        "run", str(build / "build"), "--input", str(build / "in.npy"), "-o", str(build / "o.npz")
    )
    _one_line_error(code, err, "hw.yaml", "format_version", "7")


def test_wrong_trace_version(build):
    program = _program()
    x = np.load(build / "in.npy")
    from backends.cpu.simulator import run as cpu_run

    write_trace(build / "t.npz", cpu_run(program, x), x, program)
    with zipfile.ZipFile(build / "t.npz") as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    meta = json.loads(np.load(io.BytesIO(entries["__meta__.npy"])).tobytes())
    meta["format_version"] = 9
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    entries["__meta__.npy"] = buf.getvalue()
    with zipfile.ZipFile(build / "t.npz", "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    with pytest.raises(InputError, match="format_version: this snnc reads 1, the file has 9"):
        read_trace(build / "t.npz", program)


# ----------------------------------------------------------------------------- NaN weights

def test_nan_weight_names_the_projection(tmp_path):
    model = _float_model()
    blob = graph_to_bytes(model)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
        head = json.loads(entries[HEADER])
    ref = next(p for p in head["projections"] if p["name"] == "b")["fields"]["weight"]["array"]
    weight = np.load(io.BytesIO(entries[ref]))
    weight = weight.astype(np.float64)
    weight[1, 2] = np.nan
    buf = io.BytesIO()
    np.save(buf, weight)
    entries[ref] = buf.getvalue()
    with zipfile.ZipFile(tmp_path / "m.snnc", "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    code, err = _cli(
        "compile", str(tmp_path / "m.snnc"), "--target", "loihi2", "-o", str(tmp_path / "b")
    )
    _one_line_error(code, err, "projection 'b'", "weight", "NaN")
    assert not (tmp_path / "b").exists()


# ------------------------------------------------------------------------- too large for the target

@pytest.mark.parametrize(
    "model, needles",
    [
        # 400 neurons on `tiny` (4 chips of 4 cores of 16 neurons): 25 cores.
        (
            Graph(
                populations={"in": Input((5,)), "h": LIF((400,), tau_mem=1e-2)},
                projections={"a": Dense("in", "h", weight=np.full((400, 5), 0.5))},
            ),
            (
                "needs 25 cores",
                "limit is 16",
                "chip.cores_per_chip x system.max_chips",
                "tiny.yaml",
            ),
        ),
        # one neuron fed by 400: more input axons than a core has.
        (
            _float_model(n_hidden=400),
            ("population 'out'", "input axons, the limit is 48", "tiny.yaml: core.max_input_axons"),
        ),
    ],
)
def test_network_too_large_for_the_target_names_resource_need_limit_and_key(
    tmp_path, model, needles
):
    save_graph(model, tmp_path / "big.snnc")
    result = snnc(
        "compile", str(tmp_path / "big.snnc"), "--target", "tiny", "-o", str(tmp_path / "b")
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.snnc"]


def test_huge_declared_chips_do_not_allocate_per_chip(tmp_path):
    """Regression (make fuzz, hw-compile): place walked every mesh cell of system.max_chips."""
    spec = load_hw("loihi2").to_dict()
    for section, key in (
        ("system", "max_chips"),
        ("system", "mesh_columns"),
        ("chip", "cores_per_chip"),
    ):
        spec[section][key]["value"] = 1 << 40
    (tmp_path / "huge.yaml").write_text(yaml.safe_dump(spec))
    save_graph(_float_model(), tmp_path / "m.snnc")
    code, err = _cli(
        "compile",
        str(tmp_path / "m.snnc"),
        "--hw",
        str(tmp_path / "huge.yaml"),
        "-o",
        str(tmp_path / "b"),
    )
    assert code == 0, err
    assert snake_chips(1 << 40, 1 << 40, 3).tolist() == [0, 1, 2]
    assert snake_chips(6, 4).tolist() == [0, 1, 2, 3, 5, 4]
    assert snake_chips(10, 4, 7).tolist() == [0, 1, 2, 3, 7, 6, 5]


# ----------------------------------------------------------------------------- absurd step counts

def test_absurd_steps_fail_before_allocating(build, tmp_path):
    code, err = _cli(
        "run",
        str(build / "build"),
        "--input",
        str(build / "in.npy"),
        "--steps",
        str(10**12),
        "-o",
        str(build / "o.npz"),
    )
    _one_line_error(code, err, "--steps", str(MAX_STEPS))
    model = _float_model().replace(
        metadata={
            "encoding": {"kind": "rate", "steps": 10**12, "seed": 0},
            "readout": {"kind": "spike_count", "population": "out"},
        }
    )
    model = Graph(
        populations={"in": Input((64,)), "out": LIF((10,), tau_mem=1e-2)},
        projections={"w": Dense("in", "out", weight=np.ones((10, 64)))},
        metadata=model.metadata,
    )
    save_graph(model, tmp_path / "m.snnc")
    code, err = _cli("eval", str(tmp_path / "m.snnc"), "--dataset", "digits", "--samples", "2")
    _one_line_error(code, err, "metadata.encoding.steps", str(MAX_STEPS))


def test_odd_encoding_metadata_is_one_line(tmp_path):
    """Regression (make fuzz, model-metadata): int()/float() of metadata values raised
    ValueError."""
    for encoding in (
        {"kind": "rate", "steps": 4, "seed": "x"},
        {"kind": "rate", "steps": 4, "max_rate": "high"},
        {"kind": "direct", "steps": 4, "bits": 2.5},
    ):
        model = Graph(
            populations={"in": Input((64,)), "out": LIF((10,), tau_mem=1e-2)},
            projections={"w": Dense("in", "out", weight=np.ones((10, 64)))},
            metadata={
                "encoding": encoding,
                "readout": {"kind": "spike_count", "population": "out"},
            },
        )
        save_graph(model, tmp_path / "m.snnc")
        code, err = _cli("eval", str(tmp_path / "m.snnc"), "--dataset", "digits", "--samples", "2")
        _one_line_error(code, err)


# ------------------------------------------------------------------- regressions: traces, IDX files

def test_trace_header_steps_and_inputs_are_checked(build):
    """Regression (make fuzz, hil-trace): a trace whose __meta__.steps was not an integer raised
    TypeError; inputs outside 0/1 were accepted."""
    program = _program()
    x = np.load(build / "in.npy")
    from backends.cpu.simulator import run as cpu_run

    trace = cpu_run(program, x)
    trace.steps = None  # what a damaged header holds
    write_trace(build / "t.npz", trace, x, program)
    with pytest.raises(InputError, match="__meta__.steps: expected a positive integer"):
        read_trace(build / "t.npz", program)
    trace = cpu_run(program, x)
    write_trace(build / "t.npz", trace, 3 * x, program)
    with pytest.raises(InputError, match="__inputs__: binary spikes must be 0 or 1"):
        read_trace(build / "t.npz", program)


def _idx(arr: np.ndarray) -> bytes:
    return (
        struct.pack(">I", 0x0800 + arr.ndim)
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + arr.astype(np.uint8).tobytes()
    )


@pytest.mark.parametrize("damage, message", [
    ("count", "images, but"), ("label", "outside 0..9"), ("deflate", "cannot read as gzip"),
    ("huge", "larger than"), ("size", "Fashion-MNIST's are 28x28"),
])
def test_damaged_fashion_mnist_files(tmp_path, monkeypatch, damage, message):
    """Regression (make fuzz, idx-dataset): image/label counts that differ raised IndexError, a
    damaged deflate stream raised zlib.error; labels and image sizes were not checked."""
    from trainers.datasets import _FMNIST_FILES, load_dataset

    images = np.zeros((5003, 28, 28), dtype=np.uint8)
    files = {"train_x": _idx(images), "train_y": _idx(np.arange(5003) % 10),
             "test_x": _idx(images[:4]), "test_y": _idx(np.arange(4) % 10)}
    if damage == "count":
        files["test_y"] = _idx(np.arange(3) % 10)
    elif damage == "label":
        files["test_y"] = _idx(np.array([0, 1, 12, 3]))
    elif damage == "huge":
        files["test_x"] = struct.pack(">IIII", 0x0803, 2**31, 2**31, 28)
    elif damage == "size":
        files["test_x"] = _idx(np.zeros((4, 8, 8)))
    packed = {k: gzip.compress(v, mtime=0) for k, v in files.items()}
    if damage == "deflate":
        blob = bytearray(packed["test_x"])
        blob[20:40] = b"\xff" * 20
        packed["test_x"] = bytes(blob)
    for key, blob in packed.items():
        (tmp_path / _FMNIST_FILES[key]).write_bytes(blob)
    monkeypatch.setenv("SNNC_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(InputError, match=message):
        load_dataset("fashion-mnist")


def test_population_of_absurd_size_fails_before_any_pass_allocates(tmp_path):
    """Regression: a model file declaring a 10^12-neuron input made partition allocate 7 TiB."""
    from ir import Sparse

    model = Graph(
        populations={"in": Input((1000,)), "o": LIF((3,), tau_mem=1e-2)},
        projections={"p": Sparse("in", "o", rows=[0, 1], cols=[5, 999], values=[1.0, 2.0])},
    )
    save_graph(model, tmp_path / "m.snnc")
    _rewrite_header(tmp_path / "m.snnc", populations=[
        {**p, "fields": {**p["fields"], "shape": [10**12]}} if p["name"] == "in" else p
        for p in json.loads(zipfile.ZipFile(tmp_path / "m.snnc").read(HEADER))["populations"]])
    code, err = _cli(
        "compile", str(tmp_path / "m.snnc"), "--target", "loihi2", "-o", str(tmp_path / "b")
    )
    _one_line_error(code, err, "population 'in'", "1000000000000 neurons", "MAX_POPULATION_NEURONS")
    assert not (tmp_path / "b").exists()


def test_nir_parameter_of_the_wrong_size_names_the_node(tmp_path):
    """Regression (make fuzz, nir-file): a synapse parameter of 3 values on a 2-neuron node
    raised numpy's broadcast ValueError."""
    import h5py

    from tests.fuzz.fuzzers import _nir_corpus

    path = tmp_path / "m.nir"
    path.write_bytes(_nir_corpus()[1])  # snnc's export: node 'c' is an LI of 2 neurons
    with h5py.File(path, "a") as f:
        node = f["node/nodes/c.syn"] if "c.syn" in f["node/nodes"] else f["node/nodes/c"]
        key = sorted(k for k in node if k not in ("metadata", "type"))[0]
        del node[key]
        node.create_dataset(key, data=np.array([1.0, 2.0, 3.0]))
    code, err = _cli("compile", str(path), "--target", "loihi2", "-o", str(tmp_path / "b"))
    _one_line_error(code, err, "m.nir", "node 'c", "3", "2")


@pytest.mark.parametrize(
    "key, value", [("window", float("inf")), ("n_readout", 2**70), ("hidden", -1.5)]
)
def test_vib_decoder_metadata_with_odd_sizes(key, value):
    """Regression (make fuzz, vib-decoder): int(inf) in metadata.decoder raised OverflowError."""
    from ir import SnncError
    from trainers.vib.decoder import DecoderSpec

    meta = {
        "decoding": "time",
        "window": 3,
        "n_readout": 4,
        "architecture": "mlp",
        "hidden": 5,
        "n_out": 10,
        "output": "log_softmax",
        key: value,
    }
    with pytest.raises(SnncError, match="decoder"):
        DecoderSpec.from_json(meta, "m.snnc")


def test_netx_flat_weight_that_does_not_divide_into_rows(tmp_path):
    """make fuzz (netx-file): a dense layer's flat weight whose size is not a multiple of its
    neuron count was a numpy reshape error."""
    from compiler.netx.writer import write_layers

    neuron = {"type": "CUBA", "iDecay": 0, "vDecay": 0, "vThMant": 10}
    write_layers(
        [
            {
                "type": "dense",
                "shape": np.array([4]),
                "weight": np.ones(5, np.float32),
                "neuron": neuron,
            }
        ],
        tmp_path / "flat.net",
    )
    code, err = _cli(
        "compile", str(tmp_path / "flat.net"), "--target", "loihi2", "-o", str(tmp_path / "b")
    )
    _one_line_error(code, err, "layer/0 (dense) weight: shape (5,) does not give 4 outputs")
    assert not (tmp_path / "b").exists()
