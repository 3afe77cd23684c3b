"""Outputs (ir.atomic), the memory budget (ir.budget), bounded parsers (ir.safe_json, the hardware
YAML loader) and held signals (ir.signals), unit by unit: what the scripted cases in
tests/robust/hostile.py exercise through the CLI, here with the failure put exactly where it
hurts (a full disk at the last file, a signal in the middle of a commit, a crash between two
renames)."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from ir import InputError, ModelFormatError
from ir.atomic import (
    MANIFEST,
    NAME_MAX,
    _manifest_bytes,
    _sha256,
    _temp_name,
    atomic_output_dir,
    atomic_outputs,
    atomic_write_bytes,
    check_output_dir,
    check_outputs,
)
from ir.budget import DEFAULT_MAX_LOAD_BYTES, check_bytes, max_load_bytes
from ir.errors import MAX_MESSAGE_CHARS, OutputError, SnncError
from ir.safe_json import MAX_DEPTH, loads
from ir.signals import deferred_signals


def _write_dir(path: Path, files: dict[str, bytes]) -> None:
    with atomic_output_dir(path) as tmp:
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)


# ----------------------------------------------------------------------------- output folders


def test_a_new_folder_lists_its_files_in_the_manifest(tmp_path):
    _write_dir(tmp_path / "out", {"a.txt": b"a", "sub/b.txt": b"b"})
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["files"] == {"a.txt": [_sha256(tmp_path / "out" / "a.txt")],
                                 "sub/b.txt": [_sha256(tmp_path / "out" / "sub" / "b.txt")]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left


def test_rewriting_replaces_snnc_files_keeps_user_files_and_removes_stale_ones(tmp_path):
    out = tmp_path / "out"
    _write_dir(out, {"a.txt": b"a1", "old.txt": b"gone next time"})
    (out / "notes.txt").write_bytes(b"mine")
    (out / "sub").mkdir()
    (out / "sub" / "decoder.npz").write_bytes(b"my decoder")
    _write_dir(out, {"a.txt": b"a2", "new.txt": b"n"})
    assert (out / "a.txt").read_bytes() == b"a2" and (out / "new.txt").read_bytes() == b"n"
    assert not (out / "old.txt").exists()
    assert (out / "notes.txt").read_bytes() == b"mine" and (
        out / "sub" / "decoder.npz"
    ).read_bytes() == b"my decoder"
    assert set(json.loads((out / MANIFEST).read_text())["files"]) == {"a.txt", "new.txt"}


def test_a_file_snnc_wrote_but_the_user_changed_is_theirs(tmp_path):
    out = tmp_path / "out"
    _write_dir(out, {"a.txt": b"a1", "b.txt": b"b1"})
    (out / "a.txt").write_bytes(b"edited")
    with pytest.raises(
        OutputError, match="a.txt exists and snnc did not write it .or it was changed since."
    ):
        check_output_dir(out, ["a.txt"])
    with pytest.raises(OutputError, match="a.txt exists"):
        _write_dir(out, {"a.txt": b"a2"})
    assert (out / "a.txt").read_bytes() == b"edited" and (out / "b.txt").read_bytes() == b"b1"
    _write_dir(out, {"c.txt": b"c"})  # b.txt (snnc's, unchanged) goes; a.txt (now the user's) stays
    assert not (out / "b.txt").exists() and (out / "a.txt").read_bytes() == b"edited"


@pytest.mark.parametrize(
    "manifest",
    [
        b"{",
        b"[]",
        b'{"format": "snnc-output-folder", "format_version": 1, "files": {"../x": ["0"]}}',
        b"\xff\xfe",
    ],
)
def test_a_damaged_manifest_stops_the_write(tmp_path, manifest):
    out = tmp_path / "out"
    _write_dir(out, {"a.txt": b"a"})
    (out / MANIFEST).write_bytes(manifest)
    with pytest.raises(OutputError, match="snnc cannot tell which files it wrote here"):
        _write_dir(out, {"a.txt": b"b"})
    assert (out / "a.txt").read_bytes() == b"a"


def test_a_crash_between_two_renames_leaves_a_folder_snnc_can_replace(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _write_dir(out, {"a.txt": b"a1", "b.txt": b"b1"})
    real = os.replace
    calls = []

    def crash_on_second_file(src, dst):
        calls.append(dst)
        if str(dst).endswith("b.txt"):
            raise SystemExit("power cut")  # what a crash would leave (not cleaned up)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second_file)
    with contextlib.suppress(SystemExit):
        _write_dir(out, {"a.txt": b"a2", "b.txt": b"b2"})
    monkeypatch.setattr(os, "replace", real)
    # half way
    assert (out / "a.txt").read_bytes() == b"a2" and (out / "b.txt").read_bytes() == b"b1"
    _write_dir(out, {"a.txt": b"a3", "b.txt": b"b3"})  # both hashes were listed while it happened
    assert (out / "a.txt").read_bytes() == b"a3" and (out / "b.txt").read_bytes() == b"b3"


def test_a_signal_during_the_commit_waits_for_it(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _write_dir(out, {"a.txt": b"a1", "b.txt": b"b1"})
    real = os.replace

    def interrupted(src, dst):
        if str(dst).endswith("a.txt"):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the renames
        return real(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write_dir(out, {"a.txt": b"a2", "b.txt": b"b2"})
    # all of it
    assert (out / "a.txt").read_bytes() == b"a2" and (out / "b.txt").read_bytes() == b"b2"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_disk_full_is_one_line_naming_the_output_and_leaves_nothing(tmp_path, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputError, match=r"cannot write .*/o.npz: No space left on device"):
        atomic_write_bytes(tmp_path / "o.npz", b"x")
    with pytest.raises(OutputError, match=r"cannot write .*/build: No space left on device"):
        _write_dir(tmp_path / "build", {"a.txt": b"a"})
    assert list(tmp_path.iterdir()) == []


def test_a_legal_name_of_254_bytes_gets_a_temporary_within_name_max(tmp_path):
    name = "é" * 127  # 254 bytes in UTF-8
    tmp = _temp_name(tmp_path / name, "tmp")
    assert len(tmp.name.encode()) <= NAME_MAX and tmp.name.startswith(".é")
    atomic_write_bytes(tmp_path / name, b"x")
    assert (tmp_path / name).read_bytes() == b"x" and len(list(tmp_path.iterdir())) == 1


def test_outputs_staged_together_appear_together_or_not_at_all(tmp_path):
    with pytest.raises(OutputError, match="r.json: No space left on device"):
        with atomic_outputs() as out:
            atomic_write_bytes(out.stage(tmp_path / "t.npz"), b"trace")
            staged = out.stage(tmp_path / "r.json")
            # what a full disk gives
            raise OutputError(f"cannot write {tmp_path / 'r.json'}: No space left on device")
    assert list(tmp_path.iterdir()) == [] and not staged.exists()
    with atomic_outputs() as out:
        atomic_write_bytes(out.stage(tmp_path / "t.npz"), b"trace")
        atomic_write_bytes(out.stage(tmp_path / "r.json"), b"report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "t.npz"]


def test_outputs_that_are_inputs(tmp_path):
    (tmp_path / "in.npy").write_bytes(b"input")
    (tmp_path / "link").symlink_to(tmp_path / "in.npy")
    os.link(tmp_path / "in.npy", tmp_path / "hard")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "m.snnc").write_bytes(b"model")
    ins = [str(tmp_path / "in.npy"), str(tmp_path / "proj" / "m.snnc")]
    for out, kind, message in (
        (tmp_path / "in.npy", "file", "is the input"),
        (tmp_path / "link", "file", "is the input"),
        (tmp_path / "hard", "file", "is the input"),
        (tmp_path / "proj" / ".." / "in.npy", "file", "is the input"),
        (tmp_path / "proj", "folder", "holds the input"),
        (tmp_path, "folder", "holds the input"),
        (tmp_path / "proj", "file", "is a folder"),
        (tmp_path / "in.npy" / "x", "file", "is not a folder"),
        (tmp_path / ("x" * 256), "file", "the limit is 255"),
    ):
        with pytest.raises(OutputError, match=message):
            check_outputs({"-o": (str(out), kind)}, ins)
    with pytest.raises(OutputError, match="name the same file"):
        check_outputs(
            {"--report": (str(tmp_path / "r"), "file"), "--record": (str(tmp_path / "r"), "file")},
            [],
        )
    check_outputs({"-o": (str(tmp_path / "new" / "deeper" / "o.npz"), "file")}, ins)


def test_manifest_bytes_are_deterministic():
    assert _manifest_bytes({"b": ["2", "1"], "a": ["0"]}) == _manifest_bytes(
        {"a": ["0"], "b": ["1", "2"]}
    )


# ----------------------------------------------------------------------------- budget and parsers


@pytest.mark.parametrize("value", ["8GB", "-5", "0", "1e9", "lots", "0x10"])
def test_a_bad_budget_value_is_one_line(monkeypatch, value):
    monkeypatch.setenv("SNNC_MAX_LOAD_BYTES", value)
    with pytest.raises(InputError, match="SNNC_MAX_LOAD_BYTES=.*expected a whole number of bytes"):
        max_load_bytes()


def test_budget_values(monkeypatch):
    monkeypatch.delenv("SNNC_MAX_LOAD_BYTES", raising=False)
    assert max_load_bytes() == DEFAULT_MAX_LOAD_BYTES == 1 << 30
    monkeypatch.setenv("SNNC_MAX_LOAD_BYTES", " 8_589_934_592 ")
    assert max_load_bytes() == 8 << 30
    check_bytes(8 << 30, "x")
    with pytest.raises(
        InputError, match=r"x needs 8.0 GiB \(8589934593 bytes\), more than the 8.0 GiB"
    ):
        check_bytes((8 << 30) + 1, "x")


def test_json_limits():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH, "f") is not None
    # brackets in strings
    assert loads('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', "f")
    for text, message in (("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested 65 deep"),
                          ('{"a": ' + "1" * 81 + "}", "an integer of 81 digits"),
                          ('{"a": -' + "1" * 5000 + "}", "an integer of 5000 digits"),
                          ("{", "not valid JSON"), (b"\xff", "not UTF-8")):
        with pytest.raises(ModelFormatError, match=message):
            loads(text, "f.json", "field")


def test_messages_are_cut_to_a_bounded_line():
    message = str(SnncError("x" * 10_000 + "\n" + "y"))
    assert (
        len(message) <= MAX_MESSAGE_CHARS + 40
        and message.endswith("more characters)")
        and "\n" not in message
    )


# ----------------------------------------------------------------------------- held signals


def test_deferred_signals_deliver_the_first_one_at_the_end():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")
    assert done == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_deferred_signals_escalate_on_a_second_signal():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals(escalate_after=60.0):
            os.kill(os.getpid(), signal.SIGINT)
            done.append(1)
            os.kill(os.getpid(), signal.SIGINT)
            done.append(2)
    assert done == [1]


def test_deferred_signals_escalate_a_signal_held_too_long():
    import time

    with pytest.raises(KeyboardInterrupt):
        with deferred_signals(escalate_after=0.05):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # a block that would never end


def test_read_npz_checks_sizes_from_headers_before_inflating(tmp_path, monkeypatch):
    import zipfile

    from ir.arrays_io import read_npz

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "|u1", "fortran_order": False, "shape": (1 << 26,)}
    )
    with zipfile.ZipFile(tmp_path / "b.npz", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(zipfile.ZipInfo("a.npy"), "w") as fh:
            fh.write(head.getvalue())
            for _ in range(64):
                fh.write(bytes(1 << 20))
    monkeypatch.setenv("SNNC_MAX_LOAD_BYTES", str(256 << 20))
    with pytest.raises(InputError, match=r"b.npz: a.npy \(shape \(67108864,\)\) needs"):
        read_npz(tmp_path / "b.npz")


def test_hil_record_is_not_left_when_the_report_cannot_be_written(tmp_path, monkeypatch):
    """`hil --record t.npz` writes the trace and the report together (ir.atomic.atomic_outputs)."""
    from compiler.cli import main
    from tests.robust.hostile import write_small_build

    build = write_small_build(tmp_path)

    def full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("compiler.commands.hil.atomic_write_text", full)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["hil", str(build), "--input", str(tmp_path / "in.npy"), "--target", "cpu",
                     "--record", str(tmp_path / "t.npz"), "--report", str(tmp_path / "r.json")])
    assert (
        code == 1
        and err.getvalue().count("\n") == 1
        and "No space left on device" in err.getvalue()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "in.npy"]
