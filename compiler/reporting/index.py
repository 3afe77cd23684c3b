"""The report's index.html: a summary table, then every figure with a one-line caption.

Plain HTML with inline CSS, relative links only, no scripts and no timestamps: the same report
gives the same bytes, and the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Entry", "Table", "render_index"]


@dataclass(frozen=True)
class Entry:
    """A figure file (relative to the report folder), its heading and its one-line caption."""

    file: str
    title: str
    caption: str


@dataclass(frozen=True)
class Table:
    """A table shown after the summary: a heading, column names and rows of text cells."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


_STYLE = """body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td { padding: 0.2em 1em 0.2em 0; vertical-align: top; }
td:first-child { color: #555; white-space: nowrap; }
table.data td, table.data th { padding: 0.2em 0.8em; text-align: right; border-bottom: 1px solid #ddd; }
table.data td:first-child { color: #222; }
figure { margin: 0 0 2.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; margin-top: 0.3em; }
ul.notes { color: #555; }"""  # noqa: E501 (one CSS rule a line)


def render_index(
    title: str,
    summary: Sequence[tuple[str, str]],
    entries: Sequence[Entry],
    notes: Sequence[str] = (),
    tables: Sequence[Table] = (),
) -> str:
    """The index page: `summary` rows (label, value), `tables`, a table of contents, the
    figures, and `notes` (what is missing and why)."""
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>\n{_STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        "<table>",
    ]
    lines += [f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in summary]
    lines.append("</table>")
    for t in tables:
        lines += [f"<h2>{escape(t.title)}</h2>", '<table class="data">']
        lines.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in t.header) + "</tr>")
        lines += [
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in t.rows
        ]
        lines.append("</table>")
        if t.caption:
            lines.append(f'<p class="caption">{escape(t.caption)}</p>')
    if entries:
        lines.append("<ul>")
        lines += [
            f'<li><a href="#{escape(_anchor(e.file))}">{escape(e.title)}</a></li>' for e in entries
        ]
        lines.append("</ul>")
    for e in entries:
        lines += [
            f'<figure id="{escape(_anchor(e.file))}">',
            f"<h2>{escape(e.title)}</h2>",
            f'<a href="{escape(e.file)}"><img src="{escape(e.file)}" alt="{escape(e.title)}"></a>',
            f"<figcaption>{escape(e.caption)}</figcaption>",
            "</figure>",
        ]
    if notes:
        lines.append('<h2>Notes</h2>\n<ul class="notes">')
        lines += [f"<li>{escape(n)}</li>" for n in notes]
        lines.append("</ul>")
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"


def _anchor(file: str) -> str:
    return file.rsplit(".", 1)[0]
