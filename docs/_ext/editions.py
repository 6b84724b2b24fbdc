"""Two editions of one book: what each built page needs beyond the theme.

- offline math: the parts of MathJax that ``tex-chtml`` needs, copied from the
  ``sphinx-mathjax-offline`` package into ``_static/mathjax`` (nothing from a CDN);
- a language switch to the same page in the other edition, as a relative URL;
- the page's executed notebook, rebuilt from the execution cache (see
  ``finalise_executed_notebooks``) and copied to ``_notebooks/<page>.ipynb`` for download;
- the versions the pages were executed with and the build date, for the footer;
- the theme's words that its templates do not mark for translation (aria labels,
  myst-nb's "Show code cell source" prompts), translated through ``sphinx.po``;
- a working search script for the Chinese edition (see ``fix_search_stemmer``).

The editions are listed in ``conf.py`` as ``book_editions`` (language code -> name);
each is built into ``<root>/<language>/``, so the other edition of ``<page>.html`` is
``../<other language>/<page>.html`` from the edition's root.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.metadata
import importlib.util
import os
import re
import shutil
from html import escape
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import _
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

MATHJAX_PACKAGE = "sphinx-mathjax-offline"
# tex-chtml.js holds the TeX input, the CommonHTML output, the menu and the loader.
# It fetches its fonts, and TeX extensions it autoloads (e.g. for \boldsymbol, \cancel),
# relative to its own location.
MATHJAX_FILES = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")
MATHJAX_PATH = "mathjax/tex-chtml.js"

# Interface words written into the HTML without a translation call: furo's aria labels
# and myst-nb's toggle label. Their translations live in locale/<lang>/LC_MESSAGES/sphinx.po.
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

VERIFIED_PACKAGES = ("torch", "numpy", "scipy", "attention_examples")


def mathjax_source() -> Path:
    """The MathJax distribution shipped by the sphinx-mathjax-offline package."""
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"offline math needs the package {MATHJAX_PACKAGE!r} (docs dependency group); "
            "it is not installed"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def copy_mathjax(outdir: Path) -> None:
    """Copy the parts of MathJax that tex-chtml.js loads into ``outdir/_static/mathjax``."""
    source = mathjax_source()
    target = outdir / "_static" / "mathjax"
    for relative in MATHJAX_FILES:
        src, dst = source / relative, target / relative
        if not src.exists():
            raise RuntimeError(f"MathJax file {src} is missing from {MATHJAX_PACKAGE!r}")
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def build_date() -> str:
    """The build date (UTC), from SOURCE_DATE_EPOCH when set so builds are reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            moment = dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
        except ValueError as error:
            raise ValueError(
                f"SOURCE_DATE_EPOCH must be an integer number of seconds, got {epoch!r}"
            ) from error
    else:
        moment = dt.datetime.now(tz=dt.timezone.utc)
    return moment.date().isoformat()


def verified_versions() -> list[tuple[str, str]]:
    """(package, version) of the packages the notebooks are executed with."""
    return [(name, importlib.metadata.version(name)) for name in VERIFIED_PACKAGES]


def notebook_folder(app: Sphinx) -> Path | None:
    """Where myst-nb writes the executed notebooks of this build, if it does."""
    config = getattr(app.env, "mystnb_config", None)
    folder = getattr(config, "output_folder", None)
    return Path(folder) if folder else None


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


def add_page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Language switch, notebook download, versions and build date for the templates."""
    editions: dict[str, str] = app.config.book_editions
    current = app.config.language
    context["book_editions"] = [
        {
            "language": language,
            "tag": language.replace("_", "-"),
            "name": name,
            "current": language == current,
            "url": edition_url(app, pagename, language),
        }
        for language, name in editions.items()
    ]
    folder = notebook_folder(app)
    has_notebook = folder is not None and (folder / f"{pagename}.ipynb").is_file()
    context["notebook_url"] = (
        context["pathto"](f"_notebooks/{pagename}.ipynb", 1) if has_notebook else None
    )
    context["notebook_name"] = f"{pagename.rsplit('/', 1)[-1]}.ipynb"
    context["verified_with"] = app.config.book_verified_with
    context["build_date"] = app.config.book_build_date


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


# The theme writes navigation captions as headings without a level, and code blocks as
# scrollable <pre> that a keyboard cannot reach; both are fixed in the written pages.
_CAPTION_HEADING = re.compile(r'(<p class="caption[^"]*" role="heading")(?![^>]*aria-level)')
_PRE = re.compile(r"<pre(?![^>]*tabindex)(?=[\s>])")


def rewrite_pages(outdir: Path) -> None:
    """Translate the theme's attributes and make captions and code blocks accessible."""
    replacements = attribute_translations()
    for page in outdir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        changed = html
        for old, new in replacements.items():
            changed = changed.replace(old, new)
        changed = _CAPTION_HEADING.sub(r'\1 aria-level="2"', changed)
        changed = _PRE.sub('<pre tabindex="0"', changed)
        if changed != html:
            page.write_text(changed, encoding="utf-8")


def merge_streams(outputs: list[Any]) -> list[Any]:
    """Merge each stream (stdout, stderr) of a cell into one output, text joined as sent.

    Replaces myst-nb's ``coalesce_streams``, which strips every chunk before joining, so
    that where the kernel happened to split the printed text decides whether blank lines
    survive, and which edits the first chunk in place, leaving the later chunks behind in
    the written notebook. Here the result depends only on what was printed, and the
    outputs given are not modified.
    """
    merged: list[Any] = []
    streams: dict[str, Any] = {}
    for output in outputs:
        if output.get("output_type") != "stream":
            merged.append(output)
        elif output["name"] in streams:
            streams[output["name"]]["text"] += output["text"]
        else:
            stream = copy.deepcopy(output)
            streams[output["name"]] = stream
            merged.append(stream)
    for stream in streams.values():
        stream["text"] = stream["text"].rstrip() + "\n"
    return merged


def finalise_executed_notebooks(app: Sphinx, env: Any) -> list[str]:
    """Rewrite each executed notebook in ``jupyter_execute`` from the execution cache.

    myst-nb (1.4) writes to ``jupyter_execute`` the notebook object it parsed, which is
    wrong in two ways: when the outputs come from the cache it renders the page from a
    merged copy and writes the notebook *without* outputs; when it executes, merging the
    stream outputs for display leaves the printed text twice in the file. These files are
    what readers download and what the editions' outputs are compared on, so each one is
    rebuilt here the same way whatever happened: the cached outputs of this exact source
    (the ones the page shows), glue data removed and streams merged as on the page, and
    cell ids numbered, so both editions and repeated builds write identical notebooks.
    Notebooks of pages that no longer exist are deleted.
    """
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


def copy_notebooks(app: Sphinx, outdir: Path) -> None:
    """Copy each page's executed notebook to ``_notebooks/<page>.ipynb``."""
    folder = notebook_folder(app)
    if folder is None:
        return
    for docname in sorted(app.env.found_docs):
        source = folder / f"{docname}.ipynb"
        if source.is_file():
            target = outdir / "_notebooks" / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def fix_search_stemmer(outdir: Path) -> None:
    """Point ``window.Stemmer`` at the stemmer ``language_data.js`` really defines.

    Sphinx 9.0 names the stemmer after the search language (``ChineseStemmer``) while the
    Chinese search ships the English stemmer, so search stops with "ChineseStemmer is not
    defined" (sphinx-doc/sphinx#14229, fixed upstream by deriving the name from the
    stemmer's file). Does nothing when the named stemmer exists.
    """
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


def finish_build(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    copy_mathjax(outdir)
    copy_notebooks(app, outdir)
    rewrite_pages(outdir)
    fix_search_stemmer(outdir)


def check_config(app: Sphinx, config: Any) -> None:
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
    config.mathjax_path = MATHJAX_PATH
    config.book_verified_with = verified_versions()
    config.book_build_date = build_date()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_editions", {"en": "English"}, "html", types=frozenset({dict}))
    app.add_config_value("book_edition_config", {}, "env", types=frozenset({dict}))
    app.add_config_value("book_verified_with", [], "html")
    app.add_config_value("book_build_date", "", "html")
    import myst_nb.core.render

    myst_nb.core.render.coalesce_streams = merge_streams  # see merge_streams
    app.connect("config-inited", check_config)
    app.connect("env-updated", finalise_executed_notebooks)
    app.connect("html-page-context", add_page_context)
    app.connect("build-finished", finish_build)
    app.add_post_transform(TranslateCellPrompts)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
