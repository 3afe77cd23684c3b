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
