"""Bad NIR files and unsupported networks: one SnncError line naming the file and the node."""

import subprocess
import sys

import h5py
import nir
import numpy as np
import pytest

from compiler.nir.flatten import SUPPORTED
from compiler.nir.importer import import_nir
from ir.errors import ModelFormatError, SnncError, UnsupportedNodeError
from tests.nir.helpers import inp, out, write_nir


def _good(tmp_path, name="good.nir"):
    lif = nir.LIF(
        tau=np.full(3, 1e-2), r=np.full(3, 10.0), v_leak=np.zeros(3), v_threshold=np.ones(3)
    )
    return write_nir(
        tmp_path / name,
        {"x": inp(2), "fc": nir.Linear(np.ones((3, 2))), "lif": lif, "y": out(3)},
        [("x", "fc"), ("fc", "lif"), ("lif", "y")],
        metadata={"dt": 1e-3},
    )


def _one_line(err: SnncError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def _raw_file(path, nodes: dict, edges=()):
    """A NIR-layout HDF5 file written by hand (for node types the nir package cannot build)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="1.0.8", dtype=h5py.string_dtype())
        root = f.create_group("node")
        root.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
        group = root.create_group("nodes")
        for name, fields in nodes.items():
            g = group.create_group(name)
            for key, value in fields.items():
                if isinstance(value, str):
                    g.create_dataset(key, data=value, dtype=h5py.string_dtype())
                else:
                    g.create_dataset(key, data=value)
        root.create_dataset(
            "edges", data=np.array(edges, dtype=object).reshape(-1, 2), dtype=h5py.string_dtype()
        )
    return path


@pytest.mark.parametrize("content", [b"", b"not hdf5 at all", b"\x89HDF\r\n\x1a\n" + b"\0" * 40])
def test_not_hdf5(tmp_path, content):
    path = tmp_path / "bad.nir"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError) as e:
        import_nir(path)
    assert str(path) in _one_line(e.value) and "HDF5" in str(e.value)


def test_truncated_file(tmp_path):
    path = _good(tmp_path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 100):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFormatError) as e:
            import_nir(path)
        assert str(path) in _one_line(e.value) and "truncated" in str(e.value)


def test_damaged_dataset_names_the_node(tmp_path):
    path = tmp_path / "damaged.nir"
    lif = nir.LIF(
        tau=np.full(64, 1e-2), r=np.full(64, 10.0), v_leak=np.zeros(64), v_threshold=np.ones(64)
    )
    write_nir(
        path,
        {
            "x": inp(64),
            "fc": nir.Linear(np.random.default_rng(0).normal(size=(64, 64))),
            "lif": lif,
            "y": out(64),
        },
        [("x", "fc"), ("fc", "lif"), ("lif", "y")],
    )
    with h5py.File(path, "r") as f:
        info = f["node/nodes/fc/weight"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[info.byte_offset + 10: info.byte_offset + 200] = b"\xff" * 190  # break the gzip stream
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError) as e:
        import_nir(path)
    text = _one_line(e.value)
    assert str(path) in text and "'fc'" in text and "weight" in text


def test_no_node_group(tmp_path):
    path = tmp_path / "empty.nir"
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="1.0.8", dtype=h5py.string_dtype())
    with pytest.raises(ModelFormatError, match="no /node group"):
        import_nir(path)


def test_unsupported_node_type_lists_what_is_supported(tmp_path):
    path = _raw_file(
        tmp_path / "u.nir",
        {
            "x": {"type": "Input", "shape": np.array([2])},
            "izh": {"type": "Izhikevich", "a": np.ones(2)},
        },
        [("x", "izh")],
    )
    with pytest.raises(UnsupportedNodeError) as e:
        import_nir(path)
    text = _one_line(e.value)
    assert str(path) in text and "'izh'" in text and "Izhikevich" in text
    assert "supported: " + ", ".join(SUPPORTED) in text


def test_node_without_type_and_bad_parameters(tmp_path):
    path = _raw_file(tmp_path / "t.nir", {"x": {"shape": np.array([2])}})
    with pytest.raises(ModelFormatError, match="node 'x'.*has no 'type'"):
        import_nir(path)
    path = _raw_file(
        tmp_path / "s.nir",
        {
            "x": {"type": "Input", "shape": np.array([2])},
            "lif": {
                "type": "LIF",
                "tau": "fast",
                "r": np.ones(2),
                "v_leak": np.zeros(2),
                "v_threshold": np.ones(2),
            },
        },
        [("x", "lif")],
    )
    with pytest.raises(ModelFormatError, match=r"node 'lif' \(LIF\)\.tau: expected numbers"):
        import_nir(path)
    path = _raw_file(
        tmp_path / "m.nir",
        {
            "x": {"type": "Input", "shape": np.array([2])},
            "lif": {"type": "LIF", "tau": np.ones(2), "r": np.ones(2), "v_leak": np.zeros(2)},
        },
        [("x", "lif")],
    )
    with pytest.raises(ModelFormatError, match=r"node 'lif' \(LIF\)\.v_threshold: missing"):
        import_nir(path)


def test_edge_to_a_missing_node(tmp_path):
    path = _raw_file(
        tmp_path / "e.nir", {"x": {"type": "Input", "shape": np.array([2])}}, [("x", "ghost")]
    )
    with pytest.raises(ModelFormatError, match="'ghost'.*does not exist"):
        import_nir(path)


def test_shape_mismatch_names_the_edge(tmp_path):
    path = write_nir(
        tmp_path / "s.nir",
        {
            "x": inp(3),
            "fc": nir.Linear(np.ones((2, 5))),
            "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "y": out(2),
        },
        [("x", "fc"), ("fc", "n"), ("n", "y")],
    )
    with pytest.raises(
        ModelFormatError, match=r"edge \('x', 'fc'\).*carries 3 values, 'fc' takes 5"
    ):
        import_nir(path)


def test_voltage_cannot_feed_a_neuron(tmp_path):
    li = nir.LI(tau=np.full(2, 1e-2), r=np.ones(2), v_leak=np.zeros(2))
    path = write_nir(
        tmp_path / "v.nir",
        {
            "x": inp(2),
            "li": li,
            "fc": nir.Linear(np.eye(2) * 2),
            "a": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "b": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "ya": out(2),
            "yb": out(2),
        },
        [("x", "li"), ("li", "fc"), ("fc", "a"), ("fc", "b"), ("a", "ya"), ("b", "yb")],
        metadata={"dt": 1e-3},
    )
    with pytest.raises(ModelFormatError, match="node 'li' \\(LI\\).*voltage, not spikes"):
        import_nir(path)


def test_output_must_read_a_population(tmp_path):
    path = write_nir(
        tmp_path / "o.nir",
        {
            "x": inp(2),
            "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "fc": nir.Linear(np.ones((3, 2))),
            "y": out(3),
        },
        [("x", "n"), ("n", "fc"), ("fc", "y")],
    )
    with pytest.raises(ModelFormatError, match="node 'y' \\(Output\\).*reads 'fc', a Linear"):
        import_nir(path)


def test_euler_needs_dt_below_tau(tmp_path):
    path = _good(tmp_path)
    with pytest.raises(
        ModelFormatError, match=r"node 'lif' \(LIF\)\.tau: forward Euler needs dt <= tau.*--dt"
    ):
        import_nir(path, dt=0.05)
    assert float(import_nir(path, dt=0.05, discretization="exp").populations["lif"].tau_mem) > 0


def test_delay_must_be_whole_steps(tmp_path):
    path = write_nir(
        tmp_path / "d.nir",
        {
            "x": inp(2),
            "d": nir.Delay(np.array([1.5e-3, 1e-3])),
            "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "y": out(2),
        },
        [("x", "d"), ("d", "n"), ("n", "y")],
        metadata={"dt": 1e-3},
    )
    with pytest.raises(
        ModelFormatError, match=r"node 'd' \(Delay\)\.delay: 0.0015 s is not a whole number"
    ):
        import_nir(path)
    # (make fuzz, nir-file) a delay of more steps than an int64 holds was cast to a negative one
    path = write_nir(
        tmp_path / "h.nir",
        {
            "x": inp(2),
            "d": nir.Delay(np.array([1e30, 1e-3])),
            "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "y": out(2),
        },
        [("x", "d"), ("d", "n"), ("n", "y")],
        metadata={"dt": 1e-3},
    )
    with pytest.raises(
        ModelFormatError, match=r"\.delay: 1e\+30 s is 1e\+33 steps .* at most 65536 steps"
    ):
        import_nir(path)


def test_cli_bad_file_is_one_line_exit_1(tmp_path):
    path = _good(tmp_path)
    path.write_bytes(path.read_bytes()[:500])
    for argv in (["import", str(path), "-o", str(tmp_path / "m.snnc")], ["inspect", str(path)]):
        proc = subprocess.run(
            [sys.executable, "-m", "compiler.cli", *argv], capture_output=True, text=True
        )
        assert proc.returncode == 1 and proc.stdout == ""
        assert (
            proc.stderr.count("\n") == 1
            and "Traceback" not in proc.stderr
            and str(path) in proc.stderr
        )
    assert not (tmp_path / "m.snnc").exists()


def test_edges_into_inputs_and_out_of_outputs(tmp_path):
    node = {"type": "IF", "r": np.ones(2), "v_threshold": np.ones(2)}
    path = _raw_file(tmp_path / "a.nir", {"x": {"type": "Input", "shape": np.array([2])}, "n": node,
                                          "y": {"type": "Output", "shape": np.array([2])}},
                     [("x", "n"), ("n", "y"), ("y", "x")])
    with pytest.raises(ModelFormatError, match=r"edge \('y', 'x'\).*ends at Input 'x'"):
        import_nir(path)


def test_empty_and_infinite_parameters(tmp_path):
    path = _raw_file(
        tmp_path / "e.nir",
        {
            "x": {"type": "Input", "shape": np.array([2])},
            "n": {"type": "IF", "r": np.zeros(0), "v_threshold": np.ones(2)},
        },
        [("x", "n")],
    )
    with pytest.raises(ModelFormatError, match=r"node 'n' \(IF\)\.r: is empty"):
        import_nir(path)
    path = write_nir(
        tmp_path / "d.nir",
        {
            "x": inp(2),
            "d": nir.Delay(np.array([np.inf, 1e-3])),
            "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "y": out(2),
        },
        [("x", "d"), ("d", "n"), ("n", "y")],
        metadata={"dt": 1e-3},
    )
    with pytest.raises(
        ModelFormatError, match=r"node 'd' \(Delay\)\.delay: inf s is not a whole number"
    ):
        import_nir(path)
