"""The print edition: the PDF of each edition and the link to it on every page.

``nox -s pdf`` builds each edition once more with Sphinx's ``singlehtml`` builder (from
the same doctrees and execution cache, so nothing executes) and prints that page to PDF
with headless Chromium (``tools/build_pdf.py``). For that build this extension puts the
title page (``print-title.html``: the book's title, the versions that computed the
outputs, the build date) in front of the book's text.

When ``BOOK_PDF`` is set in the environment (``nox -s pdf`` sets it), every HTML page
links to its edition's PDF in the sidebar (``sidebar/pdf-download.html``); without it
the link is left out, so a site built without the PDF has no broken link.
"""

from __future__ import annotations

import os
from typing import Any

from sphinx.application import Sphinx

PDF_NAME = "attention-step-by-step-{language}.pdf"


def pdf_name(language: str) -> str:
    """The file name of one edition's PDF, e.g. ``attention-step-by-step-zh_CN.pdf``."""
    return PDF_NAME.format(language=language)


def add_print_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """The PDF link for the sidebar; the title page for the single-page build."""
    name = pdf_name(app.config.language)
    context["pdf_url"] = context["pathto"](name, 1) if app.config.book_pdf else None
    context["pdf_name"] = name
    if app.builder.name == "singlehtml" and pagename == app.config.root_doc:
        title_page = app.builder.templates.render("print-title.html", context)
        context["body"] = title_page + context.get("body", "")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_pdf", bool(os.environ.get("BOOK_PDF")), "html", bool)
    # after the editions' handler, which provides the versions and the build date
    app.connect("html-page-context", add_print_context, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
