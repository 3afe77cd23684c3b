"""VIB training (torch): the encoder is exactly snnc's float LIF chain, the score-function
estimator is the gradient it claims to be, and small training runs learn, deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from backends import get_backend  # noqa: E402
from backends.base import Probe  # noqa: E402
from compiler.cli import main  # noqa: E402
from ir import load_graph  # noqa: E402
from trainers.vib import tasks  # noqa: E402
from trainers.vib.config import EncoderShape, config_for  # noqa: E402
from trainers.vib.evaluate import evaluate_vib  # noqa: E402
from trainers.vib.export import encoder_graph  # noqa: E402
from trainers.vib.network import Encoder  # noqa: E402
from trainers.vib.train import _Baseline, _rank1_update, _window_credit, score_gradients, train_vib  # noqa: E402

pytestmark = pytest.mark.torch


def _encoder(shape: EncoderShape, seed: int = 0) -> Encoder:
    enc = Encoder(shape, torch.Generator().manual_seed(seed), gain_hidden=3.0, gain_readout=3.0)
    with torch.no_grad():
        for b in enc.biases:
            b.uniform_(-0.5, 1.0, generator=torch.Generator().manual_seed(seed + 1))
    return enc


def test_threshold_encoder_matches_the_float_backend_spike_for_spike():
    shape = EncoderShape(
        12, (16, 9), 6, tau_syn_hidden=2.0, tau_mem_hidden=4.0, tau_syn_readout=1.5
    )
    enc = _encoder(shape)
    x = (np.random.default_rng(0).random((5, 25, 12)) < 0.3).astype(np.uint8)
    rec = enc.run(torch.as_tensor(x, dtype=torch.float64), readout="threshold")
    weights, biases = enc.arrays()
    graph = encoder_graph(
        weights, biases, tau_syn_hidden=2.0, tau_mem_hidden=4.0, tau_syn_readout=1.5
    )
    trace = get_backend("float")(
        graph, x, probes=(Probe("hidden1"), Probe("hidden2"), Probe("readout"))
    )
    for i, name in enumerate(("hidden1", "hidden2")):
        assert np.array_equal(trace.get(name), rec.hidden_spikes[i].numpy().astype(np.uint8))
    ro = trace.get("readout")
    assert np.array_equal(ro, rec.spikes.numpy().astype(np.uint8))
    assert 0.05 < ro.mean() < 0.95 and 0.02 < trace.get("hidden2").mean() < 0.95
    # The deterministic readout fires exactly where the trained probability exceeds 1/2.
    assert np.array_equal(ro, (rec.probs.numpy() > 0.5).astype(np.uint8))


@settings(max_examples=12)
@given(
    n_in=st.integers(1, 8), hidden=st.lists(st.integers(1, 8), max_size=2), n_out=st.integers(1, 5),
    taus=st.tuples(*[st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.5]) for _ in range(3)]),
    steps=st.integers(1, 20), seed=st.integers(0, 2**16),
)
def test_any_encoder_exports_to_the_graph_the_float_backend_runs_identically(
    n_in, hidden, n_out, taus, steps, seed
):
    shape = EncoderShape(n_in, tuple(hidden), n_out, *taus)
    enc = _encoder(shape, seed)
    x = (np.random.default_rng(seed).random((3, steps, n_in)) < 0.4).astype(np.uint8)
    rec = enc.run(torch.as_tensor(x, dtype=torch.float64), readout="threshold")
    weights, biases = enc.arrays()
    graph = encoder_graph(
        weights, biases, tau_syn_hidden=taus[0], tau_mem_hidden=taus[1], tau_syn_readout=taus[2]
    )
    names = [f"hidden{i + 1}" for i in range(len(hidden))]
    trace = get_backend("float")(graph, x, probes=tuple(Probe(n) for n in [*names, "readout"]))
    assert np.array_equal(trace.get("readout"), rec.spikes.numpy().astype(np.uint8))
    for i, name in enumerate(names):
        assert np.array_equal(trace.get(name), rec.hidden_spikes[i].numpy().astype(np.uint8))


def test_readout_score_estimate_equals_autograd_of_the_log_likelihood():
    shape = EncoderShape(10, (), 4, tau_syn_readout=2.0)
    enc = _encoder(shape)
    x = torch.as_tensor((np.random.default_rng(1).random((3, 15, 10)) < 0.3), dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    rec = enc.run(x, readout="sample", generator=gen, record=True)
    signal = torch.rand((3, 15), generator=gen)
    baseline = _Baseline(keep=1.0)
    for name, shape_ in (("w_out", (4, 10)), ("b_out", (4, 1))):  # a zero baseline, kept forever
        baseline.num[name], baseline.den[name] = torch.zeros(shape_), torch.ones(shape_)
    score_gradients(enc, rec, signal, [], baseline)
    got_w, got_b = enc.weights[0].grad.clone(), enc.biases[0].grad.clone()
    # Autograd: d/dtheta of mean_b sum_k l[b,k] log p(s[b,k]) with the sampled spikes fixed.
    s = rec.spikes
    enc.zero_grad()
    probs = enc.run(
        x, readout="sample", generator=torch.Generator().manual_seed(0), surrogate=True
    ).probs
    logp = (s * torch.log(probs) + (1 - s) * torch.log(1 - probs)).sum(-1)
    ((signal * logp).sum() / 3).backward()
    assert torch.allclose(got_w, enc.weights[0].grad, atol=1e-5)
    assert torch.allclose(got_b, enc.biases[0].grad, atol=1e-5)


def test_hidden_eligibility_is_dv_dw_when_no_neuron_resets():
    shape = EncoderShape(5, (4,), 3, v_th_hidden=1e6)  # never fires: the reset never acts
    enc = _encoder(shape)
    x = torch.as_tensor((np.random.default_rng(2).random((2, 12, 5)) < 0.5), dtype=torch.float64)
    rec = enc.run(x, readout="threshold", record=True)
    c = torch.randn((2, 12, 4), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    want_w = torch.einsum("bki,bkj->ij", c, rec.elig[0])
    want_b = (c * rec.elig_bias[0]).sum(dim=(0, 1))
    # Autograd of sum c * v through the hidden layer's dynamics.
    w = enc.weights[0].detach().double().requires_grad_()
    b = enc.biases[0].detach().double().requires_grad_()
    u = torch.zeros((2, 4), dtype=torch.float64)
    v = torch.zeros((2, 4), dtype=torch.float64)
    a_syn, a_mem = np.exp(-1 / 2.0), np.exp(-1 / 5.0)
    total = 0
    for k in range(12):
        prev = x[:, k - 1] if k else torch.zeros((2, 5), dtype=torch.float64)
        u = a_syn * u + prev @ w.T
        v = a_mem * v + u + b
        total = total + (c[:, k] * v).sum()
    total.backward()
    assert torch.allclose(w.grad, want_w) and torch.allclose(b.grad, want_b)


def test_baseline_cancels_a_constant_learning_signal():
    gen = torch.Generator().manual_seed(0)
    post, pre = torch.randn((4, 6, 3), generator=gen), torch.rand((4, 6, 5), generator=gen)
    update = _rank1_update(torch.full((4, 6), 2.5), post, pre, _Baseline(keep=0.01), "w")
    assert torch.allclose(update, torch.zeros_like(update), atol=1e-5)


def test_window_credit_sums_the_losses_whose_window_holds_each_step():
    loss = torch.arange(1.0, 9.0).reshape(2, 4)
    ends = np.array([3, 5, 6, 7])
    got = _window_credit(loss, ends, window=3, steps=8)
    want = torch.zeros((2, 8))
    for b in range(2):
        for j, e in enumerate(ends):
            for k in range(e - 2, e + 1):
                want[b, k] += loss[b, j]
    assert torch.equal(got, want)


_SMALL = {
    "predictive-coding": dict(steps=30, epochs=2, refit_epochs=2),
    "digits": dict(hidden=(32,), n_readout=16, steps=8, epochs=5, refit_epochs=3, decoder_hidden=64,
                   lr_decoder=3e-3),
}


@pytest.mark.parametrize(("task", "rule", "floor"), [
    ("predictive-coding", "score", 0.05),
    ("predictive-coding", "surrogate", 0.05),
    ("digits", "score", 0.2),
    ("digits", "surrogate", 0.5),
])
def test_small_training_runs_learn(task, rule, floor):
    """Chance is 1/190 (patterns) and 0.1 (digit classes); the floors are several times that."""
    result = train_vib(config_for(task, rule=rule, **_SMALL[task]))
    assert result.val["deterministic"] > floor
    assert result.history[-1]["dec_loss"] < result.history[0]["dec_loss"]
    assert 0.0 < result.val["sampled_rate"] < 1.0


def test_training_is_deterministic_and_the_cli_writes_both_files(tmp_path, capsys):
    args = ["train", "vib", "--task", "predictive-coding", "--steps", "30", "--epochs", "1",
            "--refit-epochs", "1", "--seed", "4"]
    assert main([*args, "-o", str(tmp_path / "a" / "pc.snnc")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "pc.decoder.npz" in out and "deterministic readout" in out
    assert main([*args, "-o", str(tmp_path / "b" / "pc.snnc")]) == 0
    for name in ("pc.snnc", "pc.decoder.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    graph = load_graph(tmp_path / "a" / "pc.snnc")
    assert graph.metadata["trainer"]["seed"] == 4 and graph.metadata["encoding"]["seed"] == 4
    # The float backend scores the saved model as training measured it (float64 vs float32).
    res = evaluate_vib(graph, tmp_path / "a" / "pc.snnc", backend="float", split="val")
    assert res["accuracy"] == pytest.approx(
        graph.metadata["trainer"]["val"]["deterministic"], abs=0.01
    )


def test_cli_usage_and_user_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "vib", "--hidden", "x", "-o", str(tmp_path / "m.snnc")])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(
            [
                "train",
                "vib",
                "--task",
                "digits",
                "--dataset",
                "digits",
                "-o",
                str(tmp_path / "m.snnc"),
            ]
        )
    assert e.value.code == 2
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "vib",
                "--decoder",
                "mlp",
                "--decoder-hidden",
                "0",
                "-o",
                str(tmp_path / "m.snnc"),
            ]
        )
        == 1
    )
    assert "needs --decoder-hidden >= 1" in capsys.readouterr().err
    assert main(["train", "vib", "--r", "1.5", "-o", str(tmp_path / "m.snnc")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "r must be in (0, 1), got 1.5" in err
    assert main(["train", "vib", "--task", "predictive-coding", "-o", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_pattern_targets_cover_the_trained_window():
    # The default predictive-coding model scores every step after the first window.
    cfg = config_for("predictive-coding")
    x = tasks.blob_sequences(1, cfg.steps, cfg.seed)
    ends, _ = tasks.pc_targets(x, 1, cfg.delta, cfg.window)
    assert ends[0] == cfg.window - 1 and ends[-1] == cfg.steps - 1


@pytest.mark.slow
def test_fashion_mnist_reconstruction_trains():
    from ir.errors import DatasetMissingError
    from trainers.datasets import fashion_mnist_dir

    if not (fashion_mnist_dir() / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(str(DatasetMissingError("Fashion-MNIST is not installed")))
    result = train_vib(config_for("fashion-mnist", epochs=1, train_samples=3000, refit_epochs=1))
    assert result.shape.n_inputs == 196 and result.val["deterministic"] > 0.25  # chance: 0.1
