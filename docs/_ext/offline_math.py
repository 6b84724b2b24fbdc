"""Math typeset by a copy of MathJax inside the site: nothing is loaded from a CDN.

MathJax comes from the ``sphinx-mathjax-offline`` package, but not through its own Sphinx
extension: that copies the package's whole MathJax distribution into every edition,
24.2 MB in 106 files (measured with ``du -sb`` on sphinx-mathjax-offline 0.0.2, on
2026-12-03), which would make the built site about 53 MB instead of 9.0 MB, while
``tex-chtml.js`` needs 2.0 MB in 59 files of it. This extension copies those only:
``tex-chtml.js`` (TeX input, CommonHTML output, the menu and the loader), the fonts and
the TeX extensions it autoloads (e.g. for ``\\boldsymbol``), which it fetches relative to
its own location; ``tests/test_editions.py`` holds the site to that.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

MATHJAX_PACKAGE = "sphinx-mathjax-offline"
MATHJAX_FILES = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")
MATHJAX_PATH = "mathjax/tex-chtml.js"


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


def use_local_mathjax(app: Sphinx, config: Config) -> None:
    config.mathjax_path = MATHJAX_PATH


def after_build(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir))


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", after_build)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
