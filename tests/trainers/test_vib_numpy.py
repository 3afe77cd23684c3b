"""VIB tasks, decoder, export and the deployed-pipeline scorer (numpy only: no torch needed)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from ir import InputError, ModelFormatError, load_graph
from ir.nodes import LIF, Dense, Input
from ir.serialize import graph_to_bytes
from tests.trainers.vib_models import random_result
from trainers.vib import tasks
from trainers.vib.decoder import (
    DecoderSpec,
    decode,
    decoder_features,
    read_decoder_file,
    resolve_decoder_file,
    write_decoder_file,
)
from trainers.vib.evaluate import evaluate_vib, is_vib_model, model_info
from trainers.vib.export import decoder_path_for, write_model

# --------------------------------------------------------------------------- tasks


def test_blob_sequences_are_seeded_per_sample_and_batch_invariant():
    whole = tasks.blob_sequences(6, 40, seed=3, split="val")
    parts = np.concatenate(
        [tasks.blob_sequences(2, 40, 3, "val", first_index=i) for i in (0, 2, 4)]
    )
    assert np.array_equal(whole, parts)
    assert not np.array_equal(whole, tasks.blob_sequences(6, 40, seed=3, split="test"))
    assert not np.array_equal(whole, tasks.blob_sequences(6, 40, seed=4, split="val"))


def test_blob_sequences_have_one_or_two_active_inputs_and_drift():
    x = tasks.blob_sequences(50, 100, seed=0)
    active = x.sum(axis=2)
    assert x.dtype == np.uint8 and x.shape == (50, 100, 20)
    assert active.min() >= 1 and active.max() <= 2
    assert 0.85 < np.mean(active == 2) < 1.0  # two blobs share a bin only now and then
    # The blobs move: a step's active set usually differs from the previous one.
    changed = np.any(x[:, 1:] != x[:, :-1], axis=2)
    assert changed.mean() > 0.5
    # Every input neuron gets used.
    assert np.all(x.sum(axis=(0, 1)) > 0)


def test_pattern_index_is_a_bijection_onto_210_patterns():
    n = tasks.PC_INPUTS
    pats = []
    for i in range(n):
        for j in range(i, n):
            p = np.zeros(n, dtype=np.uint8)
            p[[i, j]] = 1
            pats.append(p)
    idx = tasks.pattern_index(np.array(pats))
    assert tasks.n_patterns() == 210
    assert np.array_equal(idx, np.arange(210))
    with pytest.raises(InputError, match="1 or 2 active inputs"):
        tasks.pattern_index(np.zeros((1, n)))


def test_pc_targets_align_with_latency_and_delta():
    x = tasks.blob_sequences(3, 12, seed=1)
    ends, y = tasks.pc_targets(x, latency=2, delta=1, window=3)
    # Step k is scored when k >= window - 1 and k - latency + delta is a valid input step.
    assert ends.tolist() == list(range(2, 12))
    assert np.array_equal(y, tasks.pattern_index(x[:, ends - 1]))
    with pytest.raises(InputError, match="no scored steps"):
        tasks.pc_targets(x, latency=1, delta=0, window=20)


def test_reconstruction_inputs_pad_with_silence_and_use_shared_encoder():
    from trainers.encoders import encode

    x = np.linspace(0, 1, 2 * 64).reshape(2, 64)
    s = tasks.reconstruction_inputs({"kind": "latency"}, x, 8, 10, seed=5, first_index=3)
    assert s.shape == (2, 10, 64)
    assert np.array_equal(s[:, :8], encode({"kind": "latency"}, x, 8, 5, first_index=3))
    assert not s[:, 8:].any()


# --------------------------------------------------------------------------- decoder


def test_decoder_features_time_is_step_major_and_rate_counts():
    spikes = np.zeros((1, 6, 3), dtype=np.uint8)
    spikes[0, 3, 2] = 1
    spikes[0, 5, 0] = 1
    spikes[0, 4, 2] = 1
    time_spec = DecoderSpec("time", 3, 3, "linear", 0, 4, "sigmoid")
    f = decoder_features(spikes, time_spec, np.array([5]))
    # window = steps 3, 4, 5; feature w * n + i
    assert f.shape == (1, 1, 9)
    assert np.flatnonzero(f[0, 0]).tolist() == [0 * 3 + 2, 1 * 3 + 2, 2 * 3 + 0]
    rate_spec = DecoderSpec("rate", 3, 3, "linear", 0, 4, "sigmoid")
    assert decoder_features(spikes, rate_spec, np.array([5]))[0, 0].tolist() == [1, 0, 2]
    with pytest.raises(InputError, match="does not fit"):
        decoder_features(spikes, time_spec, np.array([1]))


def test_decode_mlp_and_log_softmax():
    spec = DecoderSpec("rate", 2, 2, "mlp", 3, 4, "log_softmax")
    w1, b1 = np.array([[1.0, 0], [0, 1], [-1, -1]]), np.zeros(3)
    w2, b2 = np.eye(4, 3), np.array([0, 0, 0, 1.0])
    out = decode(np.array([[2.0, 1.0]]), [(w1, b1), (w2, b2)], spec)
    logits = np.array([2.0, 1.0, 0.0, 1.0])  # relu([2, 1, -3]) through w2, plus b2
    assert np.allclose(out[0], logits - math.log(np.exp(logits).sum()))


def test_decoder_file_round_trip_hash_and_shape_checks(tmp_path):
    spec = DecoderSpec("time", 2, 3, "mlp", 4, 5, "sigmoid")
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=s), rng.normal(size=s[0])) for s in spec.layer_shapes()]
    other = [(w + 1, b) for w, b in layers]
    clf = (rng.normal(size=(10, 5)), rng.normal(size=10))
    path = tmp_path / "m.decoder.npz"
    sha = write_decoder_file(path, spec, {"deployed": layers, "sampled": other}, clf)
    assert (
        write_decoder_file(
            tmp_path / "again.npz", spec, {"deployed": layers, "sampled": other}, clf
        )
        == sha
    )
    got, got_clf = read_decoder_file(path, spec, sha256=sha, classifier=(10, 5))
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(got, layers, strict=True))
    assert np.array_equal(got_clf[0], clf[0])
    sampled, _ = read_decoder_file(path, spec, variant="sampled")
    assert np.array_equal(sampled[0][0], other[0][0])
    with pytest.raises(ModelFormatError, match="sha256 differs"):
        read_decoder_file(path, spec, sha256="0" * 64)
    wrong = DecoderSpec("rate", 2, 3, "mlp", 4, 5, "sigmoid")
    with pytest.raises(
        ModelFormatError, match=r"deployed.layer0.weight: expected finite floats of shape \(4, 3\)"
    ):
        read_decoder_file(path, wrong)
    write_decoder_file(path, spec, {"deployed": layers, "sampled": other}, None)
    with pytest.raises(ModelFormatError, match=re.escape("classifier.weight: missing")):
        read_decoder_file(path, spec, classifier=(10, 5))


def test_resolve_decoder_file(tmp_path):
    (tmp_path / "m.decoder.npz").write_bytes(b"x")
    build = tmp_path / "build"
    build.mkdir()
    assert resolve_decoder_file("m.decoder.npz", tmp_path / "m.snnc") == tmp_path / "m.decoder.npz"
    # A BUILD folder: its own folder first, then beside it.
    assert resolve_decoder_file("m.decoder.npz", build) == tmp_path / "m.decoder.npz"
    (build / "m.decoder.npz").write_bytes(b"y")
    assert resolve_decoder_file("m.decoder.npz", build) == build / "m.decoder.npz"
    with pytest.raises(InputError, match=re.escape("decoder file 'n.npz' not found")):
        resolve_decoder_file("n.npz", tmp_path / "m.snnc")
    with pytest.raises(ModelFormatError, match="bare file name"):
        resolve_decoder_file("../m.decoder.npz", tmp_path / "m.snnc")
    with pytest.raises(InputError, match=re.escape("--decoder nope.npz: no such file")):
        resolve_decoder_file("m.decoder.npz", tmp_path / "m.snnc", "nope.npz")


# --------------------------------------------------------------------------- export


def test_export_writes_a_verified_chain_with_a_memoryless_readout(tmp_path):
    result = random_result("digits")
    graph, dec = write_model(result, tmp_path / "enc.snnc")
    assert dec == tmp_path / "enc.decoder.npz" == decoder_path_for(tmp_path / "enc.snnc")
    loaded = load_graph(tmp_path / "enc.snnc")
    assert list(loaded.populations) == ["in", "hidden1", "readout"]
    assert isinstance(loaded.populations["in"], Input)
    hidden, readout = loaded.populations["hidden1"], loaded.populations["readout"]
    assert isinstance(hidden, LIF) and isinstance(readout, LIF)
    # Readout: no membrane memory (alpha_mem = 0) and the trained threshold.
    alpha_syn, alpha_mem = readout.decays(loaded.dt)
    assert float(alpha_mem) == 0.0 and float(alpha_syn) == pytest.approx(math.exp(-1.0))
    assert float(hidden.decays(loaded.dt)[1]) == pytest.approx(math.exp(-1 / 5))
    assert np.array_equal(readout.bias, result.biases[1])
    projs = loaded.projections
    assert [(p.src, p.dst) for p in projs.values()] == [("in", "hidden1"), ("hidden1", "readout")]
    assert all(isinstance(p, Dense) for p in projs.values())
    assert np.array_equal(projs["hidden1_readout"].weight, result.weights[1])
    meta = loaded.metadata
    assert is_vib_model(loaded)
    assert meta["decoder"]["file"] == "enc.decoder.npz" and len(meta["decoder"]["sha256"]) == 64
    assert meta["readout"] == {"kind": "vib_decoder", "population": "readout"}
    assert meta["encoding"] == {"kind": "latency", "steps": 6, "seed": 0}
    assert meta["trainer"]["name"] == "vib" and meta["trainer"]["seed"] == 0
    assert meta["task"]["kind"] == "reconstruction" and meta["task"]["dataset"] == "digits"
    assert graph_to_bytes(graph) == (tmp_path / "enc.snnc").read_bytes()
    # Deterministic: the same result writes the same bytes.
    write_model(result, tmp_path / "again" / "enc.snnc")
    assert (tmp_path / "again" / "enc.snnc").read_bytes() == (tmp_path / "enc.snnc").read_bytes()
    assert (tmp_path / "again" / "enc.decoder.npz").read_bytes() == dec.read_bytes()


# --------------------------------------------------------------------------- evaluation


def _reference_pc_accuracy(result, x):
    """Independent float simulation of the exported chain (ir.nodes.LIF equations) + decoder."""
    shape = result.shape
    n_layers = len(result.weights)
    batch, steps, _ = x.shape
    sizes = shape.sizes
    prev = [np.zeros((batch, n)) for n in sizes]
    u = [np.zeros((batch, n)) for n in sizes[1:]]
    v = [np.zeros((batch, n)) for n in sizes[1:]]
    out = np.zeros((batch, steps, sizes[-1]), dtype=np.uint8)
    for k in range(steps):
        emit = [x[:, k].astype(float)]
        for layer in range(n_layers):
            readout = layer == n_layers - 1
            a_syn = math.exp(-1 / (shape.tau_syn_readout if readout else shape.tau_syn_hidden))
            a_mem = 0.0 if readout else math.exp(-1 / shape.tau_mem_hidden)
            u[layer] = a_syn * u[layer] + prev[layer] @ result.weights[layer].T
            v[layer] = a_mem * v[layer] + u[layer] + result.biases[layer]
            s = v[layer] > 1.0
            v[layer][s] = 0.0
            emit.append(s.astype(float))
        out[:, k] = emit[-1]
        prev = emit
    ends, y = tasks.pc_targets(x, shape.latency, result.config.delta, result.spec.window)
    logp = decode(decoder_features(out, result.spec, ends), result.decoder_deployed, result.spec)
    return float(np.mean(np.argmax(logp, axis=-1) == y)), float(out.mean())


@pytest.mark.parametrize("decoding", ["time", "rate"])
def test_evaluate_float_pipeline_matches_an_independent_simulation(tmp_path, decoding):
    result = random_result("predictive-coding", decoding=decoding, hidden=(7,))
    graph, _ = write_model(result, tmp_path / "pc.snnc")
    res = evaluate_vib(
        graph, tmp_path / "pc.snnc", backend="float", split="test", samples=10, batch=4
    )
    x = tasks.blob_sequences(10, 30, seed=0, split="test")
    acc, rate = _reference_pc_accuracy(result, x)
    assert res["accuracy"] == pytest.approx(acc, abs=1e-12)
    assert res["readout_rate"] == pytest.approx(rate)
    assert 0.05 < rate < 0.95  # the random encoder does fire and is not saturated
    assert res["samples"] == 10 and res["steps"] == 30 and res["backend"] == "float"
    json.dumps(res)


def test_evaluate_reconstruction_uses_classifier_and_checks_steps(tmp_path):
    result = random_result("digits")
    graph, _ = write_model(result, tmp_path / "d.snnc")
    res = evaluate_vib(graph, tmp_path / "d.snnc", backend="float", split="test", samples=20)
    assert res["metric"] == "classifier_accuracy_on_reconstructions" and res["run_steps"] == 8
    assert 0.0 <= res["accuracy"] <= 1.0 and res["samples"] == 20
    with pytest.raises(InputError, match="--steps 7 does not fit"):
        evaluate_vib(graph, tmp_path / "d.snnc", steps=7)


def test_evaluate_rejects_wrong_or_missing_decoder(tmp_path):
    result = random_result("predictive-coding")
    graph, dec = write_model(result, tmp_path / "pc.snnc")
    other = random_result("predictive-coding", seed=1)
    write_model(other, tmp_path / "other" / "pc.snnc")
    (tmp_path / "pc.decoder.npz").write_bytes((tmp_path / "other" / "pc.decoder.npz").read_bytes())
    with pytest.raises(ModelFormatError, match="sha256 differs"):
        evaluate_vib(graph, tmp_path / "pc.snnc", samples=2)
    dec.unlink()
    with pytest.raises(InputError, match=re.escape("decoder file 'pc.decoder.npz' not found")):
        evaluate_vib(graph, tmp_path / "pc.snnc", samples=2)


def test_model_info_names_missing_metadata():
    result = random_result("predictive-coding")
    from trainers.vib.export import encoder_graph

    g = encoder_graph(
        result.weights,
        result.biases,
        tau_syn_hidden=2,
        tau_mem_hidden=5,
        tau_syn_readout=1,
        metadata={"trainer": {"name": "vib"}},
    )
    assert is_vib_model(g)
    with pytest.raises(ModelFormatError, match=re.escape("m.snnc: metadata.task: missing")):
        model_info(g, "m.snnc")


def test_sampled_readout_is_seeded_per_sample_and_agrees_with_the_threshold_when_certain(tmp_path):
    from trainers.vib.evaluate import sampled_readout_run

    result = random_result("predictive-coding", hidden=(6,))
    graph, _ = write_model(result, tmp_path / "pc.snnc")
    info = model_info(graph, "pc.snnc")
    x = tasks.blob_sequences(6, 30, seed=0, split="test")
    whole = sampled_readout_run(graph, info, x, 30, "test", 0)
    halves = np.concatenate(
        [sampled_readout_run(graph, info, x[i : i + 3], 30, "test", i) for i in (0, 3)]
    )
    assert np.array_equal(whole, halves)
    assert not np.array_equal(whole, sampled_readout_run(graph, info, x, 30, "val", 0))
    # Scaling the readout's log-odds by 1000 makes sigmoid(v - v_th) 0 or 1: sampling = threshold.
    result.weights[-1] = result.weights[-1] * 1000
    result.biases[-1] = (result.biases[-1] - 1.0) * 1000 + 1.0 + 1e-3
    sharp, _ = write_model(result, tmp_path / "sharp.snnc")
    det = evaluate_vib(sharp, tmp_path / "sharp.snnc", samples=6, keep_spikes=True)["spikes"]
    assert np.array_equal(sampled_readout_run(sharp, info, x, 30, "test", 0), det)
    assert 0.05 < det.mean() < 0.95


def test_encode_split_gives_vib_models_the_spikes_evaluation_uses(tmp_path):
    from trainers.encoders import encode_split

    pc, _ = write_model(random_result("predictive-coding"), tmp_path / "pc.snnc")
    x, labels = encode_split(pc.metadata, "predictive-coding", "val", samples=3, start=2)
    assert np.array_equal(x, tasks.blob_sequences(3, 30, 0, "val", first_index=2))
    assert np.array_equal(labels, tasks.pattern_index(x))
    dg, _ = write_model(random_result("digits"), tmp_path / "dg.snnc")
    spikes, y = encode_split(dg.metadata, "digits", "test", samples=4)
    data = tasks.load_reconstruction_data("digits")
    # 6 input steps + latency 2
    assert spikes.shape == (4, 8, 64) and np.array_equal(y, data.y["test"][:4])
    assert np.array_equal(
        spikes, tasks.reconstruction_inputs({"kind": "latency"}, data.x["test"][:4], 6, 8, 0, 0)
    )
    with pytest.raises(InputError, match="trained on digits; use --dataset digits"):
        encode_split(dg.metadata, "fashion-mnist")
