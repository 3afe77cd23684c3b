"""Issue 20 through the CLI: the two plain NIR MLPs whose compiled programs used to diverge on
Lava (a cut source with a negative weight exponent, floored per block pair), the deployed
program against its float model (`snnc hil --reference float`), calibration on the user's own
spikes (`snnc compile --calibrate IN.npy`), and Lava's process count (`--lava-blocks`)."""

import json

import numpy as np
import pytest

from backends.lava import compat
from tests.nir.helpers import nir_lif_mlp
from tests.snnc_cli import run_in_process

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module", autouse=True)
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")


def _spikes(path, batch, steps, n, seed=0, rate=0.2):
    rng = np.random.default_rng(seed)
    np.save(path, (rng.random((batch, steps, n)) < rate).astype(np.int64))
    return path


@pytest.mark.parametrize(
    ("sizes", "target", "rate", "lowerings"),
    [
        ([784, 1000, 10], "loihi2", 0.2, [["--lava-blocks"]]),
        ([100, 1500, 10], "loihi1", 0.5, [[], ["--lava-blocks"]]),
    ],
    ids=["784-1000-10-loihi2", "100-1500-10-loihi1"],
)
def test_the_issues_mlps_agree_on_lava_whole_and_block_by_block(
    tmp_path, sizes, target, rate, lowerings
):
    """Issue 20's reproductions: before, `snnc hil` (which lowered block by block) reported
    lif1 u 384 vs 320 (and 256 vs 192 on loihi1) on these untouched programs. Block by block is
    what diverged, so both run it; the loihi1 one also with the default lowering."""
    model = nir_lif_mlp(tmp_path / "mlp.nir", sizes, seed=0)
    build = tmp_path / "build"
    code, out, err = run_in_process(
        "compile", model, "--dt", "0.001", "--target", target, "-o", build
    )
    assert code == 0, err
    report = json.loads((build / "report.json").read_text())
    (made,) = report["split_exact"]["projections"]
    assert made["projection"] == "fc1" and made["source"] == "lif0" and made["pieces"] > 1
    assert made["rel_error"] > made["rel_error_unconstrained"]
    assert report["quantization"]["projections"]["fc1"]["split_exact"] is True
    assert "split-exact fc1 (lif0 cut into" in out
    inputs = _spikes(tmp_path / "in.npy", 2, 40, sizes[0], rate=rate)
    for extra in lowerings:
        code, out, err = run_in_process(
            "hil", build, "--input", inputs, *extra, "--report", tmp_path / "hil.json"
        )
        assert code == 0, err
        assert "verdict: AGREE" in out
        hil = json.loads((tmp_path / "hil.json").read_text())
        assert hil["agree"] and hil["compared_values"] == 2 * 40 * 3 * (sizes[1] + sizes[2])


def test_float_reference_and_calibration_on_user_spikes(tmp_path):
    model = nir_lif_mlp(tmp_path / "mlp.nir", [60, 40, 8], seed=3, tau=0.005)
    inputs = _spikes(tmp_path / "in.npy", 3, 30, 60, seed=1, rate=0.5)
    build = tmp_path / "build"
    code, out, err = run_in_process(
        "compile", model, "--dt", "0.001", "--target", "loihi2", "--calibrate", inputs,
        "-o", build,
    )
    assert code == 0, err
    calib = json.loads((build / "report.json").read_text())["quantization"]["calibration"]
    assert calib["input"] == str(inputs) and calib["samples"] == 3 and calib["steps"] == 30
    assert set(calib["populations"]) == {"lif0", "lif1"}
    assert "calibration:" in out
    code, out, err = run_in_process(
        "hil", build, "--reference", "float", "--model", model, "--dt", "0.001",
        "--input", inputs, "--target", "cpu", "--report", tmp_path / "f.json",
    )
    assert code == 0, err
    assert out.startswith("hil: reference float (")
    report = json.loads((tmp_path / "f.json").read_text())
    assert report["reference"] == "float" and report["target"] == "cpu"
    pops = {p["population"]: p for p in report["populations"]}
    assert set(pops) == {"lif0", "lif1"}
    lif0 = pops["lif0"]
    assert lif0["rate_float"] > 0.01 and 0.9 < lif0["spike_agreement"] <= 1.0
    assert lif0["count_correlation"] > 0.9
    assert abs(lif0["rate_drift"]) < 0.2
    first = report["first_divergence"]
    assert first is None or first["variable"] == "spikes"
    # On Lava: the same numbers (the deployed program computes the same on cpu and Lava).
    code, out_lava, err = run_in_process(
        "hil", build, "--reference", "float", "--model", model, "--dt", "0.001",
        "--input", inputs, "--report", tmp_path / "g.json",
    )
    assert code == 0, err
    lava = json.loads((tmp_path / "g.json").read_text())
    assert lava["populations"] == report["populations"] and lava["target"] == "lava"


def test_float_reference_refuses_what_does_not_fit(tmp_path):
    model = nir_lif_mlp(tmp_path / "mlp.nir", [20, 12, 4], seed=1)
    other = nir_lif_mlp(tmp_path / "other.nir", [20, 13, 4], seed=1)
    build = tmp_path / "build"
    assert (
        run_in_process("compile", model, "--dt", "0.001", "--target", "loihi2", "-o", build)[0] == 0
    )
    inputs = _spikes(tmp_path / "in.npy", 1, 5, 20)
    code, _, err = run_in_process("hil", build, "--reference", "float", "--input", inputs)
    assert code == 1 and err.count("\n") == 1 and "--model" in err
    code, _, err = run_in_process(
        "hil", build, "--reference", "float", "--model", other, "--dt", "0.001", "--input", inputs
    )
    assert code == 1 and err.count("\n") == 1 and "'lif0' has shape (13,)" in err
    code, _, err = run_in_process(
        "hil", build, "--reference", "float", "--model", build / "program.snnc", "--input", inputs
    )
    assert code == 1 and "not a float model" in err
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 5, 21), dtype=np.int64))
    code, _, err = run_in_process(
        "compile", model, "--dt", "0.001", "--target", "loihi2", "--calibrate", bad, "-o",
        tmp_path / "b2",
    )
    assert code == 1 and err.count("\n") == 1 and "has 21 inputs per step, the model has 20" in err


def test_lava_refuses_a_lowering_beyond_its_process_limit_in_one_line(tmp_path, monkeypatch):
    from backends.lava import run as lava_run

    model = nir_lif_mlp(tmp_path / "mlp.nir", [100, 1500, 10], seed=0)
    build = tmp_path / "build"
    assert (
        run_in_process("compile", model, "--dt", "0.001", "--target", "loihi1", "-o", build)[0] == 0
    )
    inputs = _spikes(tmp_path / "in.npy", 1, 3, 100)
    monkeypatch.setattr(lava_run, "MAX_PROCESSES", 8)
    code, _, err = run_in_process(
        "run", build, "--backend", "lava", "--lava-blocks", "--input", inputs, "-o",
        tmp_path / "o.npz",
    )
    # RingBuffer, 3 + 1 LIF blocks (synapse memory cuts lif0 in 3), 3 + 3 block pairs, recorder
    assert code == 1 and err.count("\n") == 1
    assert "the blocks lowering needs 12 Lava processes" in err and "drop --lava-blocks" in err

    def recursion(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(lava_run, "MAX_PROCESSES", 1000)
    from lava.magma.core.process.process import AbstractProcess

    monkeypatch.setattr(AbstractProcess, "create_runtime", recursion)
    code, _, err = run_in_process(
        "run", build, "--backend", "lava", "--input", inputs, "-o", tmp_path / "o.npz"
    )
    assert code == 1 and err.count("\n") == 1 and "Lava could not compile 6 processes" in err
    assert not (tmp_path / "o.npz").exists()
