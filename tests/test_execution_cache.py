"""docs/_ext/execution_cache.py: parallel readers cannot delete each other's cache records."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import nbformat
import pytest
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.cache.db import NbCacheRecord
from jupyter_cache.cache.main import JupyterCacheBase

EXTENSION = Path(__file__).resolve().parent.parent / "docs" / "_ext" / "execution_cache.py"


def load_extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location("execution_cache", EXTENSION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["execution_cache"] = module
    sys.path.insert(0, str(EXTENSION.parent))  # as in conf.py: the extensions import upstream
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXTENSION.parent))
    return module


def notebook(source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source, execution_count=1))
    return nb


def store(cache: JupyterCacheBase, source: str) -> None:
    bundle = CacheBundleIn(notebook(source), f"{source}.md")
    cache.cache_notebook_bundle(bundle, check_validity=False)


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The extension set up as Sphinx would; the original method is restored afterwards."""
    monkeypatch.setattr(JupyterCacheBase, "truncate_caches", JupyterCacheBase.truncate_caches)
    extension = load_extension()
    metadata = extension.setup(SimpleNamespace())
    assert metadata["parallel_read_safe"]
    return extension


def test_setup_replaces_the_racy_trim(patched: ModuleType) -> None:
    assert JupyterCacheBase.truncate_caches is patched.truncate_caches_when_full


def test_below_the_limit_the_two_query_trim_never_runs(
    patched: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # records_to_delete is the query pair another reader's insert can slip between.
    def racy(keep: int, db: object) -> list[int]:
        raise AssertionError("records_to_delete ran although the cache is below its limit")

    monkeypatch.setattr(NbCacheRecord, "records_to_delete", staticmethod(racy))
    cache = get_cache(tmp_path / "cache")
    for page in ("softmax", "masking", "causal"):
        store(cache, f"print('{page}')")
    assert len(cache.list_cache_records()) == 3


def test_above_the_limit_the_oldest_records_are_still_trimmed(
    patched: ModuleType, tmp_path: Path
) -> None:
    cache = get_cache(tmp_path / "cache")
    cache.change_cache_limit(2)
    for page in ("softmax", "masking", "causal"):
        store(cache, f"print('{page}')")
    uris = sorted(record.uri for record in cache.list_cache_records())
    assert len(uris) == 2
    assert "print('softmax').md" not in uris
