"""`snnc run`: BUILD on cpu and lava, float MODEL, OUT.npz contents, one-line errors."""

import subprocess
import sys

import numpy as np
import pytest

from backends.base import Probe
from backends.cpu.simulator import run as cpu_run
from backends.cpu.simulator import run_float
from backends.lava import compat
from compiler.build import write_build
from compiler.cli import main
from ir import LIF, QLIF, Block, Dense, Graph, Input, Placement, QDense, load_hw, save_graph
from ir.arrays_io import read_npz, split_meta


def _program():
    rng = np.random.default_rng(3)
    return Graph(
        populations={
            "in": Input((8,)),
            "hid": QLIF((6,), du=1024, dv=256, vth=200),
            "out": QLIF((3,), du=1024, dv=256, vth=200),
        },
        projections={
            "w1": QDense("in", "hid", weight=2 * rng.integers(-20, 60, (6, 8))),
            "w2": QDense("hid", "out", weight=2 * rng.integers(-20, 60, (3, 6))),
        },
    )


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(4)
    program = _program()
    write_build(tmp_path / "build", program, load_hw("loihi2"), {})
    placed = program.replace(
        placement=Placement(
            (
                Block.from_range("hid", 0, 3, 0),
                Block.from_range("hid", 3, 6, 1),
                Block.from_range("out", 0, 3, 2),
            ),
            np.array([0, 0, 1]),
            "loihi2",
        )
    )
    write_build(tmp_path / "placed", placed, load_hw("loihi2"), {})
    model = Graph(
        populations={"in": Input((8,)), "out": LIF((3,), tau_mem=1e-2, v_th=1.0)},
        projections={"w": Dense("in", "out", weight=rng.normal(0.3, 0.4, (3, 8)))},
    )
    save_graph(model, tmp_path / "model.snnc")
    x = (rng.random((2, 15, 8)) < 0.4).astype(np.uint8)
    np.save(tmp_path / "in.npy", x)
    return tmp_path, program, model, x


def test_run_build_on_cpu_writes_output_spikes(files, capsys):
    d, program, _, x = files
    assert (
        main(["run", str(d / "build"), "--input", str(d / "in.npy"), "-o", str(d / "out.npz")]) == 0
    )
    out, meta = split_meta(read_npz(d / "out.npz"), "out.npz")
    assert list(out) == ["out"] and meta["backend"] == "cpu" and meta["latency"] == 2
    np.testing.assert_array_equal(out["out"], cpu_run(program, x).get("out"))
    assert "backend cpu, 2 sample(s) x 15 steps" in capsys.readouterr().out


def test_run_probe_spec_and_steps(files):
    d, program, _, x = files
    assert (
        main(
            [
                "run",
                str(d / "build"),
                "--input",
                str(d / "in.npy"),
                "--steps",
                "20",
                "--probe",
                "hid:spikes,v;out",
                "-o",
                str(d / "o.npz"),
            ]
        )
        == 0
    )
    out, meta = split_meta(read_npz(d / "o.npz"), "o.npz")
    assert meta["steps"] == 20 and meta["population_latency"] == {"hid": 1, "out": 2}
    assert sorted(out) == ["hid", "hid:v", "out"] and out["hid:v"].shape == (2, 20, 6)
    want = cpu_run(program, x, steps=20, probes=[Probe("hid", ("v",))]).get("hid", "v")
    np.testing.assert_array_equal(out["hid:v"], want)


def test_run_is_deterministic_bytes(files):
    d, *_ = files
    for name in ("a.npz", "b.npz"):
        assert (
            main(
                [
                    "run",
                    str(d / "build"),
                    "--input",
                    str(d / "in.npy"),
                    "--probe",
                    "all",
                    "-o",
                    str(d / name),
                ]
            )
            == 0
        )
    assert (d / "a.npz").read_bytes() == (d / "b.npz").read_bytes()


def test_run_float_model(files):
    d, _, model, x = files
    assert (
        main(["run", str(d / "model.snnc"), "--input", str(d / "in.npy"), "-o", str(d / "f.npz")])
        == 0
    )
    np.testing.assert_array_equal(read_npz(d / "f.npz")["out"], run_float(model, x).get("out"))


def test_run_placed_build_by_blocks(files):
    d, program, _, x = files
    assert (
        main(
            [
                "run",
                str(d / "placed"),
                "--blocks",
                "--input",
                str(d / "in.npy"),
                "-o",
                str(d / "p.npz"),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(read_npz(d / "p.npz")["out"], cpu_run(program, x).get("out"))


@pytest.mark.lava
def test_run_placed_build_on_lava(files):
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed")
    d, program, _, x = files
    assert (
        main(
            [
                "run",
                str(d / "placed"),
                "--backend",
                "lava",
                "--input",
                str(d / "in.npy"),
                "--probe",
                "out:spikes,u,v",
                "-o",
                str(d / "l.npz"),
            ]
        )
        == 0
    )
    out = read_npz(d / "l.npz")
    cpu = cpu_run(program, x, probes=[Probe("out", ("spikes", "u", "v"))])
    for key, var in (("out", "spikes"), ("out:u", "u"), ("out:v", "v")):
        np.testing.assert_array_equal(out[key], cpu.get("out", var))


def _cli(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "run", *args], capture_output=True, text=True
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{d}/build", "--backend", "float"], "is a compiled (fixed-point) program"),
        (["{d}/model.snnc", "--backend", "cpu"], "is a float model"),
        (["{d}/build", "--device", "loihi2"], "--device loihi2 applies to --backend lava only"),
        (["{d}/build", "--backend", "lava", "--blocks"], "--blocks applies to --backend cpu only"),
        (["{d}/build", "--steps", "0"], "--steps must be positive"),
        (["{d}/build", "--probe", "nope"], "'nope' is not a neuron population"),
        (["{d}/nothing"], "no such file or folder"),
    ],
)
def test_user_errors_are_one_line_exit_1(files, args, message):
    d, *_ = files
    code, _, err = _cli(
        *[a.format(d=d) for a in args], "--input", str(d / "in.npy"), "-o", str(d / "x.npz")
    )
    assert code == 1, err
    assert err.count("\n") == 1 and message in err
    assert not (d / "x.npz").exists()


def test_bad_input_files(files):
    d, *_ = files
    np.save(d / "wrong.npy", np.ones((2, 5, 7), dtype=np.uint8))
    np.save(d / "float.npy", np.full((2, 5, 8), 0.5))
    (d / "junk.npy").write_bytes(b"not numpy")
    for name, message in (
        ("wrong.npy", "has 7 inputs per step, the model has 8"),
        ("float.npy", "float spikes must be exactly 0.0 or 1.0 (found 0.5"),
        ("junk.npy", "not a .npy array file"),
        ("missing.npy", "no such file"),
    ):
        code, _, err = _cli(str(d / "build"), "--input", str(d / name), "-o", str(d / "x.npz"))
        assert code == 1 and message in err and err.count("\n") == 1


def test_usage_errors_exit_2(files):
    d, *_ = files
    code, _, _ = _cli(
        str(d / "build"), "--backend", "gpu", "--input", str(d / "in.npy"), "-o", "x.npz"
    )
    assert code == 2
    code, _, _ = _cli(str(d / "build"), "-o", "x.npz")
    assert code == 2


@pytest.mark.lava
def test_ctrl_c_on_a_lava_run_exits_130_and_leaves_no_process(files):
    """Ctrl-C reaches the whole process group; Lava's workers must not die on it (they ignore
    SIGINT), and snnc must stop them and exit 130."""
    import os
    import signal
    import time

    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed")
    d, *_ = files
    np.save(d / "long.npy", (np.random.default_rng(0).random((2, 20000, 8)) < 0.4).astype(np.uint8))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "compiler.cli",
            "run",
            str(d / "build"),
            "--backend",
            "lava",
            "--input",
            str(d / "long.npy"),
            "-o",
            str(d / "long.npz"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell starts background jobs with SIGINT ignored and children inherit that; Ctrl-C's
        # default must hold in snnc whatever started the suite.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    group = os.getpgid(proc.pid)

    def members():
        out = subprocess.run(
            ["ps", "-eo", "pgid=,stat="], capture_output=True, text=True
        ).stdout.split("\n")
        return [
            line
            for line in out
            if line.split() and int(line.split()[0]) == group and "Z" not in line.split()[1]
        ]

    deadline = time.monotonic() + 120
    while len(members()) < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # until Lava's workers run
    time.sleep(1.0)
    os.killpg(group, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "snnc: interrupted"
    time.sleep(0.5)
    assert members() == []
    assert not (d / "long.npz").exists()


def test_a_model_without_outputs_needs_a_probe(tmp_path, capsys):
    rec = Graph(
        populations={"in": Input((2,)), "r": QLIF((2,), vth=5)},
        projections={
            "i": QDense("in", "r", weight=np.full((2, 2), 90)),
            "rr": QDense("r", "r", weight=np.full((2, 2), 10)),
        },
    )
    write_build(tmp_path / "rec", rec, load_hw("loihi2"), {})
    np.save(tmp_path / "in.npy", np.ones((1, 4, 2), dtype=np.uint8))
    args = [
        "run",
        str(tmp_path / "rec"),
        "--input",
        str(tmp_path / "in.npy"),
        "-o",
        str(tmp_path / "o.npz"),
    ]
    assert main(args) == 1
    assert "has no output population" in capsys.readouterr().err
    assert main([*args, "--probe", "r:spikes,v"]) == 0
    assert read_npz(tmp_path / "o.npz")["r"].sum() > 0
