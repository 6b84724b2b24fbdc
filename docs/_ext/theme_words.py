"""The words of the interface that the theme and myst-nb write without a translation call.

furo writes three aria labels into its ``page.html`` as fixed English text, myst-nb writes
the label of its hidden-cell toggle into the page body, and fills the "Show code cell
source" prompts of hidden cells after translation has happened. Their translations live
in ``locale/<lang>/LC_MESSAGES/sphinx.po`` (``tools/extract_theme_messages.py`` extracts
them from the two lists below):

- the prompts are translated on the document tree, right after myst-nb fills them;
- the labels are translated by the book's ``page.html``, which passes furo's page through
  ``translate_theme_attributes`` (given to the templates by this extension).
"""

from __future__ import annotations

from html import escape
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import _
from sphinx.transforms.post_transforms import SphinxPostTransform

# Interface words written into the HTML without a translation call: furo's aria labels
# and myst-nb's toggle label.
UNTRANSLATED_ATTRIBUTES = (
    "Toggle site navigation sidebar",
    "Toggle table of contents sidebar",
    "Toggle Light / Dark / Auto color theme",
    "Toggle hidden content",
)

# myst-nb's prompts of hidden cells, as its default "Show code cell {type}" expands them.
CELL_PROMPTS = tuple(
    f"{verb} code cell {kind}"
    for verb in ("Show", "Hide")
    for kind in ("content", "source", "output", "outputs")
)


class TranslateCellPrompts(SphinxPostTransform):
    """Translate myst-nb's "Show code cell source" prompts (myst-nb fills them at 199)."""

    default_priority = 200
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        for node in self.document.findall(nodes.Element):
            if node.__class__.__name__ != "HideCodeCellNode":
                continue
            for key in ("prompt_show", "prompt_hide"):
                if node.get(key) in CELL_PROMPTS:
                    node[key] = _(node[key])


def attribute_translations() -> dict[str, str]:
    """The theme's hard-coded aria-label and title texts, mapped to this edition's words."""
    replacements = {}
    for text in UNTRANSLATED_ATTRIBUTES:
        translated = _(text)
        if translated != text:
            for attribute in ("aria-label", "title"):
                replacements[f'{attribute}="{escape(text)}"'] = (
                    f'{attribute}="{escape(translated)}"'
                )
    return replacements


def add_attribute_translator(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    replacements = attribute_translations()

    def translate_theme_attributes(html: str) -> str:
        for old, new in replacements.items():
            html = html.replace(old, new)
        return html

    context["translate_theme_attributes"] = translate_theme_attributes


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_post_transform(TranslateCellPrompts)
    app.connect("html-page-context", add_attribute_translator)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
