"""Graph files: round trips, determinism, and every way a file can be broken."""

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings

from ir import (
    LIF,
    Dense,
    Graph,
    Input,
    ModelFormatError,
    graph_from_bytes,
    graph_to_bytes,
    load_graph,
    print_graph,
    save_graph,
)
from ir.serialize import HEADER
from tests.strategies import graphs


def assert_graphs_equal(a: Graph, b: Graph) -> None:
    assert print_graph(a) == print_graph(b)
    assert a.dt == b.dt and a.outputs == b.outputs and dict(a.metadata) == dict(b.metadata)
    for (na, x), (nb, y) in zip(a.nodes(), b.nodes(), strict=True):
        assert na == nb and type(x) is type(y)
        for f in x.__dataclass_fields__:
            vx, vy = getattr(x, f), getattr(y, f)
            if isinstance(vx, np.ndarray):
                assert vx.shape == vy.shape and np.array_equal(vx, vy), (na, f)
            else:
                assert vx == vy, (na, f)
    if a.placement is None:
        assert b.placement is None
    else:
        assert [(x.population, x.core, x.neurons.tolist()) for x in a.placement.blocks] == [
            (y.population, y.core, y.neurons.tolist()) for y in b.placement.blocks]
        assert np.array_equal(a.placement.core_chip, b.placement.core_chip)


@settings(max_examples=60)
@given(graphs(domain="float", placed=False))
def test_float_round_trip_is_exact_and_deterministic(g):
    data = graph_to_bytes(g)
    g2 = graph_from_bytes(data)
    assert_graphs_equal(g, g2)
    assert graph_to_bytes(g2) == data


@settings(max_examples=60)
@given(graphs(domain="fixed", placed=True))
def test_fixed_placed_round_trip_is_exact_and_deterministic(g):
    data = graph_to_bytes(g)
    g2 = graph_from_bytes(data)
    assert_graphs_equal(g, g2)
    assert graph_to_bytes(g2) == data


def _small() -> Graph:
    return Graph(
        populations={"in": Input((3,)), "out": LIF((2,), v_th=0.5)},
        projections={"fc": Dense("in", "out", weight=np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]))},
        metadata={"seed": 7},
    )


def _rewrite(data: bytes, entry: str, new: bytes | None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if info.filename == entry:
                if new is not None:
                    dst.writestr(info, new)
            else:
                dst.writestr(info, src.read(info))
    return buf.getvalue()


def _header(data: bytes) -> dict:
    return json.loads(zipfile.ZipFile(io.BytesIO(data)).read(HEADER))


def test_save_is_atomic_and_loads(tmp_path):
    path = tmp_path / "m.snnc"
    save_graph(_small(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.snnc"]
    assert_graphs_equal(load_graph(path), _small())


@pytest.mark.parametrize("cut", [0, 10, 100, -50, -1])
def test_truncated_file_is_rejected(cut):
    data = graph_to_bytes(_small())
    with pytest.raises(ModelFormatError):
        graph_from_bytes(data[:cut] if cut else b"", "m.snnc")


def test_not_a_zip():
    with pytest.raises(ModelFormatError, match="m.snnc: not an snnc graph file"):
        graph_from_bytes(b"hello world", "m.snnc")


def test_wrong_version_is_named():
    data = graph_to_bytes(_small())
    head = _header(data)
    head["format_version"] = 99
    bad = _rewrite(data, HEADER, json.dumps(head).encode())
    with pytest.raises(
        ModelFormatError,
        match=r"m.snnc: format_version: this snnc reads version 1, the file has 99",
    ):
        graph_from_bytes(bad, "m.snnc")


def test_nan_weights_are_rejected():
    data = graph_to_bytes(_small())
    head = _header(data)
    ref = head["projections"][0]["fields"]["weight"]["array"]
    arr = io.BytesIO()
    np.save(arr, np.array([[np.nan, 0, 0], [0, 0, 0]], dtype="<f8"))
    bad = _rewrite(data, ref, arr.getvalue())
    with pytest.raises(ModelFormatError, match=r"projection 'fc'.*NaN"):
        graph_from_bytes(bad, "m.snnc")


def test_object_arrays_are_never_unpickled():
    data = graph_to_bytes(_small())
    head = _header(data)
    ref = head["projections"][0]["fields"]["weight"]["array"]
    arr = io.BytesIO()
    np.save(arr, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    bad = _rewrite(data, ref, arr.getvalue())
    with pytest.raises(ModelFormatError, match="not allowed"):
        graph_from_bytes(bad, "m.snnc")


def test_absurd_array_size_rejected_before_reading():
    data = graph_to_bytes(_small())
    head = _header(data)
    ref = head["projections"][0]["fields"]["weight"]["array"]
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        hdr, {"descr": "<f8", "fortran_order": False, "shape": (1 << 20, 1 << 20)}
    )
    bad = _rewrite(data, ref, hdr.getvalue())
    with pytest.raises(ModelFormatError, match="larger than"):
        graph_from_bytes(bad, "m.snnc")


def test_wrong_shape_names_the_projection():
    data = graph_to_bytes(_small())
    head = _header(data)
    ref = head["projections"][0]["fields"]["weight"]["array"]
    arr = io.BytesIO()
    np.save(arr, np.zeros((2, 4), dtype="<f8"))
    bad = _rewrite(data, ref, arr.getvalue())
    with pytest.raises(
        ModelFormatError,
        match=r"projection 'fc' \(in -> out\): weight shape \(2, 4\) does not match",
    ):
        graph_from_bytes(bad, "m.snnc")


def test_unknown_node_type_lists_the_known_ones():
    data = graph_to_bytes(_small())
    head = _header(data)
    head["populations"][1]["type"] = "Izhikevich"
    bad = _rewrite(data, HEADER, json.dumps(head).encode())
    with pytest.raises(
        ModelFormatError,
        match=r"population 'out'.type: unknown node type 'Izhikevich'; known: Input",
    ):
        graph_from_bytes(bad, "m.snnc")


def test_missing_array_entry():
    data = graph_to_bytes(_small())
    ref = _header(data)["projections"][0]["fields"]["weight"]["array"]
    with pytest.raises(ModelFormatError, match="missing"):
        graph_from_bytes(_rewrite(data, ref, None), "m.snnc")


def test_missing_file():
    with pytest.raises(ModelFormatError, match="no such file"):
        load_graph("/nonexistent/m.snnc")
