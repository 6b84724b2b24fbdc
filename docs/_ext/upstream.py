"""Version guards for the book's workarounds of bugs in the libraries it builds with.

Each workaround names the upstream issue or source line it works around and the exact
release it was written against. When ``constraints.txt`` moves that library to another
release, the build stops at setup and says which workaround to look at: the bug may be
fixed (then the workaround goes), or the code it replaces may have changed (then the
workaround must follow). ``tests/test_editions.py`` checks that the guard fails.
"""

from __future__ import annotations

import importlib.metadata

from sphinx.errors import ExtensionError


def require_version(distribution: str, version: str, workaround: str, upstream: str) -> None:
    """Raise unless ``distribution`` is installed at exactly ``version``.

    Args:
        distribution: the name of the library on PyPI, e.g. ``"myst-nb"``.
        version: the release the workaround was written and checked against.
        workaround: what the book does about the bug, for the message.
        upstream: the URL of the issue, pull request or source line worked around.
    """
    installed = importlib.metadata.version(distribution)
    if installed != version:
        raise ExtensionError(
            f"{workaround} was written for {distribution} {version}, but {distribution} "
            f"{installed} is installed. See {upstream}: if {distribution} {installed} fixes "
            "it, remove the workaround; otherwise check that it still fits the new code and "
            "update the version it names."
        )
