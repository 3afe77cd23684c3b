"""Lava 0.10.0 on Python 3.11 through backends/lava/compat.py.

A 3-neuron LIF network driven by a RingBuffer through a Dense runs on
Loihi2SimCfg(select_tag="fixed_pt") and gives the spikes, u and v derived by hand below from
reference/lava_fixed_point.md (LIF: u = trunc(u*(4096-du-1)/4096) + (a<<6), wrapping;
v = trunc(v*(4096-dv)/4096) + u + (bias_mant << bias_exp), saturating; spike if v > vth<<6,
then v = 0; Dense delivers at step t what its input spiked at t-1; RingBuffer sends data[:, t-1]).
"""


import numpy as np
import pytest

from backends.lava import compat
from ir.errors import BackendUnavailableError

pytestmark = pytest.mark.lava

# Parameters: du = 2047 -> u halves each step ((4096 - 2048) / 4096 = 1/2);
# dv = 1024 -> v keeps 3/4; vth = 150 -> effective threshold 150 << 6 = 9600.
DU, DV, VTH = 2047, 1024, 150
WEIGHTS = np.array([[100, 0], [0, 60], [30, -20]])  # even values: unchanged by 8-bit mixed clip
BIAS_MANT = np.array([0, 25, -3])
BIAS_EXP = np.array([0, 6, 2])  # effective bias: 0, 25 << 6 = 1600, -3 << 2 = -12
STEPS = 6
# Input channel 0 spikes at steps 1 and 2, channel 1 at step 3 (RingBuffer column t-1).
INPUT = np.zeros((2, STEPS), dtype=np.int64)
INPUT[0, 0] = INPUT[0, 1] = 1
INPUT[1, 2] = 1

# Neuron 0: a = 100 at t = 2, 3 (u += 6400).
#   t1 u=0 v=0 | t2 u=6400 v=6400 | t3 u=3200+6400=9600, v=4800+9600=14400 > 9600: spike, v=0
#   t4 u=4800 v=4800 | t5 u=2400 v=3600+2400=6000 | t6 u=1200 v=4500+1200=5700
# Neuron 1: a = 60 at t = 4 (u += 3840), bias 1600 every step.
#   t1 v=1600 | t2 v=1200+1600=2800 | t3 v=2100+1600=3700 | t4 u=3840 v=2775+3840+1600=8215
#   t5 u=1920 v=trunc(6161.25)+1920+1600=9681 > 9600: spike, v=0 | t6 u=960 v=960+1600=2560
# Neuron 2: a = 30 at t = 2, 3 and -20 at t = 4; bias -12.
#   t1 v=-12 | t2 u=1920 v=trunc(-9)+1920-12=1899 | t3 u=960+1920=2880 v=1424+2880-12=4292
#   t4 u=1440-1280=160 v=3219+160-12=3367 | t5 u=80 v=2525+80-12=2593 | t6 u=40 v=1944+40-12=1972
EXPECTED_U = np.array([
    [0, 6400, 9600, 4800, 2400, 1200],
    [0, 0, 0, 3840, 1920, 960],
    [0, 1920, 2880, 160, 80, 40],
]).T
EXPECTED_V = np.array([
    [0, 6400, 0, 4800, 6000, 5700],
    [1600, 2800, 3700, 8215, 0, 2560],
    [-12, 1899, 4292, 3367, 2593, 1972],
]).T
EXPECTED_S = np.zeros((STEPS, 3), dtype=np.int64)
EXPECTED_S[2, 0] = 1
EXPECTED_S[4, 1] = 1


@pytest.fixture(scope="module")
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")


def test_three_neuron_lif_matches_hand_computation(lava_ready):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    src = RingBuffer(data=INPUT)
    dense = Dense(weights=WEIGHTS)
    lif = LIF(shape=(3,), du=DU, dv=DV, vth=VTH, bias_mant=BIAS_MANT, bias_exp=BIAS_EXP)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    monitors = {name: Monitor() for name in ("u", "v", "s_out")}
    monitors["u"].probe(lif.u, STEPS)
    monitors["v"].probe(lif.v, STEPS)
    monitors["s_out"].probe(lif.s_out, STEPS)
    try:
        lif.run(condition=RunSteps(num_steps=STEPS), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        got = {
            k: np.asarray(m.get_data()[lif.name][k]).astype(np.int64) for k, m in monitors.items()
        }
    finally:
        lif.stop()
    np.testing.assert_array_equal(got["u"], EXPECTED_U)
    np.testing.assert_array_equal(got["v"], EXPECTED_V)
    np.testing.assert_array_equal(got["s_out"], EXPECTED_S)


def test_shim_patches_only_the_pinned_file(lava_ready):
    import lava.magma.compiler.var_model as vm

    # The rewritten defaults are fresh instances per object, as default_factory gives.
    a, b = vm.CoreEncoder(), vm.CoreEncoder()
    assert a.x == b.x and a.x is not b.x
    assert vm.__dict__["_snnc_field"] is not None


def test_wrong_version_fails_with_one_clear_line(monkeypatch):
    monkeypatch.setattr(compat, "_installed_version", lambda: "0.9.0")
    with pytest.raises(BackendUnavailableError, match=r"lava-nc 0\.9\.0 is installed.*0\.10\.0"):
        compat.ensure_lava()


def test_missing_lava_says_how_to_install(monkeypatch):
    monkeypatch.setattr(compat, "_installed_version", lambda: None)
    with pytest.raises(BackendUnavailableError, match="make setup"):
        compat.ensure_lava()


def test_changed_var_model_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "var_model.py"
    fake.write_text("from dataclasses import dataclass\n")
    loader = compat._PatchedVarModelLoader("lava.magma.compiler.var_model", str(fake))
    with pytest.raises(BackendUnavailableError, match="not the lava-nc 0.10.0 file"):
        loader.get_code("lava.magma.compiler.var_model")
