"""Executed notebooks that hold the outputs their page shows, whatever happened.

myst-nb (1.4) writes to ``jupyter_execute`` the notebook object it parsed
(https://github.com/executablebooks/MyST-NB/blob/v1.4.0/myst_nb/sphinx_.py#L182), which
is wrong in two ways: when the outputs come from the execution cache it renders the page
from a merged copy and writes the notebook *without* outputs; when it executes, merging
the stream outputs for display leaves the printed text twice in the file. These files are
what readers download and what the editions' outputs are compared on, so after reading,
each one is rebuilt the same way: the cached outputs of this exact source (the ones the
page shows), glue data removed and streams merged as on the page, and cell ids numbered,
so both editions and repeated builds write identical notebooks. Notebooks of pages that
no longer exist are deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging
from stream_merging import merge_streams
from upstream import require_version

logger = logging.getLogger(__name__)

MYST_NB_VERSION = "1.4.0"
UPSTREAM = "https://github.com/executablebooks/MyST-NB/blob/v1.4.0/myst_nb/sphinx_.py#L182"


def notebook_folder(app: Sphinx) -> Path | None:
    """Where myst-nb writes the executed notebooks of this build, if it does."""
    config = getattr(app.env, "mystnb_config", None)
    folder = getattr(config, "output_folder", None)
    return Path(folder) if folder else None


def finalise_executed_notebooks(app: Sphinx, env: Any) -> list[str]:
    """Rewrite each executed notebook in ``jupyter_execute`` from the execution cache."""
    config = getattr(env, "mystnb_config", None)
    folder = notebook_folder(app)
    if config is None or folder is None or config.execution_mode != "cache":
        return []
    import nbformat
    from jupyter_cache import get_cache
    from myst_nb.ext.glue import extract_glue_data_cell

    for stale in folder.rglob("*.ipynb"):  # notebooks of pages that no longer exist
        if stale.relative_to(folder).with_suffix("").as_posix() not in env.found_docs:
            stale.unlink()
    cache = get_cache(config.execution_cache_path)
    for docname in sorted(env.found_docs):
        path = folder / f"{docname}.ipynb"
        if not path.is_file():
            continue
        notebook = nbformat.read(path, as_version=4)
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        try:
            _, notebook = cache.merge_match_into_notebook(notebook)
        except KeyError:
            logger.warning(
                "no outputs for %s in the execution cache %s",
                path,
                config.execution_cache_path,
                location=docname,
            )
            continue
        notebook.nbformat_minor = max(notebook.nbformat_minor, 5)  # cell ids: nbformat 4.5
        for index, cell in enumerate(notebook.cells):
            cell.id = f"cell-{index}"
            if cell.cell_type == "code":
                extract_glue_data_cell(cell)  # as myst-nb does before rendering
                if config.merge_streams:
                    cell.outputs = merge_streams(cell.outputs)
        path.write_text(nbformat.writes(notebook), encoding="utf-8")
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    require_version(
        "myst-nb", MYST_NB_VERSION, "the rewriting of executed notebooks in docs/_ext", UPSTREAM
    )
    app.connect("env-updated", finalise_executed_notebooks)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
