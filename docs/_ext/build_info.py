"""What the footer says: the versions that computed the outputs, and the build date.

The date follows ``SOURCE_DATE_EPOCH`` when it is set, so that a build can be reproduced
exactly. ``page.html`` reads ``verified_with`` and ``build_date`` from the page's context.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

VERIFIED_PACKAGES = ("torch", "numpy", "scipy", "attention_examples")


def build_date() -> str:
    """The build date (UTC), from SOURCE_DATE_EPOCH when set so builds are reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            moment = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
        except ValueError as error:
            raise ValueError(
                f"SOURCE_DATE_EPOCH must be an integer number of seconds, got {epoch!r}"
            ) from error
    else:
        moment = dt.datetime.now(tz=dt.UTC)
    return moment.date().isoformat()


def verified_versions() -> list[tuple[str, str]]:
    """(package, version) of the packages the notebooks are executed with."""
    return [(name, importlib.metadata.version(name)) for name in VERIFIED_PACKAGES]


def record_build_info(app: Sphinx, config: Config) -> None:
    config.book_verified_with = verified_versions()
    config.book_build_date = build_date()


def add_build_info(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    context["verified_with"] = app.config.book_verified_with
    context["build_date"] = app.config.book_build_date


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_verified_with", [], "html")
    app.add_config_value("book_build_date", "", "html")
    app.connect("config-inited", record_build_info)
    app.connect("html-page-context", add_build_info)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
