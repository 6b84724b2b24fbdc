"""Sphinx configuration of the attention book (both editions).

The Chinese edition is the same source built with ``-D language=zh_CN``; its
translations live in ``locale/zh_CN/LC_MESSAGES`` (one catalog per page, plus
``sphinx.po`` for the theme's words). ``nox -s docs`` builds each edition into
``_build/<language>/html`` (executed notebooks in ``_build/<language>/jupyter_execute``)
and assembles the site in ``_build/site``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
from pathlib import Path

from jupyter_cache import get_cache
from myst_nb.core.render import base_render_priority

DOCS = Path(__file__).parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "Attention, step by step"
author = "The attention book authors"
copyright = "2026, the attention book authors"
# The installed package's version, read without importing it (and PyTorch with it):
# Sphinx starts three times per build, and only the notebooks need the package itself.
release = importlib.metadata.version("attention_examples")
version = release

extensions = [
    "myst_nb",
    "sphinx_copybutton",
    "sphinx_togglebutton",
    # the book's own extensions, in _ext/: one job each
    "edition_settings",  # the editions, and the settings that differ between them
    "edition_switch",  # a link to the same page in the other edition
    "notebook_download",  # each page's executed notebook, for download
    "build_info",  # the versions that computed the outputs, and the build date
    "theme_words",  # the interface words the theme writes untranslated
    "accessible_html",  # captions with a heading level, code blocks a keyboard can reach
    "offline_math",  # MathJax from inside the site
    "sphinxcontrib.bibtex",  # the references of each chapter, from docs/references.bib
    # workarounds of bugs in the libraries, each guarded by the version it was written for
    "stream_merging",  # printed text independent of how the kernel split it (myst-nb)
    "executed_notebooks",  # executed notebooks with the outputs their page shows (myst-nb)
    "execution_cache",  # parallel readers sharing one execution cache (jupyter-cache)
    "search_stemmer",  # a Chinese search that runs (Sphinx 9.0)
    "glossary_table",
    "print_edition",
    "reference_outputs",
]

language = "en"
locale_dirs = ["locale/"]
gettext_compact = False
gettext_uuid = False
gettext_location = True
# Code cells and their outputs are literal blocks, which are not extracted: code and
# outputs are identical in both editions.
gettext_additional_targets: list[str] = []

exclude_patterns = ["_build", "_root", "locale", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]

nitpicky = True

# --- References ---------------------------------------------------------------------
# One bibliography for the book. A chapter cites with {footcite:t}`key` ("Vaswani et al.
# [1]") or {footcite:p}`key` ("[1]") and ends with a "References" section holding
# {footbibliography}: the list of that chapter's sources, numbered per chapter.
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# --- MyST and execution -----------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
nb_execution_mode = "cache"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 300
nb_merge_streams = True
# The gettext builder must pick the same outputs as HTML (myst-nb gives it none), so that
# the alt texts of figures made from cell outputs are extracted for translation.
nb_mime_priority_overrides = [
    ("gettext", mime, priority) for mime, priority in base_render_priority()["html"].items()
]
# One cache for both editions, so each notebook executes once. myst-nb hashes only
# the cells' source, so the cache lives in a directory named after a hash of what the
# cells read besides their source: the package and the benchmark results. Changing
# either starts a fresh cache, never stale outputs.
_cell_inputs = sorted((ROOT / "attention_examples").glob("*.py"))
_cell_inputs.append(ROOT / "benchmarks" / "results.json")
_inputs_hash = hashlib.sha256(b"".join(p.read_bytes() for p in _cell_inputs)).hexdigest()[:12]
_cache_root = Path(os.environ.get("BOOK_EXECUTION_CACHE", ROOT / "_build" / ".jupyter_cache"))
nb_execution_cache_path = str(_cache_root / _inputs_hash)
# Create the cache's database now: with `-j auto`, parallel readers would otherwise race
# to create it on a fresh cache ("table nbproject already exists").
get_cache(nb_execution_cache_path).list_project_records()

# --- HTML -------------------------------------------------------------------------
# The editions (language code -> name in its own language), each built into <site>/<code>/.
book_editions = {"en": "English", "zh_CN": "简体中文"}
# Settings that differ by edition (applied by _ext/edition_settings.py).
book_edition_config = {
    "zh_CN": {
        "project": "循序渐进理解注意力机制",
        "html_title": "循序渐进理解注意力机制",
        "copyright": "2026，本书作者",
        "togglebutton_hint": "点击展开",
        "togglebutton_hint_hide": "点击收起",
    },
}

html_theme = "furo"
html_title = project
html_css_files = ["book.css"]
html_js_files = ["book.js"]
html_theme_options = {
    # the "view" slot of furo's page header holds the notebook download (_templates/components)
    "top_of_page_buttons": ["view"],
}
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "sidebar/edition-switch.html",
        "sidebar/search.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/notebook-download.html",
        "sidebar/pdf-download.html",
        "sidebar/scroll-end.html",
    ]
}
html_copy_source = False
html_show_sphinx = False  # furo's "Made with Sphinx and @pradyunsg's Furo" is half untranslatable
html_show_sourcelink = False
# Chinese search: Sphinx segments Chinese text with jieba; the dictionary holds the
# book's terms so that 自注意力 or 因果掩码 are indexed as words.
html_search_options = {"dict": str(DOCS / "locale" / "zh_CN" / "jieba_dict.txt")}

# Copy buttons on code cells and code blocks, not on outputs (myst-nb wraps outputs in
# div.output); prompts and console output are left out of the copied text.
copybutton_selector = "div:not(.output) > div.highlight pre"
copybutton_exclude = ".linenos, .gp, .go"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# --- Publishing: canonical URLs, OpenGraph, sitemap, 404 page ---------------------
# BOOK_BASE_URL is where the site's root (index.html, en/, zh_CN/) is published; the
# default suits `python3 -m http.server 8000 -d _build/site`. On Read the Docs, each
# edition is its own project and READTHEDOCS_CANONICAL_URL gives the edition's URL.
from urllib.parse import urlsplit as _urlsplit

extensions += ["notfound.extension", "sphinx_sitemap", "sphinxext.opengraph"]

_rtd_edition_url = os.environ.get("READTHEDOCS_CANONICAL_URL")
_site_url = os.environ.get("BOOK_BASE_URL", "http://localhost:8000/").rstrip("/") + "/"
if not _urlsplit(_site_url).scheme or not _urlsplit(_site_url).netloc:
    raise ValueError(
        f"BOOK_BASE_URL must be an absolute URL such as https://host/book/, got {_site_url!r}"
    )
for _language in book_editions:
    _edition_url = _rtd_edition_url or f"{_site_url}{_language}/"
    book_edition_config.setdefault(_language, {}).update(
        html_baseurl=_edition_url,  # <link rel="canonical">, og:url and the sitemap
        ogp_site_url=_edition_url,
        # The 404 page is served for missing URLs at any depth: absolute links.
        notfound_urls_prefix=_urlsplit(_edition_url).path,
        ogp_custom_meta_tags=[f'<meta property="og:locale" content="{_language}" />'],
    )
if _rtd_edition_url:
    site_url, sitemap_url_scheme, sitemap_locales = _rtd_edition_url, "{link}", [None]
else:  # one sitemap per edition, each page listing its twin (hreflang)
    site_url, sitemap_url_scheme, sitemap_locales = _site_url, "{lang}{link}", list(book_editions)
sitemap_excludes = ["404.html", "search.html", "genindex.html"]
ogp_description_length = 200
# Generated social-card images would need a CJK font on every building machine;
# pages get title, description, URL and locale instead.
ogp_social_cards = {"enable": False}
notfound_pagename = "404"
