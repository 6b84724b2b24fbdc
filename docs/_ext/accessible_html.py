"""HTML that keyboards and screen readers can use: captions with a level, focusable code.

Sphinx writes the captions of navigation trees as ``<p role="heading">`` without the
``aria-level`` that role requires, and code blocks (code cells, their outputs, literal
blocks) as ``<pre>`` that scroll sideways but cannot take the keyboard's focus, so a
keyboard cannot scroll them. This extension's HTML translator writes both right in the
first place: captions with ``aria-level="2"``, ``<pre>`` with ``tabindex="0"``.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.writers.html5 import HTML5Translator

FOCUSABLE_PRE = '<pre tabindex="0"'


class AccessibleHTMLTranslator(HTML5Translator):
    def visit_title(self, node: nodes.title) -> None:
        if isinstance(node.parent, addnodes.compact_paragraph) and node.parent.get("toctree"):
            # as Sphinx writes a toctree's caption, plus the level its role requires
            tag = self.starttag(node, "p", "", CLASS="caption", ROLE="heading")
            self.body.append(tag.removesuffix(">") + ' aria-level="2">')
            self.body.append('<span class="caption-text">')
            self.context.append("</span></p>\n")
        else:
            super().visit_title(node)

    def visit_literal_block(self, node: nodes.literal_block) -> None:
        start = len(self.body)
        try:
            super().visit_literal_block(node)  # highlighted: raises SkipNode when done
        finally:
            # The <pre> comes from Pygments (highlighted) or docutils (parsed literal).
            for index in range(start, len(self.body)):
                if "<pre" in self.body[index] and FOCUSABLE_PRE not in self.body[index]:
                    self.body[index] = self.body[index].replace("<pre", FOCUSABLE_PRE, 1)
                    break


def setup(app: Sphinx) -> dict[str, Any]:
    app.set_translator("html", AccessibleHTMLTranslator, override=True)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
