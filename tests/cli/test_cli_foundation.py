"""CLI skeleton: --version, hw list/show, inspect; one-line errors and exit codes."""


import numpy as np
import pytest

from compiler.cli import main
from ir import LIF, Dense, Graph, Input, save_graph
from tests.snnc_cli import run_cli


def test_version():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("snnc ")


def test_hw_list(capsys):
    assert main(["hw", "list"]) == 0
    out = capsys.readouterr().out
    assert "loihi2" in out and "loihi1" in out and "tiny" in out


def test_hw_show_prints_every_limit_and_source(capsys):
    assert main(["hw", "show", "loihi2"]) == 0
    out = capsys.readouterr().out
    assert "core.max_neurons" in out and "8192" in out and "estimate" in out
    assert "AbstractPyLifModelFixed uv_bitwidth = 24" in out
    assert out.count("\n") > 25


def test_hw_show_bad_yaml_is_one_line_exit_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "format_version: 1\nname: x\ndescription: y\nsemantics: lava_fixed_pt\ncore: {}\n"
    )
    code, out, err = run_cli("hw", "show", str(bad))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{bad}: core.max_neurons: missing key" in err


def test_hw_show_malformed_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("core: [\n")
    code, _, err = run_cli("hw", "show", str(bad))
    assert code == 1 and err.count("\n") == 1 and "not valid YAML" in err


def test_usage_error_exits_2():
    code, _, err = run_cli("hw", "frobnicate")
    assert code == 2 and "usage" in err


def test_inspect(tmp_path, capsys):
    g = Graph(
        populations={"in": Input((2,)), "h": LIF((3,))},
        projections={"p": Dense("in", "h", weight=np.zeros((3, 2)))},
    )
    save_graph(g, tmp_path / "m.snnc")
    assert main(["inspect", str(tmp_path / "m.snnc")]) == 0
    assert "projection p: in -> h Dense" in capsys.readouterr().out


def test_inspect_cuts_long_metadata_unless_asked(tmp_path, capsys):
    g = Graph(
        populations={"in": Input((2,)), "h": LIF((1,))},
        projections={"p": Dense("in", "h", weight=[[1.0, 2.0]])},
        metadata={"trainer": {"history": list(range(500))}, "task": {"kind": "classification"}},
    )
    save_graph(g, tmp_path / "m.snnc")
    assert main(["inspect", str(tmp_path / "m.snnc")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 'metadata.task {"kind":"classification"}' in lines
    trainer = next(line for line in lines if line.startswith("metadata.trainer"))
    assert len(trainer) <= 160 and trainer.endswith("chars)")
    assert main(["inspect", str(tmp_path / "m.snnc"), "--full-metadata"]) == 0
    assert ",499]}" in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04broken"])
def test_inspect_bad_file_one_line(tmp_path, content):
    path = tmp_path / "m.snnc"
    path.write_bytes(content)
    code, out, err = run_cli("inspect", str(path))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err and str(path) in err
