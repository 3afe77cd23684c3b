"""The CLI input/output path: inputs are checked and simulated in their own dtype (no widened
copy), outputs stream into OUT.npz, and `snnc run -v` reports its time split."""

import tracemalloc

import numpy as np
import pytest

from backends.cpu.simulator import run as cpu_run
from compiler.cli import main
from ir import QLIF, Graph, Input, QDense, save_graph
from ir.arrays_io import check_spikes, read_npz, read_spike_array, write_npz
from ir.errors import InputError


def _program(n_in: int, rng) -> Graph:
    return Graph(
        populations={
            "in": Input((n_in,)),
            "out": QLIF((5,), du=1024, dv=256, vth=300),
        },
        projections={"w": QDense("in", "out", weight=2 * rng.integers(-10, 60, (5, n_in)))},
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.int8, np.int64])
def test_read_spike_array_keeps_the_dtype_without_a_copy(tmp_path, dtype):
    rng = np.random.default_rng(11)
    x = (rng.random((64, 50, 300)) < 0.2).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    tracemalloc.start()
    try:
        got = read_spike_array(tmp_path / "x.npy", 300)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.dtype == x.dtype and np.array_equal(got, x)
    # the array itself plus a bounded slack (no int64 copy: that would be 8x a uint8 input)
    assert peak < x.nbytes + (1 << 20), (peak, x.nbytes)
    assert check_spikes(got, 300) is got


@pytest.mark.parametrize(
    "dtype,bits,values,ok",
    [
        (np.int8, 0, (-1, 0), False),
        (np.uint8, 0, (0, 2), False),
        (np.uint8, 3, (0, 3), True),
        (np.uint8, 3, (0, 4), False),
        (np.int8, 3, (-4, 3), True),
        (np.int8, 3, (-5, 0), False),
        (np.int16, 8, (-128, 127), True),
    ],
)
def test_check_spikes_ranges_in_the_input_dtype(dtype, bits, values, ok):
    # the out-of-range value sits in the last of several check chunks
    x = np.zeros((2100, 3, 200), dtype=dtype)
    x[-1, -1, -1], x[-1, -1, 0] = values
    if ok:
        assert check_spikes(x, 200, message_bits=bits) is x
    else:
        with pytest.raises(InputError, match="must"):
            check_spikes(x, 200, message_bits=bits)


@pytest.mark.parametrize("seed", range(6))
def test_value_range_split_between_threads_equals_numpys(seed, monkeypatch):
    """value_range and max_value on arrays split between threads (forced: 2 to 5 threads of
    64 KiB parts), the extremes anywhere, every integer dtype the checks see."""
    from ir import arrays_io

    rng = np.random.default_rng(seed)
    monkeypatch.setattr(arrays_io, "_THREAD_BYTES", 1 << 16)
    monkeypatch.setattr(arrays_io, "_THREADS", int(rng.integers(2, 6)))
    monkeypatch.setattr(arrays_io, "_RANGE_CHUNK_ELEMENTS", int(rng.integers(1, 5000)))
    dtype = [np.uint8, np.int8, np.int16, np.int64, np.bool_, np.uint8][seed]
    shape = (int(rng.integers(50, 400)), int(rng.integers(10, 30)), int(rng.integers(20, 60)))
    x = np.zeros(shape, dtype=dtype)
    x[-1, -1, -1] = 1  # in the last thread's last chunk
    for value in (-7, 9) if dtype not in (np.uint8, np.bool_) else (1,):
        x[tuple(int(rng.integers(0, d)) for d in shape)] = value
    plain = x.view(np.uint8) if dtype == np.bool_ else x
    assert arrays_io.value_range(x) == (int(plain.min()), int(plain.max()))
    assert arrays_io.max_value(x) == int(plain.max())


def test_cli_run_on_narrow_inputs_matches_in_process_and_reports_times(tmp_path, capsys):
    rng = np.random.default_rng(12)
    program = _program(40, rng)
    save_graph(program, tmp_path / "p.snnc")
    x = (rng.random((9, 30, 40)) < 0.3).astype(np.uint8)
    want = cpu_run(program, x.astype(np.int64)).get("out")
    for dtype in (np.uint8, np.bool_, np.int8):
        np.save(tmp_path / "in.npy", x.astype(dtype))
        args = ["run", str(tmp_path / "p.snnc"), "--input", str(tmp_path / "in.npy")]
        assert main([*args, "-o", str(tmp_path / "out.npz"), "-v"]) == 0
        np.testing.assert_array_equal(read_npz(tmp_path / "out.npz")["out"], want)
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert last.startswith("time: load ") and " simulate " in last and " write " in last


def test_write_npz_streams_deterministic_entries(tmp_path):
    arrays = {
        "out": np.arange(6000, dtype=np.int64).reshape(2, 30, 100) % 3,
        "h:v": np.arange(24, dtype=np.int32).reshape(2, 3, 4)[:, ::2],  # not contiguous
    }
    write_npz(tmp_path / "a.npz", arrays)
    write_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    got = read_npz(tmp_path / "a.npz")
    assert list(got) == list(arrays)
    for key, arr in arrays.items():
        assert got[key].dtype == arr.dtype and np.array_equal(got[key], arr)
    with np.load(tmp_path / "a.npz") as z:  # numpy's own reader
        assert np.array_equal(z["out"], arrays["out"])
