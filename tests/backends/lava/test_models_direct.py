"""The cpu backend's arithmetic against Lava's own process-model code, called directly.

Lava's fixed_pt process models are plain Python classes; their per-step methods run without a
Lava runtime when their Vars are set the way Lava's builder sets them (numpy arrays of the
declared LavaPyType dtypes) and their ports are replaced by stand-ins that hand over arrays.
The stand-ins model what Lava's channels do: a connection's output goes through an int32
channel (`arr[:] = data`, wrapping), and a neuron's `a_in.recv()` adds what arrives to an
int16 zero array (so the sum is int32). Hypothesis then drives the models with extreme values
(u beyond 24 bits, v at its clip, int32 overflow of a << 6 and of the sums, every sign mode,
weight exponent and weight precision, 24-bit graded payloads) that random networks rarely
reach, and compares every output with `backends.cpu`.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.cpu import reference
from backends.cpu.network import prepare
from backends.lava import compat
from backends.lava.lower import _lava_conv_weight
from ir import QLIF, Graph, Input, QConv2d, QDense, QSparse
from ir.nodes import conv2d_output_hw
from neurons import lif

pytestmark = pytest.mark.lava

INT32 = st.integers(-(2**31), 2**31 - 1)


@pytest.fixture(scope="module", autouse=True)
def lava_ready():
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed (make setup installs it)")


class _Out:
    """Stand-in for a PyOutPort: keeps what is sent, as the int32 channel stores it."""

    def __init__(self) -> None:
        self.sent: list[np.ndarray] = []

    def send(self, data) -> None:
        buf = np.zeros(np.shape(data), dtype=np.int32)
        buf[...] = data  # the channel's `self._array[idx][:] = data[:]`
        self.sent.append(buf)


class _In:
    """Stand-in for a PyInPort: `recv()` returns the next queued array."""

    def __init__(self) -> None:
        self.queue: list[np.ndarray] = []

    def recv(self):
        return self.queue.pop(0)


def _lava_lif(n, du, dv, vth, bias_mant, bias_exp, interval=0, offset=0):
    from lava.proc.lif.models import PyLifModelBitAcc, PyLifResetModelBitAcc

    if interval:
        m = PyLifResetModelBitAcc({"reset_interval": interval, "reset_offset": offset})
    else:
        m = PyLifModelBitAcc({})
    m.u = np.zeros(n, dtype=np.int32)
    m.v = np.zeros(n, dtype=np.int32)
    m.du, m.dv, m.vth = du, dv, vth
    m.bias_mant = np.asarray(bias_mant, dtype=np.int16)
    m.bias_exp = np.asarray(bias_exp, dtype=np.int16)
    m.a_in, m.s_out = _In(), _Out()
    return m


@settings(max_examples=300)
@given(
    u=st.lists(INT32, min_size=4, max_size=4),
    v=st.lists(st.integers(-(2**23 - 1), 2**23 - 1), min_size=4, max_size=4),
    a=st.lists(
        st.lists(st.one_of(INT32, st.integers(-(2**12), 2**12)), min_size=4, max_size=4),
        min_size=1,
        max_size=3,
    ),
    du=st.sampled_from([0, 1, 2047, 4094, 4095]) | st.integers(0, 4095),
    dv=st.sampled_from([0, 1, 2048, 4095]) | st.integers(0, 4095),
    vth=st.sampled_from([0, 1, 2**17 - 1]) | st.integers(0, 2**17 - 1),
    bias_mant=st.lists(st.integers(-4096, 4095), min_size=4, max_size=4),
    bias_exp=st.lists(st.integers(-24, 24), min_size=4, max_size=4),
)
def test_lif_step_equals_lava(u, v, a, du, dv, vth, bias_mant, bias_exp):
    m = _lava_lif(4, du, dv, vth, bias_mant, bias_exp)
    m.u[:] = u
    m.v[:] = v
    ku = np.array([u], dtype=np.int64)
    kv = np.array([v], dtype=np.int64)
    bias = lif.effective_bias(np.array(bias_mant), np.array(bias_exp))
    for a_t in a:
        # The int16 zero the port adds the int32 message to (PyInPortVectorDense.recv).
        m.a_in.queue.append(np.zeros(4, dtype=np.int16) + np.array(a_t, dtype=np.int32))
        m.run_spk()
        s = lif.fixed_step(
            ku, kv, np.array([a_t], dtype=np.int64), du=du, dv=dv, vth=vth, bias=bias
        )
        assert ku[0].tolist() == m.u.astype(np.int64).tolist()
        assert kv[0].tolist() == m.v.astype(np.int64).tolist()
        assert s[0].tolist() == m.s_out.sent[-1].astype(bool).tolist()


def _connection_graph(proj, n_src, n_dst, message_bits):
    return Graph(
        populations={"in": Input((n_src,), message_bits=message_bits), "out": QLIF((n_dst,))},
        projections={"p": proj},
    )


@st.composite
def _synapse_setup(draw, sparse: bool, delayed: bool):
    n_src, n_dst = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    graded = draw(st.booleans())
    bits = draw(st.sampled_from([8, 16, 24])) if graded else 0
    w_max = draw(st.sampled_from([256, 300, 1 << 12]))
    fmt = dict(
        weight_exp=draw(st.integers(-10, 10)),
        num_weight_bits=draw(st.integers(1, 8)),
        sign_mode=draw(st.sampled_from(["mixed", "excitatory", "inhibitory"])),
    )
    steps = draw(st.integers(2, 6))
    if graded:
        half = 1 << (bits - 1)
        x = rng.integers(-half, half, size=(steps, n_src))
        x[:, : n_src // 2] = draw(st.sampled_from([-half, half - 1, 0]))  # extremes
    else:
        x = rng.integers(0, 2, size=(steps, n_src))
    if sparse:
        mask = rng.random((n_dst, n_src)) < 0.7
        rows, cols = np.nonzero(mask)
        values = rng.integers(-w_max, w_max + 1, size=rows.size)
        if rows.size:
            values[0] = draw(st.sampled_from([-256, 255, -w_max]))
        delay = rng.integers(0, 4, size=rows.size) if delayed else 0
        proj = QSparse("in", "out", rows=rows, cols=cols, values=values, delay=delay, **fmt)
    else:
        weight = rng.integers(-w_max, w_max + 1, size=(n_dst, n_src))
        weight.flat[0] = draw(st.sampled_from([-256, 255, -w_max]))
        delay = rng.integers(0, 4, size=(n_dst, n_src)) if delayed else 0
        proj = QDense("in", "out", weight=weight, delay=delay, **fmt)
    return proj, n_src, n_dst, bits, x


def _lava_connection(proj, n_src, n_dst, bits):
    from lava.proc.dense.models import PyDelayDenseModelBitAcc, PyDenseModelBitAcc
    from lava.proc.sparse.models import PyDelaySparseModelBitAcc, PySparseModelBitAcc
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    params = {
        "weight_exp": proj.weight_exp,
        "num_weight_bits": proj.num_weight_bits,
        "sign_mode": {
            "mixed": SignMode.MIXED,
            "excitatory": SignMode.EXCITATORY,
            "inhibitory": SignMode.INHIBITORY,
        }[proj.sign_mode],
    }
    delayed = proj.delay.ndim > 0
    if isinstance(proj, QDense):
        m = (PyDelayDenseModelBitAcc if delayed else PyDenseModelBitAcc)(params)
        m.weights = proj.weight.astype(np.int32)
        if delayed:
            m.delays = proj.delay.astype(np.int32)
    else:
        m = (PyDelaySparseModelBitAcc if delayed else PySparseModelBitAcc)(params)
        m.weights = csr_matrix(
            (proj.values.astype(np.int32), (proj.rows, proj.cols)), shape=(n_dst, n_src)
        )
        if delayed:
            m.delays = csr_matrix(
                (proj.delay.astype(np.int64), (proj.rows, proj.cols)), shape=(n_dst, n_src)
            )
    depth = int(proj.delay.max(initial=0)) + 1 if delayed else None
    m.a_buff = (
        np.zeros((n_dst, depth), dtype=np.int32) if delayed else np.zeros(n_dst, dtype=np.int32)
    )
    m.num_message_bits = np.array([bits])
    m.s_in, m.a_out = _In(), _Out()
    return m


def _check_connection(proj, n_src, n_dst, bits, x):
    import warnings

    from scipy.sparse import SparseEfficiencyWarning

    m = _lava_connection(proj, n_src, n_dst, bits)
    syn = prepare(_connection_graph(proj, n_src, n_dst, bits), True, "cpu").synapses[0]
    steps = x.shape[0]
    for t in range(1, steps + 2):
        sent = x[t - 1] if t <= steps else np.zeros(n_src, dtype=np.int64)
        # The source's int32 message, received through the bool/int32 port of the model.
        m.s_in.queue.append(np.zeros(n_src, dtype=bool) + sent.astype(np.int32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SparseEfficiencyWarning)
            m.run_spk()
        got = m.a_out.sent[-1].astype(np.int64)

        def lagged(k, t=t):
            i = t - 2 - k
            return (
                x[i][None].astype(np.int64)
                if 0 <= i < steps
                else np.zeros((1, n_src), dtype=np.int64)
            )

        want = reference.connection_output(syn, lagged, 1)[0]
        assert got.tolist() == want.tolist(), f"step {t}"


@settings(max_examples=150)
@given(_synapse_setup(sparse=False, delayed=False))
def test_dense_equals_lava(setup):
    _check_connection(*setup)


@settings(max_examples=100)
@given(_synapse_setup(sparse=False, delayed=True))
def test_delay_dense_equals_lava(setup):
    _check_connection(*setup)


@settings(max_examples=100)
@given(_synapse_setup(sparse=True, delayed=False))
def test_sparse_equals_lava(setup):
    _check_connection(*setup)


@settings(max_examples=100)
@given(_synapse_setup(sparse=True, delayed=True))
def test_delay_sparse_equals_lava(setup):
    _check_connection(*setup)


@st.composite
def _conv_setup(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    h, w = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    kh, kw = draw(st.integers(1, min(3, h))), draw(st.integers(1, min(3, w)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    oh, ow = conv2d_output_hw((h, w), (kh, kw), stride, padding, dilation)
    if oh < 1 or ow < 1:
        dilation = (1, 1)
        oh, ow = conv2d_output_hw((h, w), (kh, kw), stride, padding, dilation)
    weight = rng.integers(-256, 256, size=(c_out, c_in // groups, kh, kw))
    bits = draw(st.sampled_from([0, 8, 24]))
    if bits:
        half = 1 << (bits - 1)
        x = rng.integers(-half, half, size=(c_in, h, w))
    else:
        x = rng.integers(0, 2, size=(c_in, h, w))
    node = QConv2d(
        "in", "out", weight=weight, stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    return node, (c_in, h, w), (c_out, oh, ow), bits, x


@settings(max_examples=150)
@given(_conv_setup())
def test_conv_equals_lava(setup):
    from lava.proc.conv.models import PyConvModelFixed

    node, in_shape, out_shape, bits, x = setup
    c, h, w = in_shape
    m = PyConvModelFixed({})
    m.weight = _lava_conv_weight(node.weight)
    m.kernel_size = np.array(node.weight.shape[2:][::-1], dtype=np.int8)
    m.stride = np.array(node.stride[::-1], dtype=np.int8)
    m.padding = np.array(node.padding[::-1], dtype=np.int8)
    m.dilation = np.array(node.dilation[::-1], dtype=np.int8)
    m.groups = np.array([node.groups], dtype=np.int8)
    m.num_message_bits = np.array([bits], dtype=np.int8)
    m.a_buf = np.zeros(out_shape[::-1], dtype=np.int32)
    m.s_in, m.a_out = _In(), _Out()
    m.s_in.queue.append(np.zeros((w, h, c), dtype=np.int32) + x.transpose(2, 1, 0).astype(np.int32))
    with np.errstate(invalid="ignore"):
        m.run_spk()
    m.s_in.queue.append(np.zeros((w, h, c), dtype=np.int32))
    m.run_spk()
    got = m.a_out.sent[-1].transpose(2, 1, 0).reshape(-1).astype(np.int64)
    graph = Graph(
        populations={"in": Input(in_shape, message_bits=bits), "out": QLIF(out_shape)},
        projections={"c": node},
    )
    syn = prepare(graph, True, "cpu").synapses[0]
    want = reference.connection_output(syn, lambda k: x.reshape(1, -1).astype(np.int64), 1)[0]
    assert got.tolist() == want.tolist()
