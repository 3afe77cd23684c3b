"""What `scripts/readme_outputs.py` needs to run the command blocks of README.md and docs/*.md.

FIXTURES: files the blocks use, each made once per run by seeded commands or functions (a
digits model trained with `snnc train`, its BUILD, input spikes, edited hardware YAML, NIR and
netx files of `tests/fixtures/` written by snnTorch, Norse and lava-dl, hand-built programs).
SESSIONS: one per marked block (`<!-- readme-outputs: NAME -->`): the fixtures copied into its
fresh folder, commands it runs first without showing them, and how it is run and compared.
NOT_RUN: the shown command blocks this script does not run, each with the reason.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NIR_FIXTURES = ROOT / "tests" / "fixtures" / "nir"
PER_NEURON = NIR_FIXTURES / "per_neuron"
NETX_FIXTURES = ROOT / "tests" / "fixtures" / "netx"
if str(ROOT) not in sys.path:  # the fixture builders use helpers of tests/ and benchmarks/
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Fixture:
    """Files made once per run in a folder of their own: the outputs of `needs` copied in, then
    `files` copied in, `commands` run (shell, in the folder), `build(folder)` called."""

    outputs: tuple[str, ...]  # file or folder names the fixture provides
    needs: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    commands: tuple[str, ...] = ()
    build: Callable[[Path], None] | None = None


@dataclass(frozen=True)
class Session:
    """How to prepare the folder a marked block runs in, and how to run and compare it."""

    fixtures: tuple[str, ...] = ()  # FIXTURES whose outputs are copied in first
    files: tuple[Path, ...] = ()  # copied in before the first command
    setup: tuple[str, ...] = ()  # commands run first, their output not shown
    hooks: dict[int, Callable[[Path], None]] = field(default_factory=dict)  # after command i
    slow: bool = False  # run by `make readme-outputs`, not by `make test`
    run: dict[int, str] = field(default_factory=dict)  # command i runs this instead (why: below)
    interrupt: dict[int, str] = field(default_factory=dict)  # command i gets SIGINT after a line
    # matching this regular expression (Ctrl-C in a terminal)
    normalise: tuple[tuple[str, str], ...] = ()  # (regex, replacement) on both sides


# ------------------------------------------------------------------------------- fixtures


def _snnc(folder: Path, *args: str) -> None:
    subprocess.run([str(ROOT / ".venv" / "bin" / "snnc"), *args], cwd=folder, check=True,
                   capture_output=True)


def _hw_yaml(edits: dict[str, int], name: str, source: str) -> str:
    """loihi2's hardware config with `section.key` limits set to new values, as YAML."""
    import yaml

    from ir import load_hw

    spec = load_hw("loihi2").to_dict()
    spec["name"] = name
    for dotted, value in edits.items():
        section, key = dotted.split(".")
        spec[section][key] = {"value": value, "source": source, "estimate": False}
    return yaml.safe_dump(spec, sort_keys=False)


_LOIHI2_NEURONS = ('    value: 8192\n    source: "Intel Loihi 2 brief (2021): 1M neurons per chip '
                   '/ 128 cores; fewer for neuron models with more state"\n    estimate: true')
_LOIHI2_CORES = ('    value: 128\n    source: "Intel Loihi 2 brief (2021): 128 neuro cores per '
                 'chip (some papers report 120 usable)"\n    estimate: false')


def _edit_my_chip(folder: Path) -> None:
    """The hardware page's edit of the template: name, description and two limits."""
    path = folder / "my_chip.yaml"
    text = path.read_text()
    edits = [
        ('name: "loihi2"', 'name: "my_chip"'),
        ('description: "Intel Loihi 2 (Lava 0.10 fixed_pt semantics); per-core memory limits '
         'estimated"',
         'description: "a small chip with Loihi 2 formats (64 neurons per core, 8 cores per '
         'chip)"'),
        (_LOIHI2_NEURONS,
         '    value: 64\n    source: "my_chip datasheet, table 3"\n    estimate: false'),
        (_LOIHI2_CORES,
         '    value: 8\n    source: "my_chip datasheet, section 2"\n    estimate: false'),
    ]
    for old, new in edits:
        if old not in text:
            raise SystemExit(
                f"readme_outputs: the loihi2 template changed; update _edit_my_chip ({old[:40]!r})"
            )
        text = text.replace(old, new)
    path.write_text(text)


def _my_chip(folder: Path) -> None:
    _snnc(folder, "hw", "show", "loihi2", "--yaml", "-o", "my_chip.yaml")
    _edit_my_chip(folder)


def _small_yaml(folder: Path) -> None:
    """docs/cost.md's small.yaml: loihi2 with 64 neurons per core and 2 cores per chip."""
    (folder / "small.yaml").write_text(_hw_yaml(
        {"core.max_neurons": 64, "chip.cores_per_chip": 2}, "small", "docs/cost.md's example"))


def _broken_yaml(folder: Path) -> None:
    (folder / "broken.yaml").write_text(_hw_yaml({"core.max_neurons": -5}, "broken", "a typo"))


def _dense_model(path: Path, sizes: list[int], seed: int = 0) -> None:
    """A float LIF MLP with N(0, 1) weights (the shape of tests/cli/test_friction.py's)."""
    import numpy as np

    from ir import LIF, Graph, Input, save_graph
    from ir.nodes import Dense

    rng = np.random.default_rng(seed)
    names = ["in", *(f"l{i}" for i in range(1, len(sizes)))]
    pops = {"in": Input((sizes[0],))}
    pops.update({n: LIF((k,), tau_syn=0.005, tau_mem=0.01, v_th=1.0)
                 for n, k in zip(names[1:], sizes[1:], strict=True)})
    projs = {f"p{i}": Dense(names[i], names[i + 1],
                            weight=rng.normal(0, 1, (sizes[i + 1], sizes[i])))
             for i in range(len(sizes) - 1)}
    save_graph(Graph(populations=pops, projections=projs, dt=1e-3), path)


def _wide_mlp(folder: Path) -> None:
    """docs/partitioning.md: the 784-3000-2000-1500-10 fixed-point MLP of tests/passes/nets.py
    (seed 1), the one next-fit packed into 202 loihi1 cores."""
    from ir import save_graph
    from tests.passes.nets import mlp

    save_graph(mlp([784, 3000, 2000, 1500, 10], seed=1), folder / "wide-mlp.snnc")


def _partition_errors(folder: Path) -> None:
    """docs/partitioning.md: one neuron with 60 inputs on tiny (48 input axons per core), and
    8 -> 64 -> 16 on tiny cores with 4 output axons, one core in all (axons.yaml) or 16 chips
    of one core (axons16.yaml)."""
    _dense_model(folder / "wide.snnc", [60, 4])
    _dense_model(folder / "fan.snnc", [8, 64, 16])
    tiny = (ROOT / "hw_configs" / "tiny.yaml").read_text()
    edits = [("max_output_axons: {value: 48", "max_output_axons: {value: 4"),
             ("max_input_axons: {value: 48", "max_input_axons: {value: 100"),
             ("cores_per_chip: {value: 4", "cores_per_chip: {value: 1"),
             ("max_chips: {value: 4", "max_chips: {value: 1")]
    for old, new in edits:
        if old not in tiny:
            raise SystemExit(f"readme_sessions: hw_configs/tiny.yaml changed; no {old!r}")
        tiny = tiny.replace(old, new)
    (folder / "axons.yaml").write_text(tiny.replace("name: tiny", "name: axons", 1))
    sixteen = tiny.replace("max_chips: {value: 1", "max_chips: {value: 16")
    (folder / "axons16.yaml").write_text(sixteen.replace("name: tiny", "name: axons16", 1))


def _conv_program(folder: Path) -> None:
    """docs/partitioning.md's 3-layer 8x32x32 conv program (tests/passes/nets.py, seed 0)."""
    from ir import save_graph
    from tests.passes.nets import conv_net

    save_graph(conv_net(8, 32, 3), folder / "conv.snnc")


def _p1(folder: Path) -> None:
    """The COMPASS P1 program of benchmarks/sim_vs_lava.py and 1024 samples of its inputs."""
    import numpy as np

    from benchmarks.sim_vs_lava import bernoulli_inputs, compass_p1
    from ir import save_graph

    save_graph(compass_p1(), folder / "p1.snnc")
    np.save(folder / "x1024.npy", bernoulli_inputs(1024, 100))


def _small_program(folder: Path) -> None:
    """docs/backends.md's 8 -> 6 -> 3 LIF program on 3 cores of 2 chips (4-neuron cores, 2 cores
    per chip), and 2 samples x 20 steps of seeded input spikes."""
    import numpy as np

    from ir import LIF, Graph, Input, save_graph
    from ir.nodes import Dense

    rng = np.random.default_rng(5)
    graph = Graph(
        populations={"in": Input((8,)),
                     "hid": LIF((6,), tau_syn=0.004, tau_mem=0.02, v_th=1.0),
                     "out": LIF((3,), tau_syn=0.004, tau_mem=0.02, v_th=1.0)},
        projections={"fc1": Dense("in", "hid", weight=rng.normal(0.4, 0.4, (6, 8))),
                     "fc2": Dense("hid", "out", weight=rng.normal(0.5, 0.4, (3, 6)))},
        dt=1e-3,
    )
    save_graph(graph, folder / "small.snnc")
    (folder / "cores4.yaml").write_text(_hw_yaml(
        {"core.max_neurons": 4, "chip.cores_per_chip": 2}, "cores4", "docs/backends.md's example"))
    _snnc(folder, "compile", "small.snnc", "--hw", "cores4.yaml", "-o", "build")
    np.save(folder / "in.npy", (rng.random((2, 20, 8)) < 0.5).astype(np.uint8))


def _robust_files(folder: Path) -> None:
    """docs/robustness.md's files: a truncated model, 400 neurons for `tiny`, a NIR file whose
    weights are in external raw storage (tests/robust/hostile.py's case), a small model."""
    from tests.robust.hostile import _nir_external

    _dense_model(folder / "m.snnc", [8, 6, 3])
    data = (folder / "m.snnc").read_bytes()
    (folder / "cut.snnc").write_bytes(data[: len(data) // 2])
    _dense_model(folder / "big.snnc", [8, 400])
    _nir_external(folder)
    (folder / "secret.bin").unlink()


def _old_build(folder: Path) -> None:
    """A BUILD as an snnc without split-exactness wrote it: the 784-1000-10 MLP compiled for
    loihi2, then fc1 (whose source lif0 is cut) given weight_exp -4 back."""
    import numpy as np

    from compiler.build import read_build, write_build
    from tests.nir.helpers import nir_lif_mlp

    nir_lif_mlp(folder / "mlp.nir", [784, 1000, 10], seed=0)
    _snnc(folder, "compile", "mlp.nir", "--dt", "0.001", "--target", "loihi2", "-o", "build")
    build = read_build(folder / "build")
    fc1 = build.program.projections["fc1"]
    program = build.program.with_node("fc1", fc1.replace(weight_exp=-4))
    write_build(folder / "old_build", program, build.hw, build.report)
    rng = np.random.default_rng(0)
    np.save(folder / "in.npy", (rng.random((2, 20, 784)) < 0.2).astype(np.uint8))


def _big_mlp(folder: Path) -> None:
    """docs/semantics.md's 1024-2048-2048-10 MLP (NIR, LIF tau 20 ms) compiled for loihi2."""
    import numpy as np

    from tests.nir.helpers import nir_lif_mlp

    nir_lif_mlp(folder / "mlp.nir", [1024, 2048, 2048, 10], seed=0)
    _snnc(folder, "compile", "mlp.nir", "--dt", "0.001", "--target", "loihi2", "-o", "build")
    rng = np.random.default_rng(0)
    np.save(folder / "in.npy", (rng.random((2, 20, 1024)) < 0.2).astype(np.uint8))


def _faulty_tem(folder: Path) -> None:
    """docs/trainers.md's faulty target: the TEM classifier's program with in_to_out[3, 20]
    set to -32."""
    from compiler.build import read_build, write_build

    build = read_build(folder / "build")
    proj = build.program.projections["in_to_out"]
    weight = proj.weight.copy()
    weight[3, 20] = -32
    program = build.program.with_node("in_to_out", proj.replace(weight=weight))
    write_build(folder / "build-faulty", program, build.hw, build.report)


# The in.npy of docs/cli.md: the first 8 test digits, encoded as the model's metadata says.
_ENCODE_8 = (
    "python -c 'import numpy as np; from compiler.model_io import load_model; "
    "from trainers.encoders import encode_split; "
    'spikes, _ = encode_split(load_model("digits.snnc").metadata, "digits", "test", samples=8); '
    'np.save("in.npy", spikes)\''
)

FIXTURES: dict[str, Fixture] = {
    "digits.snnc": Fixture(("digits.snnc",),
                           commands=("snnc train conversion --dataset digits -o digits.snnc",)),
    "build": Fixture(("build",), needs=("digits.snnc",),
                     commands=("snnc compile digits.snnc --target loihi2 --calibrate digits "
                               "-o build",)),
    "in.npy": Fixture(("in.npy",), needs=("digits.snnc",), commands=(_ENCODE_8,)),
    "my_chip.yaml": Fixture(("my_chip.yaml",), build=_my_chip),
    "small.yaml": Fixture(("small.yaml",), build=_small_yaml),
    "broken.yaml": Fixture(("broken.yaml",), build=_broken_yaml),
    "partition-errors": Fixture(("wide.snnc", "fan.snnc", "axons.yaml", "axons16.yaml"),
                                build=_partition_errors),
    "conv-program": Fixture(("conv.snnc",), build=_conv_program),
    "wide-mlp": Fixture(("wide-mlp.snnc",), build=_wide_mlp),
    "p1": Fixture(("p1.snnc", "x1024.npy"), build=_p1),
    "small-program": Fixture(("build", "in.npy"), build=_small_program),
    "robust-files": Fixture(("m.snnc", "cut.snnc", "big.snnc", "x.nir"), build=_robust_files),
    "old-build": Fixture(("old_build", "in.npy"), build=_old_build),
    "big-mlp": Fixture(("build", "in.npy"), build=_big_mlp),
    "tem-build": Fixture(("build", "build-faulty"),
                         commands=("snnc train tem --dataset digits -o tem.snnc",
                                   "snnc compile tem.snnc --target loihi2 -o build"),
                         build=_faulty_tem),
    "sweep-spec": Fixture(("sweep-digits.yaml",), files=(ROOT / "examples" / "sweep-digits.yaml",)),
}

_PIDS = (r"process \d+", "process <pid>")  # a process id differs on every run
_IN_2000 = ("python -c 'import numpy as np; "
            "np.save(\"in.npy\", np.zeros((4, 2000, 8), np.uint8))'")

SESSIONS: dict[str, Session] = {
    # README.md
    "demo": Session(slow=True),
    # docs/cli.md
    "train-conversion": Session(slow=True),
    "inspect": Session(fixtures=("digits.snnc",), slow=True),
    "compile-digits": Session(fixtures=("digits.snnc",), slow=True),
    "eval-digits": Session(fixtures=("digits.snnc", "build"), slow=True),
    "run-digits": Session(fixtures=("digits.snnc", "build"), slow=True),
    "eval-align": Session(fixtures=("digits.snnc",), slow=True),
    "hil-lava": Session(fixtures=("build",), slow=True),
    "hil-float": Session(fixtures=("digits.snnc", "build", "in.npy"), slow=True),
    "compile-calibrate-spikes": Session(fixtures=("digits.snnc", "in.npy"), slow=True),
    "identify": Session(fixtures=("build", "in.npy"), slow=True),
    "report": Session(fixtures=("digits.snnc", "build"), slow=True),
    "nir-export-import": Session(fixtures=("digits.snnc",), slow=True),
    "hw-list-show": Session(),
    "cli-help": Session(slow=True),  # tests/test_docs.py checks it in process
    # docs/backends.md
    "input-shape": Session(
        files=(NIR_FIXTURES / "snntorch_conv.nir",),
        setup=("snnc import snntorch_conv.nir -o conv.snnc",
               # 4 samples of 50 steps, one pixel column short of the (1, 8, 8) input
               "python -c 'import numpy as np; "
               "np.save(\"x.npy\", np.zeros((4, 50, 1, 8, 7), np.float32))'"),
    ),
    "align": Session(files=(NIR_FIXTURES / "snntorch_conv.nir",
                            NIR_FIXTURES / "snntorch_conv.input.npy"),
                     setup=("snnc import snntorch_conv.nir -o sc.snnc",)),
    "run-verbose": Session(fixtures=("p1",), slow=True),
    "run-small": Session(fixtures=("small-program",), slow=True),
    # docs/cost.md
    "cost": Session(fixtures=("digits.snnc", "build", "small.yaml"), slow=True),
    # docs/hardware.md
    "hw-template": Session(hooks={2: _edit_my_chip}),
    "compile-my-chip": Session(fixtures=("digits.snnc", "my_chip.yaml", "broken.yaml"),
                               slow=True),
    "hil-device": Session(fixtures=("build",), slow=True),
    # docs/netx.md
    "netx": Session(files=tuple(NETX_FIXTURES.glob("*.n*")), slow=True),
    "netx-rf": Session(files=tuple(NETX_FIXTURES.glob("*.n*")), slow=True,
                       setup=("snnc compile rf_complex.net --target loihi2 -o rfbuild",)),
    # docs/neuron-models.md
    "per-neuron": Session(files=(PER_NEURON / "snntorch_leaky_per_neuron.nir",
                                 PER_NEURON / "snntorch_leaky_per_neuron.input.npy"), slow=True),
    # docs/nir.md
    "nir-import": Session(files=tuple(NIR_FIXTURES.glob("*.*")), slow=True),
    # docs/partitioning.md
    "partition-report": Session(fixtures=("conv-program",)),
    "partition-errors": Session(fixtures=("partition-errors",)),
    "partition-mixing": Session(fixtures=("wide-mlp",), slow=True),
    # docs/quantization.md
    "compile-digits-64": Session(fixtures=("digits.snnc",), slow=True),
    # docs/robustness.md
    "robust-errors": Session(fixtures=("robust-files", "small-program")),
    "robust-external": Session(fixtures=("robust-files",)),
    "robust-memory": Session(fixtures=("robust-files", "small-program"),
                             # 4 samples: a run of 2^20 steps that needs more than 1 GiB
                             setup=("python -c 'import numpy as np; "
                                    "np.save(\"in.npy\", np.zeros((4, 20, 8), np.uint8))'",)),
    "robust-outputs": Session(fixtures=("robust-files", "small-program"),
                              setup=("mkdir build2",)),
    # a Lava run of 4 samples x 2000 steps, still running when the signal comes
    "robust-kill": Session(fixtures=("small-program",), slow=True, setup=(_IN_2000,)),
    "robust-worker-killed": Session(fixtures=("small-program",), slow=True, setup=(_IN_2000,),
                                    normalise=(_PIDS,)),
    # six hostile-input fuzz families, 1,000 derandomized examples each (about 5 minutes); the
    # seconds column varies with the load
    "fuzz-hostile": Session(slow=True, normalise=((r"^(\S+ +\d+) +\d+\.\d+ ", r"\1 <s> "),)),
    # docs/semantics.md
    "old-build": Session(fixtures=("old-build",), slow=True),
    "lava-blocks-limit": Session(fixtures=("big-mlp",), slow=True),
    # docs/sweeps.md
    "sweep-bad": Session(
        fixtures=("sweep-spec",),
        setup=("sed 's/granularity: \\[per-layer, per-channel\\]/granularity: [per-layer, "
               "per-neuron]/' sweep-digits.yaml > bad.yaml",)),
    "sweep": Session(fixtures=("sweep-spec",), slow=True),
    "sweep-resume": Session(fixtures=("sweep-spec",), slow=True,
                            setup=("snnc sweep sweep-digits.yaml -o sweep-out",),
                            interrupt={0: r"\[9/24\]"}),
    "sweep-ray": Session(fixtures=("sweep-spec",), slow=True,
                         setup=("snnc sweep sweep-digits.yaml -o sweep-out",),
                         # points finish in any order on Ray: the progress lines differ
                         normalise=((r"\[\d+/24\] \d+ done, 0 failed, \d+ left.*",
                                     "[i/24] progress"),)),
    "eval-shards": Session(fixtures=("build",), slow=True),
    # docs/trainers.md
    "conversion-digits": Session(slow=True),
    "tem": Session(slow=True),
    "identify-faulty": Session(fixtures=("tem-build",), slow=True),
    "vib": Session(slow=True),
}

# Shown command blocks that are not run, by (page, first command): why each cannot be.
NOT_RUN: dict[tuple[str, str], str] = {
    ("docs/robustness.md",
     "SNNC_HOSTILE_ROOT=../before python -m tests.robust.hostile --timeout 15 --json before.json"):
        "a measurement against the checkout before issue 23 (f449f10), kept as measured",
    ("docs/robustness.md", "make fuzz"):
        "a measurement (10,000 examples per format, hours of CPU), kept as measured",
    ("docs/robustness.md", "python -m tests.fuzz.lava_signals_log 0 1000 lava-signals.jsonl"):
        "a measurement whose outcomes depend on timing (an hour), kept as measured",
}
