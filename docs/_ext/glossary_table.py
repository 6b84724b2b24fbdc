"""The ``glossary-table`` directive: the bilingual glossary, rendered from ``glossary.toml``.

The table is generated from data, in the language of the edition being built (the
meaning column comes from ``en_note`` or ``zh_note``), so it is not a translation unit:
the glossary cannot drift between the editions, and tests/test_glossary.py reads the
same file to refuse the rejected variants in the Chinese catalogs.

Each row carries the label ``term-<english-term>`` (spaces as hyphens): a page links to
an entry with ``{ref}`term-attention-score` ``, which shows the term in the edition's
language (attention score / 注意力分数).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

REQUIRED_FIELDS = ("en", "zh", "rejected", "en_note", "zh_note")

HEADERS = {
    "en": ("English", "Chinese (中文)", "Meaning", "Not used"),
    "zh": ("英文", "中文", "含义", "不采用的译法"),
}


def term_id(english: str) -> str:
    """The anchor of a glossary row: ``attention score`` -> ``term-attention-score``."""
    return "term-" + re.sub(r"[^a-z0-9]+", "-", english.lower()).strip("-")


def load_glossary(path: Path) -> list[dict[str, Any]]:
    """Read and validate the glossary: every term has every field, terms are unique."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    terms = data.get("term")
    if not isinstance(terms, list) or not terms:
        raise ValueError(f"{path}: expected a list of [[term]] tables, got {type(terms).__name__}")
    seen: set[str] = set()
    for number, term in enumerate(terms, start=1):
        missing = [field for field in REQUIRED_FIELDS if field not in term]
        if missing:
            raise ValueError(f"{path}: [[term]] number {number} lacks {', '.join(missing)}")
        if not isinstance(term["rejected"], list):
            raise ValueError(
                f"{path}: 'rejected' of {term['en']!r} must be a list of strings, "
                f"got {term['rejected']!r}"
            )
        if term["en"] in seen:
            raise ValueError(f"{path}: the term {term['en']!r} appears twice")
        seen.add(term["en"])
    return terms


class GlossaryTable(SphinxDirective):
    """Render the glossary file (argument: its path, relative to the page)."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        relative, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(relative)
        try:
            terms = load_glossary(Path(path))
        except (OSError, ValueError) as error:
            raise self.error(f"glossary-table: {error}") from error
        language = "zh" if (self.config.language or "en").startswith("zh") else "en"
        headers = HEADERS[language]
        note_field = f"{language}_note"
        title_field = "en" if language == "en" else "zh"
        std = self.env.get_domain("std")

        table = nodes.table(classes=["glossary-table", "colwidths-given"])
        group = nodes.tgroup(cols=len(headers))
        table += group
        for width in (20, 14, 44, 22):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += self._row(headers)
        body = nodes.tbody()
        for term in terms:
            row = self._row(
                (term["en"], term["zh"], term[note_field], "、".join(term["rejected"]) or "—")
            )
            label = term_id(term["en"])
            row["ids"].append(label)
            std.note_hyperlink_target(label, self.env.docname, label, term[title_field])
            body += row
        group += head
        group += body
        return [table]

    @staticmethod
    def _row(cells: tuple[str, ...]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("glossary-table", GlossaryTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
