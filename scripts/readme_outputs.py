"""Run the commands of README.md and docs/*.md and check (or update) the output they show.

A code block of README.md or of a page under docs/ preceded by the line
`<!-- readme-outputs: NAME -->` is a session: its `$ ` lines are commands, the lines under each
are what the command printed (stdout and stderr, as a terminal shows them). A command whose line
ends in a here-document (`<<'PY'`) takes the lines through its terminator as its input. This
script runs every marked block's commands in a fresh temporary folder prepared as the session
says (`scripts/readme_sessions.py`: fixture files, commands the page does not show), with `snnc`
and `python` the ones of this checkout's virtual environment, and compares.

    python scripts/readme_outputs.py                 # check every session; exit 1 on a difference
    python scripts/readme_outputs.py --update        # rewrite the blocks with the real output
    python scripts/readme_outputs.py --only tem      # some sessions (names: --list)
    python scripts/readme_outputs.py --quick         # the quick sessions (what `make test` runs)

Every shown command block (a fence holding a `$ ` line) must be a session, or be listed in
`readme_sessions.NOT_RUN` with the reason it cannot be run here (tests/test_docs.py checks it).

Fixtures (models, builds, input spikes, NIR and netx files) are made once per run of this
script, in a cache folder, by seeded commands and functions (`readme_sessions.FIXTURES`): same
checkout, same files. Slow sessions (training on Fashion-MNIST-sized work, Ray, the demo, long
fuzz runs) are run here but not by `make test`.

Normalisation: what changes from run to run by nature is compared in a normal form, on both
sides, and written as it ran (never edited by hand):
- wall-clock seconds (`0.18 s`, `(17.9 s)`, `finished in 27 s`) compare as `<t> s`;
- the temporary folder's path is written relative to it (`/tmp/readme-x/in.npy` -> `in.npy`);
- a session's own rules (`Session.normalise`: e.g. a fuzz table's seconds column, a process id)
  are regular expressions documented where the session is defined.
A shown line `...` stands for any number of output lines (an abridged block): such a block is
checked around it, and `--update` keeps the abridgment only where the shown lines still match
(otherwise it writes the whole output and says so).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from readme_sessions import FIXTURES, NOT_RUN, ROOT, SESSIONS, Fixture, Session  # noqa: E402

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MARK = re.compile(r"^<!-- readme-outputs: ([\w-]+) -->$")
# Output that differs between runs by nature: elapsed seconds.
_SECONDS = re.compile(r"\b\d+(\.\d+)? s\b")
_HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)'?\"?\s*$")


def pages() -> list[Path]:
    """The files whose marked blocks are sessions: README.md, then docs/*.md by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


@dataclass
class Block:
    name: str
    path: Path  # the file the block is in
    start: int  # index of the first line inside the fence
    end: int  # index of the closing fence
    commands: list[tuple[str, list[str]]]  # (command as shown, here-document included; output)


def fences(lines: list[str]) -> list[tuple[int, int]]:
    """(index of the opening fence, index of the closing fence) of every code block."""
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            if end is None:
                break
            out.append((i, end))
            i = end + 1
        else:
            i += 1
    return out


def _commands(body: list[str]) -> list[tuple[str, list[str]]] | None:
    """The (command, output lines) of a block's body; None when it does not start with `$ `."""
    commands: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(body):
        line = body[i]
        if line.startswith("$ "):
            cmd = line[2:]
            m = _HEREDOC.search(cmd)
            if m:  # the here-document belongs to the command
                stop = next((j for j in range(i + 1, len(body)) if body[j] == m.group(1)), None)
                if stop is not None:
                    cmd = "\n".join([cmd, *body[i + 1 : stop + 1]])
                    i = stop
            commands.append((cmd, []))
        elif commands:
            commands[-1][1].append(line)
        else:
            return None
        i += 1
    return commands


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
        commands = _commands(lines[i + 2 : end])
        if not commands:
            raise SystemExit(
                f"{where}:{i + 3}: block {m.group(1)!r} must start with a `$ ` command"
            )
        blocks.append(Block(m.group(1), path, i + 2, end, commands))
    return blocks


def shown_command_blocks(lines: list[str]) -> list[tuple[int, str | None, str]]:
    """(line number of the fence, session name or None, first command) of every code block
    that shows a `$ ` command."""
    out = []
    for start, end in fences(lines):
        first = next((b[2:] for b in lines[start + 1 : end] if b.startswith("$ ")), None)
        if first is None:
            continue
        m = MARK.match(lines[start - 1].strip()) if start else None
        out.append((start + 1, m.group(1) if m else None, first))
    return out


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


def unmarked_blocks() -> list[str]:
    """`page:line: $ command` of each shown command block that is neither a session nor listed
    in NOT_RUN (by its page and first command)."""
    missing = []
    for path in pages():
        rel = path.relative_to(ROOT).as_posix()
        for number, name, first in shown_command_blocks(path.read_text().splitlines()):
            if name is None and (rel, first) not in NOT_RUN:
                missing.append(f"{rel}:{number}: $ {first}")
    return missing


def _command(shown: str) -> str:
    """The command to run: the shown line without its trailing `   # comment`."""
    head, sep, rest = shown.partition("\n")
    return re.split(r"\s{2,}#\s", head, maxsplit=1)[0] + sep + rest


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)  # fixture scripts import tests/ and benchmarks/ helpers
    env["SNNC_PROGRESS"] = "0"
    env["COLUMNS"] = "100"  # argparse's --help wraps to the terminal's width
    return env


class FixtureCache:
    """Each fixture made once, in its own folder under one temporary root."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="readme-fixtures-"))
        self.made: dict[str, Path] = {}

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def folder(self, name: str) -> Path:
        """The folder holding fixture `name`'s outputs (and those of what it needs)."""
        if name in self.made:
            return self.made[name]
        fixture: Fixture = FIXTURES[name]
        folder = self.root / name
        folder.mkdir()
        for need in fixture.needs:
            self.copy_into(need, folder)
        for f in fixture.files:
            shutil.copy(f, folder / f.name)
        for cmd in fixture.commands:
            proc = subprocess.run(cmd, shell=True, cwd=folder, env=_env(), capture_output=True,
                                  text=True)
            if proc.returncode:
                raise SystemExit(f"readme_outputs: fixture {name!r}: `{cmd}` failed:\n"
                                 f"{proc.stdout}{proc.stderr}")
        if fixture.build is not None:
            fixture.build(folder)
        absent = [o for o in fixture.outputs if not (folder / o).exists()]
        if absent:
            raise SystemExit(f"readme_outputs: fixture {name!r} did not make {absent}")
        self.made[name] = folder
        return folder

    def copy_into(self, name: str, target: Path) -> None:
        source = self.folder(name)
        for out in FIXTURES[name].outputs:
            src, dst = source / out, target / out
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True, symlinks=True)
            else:
                shutil.copy(src, dst)


class CommandKilled(Exception):
    """A session's command ended by a signal nobody in the session sent."""


def _run_interrupted(cmd: str, folder: Path, env: dict[str, str],
                     pattern: str) -> tuple[int, str]:
    """Run `cmd` and send SIGINT to its process group once a line matching `pattern` was
    printed (what Ctrl-C does in a terminal); its exit status and whole output."""
    proc = subprocess.Popen(["bash", "-c", cmd], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if re.search(pattern, line) and proc.poll() is None:
            time.sleep(0.05)
            os.killpg(proc.pid, signal.SIGINT)
    proc.wait()
    return proc.returncode, "".join(lines)


def run_session(block: Block, session: Session, cache: FixtureCache) -> list[list[str]]:
    """Output lines of each command, run in order in a fresh folder."""
    env = _env()
    outputs = []
    with tempfile.TemporaryDirectory(prefix="readme-") as tmp:
        folder = Path(tmp)
        for name in session.fixtures:
            cache.copy_into(name, folder)
        for f in session.files:
            shutil.copy(f, folder / f.name)
        if -1 in session.hooks:
            session.hooks[-1](folder)
        for cmd in session.setup:
            subprocess.run(cmd, shell=True, cwd=folder, env=env, check=True, capture_output=True)
        for i, (shown, _) in enumerate(block.commands):
            cmd = session.run.get(i, _command(shown))
            if i in session.interrupt:
                status, text = _run_interrupted(cmd, folder, env, session.interrupt[i])
            else:
                done = subprocess.run(
                    ["bash", "-c", cmd], cwd=folder, env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True,
                )
                status, text = done.returncode, done.stdout
            if status < 0:  # killed from outside (the OOM killer): its output is cut short
                raise CommandKilled(f"`{cmd.splitlines()[0]}` was killed by signal {-status}")
            text = text.replace(str(folder) + os.sep, "").replace(str(folder), ".")
            outputs.append(text.splitlines())
            if i in session.hooks:
                session.hooks[i](folder)
    return outputs


def _norm(line: str, rules: tuple[tuple[str, str], ...] = ()) -> str:
    line = _SECONDS.sub("<t> s", line.rstrip())
    for pattern, replacement in rules:
        line = re.sub(pattern, replacement, line)
    return line


def matches(shown: list[str], actual: list[str], rules: tuple[tuple[str, str], ...] = ()) -> bool:
    """`shown` (with `...` lines standing for any lines) against `actual`, normalised."""
    pattern = "".join(
        "(?:.*\n)*?" if line.strip() == "..." else re.escape(_norm(line, rules) + "\n")
        for line in shown
    )
    return re.fullmatch(pattern, "".join(_norm(a, rules) + "\n" for a in actual)) is not None


def abridge(shown: list[str], actual: list[str],
            rules: tuple[tuple[str, str], ...] = ()) -> list[str] | None:
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
    return out if matches(out, actual, rules) else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--update", action="store_true", help="rewrite the marked blocks with the real output"
    )
    ap.add_argument("--only", nargs="*", default=None, metavar="NAME", help="these sessions only")
    ap.add_argument("--quick", action="store_true", help="only the sessions not marked slow")
    ap.add_argument("--list", action="store_true", help="list the sessions and exit")
    args = ap.parse_args(argv)
    _, blocks = all_blocks()
    unknown = sorted({b.name for b in blocks} - set(SESSIONS))
    if unknown:
        raise SystemExit(
            f"README.md and docs/ mark sessions this script does not define: {', '.join(unknown)}"
        )
    if args.list:
        for b in blocks:
            where = b.path.relative_to(ROOT)
            speed = "slow" if SESSIONS[b.name].slow else "quick"
            print(f"{b.name:26s} {speed:5s} {where}:{b.start}  {len(b.commands)} command(s)")
        return 0
    selected = [b for b in blocks if (args.only is None or b.name in args.only)
                and not (args.quick and SESSIONS[b.name].slow)]
    failed = not_run = 0
    cache = FixtureCache()
    try:
        for block in selected:
            session = SESSIONS[block.name]
            started = time.perf_counter()
            try:
                actual = run_session(block, session, cache)
            except CommandKilled as killed:
                print(f"{block.name:26s} NOT RUN: {killed}; the block is left as it is",
                      flush=True)
                failed += 1
                not_run += 1
                continue
            rules = session.normalise
            new_body: list[str] = []
            ok = True
            for (shown_cmd, shown), out in zip(block.commands, actual, strict=True):
                same = matches(shown, out, rules)
                ok &= same
                new_body.extend(f"$ {shown_cmd}".split("\n"))
                abridged = (abridge(shown, out, rules)
                            if not same and any(s.strip() == "..." for s in shown) else None)
                new_body.extend(shown if same else abridged if abridged is not None else out)
                if not same and not args.update:
                    where = block.path.relative_to(ROOT)
                    print(f"--- {where} block {block.name!r}: $ {shown_cmd.splitlines()[0]}")
                    diff = difflib.unified_diff(shown, out, str(where), "actual", lineterm="",
                                                n=1)
                    print("\n".join(diff))
            status = "ok" if ok else ("updated" if args.update else "DIFFERS")
            print(f"{block.name:26s} {status} ({time.perf_counter() - started:.1f} s)",
                  flush=True)
            if not ok:
                failed += 1
                if args.update:
                    rewrite_block(block.path, block.name, new_body)
    finally:
        cache.close()
    return 1 if not_run or (failed and not args.update) else 0


def rewrite_block(path: Path, name: str, body: list[str]) -> None:
    """Replace the body of block `name` in `path` as the file is now (it may have been edited
    while the session ran)."""
    lines = path.read_text().splitlines()
    (block,) = [b for b in parse(lines, path) if b.name == name]
    lines[block.start : block.end] = body
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
