"""A search that works in the Chinese edition.

Sphinx 9.0 names the search's stemmer after the search language (``window.Stemmer =
ChineseStemmer``) while the Chinese search ships the English stemmer, so searching stops
with "ChineseStemmer is not defined" (https://github.com/sphinx-doc/sphinx/issues/14229,
fixed upstream by https://github.com/sphinx-doc/sphinx/pull/14416, which derives the name
from the stemmer's file). After the build, this extension points ``window.Stemmer`` in
``_static/language_data.js`` at the stemmer the script defines; it does nothing when the
named stemmer exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from upstream import require_version

SPHINX_VERSION = "9.0.4"
UPSTREAM = "https://github.com/sphinx-doc/sphinx/issues/14229"


def fix_search_stemmer(outdir: Path) -> None:
    """Point ``window.Stemmer`` at the stemmer ``language_data.js`` really defines."""
    path = outdir / "_static" / "language_data.js"
    if not path.is_file():
        return
    script = path.read_text(encoding="utf-8")
    assignment = re.search(r"window\.Stemmer = (\w+);", script)
    defined = set(re.findall(r"\bvar (\w+Stemmer)\s*=", script))
    if assignment is None or assignment.group(1) in defined:
        return
    if len(defined) != 1:
        raise RuntimeError(
            f"{path}: window.Stemmer = {assignment.group(1)}, which is not defined, and the "
            f"script defines {sorted(defined) or 'no stemmer'} instead of exactly one"
        )
    (stemmer,) = defined
    path.write_text(
        script.replace(assignment.group(0), f"window.Stemmer = {stemmer};"), encoding="utf-8"
    )


def after_build(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        fix_search_stemmer(Path(app.outdir))


def setup(app: Sphinx) -> dict[str, Any]:
    require_version("sphinx", SPHINX_VERSION, "the search-stemmer fix of docs/_ext", UPSTREAM)
    app.connect("build-finished", after_build)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
