"""Sphinx configuration of the attention book (both editions).

The Chinese edition is the same source built with ``-D language=zh_CN``; its
translations live in ``locale/zh_CN/LC_MESSAGES``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import attention_examples

DOCS = Path(__file__).parent
ROOT = DOCS.parent

project = "Attention, step by step"
author = "The attention book authors"
copyright = "2026, the attention book authors"
release = attention_examples.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx_copybutton",
    "sphinx.ext.mathjax",
]

language = "en"
locale_dirs = ["locale/"]
gettext_compact = False
gettext_uuid = False
gettext_location = True

exclude_patterns = ["_build", "_root", "locale", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]

nitpicky = True

# --- MyST and execution -----------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
nb_execution_mode = "cache"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 300
nb_merge_streams = True
# One cache for both editions, so each notebook executes once. myst-nb hashes only
# the cells' source, so the cache lives in a directory named after a hash of the
# package's source: changing attention_examples starts a fresh cache, never stale outputs.
_package_hash = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted((ROOT / "attention_examples").glob("*.py")))
).hexdigest()[:12]
_cache_root = Path(os.environ.get("BOOK_EXECUTION_CACHE", ROOT / "_build" / ".jupyter_cache"))
nb_execution_cache_path = str(_cache_root / _package_hash)

# --- HTML -------------------------------------------------------------------------
html_theme = "furo"
html_title = project
copybutton_exclude = ".linenos, .gp, .go"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
