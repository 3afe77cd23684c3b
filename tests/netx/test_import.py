"""netx files written by hand (the layout SLAYER writes, through the exporter's writer): what the
import computes for each field netx reads, the one warning line for each field netx drops, and
one error line for what netx or snnc cannot take."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from compiler.model_io import load_model
from compiler.netx.importer import import_netx
from compiler.netx.writer import write_layers
from ir.errors import ModelFormatError
from ir.nodes import QConv2d, QDense, QSparse
from neurons import model_of
from tests.netx.helpers import FIXTURES
from tests.snnc_cli import run_in_process

ROOT = Path(__file__).resolve().parents[2]
NIR_FIXTURE = ROOT / "tests" / "fixtures" / "nir" / "snntorch_mlp.nir"


def cuba(**kw):
    return {
        "type": "CUBA",
        "iDecay": 1024,
        "vDecay": 128,
        "vThMant": 64,
        "refDelay": 1,
        "gradedSpike": False,
        **kw,
    }


def weights(shape, seed=0):
    return (np.random.default_rng(seed).integers(-128, 128, shape) * 2).astype(np.float32)


def dense(n_out, n_in, seed=0, **kw):
    return {
        "type": "dense",
        "shape": np.array([n_out]),
        "weight": weights((n_out, n_in), seed),
        "neuron": cuba(),
        **kw,
    }


def conv(c_out, c_in, k, shape, **kw):
    layer = {
        "type": "conv",
        "shape": np.array(shape),
        "weight": weights((c_out, c_in, k, k)),
        "stride": np.array([1, 1]),
        "padding": np.array([0, 0]),
        "dilation": np.array([1, 1]),
        "groups": 1,
        "neuron": cuba(),
    }
    layer.update(kw)
    return layer


def rf(**kw):
    return {
        "type": "RF_PHASE",
        "vThMant": 5,
        "sinDecay": 1500,
        "cosDecay": 3500,
        "gradedSpike": False,
        **kw,
    }


def complex_dense(n_out, n_in, imag=None, type="dense", **kw):
    w = {
        "real": weights((n_out, n_in), 1),
        "imag": weights((n_out, n_in), 2) if imag is None else imag,
    }
    return {"type": type, "shape": np.array([n_out]), "weight": w, "neuron": rf(), **kw}


def write(tmp_path, layers, name="net.net"):
    path = tmp_path / name
    write_layers(layers, path)
    return path


def imported(tmp_path, layers, **kw):
    notes = []
    graph = import_netx(write(tmp_path, layers), warn=notes.append, **kw)
    return graph, notes


# ---------------------------------------------------------------------------- what netx computes


def test_cuba_parameters_are_netx_integers(tmp_path):
    graph, notes = imported(
        tmp_path, [dense(4, 6), dense(3, 4, neuron=cuba(iDecay=0, vDecay=4096, vThMant=9))]
    )
    assert notes == []
    first, second = graph.populations["dense0"], graph.populations["dense1"]
    assert (first.du, first.dv, first.vth) == (1023, 128, 64)
    assert (second.du, second.dv, second.vth) == (-1, 4096, 9)  # du = iDecay - 1: no current decay
    assert int(first.bias_exp) == 6


def test_dense_without_neuron_is_netx_default_integrator(tmp_path):
    layer = dense(3, 5)
    del layer["neuron"]
    graph, _ = imported(tmp_path, [layer])
    pop = graph.populations["dense0"]
    assert (pop.du, pop.dv, pop.vth) == (-1, 4096, 1 << 17)


def test_dense_weights_get_netx_format(tmp_path):
    w = np.array([[2, -4, 6], [0, 8, -10]], dtype=np.float32)
    graph, _ = imported(tmp_path, [dense(2, 3, weight=w)])
    proj = graph.projections["dense0.in"]
    assert isinstance(proj, QDense)
    # mixed, largest 10: scale min(127/10, 128/10) -> 2^3 << 1 = 16; trailing zero bits 1 - 1 = 0
    assert (proj.weight_exp, proj.num_weight_bits, proj.sign_mode) == (-4, 4, "mixed")
    np.testing.assert_array_equal(proj.weight, w.astype(int) << 4)


def test_recurrent_weights_share_one_format(tmp_path):
    layer = dense(3, 4, weight_rec=np.full((3, 3), 40, dtype=np.float32))
    layer["type"] = "dense_rec"
    layer["weight"] = np.full((3, 4), 2, dtype=np.float32)
    graph, _ = imported(tmp_path, [layer])
    w_in, w_rec = graph.projections["dense_rec0.in"], graph.projections["dense_rec0.rec"]
    assert (w_rec.src, w_rec.dst) == ("dense_rec0", "dense_rec0")
    assert w_in.weight_exp == w_rec.weight_exp == -2  # from the joint largest weight 40
    np.testing.assert_array_equal(w_in.weight, 8)


def test_delays_follow_netx_rows_then_columns(tmp_path):
    graph, _ = imported(tmp_path, [dense(3, 4, delay=np.array([1.0, 2.0, 3.0]))])
    np.testing.assert_array_equal(graph.projections["dense0.in"].delay, [[1] * 4, [2] * 4, [3] * 4])
    graph, _ = imported(tmp_path, [dense(3, 4, delay=np.array([1.0, 2.0, 3.0, 4.0]))])
    np.testing.assert_array_equal(graph.projections["dense0.in"].delay, [[1, 2, 3, 4]] * 3)
    graph, notes = imported(tmp_path, [dense(2, 2, delay=np.array([70.0, 5.0]))])
    np.testing.assert_array_equal(graph.projections["dense0.in"].delay, [[62, 62], [5, 5]])
    assert any("clipped to 62" in n for n in notes)


def test_conv_bias_per_channel_and_per_neuron(tmp_path):
    per_channel = conv(2, 1, 3, [2, 3, 4], bias=np.array([2.0, -4.0]))
    graph, _ = imported(tmp_path, [{"type": "input", "shape": np.array([1, 5, 6])}, per_channel])
    bias = graph.populations["conv1"].bias_mant
    np.testing.assert_array_equal(bias[0], 2)
    np.testing.assert_array_equal(bias[1], -4)
    whc = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)  # netx's (W, H, C)
    graph, _ = imported(
        tmp_path,
        [{"type": "input", "shape": np.array([1, 5, 6])}, conv(2, 1, 3, [2, 3, 4], bias=whc)],
    )
    np.testing.assert_array_equal(graph.populations["conv1"].bias_mant, whc.transpose(2, 1, 0))


def test_conv_weights_are_kept_and_first_conv_input_inferred(tmp_path):
    layer = conv(3, 2, 3, [3, 4, 5], padding=np.array([1, 0]))
    graph, _ = imported(tmp_path, [layer])
    assert graph.populations["input"].shape == (2, 4, 7)  # stride 1: one input size fits
    proj = graph.projections["conv0.in"]
    assert isinstance(proj, QConv2d) and proj.padding == (1, 0)
    np.testing.assert_array_equal(proj.weight, layer["weight"].astype(int))


def test_input_neurons_get_a_one_to_one_synapse_and_latency(tmp_path):
    graph, notes = imported(
        tmp_path,
        [
            {
                "type": "input",
                "shape": np.array([5]),
                "neuron": cuba(vThMant=1),
                "weight": 64,
                "bias": 3,
            },
            dense(2, 5),
        ],
    )
    relay = graph.projections["input0.in"]
    assert isinstance(relay, QSparse) and np.array_equal(relay.values, np.ones(5))
    assert graph.metadata["import"]["latency"] == 1
    assert len(notes) == 2 and all("stores it and never applies it" in n for n in notes)


def test_per_neuron_and_per_channel_parameters(tmp_path):
    per_neuron = cuba(
        iDecay=np.array([0, 100, 4096]), vDecay=np.array([5, 5, 5]), vThMant=np.array([1, 2, 3])
    )
    per_channel = cuba(
        iDecay=np.array([10, 20]), vThMant=np.arange(4 * 3 * 2).reshape(4, 3, 2)
    )  # (W, H, C)
    graph, _ = imported(
        tmp_path,
        [
            {"type": "input", "shape": np.array([1, 5, 6])},
            conv(2, 1, 3, [2, 3, 4], neuron=per_channel),
            {"type": "flatten"},
            dense(3, 24, neuron=per_neuron),
        ],
    )
    conv_pop, dense_pop = graph.populations["conv1"], graph.populations["dense3"]
    np.testing.assert_array_equal(dense_pop.du, [-1, 99, 4095])
    assert dense_pop.dv == 5  # uniform values stay one number
    np.testing.assert_array_equal(conv_pop.per_neuron("du").reshape(2, 3, 4)[:, 0, 0], [9, 19])
    np.testing.assert_array_equal(conv_pop.vth, np.arange(24).reshape(4, 3, 2).transpose(2, 1, 0))


def test_sdnn_layers_are_the_lava_processes_netx_builds(tmp_path):
    sdnn = {"type": "SDNN", "vThMant": 6, "activation": "relu"}
    graph, notes = imported(tmp_path, [
        {"type": "input", "shape": np.array([4]), "neuron": dict(sdnn)},
        dense(3, 4, neuron=dict(sdnn, activation="tanh"), bias=np.array([2.0, 0.0, -2.0])),
        dense(2, 3, neuron=dict(sdnn, sigma_output=True))])
    labels = {
        n: model_of(p).lava_process_name for n, p in graph.populations.items() if n != "input"
    }
    assert labels == {"input0": "Delta", "dense1": "SigmaDelta", "dense2": "Sigma"}
    assert (
        graph.populations["input"].message_bits == 24 and graph.metadata["import"]["latency"] == 1
    )
    sd = model_of(graph.populations["dense1"]).lava_params(graph.populations["dense1"])
    assert (sd["vth"], sd["spike_exp"], sd["state_exp"], sd["act_mode"], sd["cum_error"]) == (
        6,
        6,
        6,
        1,
        0,
    )
    np.testing.assert_array_equal(sd["bias"], [2, 0, -2])
    assert len(notes) == 1 and "neuron/activation (layer 1 = 'tanh')" in notes[0]


def test_pool_becomes_grouped_conv(tmp_path):
    pool = {
        "type": "pool",
        "shape": np.array([2, 2, 3]),
        "weight": np.full((1, 1, 2, 2), 254, np.float32),
        "stride": np.array([2, 2]),
        "padding": np.array([0, 0]),
        "dilation": np.array([1, 1]),
        "neuron": cuba(),
    }
    graph, _ = imported(
        tmp_path, [{"type": "input", "shape": np.array([1, 4, 6])}, conv(2, 1, 1, [2, 4, 6]), pool]
    )
    proj = graph.projections["pool2.in"]
    assert isinstance(proj, QConv2d) and proj.groups == 2 and proj.weight.shape == (2, 1, 2, 2)


# ---------------------------------------------------------------------------- fields netx drops


def test_dropped_fields_warn_once_per_field(tmp_path):
    layers = [dense(3, 4, neuron=cuba(refDelay=3, gradedSpike=True, weight_exp=2)),
              dense(2, 3, neuron=cuba(refDelay=2)),
              dense(2, 2, weight=np.array([[2.7, -1.5], [4, 6]], dtype=np.float32))]
    graph, notes = imported(tmp_path, layers)
    assert len(notes) == 4, notes
    assert any("neuron/refDelay (layers 0 = 3, 1 = 2)" in n for n in notes)
    assert any("neuron/gradedSpike (layer 0 = True)" in n for n in notes)
    assert any("neuron/weight_exp (layer 0)" in n for n in notes)
    assert any("weight (layer 2): non-integer values truncated" in n for n in notes)
    eff = graph.projections["dense2.in"].weight >> -graph.projections["dense2.in"].weight_exp
    np.testing.assert_array_equal(eff, [[2, -1], [4, 6]])


def test_conv_delay_is_dropped_as_netx_does(tmp_path):
    graph, notes = imported(tmp_path, [conv(2, 1, 3, [2, 3, 3], delay=np.array([4.0, 5.0]))])
    assert any("ignores the delays of conv layers" in n for n in notes)


def test_zero_weights_note_that_netx_cannot_load_them(tmp_path):
    graph, notes = imported(tmp_path, [dense(2, 3, weight=np.zeros((2, 3), np.float32))])
    assert any("netx 0.6.0 cannot load this layer" in n for n in notes)


def test_complex_dense_is_two_projections_into_the_rf_ports(tmp_path):
    """SLAYER's complex dense (weight/real, weight/imag) into RF and RF_IZ neurons: one QDense
    per part, each with its own netx format, into the "real" (default) and "imag" ports; the
    registers are what Lava's process computes from netx's float period and decay."""
    layers = [
        complex_dense(4, 3),
        complex_dense(
            2,
            4,
            neuron=rf(
                type="RF_IZHIKEVICH",
                sinDecay=np.array([900, 1200]),
                cosDecay=np.array([3900, 3700]),
            ),
        ),
    ]
    graph, notes = imported(tmp_path, layers)
    real, imag = graph.projections["dense0.in"], graph.projections["dense0.imag"]
    assert (real.port, imag.port) == (None, "imag") and real.src == imag.src == "input"
    np.testing.assert_array_equal(
        real.weight, layers[0]["weight"]["real"].astype(np.int64) >> 1 << 1
    )
    assert model_of(graph.populations["dense0"]).name == "rf"
    iz = graph.populations["dense1"]
    assert (
        model_of(iz).name == "rf_iz"
        and iz.vth == 5 * 64
        and iz.state_exp == 6
        and iz.decay_bits == 12
    )
    assert np.abs(iz.per_neuron("sin_decay") - [900, 1200]).max() <= 1
    assert np.abs(iz.per_neuron("cos_decay") - [3900, 3700]).max() <= 1


def test_dense_comp_type_imports_as_the_complex_dense_netx_builds(tmp_path):
    """netx 0.6.0 cannot load `dense_comp` (it calls a create_complex_dense it does not define);
    snnc imports it as the complex `dense` layer, and says so."""
    plain, _ = imported(tmp_path, [complex_dense(4, 3)])
    comp, notes = imported(tmp_path, [complex_dense(4, 3, type="dense_comp")])
    assert any("dense_comp): netx 0.6.0 cannot load this layer type" in n for n in notes)
    for a, b in zip(plain.projections.values(), comp.projections.values()):
        np.testing.assert_array_equal(a.weight, b.weight)
        assert a.port == b.port


def test_complex_delay_and_bias_are_dropped_as_netx_does(tmp_path):
    _, notes = imported(
        tmp_path, [complex_dense(4, 3, delay=np.array([1.0, 2, 3, 4]), bias=np.ones(4, np.float32))]
    )
    assert (
        sum("builds complex dense layers without it" in n for n in notes) == 2
    )  # one line per field


def test_concat_cuts_the_next_layer_into_one_projection_per_joined_layer(tmp_path):
    """snnc's concat layout: branch layers name their input by index, `concat` joins them
    (flat here: end to end), the next dense layer's columns split by part, same format."""
    layers = [
        {"type": "input", "shape": np.array([3])},
        dense(4, 3, seed=1),
        dense(2, 3, seed=2, input=np.array(0)),
        {"type": "concat", "inputs": np.array([1, 2]), "shape": np.array([6])},
        dense(5, 6, seed=3),
    ]
    graph, _ = imported(tmp_path, layers)
    assert {n: (p.src, p.dst) for n, p in graph.projections.items()} == {
        "dense1.in": ("input", "dense1"), "dense2.in": ("input", "dense2"),
        "dense4.in.dense1": ("dense1", "dense4"), "dense4.in.dense2": ("dense2", "dense4")}
    whole, _ = imported(tmp_path, [{"type": "input", "shape": np.array([6])}, dense(5, 6, seed=3)])
    joined = np.hstack(
        [graph.projections["dense4.in.dense1"].weight, graph.projections["dense4.in.dense2"].weight]
    )
    np.testing.assert_array_equal(joined, whole.projections["dense1.in"].weight)
    assert (
        graph.projections["dense4.in.dense1"].weight_exp
        == whole.projections["dense1.in"].weight_exp
    )


def test_average_is_a_host_readout_of_group_means(tmp_path):
    from app.readouts import group_means

    graph, _ = imported(tmp_path, [dense(6, 3), {"type": "average", "shape": np.array([3, 1, 1])}])
    assert graph.metadata["readout"] == {
        "kind": "group_mean",
        "population": "dense0",
        "groups": 3,
        "layer": 1,
    }
    spikes = np.array([[[1, 0, 1, 1, 0, 0]]], dtype=np.uint8)
    np.testing.assert_array_equal(
        group_means(graph, {"dense0": spikes})["dense0:group_mean"], [[[0.5, 1.0, 0.0]]]
    )
    from compiler.netx.exporter import export_netx

    export_netx(graph, tmp_path / "again.net")
    back = import_netx(tmp_path / "again.net", warn=lambda m: None)
    assert (
        back.metadata["import"]["layers"][-1] == "average"
        and back.metadata["readout"]["groups"] == 3
    )


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [{"type": "concat"}],
            r"layer/0 \(concat\) inputs: missing; a concat layer names the layers it joins",
        ),
        (
            [dense(2, 3), {"type": "concat", "inputs": np.array([0, 3])}],
            r"layer/1 \(concat\) input: = 3: not an earlier",
        ),
        (
            [dense(2, 3), dense(2, 2), {"type": "concat", "inputs": np.array([0, 0])}],
            r"inputs\) inputs: joins .* twice|"
            r"a population twice",
        ),
        (
            [dense(2, 3), {"type": "average", "shape": np.array([3])}],
            r"layer/1 \(average\) shape: = \[3\]: 2 neurons",
        ),
        (
            [dense(2, 3), {"type": "average", "shape": np.array([1])}, dense(2, 2)],
            r"layer/2 \(dense\): follows the "
            r"average layer 1, a host readout",
        ),
        ([dense(2, 3, input=np.array(5))], r"layer/0 \(dense\) input: = 5: not an earlier layer"),
        ([{"type": "bogus"}], r"layer/0 \(bogus\) type: 'bogus' is not a netx layer type"),
        (
            [dense(2, 3, neuron=cuba(vThMant=np.array([5, 6, 7])))],
            r"neuron/vThMant: has 3 values for 2 neurons",
        ),
        (
            [dense(2, 3, neuron=rf())],
            r"layer/0 \(dense\) weight: is real, into 'RF_PHASE' neurons: netx 0.6.0 connects",
        ),
        (
            [complex_dense(2, 3, neuron=cuba())],
            r"neuron/type: = 'CUBA': complex weights feed the real and imaginary",
        ),
        (
            [complex_dense(2, 3, neuron=rf(vThMant=np.array([5, 6])))],
            r"neuron/vThMant: has 2 values; netx 0.6.0's RF",
        ),
        (
            [complex_dense(2, 3, neuron=rf(sinDecay=0, cosDecay=0))],
            r"neuron/sinDecay: = 0 with cosDecay 0: .*infinite",
        ),
        (
            [complex_dense(2, 3, imag=weights((2, 4)))],
            r"weight/imag: shape \(2, 4\) does not give|weight/imag: shape",
        ),
        (
            [dense(2, 3, neuron={"type": "SDNN", "vThMant": 5, "messageBits": 0})],
            r"neuron/messageBits: = 0",
        ),
        ([dense(2, 3, neuron=cuba(iDecay=5000))], r"neuron/iDecay: = 5000 is outside \[0, 4096\]"),
        (
            [dense(2, 3, neuron=cuba(type="ALIF"))],
            r"neuron/type: 'ALIF' is not supported; snnc imports CUBA, LOIHI, SDNN and RF",
        ),
        (
            [dense(2, 3, weight=np.full((2, 3), np.nan, np.float32))],
            r"layer/0 \(dense\) weight: has NaN",
        ),
        (
            [dense(2, 3, delay=np.array([1.0, 2.0, 3.0, 4.0]))],
            r"delay: has 4 values; netx 0.6.0 needs 2 .* or 3",
        ),
        ([dense(2, 3, delay=np.array([-1.0, 0.0]))], r"delay: = -1; delays must be >= 0"),
        (
            [conv(2, 1, 3, [2, 3, 3]), dense(2, 18)],
            r"layer/1 \(dense\): reads the \(2, 3, 3\) output of 'conv0' without a flatten",
        ),
        (
            [conv(2, 1, 3, [2, 3, 3], stride=np.array([2, 2]))],
            r"has stride 2, so the input size is ambiguous; .*--input-shape",
        ),
        (
            [{"type": "input", "shape": np.array([1, 5, 5])}, conv(2, 1, 3, [2, 4, 4])],
            r"shape: = \[2, 4, 4\], but its input and kernel give \[2, 3, 3\]",
        ),
        (
            [dense(2, 3), dense(2, 5)],
            r"layer/1 \(dense\) weight: has 5 inputs, its source 'dense0' has 2 neurons",
        ),
        (
            [dense(2, 2, weight=np.array([[301, -3], [5, 7]], np.float32))],
            r"weight: netx derives num_weight_bits = 9 \(odd mixed-sign weights up to 254\), "
            r"beyond the 8-bit synapse",
        ),
    ],
)
def test_errors_are_one_line(tmp_path, layers, message):
    with pytest.raises(ModelFormatError, match=message) as err:
        import_netx(write(tmp_path, layers), warn=lambda m: None)
    assert "\n" not in str(err.value)


def test_structure_errors(tmp_path):
    path = tmp_path / "x.net"
    with h5py.File(path, "w") as f:
        f.create_group("something")
    with pytest.raises(ModelFormatError, match="no /layer group; not a lava-dl netx file"):
        load_model(path)
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        layer.create_group("0").create_dataset("type", data="flatten")
        layer.create_group("2").create_dataset("type", data="flatten")
    with pytest.raises(ModelFormatError, match=r"members must be named 0..1"):
        load_model(path)
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(
        ModelFormatError, match=r"not a readable HDF5 file .*; lava-dl netx files are HDF5"
    ):
        load_model(path)


def test_format_is_read_from_the_content(tmp_path):
    """A netx file named .nir imports as netx; a NIR file named .net as NIR."""
    netx_as_nir = tmp_path / "mlp.nir"
    shutil.copy(FIXTURES / "cuba_mlp.net", netx_as_nir)
    assert load_model(netx_as_nir).metadata["import"]["format"] == "netx"
    nir_as_net = tmp_path / "mlp.net"
    shutil.copy(NIR_FIXTURE, nir_as_net)
    assert load_model(nir_as_net, dt=1e-4).metadata["import"]["format"] == "nir"


def test_cli_import_and_its_options(tmp_path):
    out = tmp_path / "conv.snnc"
    code, stdout, stderr = run_in_process("import", FIXTURES / "cuba_conv.net", "-o", out)
    assert code == 0, stderr
    assert "latency: output step t + 1 is netx's step t" in stdout
    assert model_of(load_model(out).populations["conv1"]).lava_process_name == "LIF"
    code, _, stderr = run_in_process(
        "import", FIXTURES / "cuba_conv.net", "--discretization", "exp", "-o", tmp_path / "x.snnc"
    )
    assert code == 1 and "--discretization applies to NIR files only" in stderr
    strided = write(tmp_path, [conv(2, 1, 3, [2, 2, 3], stride=np.array([2, 2]))], "strided.net")
    code, _, stderr = run_in_process("import", strided, "-o", tmp_path / "s.snnc")
    assert code == 1 and stderr.count("\n") == 1 and "--input-shape C,H,W" in stderr
    code, _, stderr = run_in_process(
        "import", strided, "--input-shape", "1,5,7", "-o", tmp_path / "s.snnc"
    )
    assert code == 0, stderr
    assert load_model(tmp_path / "s.snnc").populations["input"].shape == (1, 5, 7)


def test_cli_export_picks_netx_by_suffix(tmp_path):
    code, stdout, stderr = run_in_process(
        "export", FIXTURES / "cuba_conv.net", "-o", tmp_path / "back.net"
    )
    assert code == 0, stderr
    assert "5 layers (input, conv, conv, flatten, dense)" in stdout
    assert "feed them through net.in_layer.neuron.a_in" in stdout
    assert load_model(tmp_path / "back.net").metadata["import"]["latency"] == 1


def test_cli_run_writes_the_average_readout(tmp_path):
    """`snnc run` on a file with SLAYER's average: the spikes of the averaged layer and, beside
    them, the host readout's group means, which are SLAYER's float forward (within float32)."""
    from tests.netx.helpers import MEAN_ATOL, fixture

    fx = fixture("cuba_concat")
    code, stdout, stderr = run_in_process(
        "run", fx.path, "--input", FIXTURES / "cuba_concat.input.npy", "-o", tmp_path / "out.npz"
    )
    assert code == 0, stderr
    assert "dense5:group_mean  (3, 32, 2)" in stdout
    with np.load(tmp_path / "out.npz") as data:
        np.testing.assert_allclose(data["dense5:group_mean"], fx.slayer, rtol=0, atol=MEAN_ATOL)
