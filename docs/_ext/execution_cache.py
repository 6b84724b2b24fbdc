"""Make the shared execution cache safe for parallel readers (``-j auto``).

After storing each executed notebook, jupyter-cache trims the cache to its size limit
(``truncate_caches``) with two separate queries: the records to keep, then every other
record, which it deletes. Under ``-j auto`` another reader can insert its record between
the two queries; that record then counts as surplus and is deleted, before its owner has
written the notebook, and the owner's build fails with "Notebook file does not exist for
cache record". The book's cache holds one record per page, far below the limit, so this
extension trims only when the cache holds more records than its limit, checked with one
query, and then trims as jupyter-cache does. Upstream: ``truncate_caches`` at
https://github.com/executablebooks/jupyter-cache/blob/v1.0.1/jupyter_cache/cache/main.py#L105
(called after each stored notebook, line 249 of the same file).
"""

from __future__ import annotations

from typing import Any

from jupyter_cache.cache.db import NbCacheRecord, Setting, session_context
from jupyter_cache.cache.main import CACHE_LIMIT_KEY, DEFAULT_CACHE_LIMIT, JupyterCacheBase
from sphinx.application import Sphinx
from upstream import require_version

JUPYTER_CACHE_VERSION = "1.0.1"
UPSTREAM = (
    "https://github.com/executablebooks/jupyter-cache/blob/v1.0.1/jupyter_cache/cache/main.py#L105"
)

_trim = JupyterCacheBase.truncate_caches


def truncate_caches_when_full(self: JupyterCacheBase) -> None:
    """Trim the cache to its limit, but only when it exceeds it."""
    limit = Setting.get_value(CACHE_LIMIT_KEY, self.db, DEFAULT_CACHE_LIMIT)
    with session_context(self.db) as session:
        count = session.query(NbCacheRecord).count()
    if count > limit:
        _trim(self)


def setup(app: Sphinx) -> dict[str, Any]:
    require_version(
        "jupyter-cache", JUPYTER_CACHE_VERSION, "the cache trimming of docs/_ext", UPSTREAM
    )
    # Applied in the main process, before Sphinx forks its parallel readers.
    JupyterCacheBase.truncate_caches = truncate_caches_when_full
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
