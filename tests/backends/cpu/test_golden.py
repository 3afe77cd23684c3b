"""Golden vectors: every one listed in reference/lava_fixed_point.md (from Lava's own tests,
lava tests/lava/proc/lif/test_models.py and tests/lava/proc/dense/test_models.py), reproduced
by the cpu backend's kernels and by whole programs on both engines.

Lava's LIF tests drive a_in directly; in an snnc program every input passes through a
projection, which adds the one-step delay of Lava's connection processes, so the program-level
versions below are the same vectors one step later.
"""

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu import kernels
from backends.cpu.simulator import run
from ir import QLIF, Graph, Input, QDense
from neurons import lif

ENGINES = ("reference", "fast")


def _lif_trace(a_by_step, steps, **params):
    """Drive one neuron's a_in directly with the kernel (what Lava's VecSendProcess does)."""
    u = np.zeros((1, 1), dtype=np.int64)
    v = np.zeros((1, 1), dtype=np.int64)
    bias = lif.effective_bias(
        np.array([params.pop("bias_mant", 0)]), np.array([params.pop("bias_exp", 0)])
    )
    us, vs, ss = [], [], []
    for t in range(1, steps + 1):
        a = np.array([[a_by_step.get(t, 0)]], dtype=np.int64)
        s = lif.fixed_step(u, v, a, bias=bias, **params)
        us.append(int(u[0, 0]))
        vs.append(int(v[0, 0]))
        ss.append(int(s[0, 0]))
    return us, vs, ss


def _program(weight, steps, spike_at, **lif):
    """Input -> QDense(weight) -> QLIF; the single input spikes at step `spike_at`."""
    n_out, n_in = np.shape(weight)
    dense_kw = lif.pop("dense", {})
    g = Graph(
        populations={"in": Input((n_in,)), "lif": QLIF((n_out,), **lif)},
        projections={"w": QDense("in", "lif", weight=np.asarray(weight), **dense_kw)},
    )
    x = np.zeros((1, steps, n_in), dtype=np.int64)
    if spike_at:
        x[0, spike_at - 1] = 1
    return g, x


# lava_fixed_point.md 1.3: input 128 at t=1, du=2047, dv=0, vth=256 -> u = 1 << (13 - j).
U_IMPULSE = [1 << (13 - j) for j in range(8)]
# input 128 at t=1, du=0, dv=2048 -> v:
V_IMPULSE = [8192, 12286, 14331, 15351, 15859, 16111, 16235, 16295]


def test_lif_impulse_du_kernel():
    us, _, _ = _lif_trace({1: 128}, 8, du=2047, dv=0, vth=256, bias_exp=1)
    assert us == U_IMPULSE
    assert [u >> 6 for u in us] == [1 << (7 - j) for j in range(8)]


def test_lif_impulse_dv_kernel():
    _, vs, _ = _lif_trace({1: 128}, 8, du=0, dv=2048, vth=256, bias_exp=1)
    assert vs == V_IMPULSE


@pytest.mark.parametrize("engine", ENGINES)
def test_lif_impulses_in_a_program_arrive_one_step_later(engine):
    g, x = _program([[128]], 9, 1, du=2047, dv=0, vth=256, bias_exp=1)
    tr = run(g, x, probes=[Probe("lif", ("u", "v"))], engine=engine)
    assert tr.get("lif", "u")[0, :, 0].tolist() == [0, *U_IMPULSE]
    g, x = _program([[128]], 9, 1, du=0, dv=2048, vth=256, bias_exp=1)
    tr = run(g, x, probes=[Probe("lif", ("u", "v"))], engine=engine)
    assert tr.get("lif", "v")[0, :, 0].tolist() == [0, *V_IMPULSE]


def test_bias_scaling_does_not_overflow_int16():
    # lava#329 / PR#330: bias_mant = 4095, bias_exp = 5 -> v = 4095 * 32 after one step.
    _, vs, _ = _lif_trace({}, 1, du=0, dv=0, vth=2**17, bias_mant=4095, bias_exp=5)
    assert vs == [4095 * 32]


@pytest.mark.parametrize("engine", ENGINES)
def test_bias_scaling_in_a_program(engine):
    g = Graph(
        populations={
            "in": Input((1,)),
            "lif": QLIF((1,), du=0, dv=0, vth=2**17 - 1, bias_mant=4095, bias_exp=5),
        }
    )
    tr = run(g, np.zeros((1, 1, 1), dtype=np.int64), probes=[Probe("lif", ("v",))], engine=engine)
    assert int(tr.get("lif", "v")[0, 0, 0]) == 4095 * 32


@pytest.mark.parametrize("engine", ENGINES)
def test_bias_driven_spikes_at_steps_5_and_10(engine):
    # bias = 2 << 6 = 128 per step, vth = 8 << 6 = 512, no decay: spikes at t = 5, 10.
    g = Graph(
        populations={
            "in": Input((1,)),
            "lif": QLIF((10,), du=0, dv=0, vth=8, bias_mant=2, bias_exp=6),
        }
    )
    tr = run(g, np.zeros((1, 10, 1), dtype=np.int64), probes=[Probe("lif")], engine=engine)
    expected = np.zeros((10, 10), dtype=np.uint8)
    expected[4:10:5] = 1
    np.testing.assert_array_equal(tr.get("lif")[0], expected)


# lava_fixed_point.md 1.4, Lava's Dense tests: every input spikes at step 4, a_out at step 5.
# u with du = 4095 keeps nothing of its past (4096 - 4096 = 0), so u[5] = a_out << 6.
DENSE_CASES = [
    ("excitatory", [0, 300, 40], {"sign_mode": "excitatory"}, [0, 255, 40]),
    ("mixed", [300, -300, 39], {"sign_mode": "mixed"}, [254, -256, 38]),
    ("weight_exp", [300, -300, 39], {"weight_exp": 1}, [508, -512, 76]),
    ("num_weight_bits", [300, -300, 39], {"num_weight_bits": 7}, [252, -256, 36]),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("case", "column", "fmt", "expected"), DENSE_CASES, ids=[c[0] for c in DENSE_CASES]
)
def test_dense_fan_out(engine, case, column, fmt, expected):
    weight = np.zeros((3, 4), dtype=np.int64)
    weight[:, 2] = column
    g, x = _program(weight, 6, 4, du=4095, dv=0, vth=2**17 - 1, dense=fmt)
    tr = run(g, x, probes=[Probe("lif", ("u",))], engine=engine)
    a_out = tr.get("lif", "u")[0] >> 6
    want = np.zeros((6, 3), dtype=np.int64)
    want[4] = expected
    np.testing.assert_array_equal(a_out, want)


@pytest.mark.parametrize("engine", ENGINES)
def test_dense_fan_in_mixed_sign(engine):
    # Weights [300, -300, 39, -0.4] in Lava give 254 - 256 + 38 + 0 = 36; snnc weights are
    # integers (Lava's float -> int32 truncation of -0.4 to 0 never applies).
    weight = np.array([[300, -300, 39, 0]])
    g, x = _program(weight, 6, 4, du=4095, dv=0, vth=2**17 - 1)
    tr = run(g, x, probes=[Probe("lif", ("u",))], engine=engine)
    assert (tr.get("lif", "u")[0, :, 0] >> 6).tolist() == [0, 0, 0, 0, 36, 0]


def test_effective_weights_table():
    # The same table at the weight level (ir.fixed.effective_weights, Lava clip + truncate).
    w = np.array([300, -300, 39, -3])
    assert kernels.lava_weights(w, 8, "mixed").tolist() == [254, -256, 38, -4]
    assert kernels.lava_weights(np.array([0, 300, 40]), 8, "excitatory").tolist() == [0, 255, 40]
    assert kernels.lava_weights(w, 7, "mixed").tolist() == [252, -256, 36, -4]
    assert kernels.lava_weights(np.array([-300, -3, 5]), 8, "inhibitory").tolist() == [-255, -3, 0]


HAND_W = np.array([[100, 0], [0, 60], [30, -20]])


@pytest.mark.parametrize("engine", ENGINES)
def test_three_neuron_hand_trace(engine):
    # The trace derived by hand in tests/backends/lava/test_shim.py, which Lava reproduces.
    from tests.backends.lava.test_shim import (
        BIAS_EXP,
        BIAS_MANT,
        DU,
        DV,
        EXPECTED_S,
        EXPECTED_U,
        EXPECTED_V,
        INPUT,
        STEPS,
        VTH,
        WEIGHTS,
    )

    g = Graph(
        populations={
            "in": Input((2,)),
            "lif": QLIF((3,), du=DU, dv=DV, vth=VTH, bias_mant=BIAS_MANT, bias_exp=BIAS_EXP),
        },
        projections={"d": QDense("in", "lif", weight=WEIGHTS)},
    )
    tr = run(
        g, INPUT.T[None], steps=STEPS, probes=[Probe("lif", ("spikes", "u", "v"))], engine=engine
    )
    np.testing.assert_array_equal(tr.get("lif", "u")[0], EXPECTED_U)
    np.testing.assert_array_equal(tr.get("lif", "v")[0], EXPECTED_V)
    np.testing.assert_array_equal(tr.get("lif", "spikes")[0], EXPECTED_S)


@pytest.mark.parametrize("engine", ENGINES)
def test_lif_reset_zeroes_u_and_v_before_the_update(engine):
    # LIFReset: at t % interval == offset, u = v = 0 before that step's dynamics.
    g = Graph(
        populations={
            "in": Input((1,)),
            "lif": QLIF(
                (1,),
                du=0,
                dv=0,
                vth=2**17 - 1,
                bias_mant=1,
                bias_exp=0,
                reset_interval=4,
                reset_offset=2,
            ),
        }
    )
    tr = run(g, np.zeros((1, 9, 1), dtype=np.int64), probes=[Probe("lif", ("v",))], engine=engine)
    # v grows by 1 per step; reset before steps 2 and 6 makes v = 1 there.
    assert tr.get("lif", "v")[0, :, 0].tolist() == [1, 1, 2, 3, 4, 1, 2, 3, 4]
