"""A language switch on every page: the same page in each edition, by a relative URL.

Each edition is built into ``<site>/<language>/``, so the other edition of
``<page>.html`` is ``../<other language>/<page>.html`` from the edition's root: the
switch works from files opened locally as well as on a server. The templates
``sidebar/edition-switch.html`` (the switch) and ``page.html`` (``<link rel="alternate">``)
read ``book_editions`` from the page's context.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def edition_url(app: Sphinx, pagename: str, language: str) -> str:
    """Relative URL from ``pagename`` to the same page in the edition ``language``.

    The 404 page is served in place of any missing address, at any depth, so its
    link is absolute: the other edition's ``notfound_urls_prefix`` plus the page.
    """
    if pagename == getattr(app.config, "notfound_pagename", None):
        prefix = app.config.book_edition_config.get(language, {}).get("notfound_urls_prefix")
        if prefix:
            return f"{prefix}{app.builder.get_target_uri(pagename)}"
    up = "../" * (pagename.count("/") + 1)
    return f"{up}{language}/{app.builder.get_target_uri(pagename)}"


def add_editions(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``book_editions`` for the templates: each edition's name, tag and URL of this page."""
    context["book_editions"] = [
        {
            "language": language,
            "tag": language.replace("_", "-"),
            "name": name,
            "current": language == app.config.language,
            "url": edition_url(app, pagename, language),
        }
        for language, name in app.config.book_editions.items()
    ]


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("edition_settings")
    app.connect("html-page-context", add_editions)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
