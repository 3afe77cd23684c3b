"""Issue 6: random networks through the CLI path, exactly equal on both backends.

Per network: save the model, `snnc compile MODEL (--target loihi2 | --hw tiny4.yaml) -o BUILD`,
`snnc run BUILD --backend cpu --probe all`, `snnc run BUILD --backend lava --probe all`, and
`snnc hil BUILD --reference cpu --target lava`; every command exits 0 and the two OUT.npz hold
the same arrays (spikes, u and v of every population), bit for bit. The commands run in-process
(`compiler.cli.main`), as the `snnc` script would run them.

Issue 20: a compiled program means one thing however it is cut. Networks compiled for the split
target (populations cut into blocks) run on Lava with `--lava-blocks` (one process per block and
per block pair) and on cpu both whole and `--blocks`, all equal; `snnc hil` (Lava's default
lowering, one process per population) always says AGREE on an untouched program.
"""

import json

import numpy as np
import pytest
import yaml

from backends.lava import compat
from ir import save_graph
from ir.arrays_io import META_KEY, read_npz
from tests.backends.random_nets import FAMILIES
from tests.cli.cli_nets import SPLIT_TARGET, cli_case, split_target_yaml
from tests.snnc_cli import run_in_process

pytestmark = pytest.mark.lava

FAST_SEEDS = range(50)
FULL_SEEDS = range(50, 250)


def _same(a: dict, b: dict) -> bool:
    """The recorded arrays of two OUT.npz files (their __meta__ names their backend) are equal."""
    a, b = ({k: v for k, v in x.items() if k != META_KEY} for x in (a, b))
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) and a[k].dtype.kind == b[k].dtype.kind for k in a
    )


def _check_network(seed: int, d) -> None:
    if not compat.lava_available():
        pytest.skip("lava-nc 0.10.0 is not installed")
    case = cli_case(seed)
    save_graph(case.graph, d / "model.snnc")
    np.save(d / "in.npy", case.inputs)
    if case.target == SPLIT_TARGET:
        (d / "hw.yaml").write_text(yaml.safe_dump(split_target_yaml()))
        target = ["--hw", str(d / "hw.yaml")]
    else:
        target = ["--target", case.target]
    build, inp = str(d / "build"), str(d / "in.npy")
    code, _, err = run_in_process("compile", str(d / "model.snnc"), *target, "-o", build)
    assert code == 0, f"seed {seed} ({case.kind}, {case.target}): {err}"
    split = case.target == SPLIT_TARGET
    lava_blocks = ["--lava-blocks"] if split else []
    code, _, err = run_in_process(
        "run", build, "--backend", "cpu", "--probe", "all", "--input", inp, "-o", str(d / "a.npz")
    )
    assert code == 0, err
    code, _, err = run_in_process(
        "run",
        build,
        "--backend",
        "lava",
        *lava_blocks,
        "--probe",
        "all",
        "--input",
        inp,
        "-o",
        str(d / "b.npz"),
    )
    assert code == 0, err
    cpu, lava = read_npz(d / "a.npz"), read_npz(d / "b.npz")
    assert _same(cpu, lava), f"seed {seed} ({case.kind}, {case.target}): cpu and lava differ"
    if split:
        code, _, err = run_in_process(
            "run",
            build,
            "--backend",
            "cpu",
            "--blocks",
            "--probe",
            "all",
            "--input",
            inp,
            "-o",
            str(d / "w.npz"),
        )
        assert code == 0, err
        assert _same(read_npz(d / "w.npz"), cpu), f"seed {seed}: cpu --blocks differs"
    code, _, err = run_in_process(
        "hil",
        build,
        "--reference",
        "cpu",
        "--target",
        "lava",
        "--input",
        inp,
        "--report",
        str(d / "hil.json"),
    )
    assert code == 0, f"seed {seed} ({case.kind}, {case.target}): {err}"
    report = json.loads((d / "hil.json").read_text())
    assert report["agree"] is True


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_random_network_through_the_cli_is_exact_on_cpu_and_lava(seed, tmp_path):
    _check_network(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", FULL_SEEDS)
def test_random_network_through_the_cli_is_exact_on_cpu_and_lava_full(seed, tmp_path):
    _check_network(seed, tmp_path)


def test_the_suite_covers_every_kind_of_network():
    """The 50 networks of `make test` span every family, float and fixed models, and cut layers."""
    cases = [cli_case(s) for s in FAST_SEEDS]
    kinds = {c.kind.split("/")[1].split("+")[0] for c in cases}
    assert {*FAMILIES, "fc"} <= kinds
    assert sum(c.kind.startswith("float/") for c in cases) >= 15
    assert sum(c.target == SPLIT_TARGET for c in cases) >= 12
    assert any("+recurrent" in c.kind for c in cases) and any("+skip" in c.kind for c in cases)
