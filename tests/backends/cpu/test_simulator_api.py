"""The cpu and float backends' interface: inputs, probes, steps, domains, errors."""

import numpy as np
import pytest

from backends import BACKENDS, get_backend
from backends.base import Probe
from backends.cpu.simulator import run, run_float
from ir import LIF, QLIF, Dense, Graph, Input, QDense
from ir.errors import InputError, UnsupportedNodeError


def _fixed(bits=0):
    return Graph(
        populations={
            "in": Input((3,), message_bits=bits),
            "h": QLIF((4,), vth=10),
            "out": QLIF((2,), vth=10),
        },
        projections={
            "a": QDense("in", "h", weight=np.full((4, 3), 100)),
            "b": QDense("h", "out", weight=np.full((2, 4), 100)),
        },
    )


def _float():
    return Graph(
        populations={"in": Input((3,)), "out": LIF((2,), v_th=0.5)},
        projections={"a": Dense("in", "out", weight=np.ones((2, 3)))},
    )


def test_backends_are_registered():
    assert {"float", "cpu", "lava"} <= set(BACKENDS)
    assert get_backend("cpu") is run and get_backend("float") is run_float


def test_default_probe_is_output_spikes_only():
    tr = run(_fixed(), np.ones((2, 5, 3), dtype=np.uint8))
    assert set(tr.data) == {"out"} and set(tr.data["out"]) == {"spikes"}
    assert tr.get("out").dtype == np.uint8 and tr.get("out").shape == (2, 5, 2)


def test_probed_states_have_lava_units_and_dtypes():
    tr = run(_fixed(), np.ones((1, 5, 3), dtype=np.uint8), probes=[Probe("h", ("u", "v"))])
    assert tr.get("h", "u").dtype == np.int64
    assert tr.get("h", "u")[0, 1, 0] == 300 << 6  # three inputs x 100, arriving at step 2


def test_steps_beyond_the_input_get_no_spikes():
    x = np.ones((1, 2, 3), dtype=np.uint8)
    long = run(_fixed(), x, steps=6, probes=[Probe("h", ("u",))])
    padded = run(
        _fixed(),
        np.concatenate([x, np.zeros((1, 4, 3), dtype=np.uint8)], axis=1),
        probes=[Probe("h", ("u",))],
    )
    np.testing.assert_array_equal(long.get("h", "u"), padded.get("h", "u"))
    short = run(_fixed(), x, steps=1)
    assert short.steps == 1 and short.get("out").shape == (1, 1, 2)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (np.ones((1, 4, 3), dtype=np.float32), "expected integer spikes"),
        (np.ones((1, 4, 2), dtype=np.uint8), r"expected shape \(batch, T, 3\)"),
        (np.ones((4, 3), dtype=np.uint8), r"expected shape \(batch, T, 3\)"),
        (np.full((1, 4, 3), 2, dtype=np.int64), "binary spikes.*found values in \\[2, 2\\]"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "empty"),
    ],
)
def test_bad_inputs_are_one_line_errors(inputs, message):
    with pytest.raises(InputError, match=message) as err:
        run(_fixed(), inputs)
    assert "\n" not in str(err.value)


def test_graded_payloads_are_checked_against_message_bits():
    run(_fixed(bits=8), np.full((1, 2, 3), -128))
    with pytest.raises(InputError, match=r"signed 8 bits \[-128, 127\], found \[128, 128\]"):
        run(_fixed(bits=8), np.full((1, 2, 3), 128))


def test_bad_steps_and_engine():
    with pytest.raises(InputError, match="steps must be a positive integer"):
        run(_fixed(), np.ones((1, 2, 3), dtype=np.uint8), steps=0)
    with pytest.raises(InputError, match="unknown engine 'turbo'"):
        run(_fixed(), np.ones((1, 2, 3), dtype=np.uint8), engine="turbo")


def test_domains_are_checked():
    with pytest.raises(InputError, match="--backend float"):
        run(_float(), np.ones((1, 2, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="float backend runs float models"):
        run_float(_fixed(), np.ones((1, 2, 3), dtype=np.uint8))


def test_unknown_probe_population():
    with pytest.raises(InputError, match="'nope' is not a population"):
        run(_fixed(), np.ones((1, 2, 3), dtype=np.uint8), probes=[Probe("nope")])
    with pytest.raises(InputError, match="input population"):
        run(_fixed(), np.ones((1, 2, 3), dtype=np.uint8), probes=[Probe("in")])


def test_float_mode_has_the_same_timing():
    # One projection: the input spike at step 1 reaches u at step 2.
    g = Graph(
        populations={"in": Input((1,)), "out": LIF((1,), tau_syn=0.0, v_th=100.0)},
        projections={"a": Dense("in", "out", weight=np.array([[2.5]]))},
    )
    x = np.array([[[1], [0], [0]]], dtype=np.uint8)
    tr = run_float(g, x, probes=[Probe("out", ("u", "v"))])
    assert tr.get("out", "u")[0, :, 0].tolist() == [0.0, 2.5, 0.0]
    assert tr.get("out", "v")[0, :, 0].tolist() == [0.0, 2.5, 2.5]


def test_unsupported_population_type_is_named():
    g = Graph(populations={"in": Input((1,)), "x": LIF((1,))})
    with pytest.raises(
        UnsupportedNodeError,
        match="x: the cpu backend does not support node type LIF; supported: .*QLIF.*Input",
    ):
        from backends.cpu.network import prepare

        prepare(g, True, "cpu")


def test_same_inputs_same_outputs():
    x = (np.random.default_rng(0).random((3, 8, 3)) < 0.5).astype(np.uint8)
    a = run(_fixed(), x, probes=[Probe("out", ("spikes", "v"))])
    b = run(_fixed(), x, probes=[Probe("out", ("spikes", "v"))])
    np.testing.assert_array_equal(a.get("out", "v"), b.get("out", "v"))
