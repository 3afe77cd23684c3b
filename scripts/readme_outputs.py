"""Run the commands of README.md and docs/*.md and check (or update) the output they show.

A code block of README.md or of a page under docs/ preceded by the line
`<!-- readme-outputs: NAME -->` is a session: its `$ ` lines are commands, the lines under each
are what the command printed (stdout and stderr, as a terminal shows them). This script runs
every marked block's commands in a fresh temporary folder prepared by the session's setup
(SESSIONS below: fixture files copied in, setup commands the page does not show), with `snnc`
the one of this checkout's virtual environment, and compares.

    python scripts/readme_outputs.py                 # check every session; exit 1 on a difference
    python scripts/readme_outputs.py --update        # rewrite the blocks with the real output
    python scripts/readme_outputs.py --only tem      # some sessions (names: --list)

Comparison ignores what changes from run to run by nature: wall-clock seconds (`0.18 s`,
`(17.9 s)`) and temporary paths. A shown line `...` stands for any number of output lines (an
abridged block): such a block is checked around it, and `--update` keeps the abridgment only
where the shown lines still match (otherwise it writes the whole output and says so).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
NIR_FIXTURES = ROOT / "tests" / "fixtures" / "nir"
MARK = re.compile(r"^<!-- readme-outputs: ([\w-]+) -->$")
# Output that differs between runs by nature: elapsed seconds.
_SECONDS = re.compile(r"\b\d+(\.\d+)? s\b")


@dataclass(frozen=True)
class Session:
    """How to prepare the folder a marked block runs in."""

    files: tuple[Path, ...] = ()  # copied in before the first command
    setup: tuple[str, ...] = ()  # commands run first, their output not shown
    hooks: dict[int, Callable[[Path], None]] = field(default_factory=dict)  # after command i


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
        ('    value: 8192\n    source: "Intel Loihi 2 brief (2021): 1M neurons per chip / 128 '
         'cores; fewer for neuron models with more state"\n    estimate: true',
         '    value: 64\n    source: "my_chip datasheet, table 3"\n    estimate: false'),
        ('    value: 128\n    source: "Intel Loihi 2 brief (2021): 128 neuro cores per chip '
         '(some papers report 120 usable)"\n    estimate: false',
         '    value: 8\n    source: "my_chip datasheet, section 2"\n    estimate: false'),
    ]
    for old, new in edits:
        if old not in text:
            raise SystemExit(
                f"readme_outputs: the loihi2 template changed; update _edit_my_chip ({old[:40]!r})"
            )
        text = text.replace(old, new)
    path.write_text(text)


_TRAIN_DIGITS = "snnc train conversion --dataset digits -o digits.snnc"
# The in.npy of docs/cli.md: the first 8 test digits, encoded as the model's metadata says.
_ENCODE_8 = (
    "python -c 'import numpy as np; from compiler.model_io import load_model; "
    "from trainers.encoders import encode_split; "
    'spikes, _ = encode_split(load_model("digits.snnc").metadata, "digits", "test", samples=8); '
    'np.save("in.npy", spikes)\''
)

SESSIONS: dict[str, Session] = {
    "tem": Session(),
    "train-conversion": Session(),
    "compile-digits": Session(setup=(_TRAIN_DIGITS,)),
    "compile-digits-64": Session(setup=(_TRAIN_DIGITS,)),
    "compile-calibrate-spikes": Session(setup=(_TRAIN_DIGITS, _ENCODE_8)),
    "nir-import": Session(files=tuple(NIR_FIXTURES.glob("*.*"))),
    "align": Session(files=(NIR_FIXTURES / "snntorch_conv.nir",
                            NIR_FIXTURES / "snntorch_conv.input.npy"),
                     setup=("snnc import snntorch_conv.nir -o sc.snnc",)),
    "input-shape": Session(
        files=(NIR_FIXTURES / "snntorch_conv.nir",),
        setup=("snnc import snntorch_conv.nir -o conv.snnc",
               # 4 samples of 50 steps, one pixel column short of the (1, 8, 8) input
               "python -c 'import numpy as np; "
               "np.save(\"x.npy\", np.zeros((4, 50, 1, 8, 7), np.float32))'"),
    ),
    "hw-template": Session(hooks={2: _edit_my_chip}),
}


def pages() -> list[Path]:
    """The files whose marked blocks are sessions: README.md, then docs/*.md by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


@dataclass
class Block:
    name: str
    path: Path  # the file the block is in
    start: int  # index of the first line inside the fence
    end: int  # index of the closing fence
    commands: list[tuple[str, list[str]]]  # (command line as shown, output lines)


def parse(lines: list[str], path: Path = README) -> list[Block]:
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    blocks = []
    for i, line in enumerate(lines):
        m = MARK.match(line.strip())
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise SystemExit(f"{where}:{i + 1}: a readme-outputs mark must precede a code fence")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        commands: list[tuple[str, list[str]]] = []
        for body in lines[i + 2 : end]:
            if body.startswith("$ "):
                commands.append((body[2:], []))
            elif commands:
                commands[-1][1].append(body)
            else:
                raise SystemExit(
                    f"{where}:{i + 3}: block {m.group(1)!r} must start with a `$ ` command"
                )
        blocks.append(Block(m.group(1), path, i + 2, end, commands))
    return blocks


def all_blocks() -> tuple[dict[Path, list[str]], list[Block]]:
    """Every page's lines and every marked block of all pages; a session name marked twice
    is refused (each names one block)."""
    texts = {path: path.read_text().splitlines() for path in pages()}
    blocks = [b for path, lines in texts.items() for b in parse(lines, path)]
    seen: dict[str, Path] = {}
    for b in blocks:
        if b.name in seen:
            raise SystemExit(
                f"readme_outputs: session {b.name!r} is marked in {seen[b.name].relative_to(ROOT)}"
                f" and in {b.path.relative_to(ROOT)}"
            )
        seen[b.name] = b.path
    return texts, blocks


def _command(shown: str) -> str:
    """The command to run: the shown line without its trailing `   # comment`."""
    return re.split(r"\s{2,}#\s", shown, maxsplit=1)[0]


def run_session(block: Block, session: Session) -> list[list[str]]:
    """Output lines of each command, run in order in a fresh folder."""
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["SNNC_PROGRESS"] = "0"
    outputs = []
    with tempfile.TemporaryDirectory(prefix="readme-") as tmp:
        folder = Path(tmp)
        for f in session.files:
            shutil.copy(f, folder / f.name)
        if -1 in session.hooks:
            session.hooks[-1](folder)
        for cmd in session.setup:
            subprocess.run(cmd, shell=True, cwd=folder, env=env, check=True, capture_output=True)
        for i, (shown, _) in enumerate(block.commands):
            proc = subprocess.run(
                ["bash", "-c", _command(shown)], cwd=folder, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True,
            )
            text = proc.stdout.replace(str(folder) + os.sep, "").replace(str(folder), ".")
            outputs.append(text.splitlines())
            if i in session.hooks:
                session.hooks[i](folder)
    return outputs


def _norm(line: str) -> str:
    return _SECONDS.sub("<t> s", line.rstrip())


def matches(shown: list[str], actual: list[str]) -> bool:
    """`shown` (with `...` lines standing for any lines) against `actual`, normalised."""
    pattern = "".join(
        "(?:.*\n)*?" if line.strip() == "..." else re.escape(_norm(line) + "\n") for line in shown
    )
    return re.fullmatch(pattern, "".join(_norm(a) + "\n" for a in actual)) is not None


def abridge(shown: list[str], actual: list[str]) -> list[str] | None:
    """`actual` abridged the way `shown` is: each run of shown lines between `...` lines is
    replaced by the actual lines from the one whose first word is the run's first word through
    the one whose first word is the run's last line's (the whole rest when the run ends the
    block). None when a run cannot be placed."""
    runs: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == "...":
            runs.append([])
        else:
            runs[-1].append(line)
    out: list[str] = []
    cursor = 0
    for i, run in enumerate(runs):
        if i:
            out.append("...")
        if not run:
            continue
        word = run[0].split()[:1]
        at = cursor if i == 0 else next(
            (j for j in range(cursor, len(actual)) if actual[j].split()[:1] == word), None
        )
        if at is None:
            return None
        if i == len(runs) - 1:
            stop = len(actual)
        else:  # through the line that starts like the run's last (rows may have been added)
            last = run[-1].split()[:1]
            stop = next((j + 1 for j in range(at + len(run) - 1, len(actual))
                         if actual[j].split()[:1] == last), at + len(run))
        out.extend(actual[at:stop])
        cursor = stop
    return out if matches(out, actual) else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--update", action="store_true", help="rewrite the marked blocks with the real output"
    )
    ap.add_argument("--only", nargs="*", default=None, metavar="NAME", help="these sessions only")
    ap.add_argument("--list", action="store_true", help="list the sessions and exit")
    args = ap.parse_args(argv)
    texts, blocks = all_blocks()
    unknown = sorted({b.name for b in blocks} - set(SESSIONS))
    if unknown:
        raise SystemExit(
            f"README.md and docs/ mark sessions this script does not define: {', '.join(unknown)}"
        )
    if args.list:
        for b in blocks:
            where = b.path.relative_to(ROOT)
            print(f"{b.name:24s} {where}:{b.start}  {len(b.commands)} command(s)")
        return 0
    selected = [b for b in blocks if args.only is None or b.name in args.only]
    failed = 0
    changed: set[Path] = set()
    for block in reversed(selected):  # from the end, so that updates keep earlier line numbers
        actual = run_session(block, SESSIONS[block.name])
        new_body: list[str] = []
        ok = True
        for (shown_cmd, shown), out in zip(block.commands, actual, strict=True):
            same = matches(shown, out)
            ok &= same
            new_body.append(f"$ {shown_cmd}")
            if same:
                new_body.extend(shown)
            elif any(line.strip() == "..." for line in shown) and abridge(shown, out) is not None:
                new_body.extend(abridge(shown, out))
            else:
                new_body.extend(out)
            if not same and not args.update:
                where = block.path.relative_to(ROOT)
                print(f"--- {where} block {block.name!r}: $ {shown_cmd}")
                diff = difflib.unified_diff(shown, out, str(where), "actual", lineterm="", n=1)
                print("\n".join(diff))
        print(f"{block.name:12s} {'ok' if ok else ('updated' if args.update else 'DIFFERS')}")
        if not ok:
            failed += 1
            if args.update:
                texts[block.path][block.start : block.end] = new_body
                changed.add(block.path)
    for path in sorted(changed):
        path.write_text("\n".join(texts[path]) + "\n")
    return 1 if failed and not args.update else 0


if __name__ == "__main__":
    sys.exit(main())
