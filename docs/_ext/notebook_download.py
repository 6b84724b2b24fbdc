"""Every notebook page offers its executed notebook for download.

Each page's executed notebook (as ``executed_notebooks`` leaves it in myst-nb's
``jupyter_execute`` folder) is copied to ``_notebooks/<page>.ipynb``; the templates
``components/view-this-page.html`` and ``sidebar/notebook-download.html`` link to it
through ``notebook_url`` in the page's context.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from executed_notebooks import notebook_folder
from sphinx.application import Sphinx


def add_notebook_link(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    folder = notebook_folder(app)
    has_notebook = folder is not None and (folder / f"{pagename}.ipynb").is_file()
    context["notebook_url"] = (
        context["pathto"](f"_notebooks/{pagename}.ipynb", 1) if has_notebook else None
    )
    context["notebook_name"] = f"{pagename.rsplit('/', 1)[-1]}.ipynb"


def copy_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """Copy each page's executed notebook to ``_notebooks/<page>.ipynb``."""
    folder = notebook_folder(app)
    if exception is not None or app.builder.format != "html" or folder is None:
        return
    for docname in sorted(app.env.found_docs):
        source = folder / f"{docname}.ipynb"
        if source.is_file():
            target = Path(app.outdir) / "_notebooks" / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("executed_notebooks")
    app.connect("html-page-context", add_notebook_link)
    app.connect("build-finished", copy_notebooks)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
