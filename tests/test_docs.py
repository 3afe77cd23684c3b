"""The front page and the docs pages hold together: README.md stays a front page (at most 250
lines), links every page under docs/, every page starts with its title and a link back, and
every relative link in them names a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
MAX_FRONT_PAGE_LINES = 250
# [text](target) or [text](target "title"); images too.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"(`+).*?\1")


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of each Markdown link outside code fences and code spans."""
    found = []
    fenced = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            found += [(number, m.group(1)) for m in _LINK.finditer(_CODE_SPAN.sub("", line))]
    return found


def relative_targets(path: Path) -> list[tuple[int, str, Path]]:
    """The links of `path` that name a file of this repository, resolved from its folder."""
    out = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http:, mailto:, ...; an anchor within the page
        out.append((number, target, (path.parent / target.split("#", 1)[0]).resolve()))
    return out


def test_there_are_docs_pages():
    assert len(PAGES) >= 10, [p.name for p in PAGES]


def test_front_page_is_short():
    n = len(README.read_text().splitlines())
    assert n <= MAX_FRONT_PAGE_LINES, f"README.md has {n} lines (at most {MAX_FRONT_PAGE_LINES})"


def test_front_page_links_every_docs_page():
    linked = {target for _, _, target in relative_targets(README)}
    missing = [p.relative_to(ROOT).as_posix() for p in PAGES if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs_page_starts_with_title_and_link_back(page):
    lines = page.read_text().splitlines()
    assert lines and lines[0].startswith("# ") and lines[0][2:].strip(), (
        f"{page.name}: the first line must be its title (`# ...`)"
    )
    head = [target for number, target, _ in relative_targets(page) if number <= 5]
    assert "../README.md" in head, f"{page.name}: no link back to ../README.md in its first lines"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = [f"{page.relative_to(ROOT)}:{number}: {target}"
              for number, target, path in relative_targets(page) if not path.exists()]
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_link_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# t\n\n[gone](nowhere.md) `[code](no.md)` [web](https://x.org)\n"
                    "```\n[fenced](no.md)\n```\n[ok](page.md#top)\n")
    assert [(n, t) for n, t, p in relative_targets(page) if not p.exists()] == [(3, "nowhere.md")]
    assert [t for _, t, p in relative_targets(page) if p.exists()] == ["page.md#top"]


def test_every_verb_is_in_the_front_page_tour_and_the_cli_page():
    from compiler.cli import VERBS

    front = README.read_text()
    cli_page = (ROOT / "docs" / "cli.md").read_text()
    tour = set(re.findall(r"^snnc (\w+) ", front, flags=re.MULTILINE))
    assert set(VERBS) <= tour, f"README.md's tour lacks {sorted(set(VERBS) - tour)}"
    absent = [verb for verb in VERBS if f"snnc {verb} " not in cli_page]
    assert not absent, f"docs/cli.md never shows `snnc {absent[0]} ...` ({absent})"


# ------------------------------------------------------------------ command outputs (issue 22)


def _readme_outputs():
    import importlib.util
    import sys

    path = ROOT / "scripts" / "readme_outputs.py"
    spec = importlib.util.spec_from_file_location("readme_outputs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_outputs"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_shown_command_block_is_run_by_the_docs_output_generator():
    """A code block of README.md or docs/*.md that shows a `$ ` command is a session of
    scripts/readme_outputs.py (so its output is regenerated, never typed), or is listed in
    its NOT_RUN with the reason it cannot be run."""
    script = _readme_outputs()
    missing = script.unmarked_blocks()
    assert not missing, "command blocks that no script session runs:\n" + "\n".join(missing)
    _, blocks = script.all_blocks()
    assert {b.name for b in blocks} == set(script.SESSIONS)
    shown = {(p.relative_to(ROOT).as_posix(), first) for p in script.pages()
             for _, _, first in script.shown_command_blocks(p.read_text().splitlines())}
    stale = sorted(set(script.NOT_RUN) - shown)
    assert not stale, f"NOT_RUN names blocks that are gone: {stale}"


def test_the_output_check_fails_when_a_shown_output_changed(tmp_path):
    script = _readme_outputs()
    page = tmp_path / "page.md"
    page.write_text("# t\n\n<!-- readme-outputs: x -->\n```\n$ echo a; echo 'took 0.2 s'\na\n"
                    "took 9.5 s\n$ cat <<'EOF'\nb\nEOF\nb\n```\n")
    (block,) = script.parse(page.read_text().splitlines(), page)
    assert [cmd.splitlines()[0] for cmd, _ in block.commands] == ["echo a; echo 'took 0.2 s'",
                                                                  "cat <<'EOF'"]
    session = script.Session()
    cache = script.FixtureCache()
    try:
        outputs = script.run_session(block, session, cache)
    finally:
        cache.close()
    assert outputs == [["a", "took 0.2 s"], ["b"]]
    assert all(script.matches(shown, out) for (_, shown), out in zip(block.commands, outputs))
    assert not script.matches(["a", "took 0.2 s"], ["b", "took 0.2 s"])
    assert script.matches(["x 0.23 s", "...", "z"], ["x 1.5 s", "y", "z"])
    assert not script.matches(["x", "z"], ["x", "y", "z"])


def test_quick_docs_outputs_hold():
    """Runs the quick sessions (no training, no Ray, no long Lava runs; about 30 s) and checks
    what the docs show; `make readme-outputs` runs every session."""
    script = _readme_outputs()
    assert script.main(["--quick"]) == 0


def _parsers():
    """(command words, parser) of every verb and sub-verb of the snnc command line."""
    import argparse

    from compiler.cli import VERBS, build_parser

    def subparsers(parser):
        return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]

    (verbs,) = subparsers(build_parser())
    out = []
    for verb in VERBS:
        parser = verbs.choices[verb]
        subs = subparsers(parser)
        if subs:
            out += [((verb, name), sub) for name, sub in subs[0].choices.items()]
        else:
            out.append(((verb,), parser))
    return out


def test_cli_page_shows_every_option_of_every_verb():
    """docs/cli.md's "Every option" block holds `snnc VERB --help` of every verb (and sub-verb),
    and each lists every option and positional argument argparse defines."""
    script = _readme_outputs()
    lines = (ROOT / "docs" / "cli.md").read_text().splitlines()
    (block,) = [b for b in script.parse(lines, ROOT / "docs" / "cli.md") if b.name == "cli-help"]
    helps = {cmd: "\n".join(out) for cmd, out in block.commands}
    problems = []
    for words, parser in _parsers():
        cmd = f"snnc {' '.join(words)} --help"
        if cmd not in helps:
            problems.append(f"no `$ {cmd}`")
            continue
        for action in parser._actions:
            names = action.option_strings or [action.metavar or action.dest]
            problems += [f"{cmd}: {name}" for name in names if name not in helps[cmd]]
    assert not problems, "docs/cli.md lacks:\n" + "\n".join(problems)


def test_cli_page_help_is_what_the_parsers_print(monkeypatch):
    """The "Every option" block is exactly the parsers' help (its session, which runs the real
    commands, is slow: `make readme-outputs`)."""
    from compiler.cli import build_parser

    script = _readme_outputs()
    monkeypatch.setenv("COLUMNS", script._env()["COLUMNS"])
    lines = (ROOT / "docs" / "cli.md").read_text().splitlines()
    (block,) = [b for b in script.parse(lines, ROOT / "docs" / "cli.md") if b.name == "cli-help"]
    helps = dict(block.commands)
    assert helps.pop("snnc --help") == build_parser().format_help().splitlines()
    for words, parser in _parsers():
        shown = helps.pop(f"snnc {' '.join(words)} --help")
        assert shown == parser.format_help().splitlines(), words
    assert not helps, f"commands that are not verbs: {list(helps)}"


# ------------------------------------------------------------------------ file formats (issue 22)

# Every format snnc reads or writes: its name in docs/ir.md's "File formats" table -> the page
# that describes it in detail and a phrase that page must hold.
FORMATS = {
    "snnc model": ("docs/ir.md", "snnc.json"),
    "BUILD folder": ("docs/quantization.md", "program.snnc"),
    "compile report": ("docs/quantization.md", "report.json"),
    "NIR": ("docs/nir.md", "nir.write"),
    "lava-dl netx": ("docs/netx.md", "export_hdf5"),
    "hardware config": ("docs/hardware.md", "{value, source, estimate}"),
    "input spikes": ("docs/backends.md", "IN.npy"),
    "run outputs": ("docs/backends.md", "OUT.npz"),
    "HIL trace": ("docs/cli.md", "--record"),
    "HIL report": ("docs/cli.md", "hil-report.json"),
    "VIB decoder": ("docs/trainers.md", "decoder.npz"),
    "report folder": ("docs/reports.md", "index.html"),
    "demo folder": ("docs/reports.md", "demo.json"),
    "sweep spec": ("docs/sweeps.md", "grid:"),
    "sweep results": ("docs/sweeps.md", "results.csv"),
    "manifest": ("docs/robustness.md", ".snnc-manifest.json"),
    "Fashion-MNIST": ("README.md", "dataset-fashion-mnist"),
}
# Every argument of the command line that names a file or folder -> the formats it takes.
FILE_ARGUMENTS = {
    ("hw", "show", "target"): {"hardware config"},
    ("hw", "show", "output"): {"hardware config"},
    ("inspect", "model"): {"snnc model", "BUILD folder", "NIR", "lava-dl netx"},
    ("compile", "model"): {"snnc model", "NIR", "lava-dl netx"},
    ("compile", "hw"): {"hardware config"},
    ("compile", "output"): {"BUILD folder", "compile report", "manifest"},
    ("compile", "calibrate"): {"input spikes", "Fashion-MNIST"},
    ("import", "nir_file"): {"NIR", "lava-dl netx"},
    ("import", "output"): {"snnc model"},
    ("export", "model"): {"snnc model", "BUILD folder", "NIR", "lava-dl netx"},
    ("export", "output"): {"NIR", "lava-dl netx"},
    ("train", "conversion", "output"): {"snnc model"},
    ("train", "tem", "output"): {"snnc model"},
    ("train", "vib", "output"): {"snnc model", "VIB decoder"},
    ("run", "model"): {"snnc model", "BUILD folder", "NIR", "lava-dl netx"},
    ("run", "input"): {"input spikes"},
    ("run", "output"): {"run outputs"},
    ("eval", "model"): {"snnc model", "BUILD folder", "NIR", "lava-dl netx", "VIB decoder"},
    ("hil", "build"): {"BUILD folder"},
    ("hil", "model"): {"snnc model", "NIR", "lava-dl netx"},
    ("hil", "input"): {"input spikes"},
    ("hil", "replay"): {"HIL trace"},
    ("hil", "record"): {"HIL trace"},
    ("hil", "report"): {"HIL report"},
    ("hil", "target_build"): {"BUILD folder"},
    ("identify", "model"): {"snnc model", "BUILD folder"},
    ("identify", "record"): {"HIL trace"},
    ("identify", "input"): {"input spikes"},
    ("identify", "trace"): {"run outputs"},
    ("report", "build"): {"BUILD folder", "compile report"},
    ("report", "output"): {"report folder", "manifest"},
    ("report", "input"): {"input spikes"},
    ("report", "model"): {"snnc model", "NIR", "lava-dl netx"},
    ("demo", "output"): {"demo folder", "manifest"},
    ("sweep", "spec"): {"sweep spec"},
    ("sweep", "output"): {"sweep results"},
}
_FILE_METAVAR = re.compile(r"MODEL|BUILD|FILE|DIR|\.npy|\.npz|\.yaml")


def _format_table() -> dict[str, str]:
    """docs/ir.md's "File formats" table: format name -> its whole row."""
    text = (ROOT / "docs" / "ir.md").read_text().split("## File formats", 1)[1]
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    return {row.split("|")[1].strip(): row for row in rows[1:]}


def test_every_format_has_a_row_and_a_page_that_describes_it():
    table = _format_table()
    assert set(table) == set(FORMATS), f"docs/ir.md's table vs FORMATS: {set(table) ^ set(FORMATS)}"
    for name, (page, phrase) in FORMATS.items():
        assert phrase in (ROOT / page).read_text(), f"{page} does not describe {name} ({phrase!r})"
        target = Path(page).name if page.startswith("docs/") else "../README.md"
        linked = f"]({target}" in table[name] or (target == "ir.md" and "this page" in table[name])
        assert linked, f"docs/ir.md's row {name!r} does not link {page}"


def test_the_format_table_covers_what_the_code_reads_and_writes():
    """Every importer, export format, file name the code writes and file argument of the CLI is
    a format of the table: a new one fails here until it is documented."""
    from app.demo import DEMO_FILE
    from compiler import build
    from compiler.model_io import IMPORTERS
    from compiler.reporting.write import INDEX, SUMMARY
    from ir.atomic import MANIFEST
    from ir.serialize import HEADER

    table = _format_table()
    text = "\n".join(table.values())
    for suffix in IMPORTERS:
        assert f"{suffix}`" in text, f"importer {suffix} has no row in docs/ir.md"
    for fmt in ("nir", "netx"):
        assert f"--format {fmt}" in text
    names = [build.PROGRAM, build.REPORT, build.HW, HEADER, MANIFEST, INDEX, SUMMARY, DEMO_FILE,
             "results.csv", "results.json", "hil-report.json", "decoder.npz"]
    assert not [n for n in names if n not in text], "file names without a row"
    found = set()
    for words, parser in _parsers():
        for action in parser._actions:
            if action.metavar and _FILE_METAVAR.search(action.metavar):
                key = (*words, action.dest)
                found.add(key)
                where = f"snnc {' '.join(words)} {action.metavar}"
                assert key in FILE_ARGUMENTS, f"{where}: which format? (FILE_ARGUMENTS)"
                assert FILE_ARGUMENTS[key] <= set(FORMATS), FILE_ARGUMENTS[key] - set(FORMATS)
    assert set(FILE_ARGUMENTS) == found, set(FILE_ARGUMENTS) ^ found
