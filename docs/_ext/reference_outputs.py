"""The ``reference-outputs`` directive: the book's list of its checked reference outputs.

The tables are rendered from the same data, read by the same code, as the check that
compares the executed pages with the seeds (``tests/reference_outputs/<page>.toml``,
read by ``tools/reference_check.py``), so the list in the book cannot disagree with
what is checked. One table per page, in reading order; each output takes two rows: the
cell (a link to it on its page), what it prints and where the seed printed it; below,
the text the seed printed.

Words come from the page, never from this extension: the column headers and the
``what`` of each output are ordinary paragraphs of the page, extracted by
``sphinx-build -b gettext`` and translated in the page's catalog like the rest of its
prose. Identifiers, seed numbers and expected texts are data and stay untranslated.

Every code cell tagged ``ref-<id>`` gets the HTML anchor ``ref-<id>`` on its page. The
build warns (and so fails with ``-W``) when the data cannot be read, names a page that
does not exist, or names a cell that no page tags.

Configuration (paths relative to the configuration directory):

``reference_outputs_dir``
    the directory of the ``<page>.toml`` files (default ``../tests/reference_outputs``)
``reference_outputs_checker``
    the module that reads them (default ``../tools/reference_check.py``)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

TAG_PREFIX = "ref-"
# The column headers; translated through the page's catalog (see the module docstring).
HEADERS = ("Cell", "What it prints", "Seed")
COLUMN_WIDTHS = (25, 60, 15)


def _path(app: Sphinx, value: str) -> Path:
    return (Path(app.confdir) / value).resolve()


def load_checker(path: Path) -> ModuleType:
    """The module ``reference_check`` (loaded once from ``path``)."""
    name = "reference_check"
    module = sys.modules.get(name)
    if module is not None and Path(module.__file__ or "").resolve() == path:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"reference_outputs_checker: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cell_anchor(cell: str) -> str:
    """The HTML id of the code cell tagged ``ref-<cell>``."""
    return nodes.make_id(TAG_PREFIX + cell)


# --- anchors on the tagged cells ----------------------------------------------------


def anchor_reference_cells(app: Sphinx, doctree: nodes.document) -> None:
    """Give every code cell tagged ``ref-<id>`` the id ``ref-<id>``, and remember it."""
    env = app.env
    anchors: dict[str, str] = {}
    for node in doctree.findall(nodes.container):
        if node.get("nb_element") != "cell_code":
            continue
        for tag in node.get("cell_metadata", {}).get("tags", []):
            if not tag.startswith(TAG_PREFIX):
                continue
            cell = tag[len(TAG_PREFIX) :]
            anchor = cell_anchor(cell)
            if anchor in doctree.ids:
                continue  # tagged twice: the check reports it
            node["ids"].append(anchor)
            doctree.ids[anchor] = node
            anchors[cell] = anchor
    if anchors:
        _anchors(env)[env.docname] = anchors


def _anchors(env: BuildEnvironment) -> dict[str, dict[str, str]]:
    if not hasattr(env, "reference_output_anchors"):
        env.reference_output_anchors = {}  # type: ignore[attr-defined]
    return env.reference_output_anchors  # type: ignore[attr-defined]


def purge_anchors(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _anchors(env).pop(docname, None)


def merge_anchors(
    app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment
) -> None:
    for docname, anchors in _anchors(other).items():
        if docname in docnames:
            _anchors(env)[docname] = anchors


# --- the tables ---------------------------------------------------------------------


class ReferenceOutputs(SphinxDirective):
    """Render every reference output, one table per page."""

    has_content = False
    required_arguments = 0
    optional_arguments = 0

    def run(self) -> list[nodes.Node]:
        directory = _path(self.env.app, self.config.reference_outputs_dir)
        checker = load_checker(_path(self.env.app, self.config.reference_outputs_checker))
        # The list changes whenever a TOML file does, or a new one appears: always re-read.
        self.env.note_reread()
        for path in sorted(directory.glob("*.toml")):
            self.env.note_dependency(str(path))
        data = checker.load_references(directory)
        location = self.get_location()
        for page in data.pages:
            for error in data.errors.get(page, []):
                logger.warning(error, location=location, type="reference_outputs")
            if page not in self.env.found_docs:
                logger.warning(
                    f"{directory.name}/{page}.toml names page {page!r}, but there is no such page",
                    location=location,
                    type="reference_outputs",
                )
        return [
            self._page_table(page, references)
            for page, references in sorted(data.references.items())
            if references and page in self.env.found_docs
        ]

    def _paragraph(self, text: str) -> nodes.paragraph:
        """A translatable paragraph of inline MyST: it carries its source, so gettext
        extracts it and the page's catalog translates it."""
        parsed, messages = self.parse_inline(text, lineno=self.lineno)
        paragraph = nodes.paragraph(text, "", *parsed, *messages)
        paragraph.source, paragraph.line = self.get_source_info()
        return paragraph

    @staticmethod
    def _data(*children: nodes.Node) -> nodes.paragraph:
        """A paragraph of data (identifiers): never a translation unit."""
        return nodes.paragraph("", "", *children, translatable=False)

    def _page_table(self, page: str, references: list[Any]) -> nodes.container:
        title = nodes.title("", "", translatable=False)
        title += pending_xref(
            "",
            nodes.inline(page, page),
            refdomain="std",
            reftype="doc",
            reftarget="/" + page,
            refdoc=self.env.docname,
            refexplicit=False,
            refwarn=True,
        )
        group = nodes.tgroup(cols=len(HEADERS))
        group += [nodes.colspec(colwidth=width) for width in COLUMN_WIDTHS]
        head_row = nodes.row()
        head_row += [nodes.entry("", self._paragraph(header)) for header in HEADERS]
        group += nodes.thead("", head_row)
        body = nodes.tbody()
        for ref in references:
            body += self._rows(ref)
        group += body
        table = nodes.table("", title, group, classes=["reference-outputs", "colwidths-given"])
        container = nodes.container(
            "",
            table,
            ids=[nodes.make_id("reference-outputs-" + page)],
            classes=["reference-outputs-page"],
            reference_outputs_page=page,
        )
        return container

    def _rows(self, ref: Any) -> list[nodes.row]:
        """Two rows: the cell, what it prints and its seed; below, the seed's printed text."""
        link = nodes.reference(
            "",
            "",
            nodes.literal(ref.tag, ref.tag),
            internal=True,
            refuri="#",
            reference_output_page=ref.page,
            reference_output_cell=ref.cell,
        )
        link.source, link.line = self.get_source_info()
        seed = self._data(
            nodes.literal(ref.seed, ref.seed), nodes.Text(" "), nodes.literal("", ref.seed_cell)
        )
        expected: list[nodes.Node] = []
        options = _options(ref)
        if options:
            expected.append(self._data(nodes.literal(options, options)))
        block = nodes.literal_block(ref.expected, ref.expected, translatable=False)
        block["language"] = "none"
        expected.append(block)
        row = nodes.row()
        row += nodes.entry("", self._data(link))
        row += nodes.entry("", self._paragraph(ref.what))
        row += nodes.entry("", seed)
        expected_row = nodes.row(classes=["reference-output-expected"])
        expected_row += nodes.entry("", *expected, morecols=len(HEADERS) - 1)
        return [row, expected_row]


def _options(ref: Any) -> str:
    """The options of an output that change how it is checked, in the data's own syntax."""
    parts = []
    if ref.kind != "values":
        parts.append(f'kind = "{ref.kind}"')
    if ref.p is not None:
        parts.append(f"p = {ref.p:g}")
    if ref.of is not None:
        parts.append(f'of = "{ref.of}"')
    for key in ("rtol", "atol"):
        value = getattr(ref, key)
        if value:
            parts.append(f"{key} = {value:g}")
    return ", ".join(parts)


# --- links to the cells, reading order ----------------------------------------------


def _reading_order(env: BuildEnvironment) -> dict[str, int]:
    order: dict[str, int] = {}

    def visit(docname: str) -> None:
        if docname in order:
            return
        order[docname] = len(order)
        for child in env.toctree_includes.get(docname, []):
            visit(child)

    visit(env.config.root_doc)
    return order


def resolve_tables(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Point each cell link at its cell, and put the tables in the book's reading order."""
    pages = [node for node in doctree.findall(nodes.container) if "reference_outputs_page" in node]
    if not pages:
        return
    anchors = _anchors(app.env)
    for link in doctree.findall(nodes.reference):
        page = link.get("reference_output_page")
        if page is None:
            continue
        anchor = anchors.get(page, {}).get(link["reference_output_cell"])
        if anchor is None:
            logger.warning(
                f"reference output {TAG_PREFIX}{link['reference_output_cell']} of page "
                f"{page!r}: no code cell of that page carries the tag",
                location=link,
                type="reference_outputs",
            )
            continue
        try:
            uri = app.builder.get_relative_uri(docname, page)
        except NotImplementedError:
            continue
        link["refuri"] = f"{uri}#{anchor}"
    for table in doctree.findall(nodes.table):
        wrapper = table.parent
        if "reference-outputs" in table["classes"] and "table-wrapper" in wrapper["classes"]:
            wrapper["ids"] = []  # furo's wrapper copies the table's id: keep ids unique
    order = _reading_order(app.env)
    parent = pages[0].parent
    start = parent.index(pages[0])
    ranked = sorted(
        pages,
        key=lambda node: (
            order.get(node["reference_outputs_page"], len(order)),
            node["reference_outputs_page"],
        ),
    )
    for node in pages:
        parent.remove(node)
    parent[start:start] = ranked


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("reference_outputs_dir", "../tests/reference_outputs", "env", str)
    app.add_config_value("reference_outputs_checker", "../tools/reference_check.py", "env", str)
    app.add_directive("reference-outputs", ReferenceOutputs)
    app.connect("doctree-read", anchor_reference_cells)
    app.connect("env-purge-doc", purge_anchors)
    app.connect("env-merge-info", merge_anchors)
    app.connect("doctree-resolved", resolve_tables)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
