"""Ctrl-C (SIGINT) during compile, train and run: exit 130, one line, no output and no temporary
left behind, and a previous output untouched.

"Mid-write" is made certain with ir.atomic's test hook: SNNC_TEST_PAUSE_BEFORE_RENAME holds the
complete output under its temporary name, and the signal is sent once that temporary exists.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from compiler.build import write_build
from ir import LIF, QLIF, Dense, Graph, Input, QDense, load_hw, save_graph
from tests.robust.helpers import interrupt_when, temporaries

PAUSE = {"SNNC_TEST_PAUSE_BEFORE_RENAME": "120"}


def _model() -> Graph:
    rng = np.random.default_rng(1)
    return Graph(
        populations={
            "in": Input((6,)),
            "h": LIF((30,), tau_mem=1e-2),
            "out": LIF((4,), tau_mem=1e-2),
        },
        projections={
            "a": Dense("in", "h", weight=rng.normal(0.3, 0.5, (30, 6))),
            "b": Dense("h", "out", weight=rng.normal(0.2, 0.5, (4, 30))),
        },
    )


def _assert_interrupted(result) -> None:
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "snnc: interrupted"
    assert "Traceback" not in result.stderr


def _whole_temporary(folder, name: str, members: int = 0):
    def ready() -> bool:
        found = [p for p in temporaries(folder, name) if ".tmp-" in p.name]
        return bool(found) and (members == 0 or len(list(found[0].iterdir())) == members)
    return ready


def test_sigint_while_compile_writes_build_leaves_no_folder(tmp_path):
    save_graph(_model(), tmp_path / "m.snnc")
    build = tmp_path / "build"
    result = interrupt_when(
        ["compile", str(tmp_path / "m.snnc"), "--target", "tiny", "-o", str(build)],
        _whole_temporary(tmp_path, "build", members=3),
        **PAUSE,
    )
    _assert_interrupted(result)
    assert not build.exists()
    assert temporaries(tmp_path, "build") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.snnc"]


def test_sigterm_while_compile_writes_build_leaves_no_folder(tmp_path):
    """`kill` (SIGTERM) cleans up as Ctrl-C does, and exits 143 (128 + 15)."""
    import signal

    save_graph(_model(), tmp_path / "m.snnc")
    build = tmp_path / "build"
    result = interrupt_when(
        ["compile", str(tmp_path / "m.snnc"), "--target", "tiny", "-o", str(build)],
        _whole_temporary(tmp_path, "build", members=3),
        sig=signal.SIGTERM,
        **PAUSE,
    )
    assert result.returncode == 143, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "snnc: terminated"
    assert "Traceback" not in result.stderr
    assert not build.exists()
    assert temporaries(tmp_path, "build") == []


def test_sigint_while_compile_replaces_a_build_keeps_the_old_one(tmp_path):
    save_graph(_model(), tmp_path / "m.snnc")
    build = tmp_path / "build"
    program = Graph(populations={"in": Input((2,)), "o": QLIF((1,), vth=10)},
                    projections={"w": QDense("in", "o", weight=[[4, 4]])})
    write_build(build, program, load_hw("tiny"), {"old": True})
    before = {p.name: p.read_bytes() for p in build.iterdir()}
    result = interrupt_when(
        ["compile", str(tmp_path / "m.snnc"), "--target", "tiny", "-o", str(build)],
        _whole_temporary(tmp_path, "build", members=3),
        **PAUSE,
    )
    _assert_interrupted(result)
    assert {p.name: p.read_bytes() for p in build.iterdir()} == before
    assert temporaries(tmp_path, "build") == []


def test_sigint_while_run_writes_output_leaves_no_file(tmp_path):
    program = Graph(populations={"in": Input((3,)), "o": QLIF((2,), du=100, dv=100, vth=10)},
                    projections={"w": QDense("in", "o", weight=[[40, 4, -8], [8, 80, 8]])})
    write_build(tmp_path / "build", program, load_hw("loihi2"), {})
    np.save(tmp_path / "in.npy", np.ones((1, 5, 3), dtype=np.uint8))
    result = interrupt_when(
        [
            "run",
            str(tmp_path / "build"),
            "--input",
            str(tmp_path / "in.npy"),
            "-o",
            str(tmp_path / "out.npz"),
        ],
        _whole_temporary(tmp_path, "out.npz"),
        **PAUSE,
    )
    _assert_interrupted(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "in.npy"]


def test_sigint_while_train_writes_model_leaves_no_file(tmp_path):
    model = tmp_path / "tem.snnc"
    result = interrupt_when(
        ["train", "tem", "--dataset", "digits", "--train-samples", "100", "-o", str(model)],
        _whole_temporary(tmp_path, "tem.snnc"),
        **PAUSE,
    )
    _assert_interrupted(result)
    assert list(tmp_path.iterdir()) == []


def test_sigint_during_training_exits_130_without_a_model(tmp_path):
    """Interrupted while it computes (before any output exists): nothing is written."""
    model = tmp_path / "tem.snnc"
    start = time.monotonic()
    result = interrupt_when(["train", "tem", "--dataset", "digits", "-o", str(model)],
                            lambda: time.monotonic() - start > 4.0)
    _assert_interrupted(result)
    assert list(tmp_path.iterdir()) == []


# A signal once the command is done (its output complete): the status still says the user
# stopped it. Three moments, made certain by code run in the `snnc` process itself: just after
# main() returned, from an exit handler (noted by `_on_signal`), and from an exit handler with
# the signal blocked, so that it is still pending when `_late_signal_status` ends the process.
_LATE = {  # an exit handler registered in main() runs before entry()'s `_late_signal_status`
    "after main": "def late():\n    os.kill(os.getpid(), SIG)\n",
    "at exit": "def late():\n    atexit.register(os.kill, os.getpid(), SIG)\n",
    "pending at exit": (
        "def late():\n    atexit.register(lambda: (signal.pthread_sigmask(signal.SIG_BLOCK, [SIG]),"
        " os.kill(os.getpid(), SIG)))\n"
    ),
}


@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        ("after main", signal.SIGTERM),
        ("at exit", signal.SIGINT),
        ("pending at exit", signal.SIGTERM),
    ],
)
def test_a_signal_after_the_command_is_done_still_gives_its_status(moment: str, sig: int) -> None:
    script = (
        "import atexit, os, signal, sys\nimport compiler.cli as cli\nSIG = "
        f"{int(sig)}\n{_LATE[moment]}real = cli.main\ncli.main = lambda: (real(), "
        "late())[0]\nsys.argv = ['snnc', 'hw', 'list']\ncli.entry()\n"
    )
    # A shell's background job inherits SIGINT ignored, which snnc keeps (as it should): undo it.
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert result.returncode == (130 if sig == signal.SIGINT else 143), result.stderr
    assert result.stderr.strip().splitlines() == [
        "snnc: interrupted" if sig == signal.SIGINT else "snnc: terminated"
    ]
    assert "loihi2" in result.stdout  # the output was complete
