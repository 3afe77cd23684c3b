"""Every neuron model of the table against Lava's own fixed-point process model, called directly
(the harness of test_models_direct.py: Vars set as Lava's builder sets them, ports replaced by
stand-ins that hand over arrays as Lava's channels do). Hypothesis drives each model with
extreme states, inputs and registers, step after step, and every state variable and every
emission must equal the model's reference step in `neurons` (the cpu backend's kernel).
LIF is covered there; ATRLIF, sigma-delta, delta, sigma, resonate-and-fire (RF, RF_IZ) here.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.lava import compat
from neurons import atrlif, delta, resonate, sigma, sigma_delta
from neurons.lif import effective_bias
from tests.backends.lava.test_models_direct import _In, _Out

pytestmark = pytest.mark.lava

N = 4
INT32 = st.integers(-(2**31), 2**31 - 1)
STATE24 = st.integers(-(2**23 - 1), 2**23 - 1)
INPUTS = st.lists(st.lists(st.one_of(INT32, st.integers(-(2**12), 2**12)), min_size=N, max_size=N),
                  min_size=1, max_size=5)


@pytest.fixture(scope="module", autouse=True)
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")
    compat.ensure_lava()


def _feed(port: _In, a) -> None:
    # The int16 zero the port adds the int32 message to (PyInPortVectorDense.recv).
    port.queue.append(np.zeros(N, dtype=np.int16) + np.array(a, dtype=np.int32))


def _state(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


REG12 = st.sampled_from([0, 1, 2048, 4094, 4095]) | st.integers(0, 4095)


@settings(max_examples=100, deadline=None)
@given(
    i=st.lists(STATE24, min_size=N, max_size=N),
    v=st.lists(STATE24, min_size=N, max_size=N),
    r=st.lists(st.integers(0, 2**22), min_size=N, max_size=N),
    a=INPUTS,
    d_i=REG12, d_v=REG12, d_theta=REG12, d_r=REG12,
    theta_0=st.integers(0, 4095), theta_step=st.integers(0, 4095),
    bias_mant=st.lists(st.integers(-4096, 4095), min_size=N, max_size=N),
    bias_exp=st.lists(st.integers(-3, 7), min_size=N, max_size=N),
)
def test_atrlif_step_equals_lava(
    i, v, r, a, d_i, d_v, d_theta, d_r, theta_0, theta_step, bias_mant, bias_exp
):
    from lava.proc.atrlif.models import PyATRLIFModelFixed

    m = PyATRLIFModelFixed({})
    m.i, m.v, m.r = (np.array(x, dtype=np.int32) for x in (i, v, r))
    m.theta = np.zeros(N, dtype=np.int32)
    m.s = np.zeros(N, dtype=bool)
    # As the lowering passes them (neurons/atrlif.py): decays as exact fractions d / 4096.
    m.delta_i, m.delta_v, m.delta_theta, m.delta_r = (d / 4096 for d in (d_i, d_v, d_theta, d_r))
    m.theta_0, m.theta_step = theta_0, theta_step
    m.bias_mant = np.asarray(bias_mant, dtype=np.int16)
    m.bias_exp = np.asarray(bias_exp, dtype=np.int16)
    m.a_in, m.s_out = _In(), _Out()
    node = atrlif.QATRLIF(
        (N,),
        delta_i=d_i,
        delta_v=d_v,
        delta_theta=d_theta,
        delta_r=d_r,
        theta_0=theta_0,
        theta_step=theta_step,
        bias_mant=bias_mant,
        bias_exp=bias_exp,
    )
    params = atrlif.MODEL.prepare(node, 1.0)
    state = {
        "i": _state(i),
        "v": _state(v),
        "r": _state(r),
        "theta": np.full(N, theta_0 << 6, dtype=np.int64),
    }
    for a_t in a:
        _feed(m.a_in, a_t)
        m.run_spk()
        s = atrlif.fixed_step(state, np.array(a_t, dtype=np.int64), params)
        for var in ("i", "v", "theta", "r"):
            assert state[var].tolist() == getattr(m, var).astype(np.int64).tolist(), var
        assert s.tolist() == m.s_out.sent[-1].astype(bool).tolist()
    assert np.array_equal(params.bias, effective_bias(np.array(bias_mant), np.array(bias_exp)))


@settings(max_examples=100, deadline=None)
@given(
    sigma=st.lists(INT32, min_size=N, max_size=N),
    act=st.lists(INT32, min_size=N, max_size=N),
    residue=st.lists(INT32, min_size=N, max_size=N),
    error=st.lists(INT32, min_size=N, max_size=N),
    a=INPUTS,
    vth=st.sampled_from([0, 1, 2**16]) | st.integers(0, 2**20),
    bias=st.lists(st.integers(-(2**12), 2**12), min_size=N, max_size=N),
    spike_exp=st.integers(0, 3),
    state_exp=st.integers(0, 4),
    act_mode=st.integers(0, 1),
    cum_error=st.integers(0, 1),
)
def test_sigma_delta_step_equals_lava(
    sigma, act, residue, error, a, vth, bias, spike_exp, state_exp, act_mode, cum_error
):
    from lava.proc.sdn.models import PySigmaDeltaModelFixed
    from lava.proc.sdn.process import ActivationMode

    m = PySigmaDeltaModelFixed({"act_mode": ActivationMode(act_mode)})
    shift = spike_exp + state_exp
    m.sigma, m.act, m.residue, m.error = (
        np.array(x, dtype=np.int32) for x in (sigma, act, residue, error)
    )
    # As Lava's SigmaDelta process stores them: vth and bias shifted by spike_exp + state_exp.
    m.vth = np.array([vth << shift], dtype=np.int32)
    m.bias = (np.array(bias, dtype=np.int64) << shift).astype(np.int32)
    m.spike_exp = np.array([spike_exp], dtype=np.int32)
    m.state_exp = np.array([state_exp], dtype=np.int32)
    m.cum_error = np.array([bool(cum_error)])
    m.a_in, m.s_out = _In(), _Out()
    node = sigma_delta.QSigmaDelta(
        (N,),
        vth=vth,
        bias=bias,
        spike_exp=spike_exp,
        state_exp=state_exp,
        act_mode=act_mode,
        cum_error=cum_error,
    )
    params = sigma_delta.MODEL.prepare(node, 1.0)
    state = {
        k: _state(x)
        for k, x in (("sigma", sigma), ("act", act), ("residue", residue), ("error", error))
    }
    for a_t in a:
        m.a_in.queue.append(np.zeros(N, dtype=np.int32) + np.array(a_t, dtype=np.int32))
        m.run_spk()
        out = sigma_delta.fixed_step(state, np.array(a_t, dtype=np.int64), params)
        for var in ("sigma", "act", "residue", "error"):
            assert state[var].tolist() == getattr(m, var).astype(np.int64).tolist(), var
        assert out.tolist() == m.s_out.sent[-1].astype(np.int64).tolist()


@settings(max_examples=100, deadline=None)
@given(
    act=st.lists(INT32, min_size=N, max_size=N),
    residue=st.lists(INT32, min_size=N, max_size=N),
    error=st.lists(INT32, min_size=N, max_size=N),
    a=INPUTS,
    vth=st.sampled_from([0, 1, 6, 2**11]) | st.integers(0, 2**12),
    spike_exp=st.integers(0, 6),
    state_exp=st.integers(0, 6),
    cum_error=st.integers(0, 1),
)
def test_delta_step_equals_lava(act, residue, error, a, vth, spike_exp, state_exp, cum_error):
    from lava.proc.sdn.models import PyDeltaModelFixed

    m = PyDeltaModelFixed({})
    m.act, m.residue, m.error = (np.array(x, dtype=np.int32) for x in (act, residue, error))
    # As Lava's Delta process stores it: vth shifted by spike_exp + state_exp.
    m.vth = np.array([vth << (spike_exp + state_exp)], dtype=np.int32)
    m.spike_exp = np.array([spike_exp], dtype=np.int32)
    m.state_exp = np.array([state_exp], dtype=np.int32)
    m.cum_error = np.array([bool(cum_error)])
    m.a_in, m.s_out = _In(), _Out()
    node = delta.QDelta(
        (N,), vth=vth, spike_exp=spike_exp, state_exp=state_exp, cum_error=cum_error
    )
    params = delta.MODEL.prepare(node, 1.0)
    state = {k: _state(x) for k, x in (("act", act), ("residue", residue), ("error", error))}
    for a_t in a:
        m.a_in.queue.append(np.zeros(N, dtype=np.int32) + np.array(a_t, dtype=np.int32))
        m.run_spk()
        out = delta.fixed_step(state, np.array(a_t, dtype=np.int64), params)
        for var in ("act", "residue", "error"):
            assert state[var].tolist() == getattr(m, var).astype(np.int64).tolist(), var
        assert out.tolist() == m.s_out.sent[-1].astype(np.int64).tolist()


@settings(max_examples=50, deadline=None)
@given(start=st.lists(INT32, min_size=N, max_size=N), a=INPUTS)
def test_sigma_step_equals_lava(start, a):
    from lava.proc.sdn.models import PySigmaModelFixed

    m = PySigmaModelFixed({})
    m.sigma = np.array(start, dtype=np.int32)
    m.a_in, m.s_out = _In(), _Out()
    params = sigma.MODEL.prepare(sigma.QSigma((N,)), 1.0)
    state = {"sigma": _state(start)}
    for a_t in a:
        m.a_in.queue.append(np.zeros(N, dtype=np.int32) + np.array(a_t, dtype=np.int32))
        m.run_spk()
        out = sigma.fixed_step(state, np.array(a_t, dtype=np.int64), params)
        assert state["sigma"].tolist() == m.sigma.astype(np.int64).tolist()
        assert out.tolist() == m.s_out.sent[-1].astype(np.int64).tolist()


@settings(max_examples=100, deadline=None)
@given(
    real=st.lists(STATE24, min_size=N, max_size=N),
    imag=st.lists(STATE24, min_size=N, max_size=N),
    a=INPUTS,
    b=INPUTS,
    sin=st.integers(-4095, 4095),
    cos=st.integers(-4095, 4095),
    decay_bits=st.integers(0, 12),
    state_exp=st.integers(0, 7),
    vth=st.integers(0, 2**23 - 1),
    izhikevich=st.booleans(),
)
def test_rf_step_equals_lava(real, imag, a, b, sin, cos, decay_bits, state_exp, vth, izhikevich):
    """RF and RF_IZ, with inputs on both ports (a: a_real_in, b: a_imag_in; the kernel gets
    them side by side)."""
    from lava.proc.rf.models import PyRFModelFixed
    from lava.proc.rf_iz.models import PyRF_IZModelFixed

    from neurons import rf_iz

    m = (PyRF_IZModelFixed if izhikevich else PyRFModelFixed)({})
    m.real, m.imag = np.array(real, dtype=np.int32), np.array(imag, dtype=np.int32)
    m.sin_decay, m.cos_decay = sin, cos
    m.decay_bits = np.array([decay_bits], dtype=np.int32)
    m.state_exp = np.array([state_exp], dtype=np.int32)
    m.vth = np.array([vth], dtype=np.int32)
    m.a_real_in, m.a_imag_in, m.s_out = _In(), _In(), _Out()
    module = rf_iz if izhikevich else resonate
    node = module.MODEL.fixed_node(
        (N,), sin_decay=sin, cos_decay=cos, decay_bits=decay_bits, state_exp=state_exp, vth=vth
    )
    params = module.MODEL.prepare(node, 1.0)
    state = {"real": _state(real), "imag": _state(imag)}
    for a_t, b_t in zip(a, b * len(a)):
        _feed(m.a_real_in, a_t)
        _feed(m.a_imag_in, b_t)
        m.run_spk()
        s = module.fixed_step(state, np.array([*a_t, *b_t], dtype=np.int64), params)
        assert state["real"].tolist() == m.real.astype(np.int64).tolist()
        assert state["imag"].tolist() == m.imag.astype(np.int64).tolist()
        assert s.tolist() == m.s_out.sent[-1].astype(bool).tolist()
