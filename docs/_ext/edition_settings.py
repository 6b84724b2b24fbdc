"""The editions of the book and the settings that differ between them.

``conf.py`` lists the editions as ``book_editions`` (language code -> name in its own
language) and the settings of each as ``book_edition_config`` (language code -> {Sphinx
setting: value}); when Sphinx starts with ``-D language=<code>``, this extension checks
that the language is one of the editions and applies that edition's settings. Each
edition is built into ``<site>/<language>/``.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config


def apply_edition_settings(app: Sphinx, config: Config) -> None:
    """Check ``book_editions`` and the language; apply the language's settings."""
    editions = config.book_editions
    if not editions or not isinstance(editions, dict):
        raise ValueError(
            f"book_editions must map language codes to names, e.g. {{'en': 'English'}}, "
            f"got {editions!r}"
        )
    if config.language not in editions:
        raise ValueError(
            f"language {config.language!r} is not one of the editions in book_editions: "
            f"{sorted(editions)}"
        )
    for name, value in config.book_edition_config.get(config.language, {}).items():
        if name not in config:
            raise ValueError(
                f"book_edition_config[{config.language!r}] sets {name!r}, "
                "which is not a Sphinx setting"
            )
        config[name] = value


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_editions", {"en": "English"}, "html", types=frozenset({dict}))
    app.add_config_value("book_edition_config", {}, "env", types=frozenset({dict}))
    # Before the other extensions read the settings an edition changes.
    app.connect("config-inited", apply_edition_settings, priority=100)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
