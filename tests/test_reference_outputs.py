"""The built book prints the seeds' reference outputs, in both editions, identically.

These tests read the build of ``nox -s docs`` (the executed notebooks of each edition,
see ``reference_check.executed_notebooks``); run that first. Without a build they fail
and say so. One test per page and edition, so a failure names the page; its message
lists every mismatch of that page with the seed, the expected and the printed text.
The checker itself is tested in ``test_reference_check.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The checker is a tool of its own (the book's build reads it too): tools/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import reference_check as rc

DATA = rc.load_references()
PAGES = rc.source_pages()
CHECKED_PAGES = sorted(set(PAGES) | set(DATA.pages))


def require_build(edition: str) -> Path:
    notebooks = rc.executed_notebooks(edition)
    if not notebooks.is_dir():
        pytest.fail(
            f"the {edition} edition is not built (no {notebooks}): run `{rc.BUILD_COMMAND}` first",
            pytrace=False,
        )
    return notebooks


@pytest.mark.parametrize("page", sorted(DATA.pages))
def test_reference_data_is_valid(page: str) -> None:
    """Each ``<page>.toml`` is well formed and names a page of the book (no build needed)."""
    problems = list(DATA.errors.get(page, []))
    if page not in PAGES:
        problems.append(f"{page}.toml names page {page!r}, but there is no docs/{page}.md")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.mark.site
@pytest.mark.parametrize("edition", rc.EDITIONS)
@pytest.mark.parametrize("page", CHECKED_PAGES)
def test_printed_outputs_match_the_references(page: str, edition: str) -> None:
    notebooks = require_build(edition)
    failures = rc.check_page(page, edition, DATA, PAGES, notebooks)
    if failures:
        pytest.fail("\n\n".join(map(str, failures)), pytrace=False)


@pytest.mark.site
@pytest.mark.parametrize("page", sorted(PAGES))
def test_editions_print_identical_outputs(page: str) -> None:
    dirs = [require_build(edition) for edition in rc.EDITIONS]
    problems = rc.compare_editions(page, rc.EDITIONS, dirs)
    if problems:
        pytest.fail(f"{page}:\n" + "\n".join(problems), pytrace=False)


@pytest.mark.site
@pytest.mark.parametrize("edition", rc.EDITIONS)
def test_the_reference_page_lists_every_output(edition: str) -> None:
    """The book's page of reference outputs shows every output the check compares."""
    require_build(edition)
    page = rc.built_html(edition) / "reference_outputs.html"
    if not page.is_file():
        pytest.fail(f"{page} is missing: run `{rc.BUILD_COMMAND}` first", pytrace=False)
    html = page.read_text(encoding="utf-8")
    missing = [
        f"{ref.page}: {ref.tag}"
        for references in DATA.references.values()
        for ref in references
        if f'{ref.page}.html#{ref.tag}"' not in html
    ]
    assert not missing, f"{page} has no link to: {', '.join(missing)}"
