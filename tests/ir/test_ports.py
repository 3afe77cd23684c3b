"""Projections into a population's second input port (`Projection.port`: RF's "imag", Lava's
a_imag_in): checked by the verifier, saved only when set (files without ports are the format
version 1 files they were), and summed per port by both cpu engines."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from backends.cpu.simulator import run as cpu_run
from ir import QLIF, Graph, Input, QDense
from ir.errors import IRVerifyError, ModelFormatError
from ir.serialize import graph_from_bytes, graph_to_bytes
from ir.verify import verify
from neurons.resonate import QRF
from neurons.rf_iz import QRFIZ


def _graph(port="imag", model=QRF):
    rng = np.random.default_rng(5)
    return Graph(
        populations={
            "in": Input((6,)),
            "rf": model((4,), sin_decay=1500, cos_decay=3500, vth=300, state_exp=6),
        },
        projections={
            "re": QDense("in", "rf", weight=rng.integers(-100, 100, (4, 6))),
            "im": QDense("in", "rf", weight=rng.integers(-100, 100, (4, 6)), port=port),
        },
    )


def test_the_verifier_names_the_ports_a_population_has():
    with pytest.raises(
        IRVerifyError,
        match=r"projection 'im' \(in -> rf\).*port 'bogus': QRF 'rf' has the input ports real, im",
    ):
        verify(_graph("bogus"))
    lif = _graph().replace(populations={"in": Input((6,)), "rf": QLIF((4,))})
    with pytest.raises(IRVerifyError, match=r"port 'imag': QLIF 'rf' has the input ports in"):
        verify(lif)
    with pytest.raises(IRVerifyError, match="expected an input port name"):
        QDense("in", "rf", weight=np.zeros((4, 6)), port="")


def test_port_is_saved_only_when_set():
    g = _graph()
    back = graph_from_bytes(graph_to_bytes(g))
    assert back.projections["im"].port == "imag" and back.projections["re"].port is None
    assert graph_to_bytes(back) == graph_to_bytes(g)
    with zipfile.ZipFile(io.BytesIO(graph_to_bytes(g))) as zf:
        head = json.loads(zf.read("snnc.json"))
    fields = {p["name"]: p["fields"] for p in head["projections"]}
    assert head["format_version"] == 1
    assert "port" not in fields["re"] and fields["im"]["port"] == "imag"


def test_a_file_with_a_bad_port_is_one_error():
    buf = io.BytesIO()
    original = zipfile.ZipFile(io.BytesIO(graph_to_bytes(_graph())))
    with original as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "snnc.json":
                data = data.replace(b'"imag"', b'"imaj"')
            dst.writestr(item, data)
    bad = buf.getvalue()
    with pytest.raises(ModelFormatError, match="port 'imaj'"):
        graph_from_bytes(bad)


@pytest.mark.parametrize("model", [QRF, QRFIZ])
def test_each_port_is_its_own_sum_in_both_engines(model):
    """The imaginary input moves the imaginary part: with it the neurons spike otherwise than
    without it, and both engines agree step for step on every state variable."""
    g = _graph(model=model)
    x = (np.random.default_rng(1).random((2, 30, 6)) < 0.4).astype(np.int64)
    from backends.base import Probe

    probes = [Probe("rf", ("spikes", "real", "imag"))]
    ref = cpu_run(g, x, probes=probes, engine="reference")
    fast = cpu_run(g, x, probes=probes, engine="fast")
    for var in ("spikes", "real", "imag"):
        np.testing.assert_array_equal(ref.get("rf", var), fast.get("rf", var))
    real_only = g.replace(projections={"re": g.projections["re"]})
    assert np.any(cpu_run(real_only, x, probes=probes).get("rf", "imag") != ref.get("rf", "imag"))
    assert np.count_nonzero(ref.get("rf")) > 0
