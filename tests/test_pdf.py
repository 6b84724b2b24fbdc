"""The PDF of each edition (``nox -s pdf``): chapters, bookmarks, math, fonts, size, link.

The chapters are read from the toctrees of ``docs/index.md`` and their titles from the
pages (English) and the catalogs (Chinese), so a new chapter is checked without touching
these tests. Where the PDFs were not built the tests are skipped and say so, unless
``BOOK_PDF`` is set (as in the GitHub workflow, which builds them): then they fail.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from tests.site_conftest import EDITIONS, ROOT, SITE, chapter_pages

DOCS = ROOT / "docs"
PDF_DIR = ROOT / "_build" / "pdf"
MAX_BYTES = 15 * 2**20
# Math that MathJax left untypeset: Sphinx's delimiters \( \) and \[ \], a display fence,
# a fraction or an environment (the book's code cells use none of these; a matplotlib
# label in one of them does use $\sqrt{d_k}$, so single commands are no sign).
RAW_TEX = re.compile(r"\\[(\[]|\$\$|\\frac\b|\\begin\{")
SOLUTION_HEADING = {"en": "Solution", "zh_CN": "解答"}
# One worker for the whole file: it extracts each PDF's text once (about 25 s an edition),
# where two workers would extract it twice.
pytestmark = pytest.mark.xdist_group("pdf")

pypdf = pytest.importorskip("pypdf")


def pdf_path(edition: str) -> Path:
    return PDF_DIR / f"attention-step-by-step-{edition}.pdf"


@cache
def reader(edition: str) -> pypdf.PdfReader:
    path = pdf_path(edition)
    if not path.is_file():
        message = f"{path.relative_to(ROOT)} is not built: run `python3 -m nox -s pdf`"
        if os.environ.get("BOOK_PDF"):
            pytest.fail(f"BOOK_PDF is set but {message}")
        pytest.skip(message)
    return pypdf.PdfReader(path)


def extract(page) -> str:
    """A page's text. NFKC: Chromium maps some CJK glyphs of the Noto font back to the
    Kangxi radical they share them with (⼒ U+2F12 for 力), which NFKC folds."""
    return unicodedata.normalize("NFKC", page.extract_text() or "").translate(STRAIGHT_QUOTES)


@cache
def text(edition: str) -> str:
    return "\n".join(extract(page) for page in reader(edition).pages)


def toctree_documents() -> list[str]:
    """The documents the toctrees of the landing page list, in order."""
    source = (DOCS / "index.md").read_text(encoding="utf-8")
    documents = []
    for block in re.findall(r"```\{toctree\}\n(.*?)```", source, flags=re.DOTALL):
        documents += [line.strip() for line in block.splitlines() if line.strip()[:1].isalnum()]
    return documents


def english_title(document: str) -> str:
    source = (DOCS / f"{document}.md").read_text(encoding="utf-8")
    return re.search(r"^# (.+)$", source, flags=re.MULTILINE).group(1).strip()


def title(document: str, edition: str) -> str:
    """The chapter's title as the edition prints it (Chinese: from the page's catalog)."""
    english = english_title(document)
    if edition == "en":
        return english
    from babel.messages.pofile import read_po

    catalog_path = DOCS / "locale" / "zh_CN" / "LC_MESSAGES" / f"{document}.po"
    with catalog_path.open("rb") as file:
        message = read_po(file).get(english)
    assert message is not None, f"{catalog_path}: no title {english!r}"
    assert message.string, f"{catalog_path}: {english!r} is not translated"
    return message.string


# The pages' straight quotes are typeset curly (today's -> today’s): compare them as one.
STRAIGHT_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def plain(words: str) -> str:
    """Markup and spacing removed, as the PDF shows a heading (`code` is just code), and
    folded with NFKC as the extracted text is (full-width ： becomes :)."""
    folded = unicodedata.normalize("NFKC", words.replace("`", "")).translate(STRAIGHT_QUOTES)
    return re.sub(r"\s+", "", folded)


def bookmarks(edition: str) -> list[tuple[int, str]]:
    """(depth, title) of every bookmark, depth 0 at the top of the outline."""
    found = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                title = unicodedata.normalize("NFKC", item.title).translate(STRAIGHT_QUOTES)
                found.append((depth, title))

    walk(reader(edition).outline, 0)
    return found


def test_the_toctree_lists_chapters():
    documents = toctree_documents()
    assert "softmax" in documents, documents
    assert all((DOCS / f"{document}.md").is_file() for document in documents), documents


@pytest.mark.parametrize("edition", EDITIONS)
def test_pdf_is_at_most_15_mb(edition):
    reader(edition)
    size = pdf_path(edition).stat().st_size
    assert size <= MAX_BYTES, f"{pdf_path(edition).name}: {size / 2**20:.1f} MB"


@pytest.mark.parametrize("edition", EDITIONS)
def test_one_bookmark_per_chapter(edition):
    """The preface and every document of the toctree is a bookmark, at one depth."""
    marks = bookmarks(edition)
    expected = [title(document, edition) for document in ["index", *toctree_documents()]]
    depths = {}
    for expected_title in expected:
        matches = [depth for depth, mark in marks if plain(mark) == plain(expected_title)]
        assert matches, f"{edition}: no bookmark {expected_title!r} in {marks}"
        depths[expected_title] = min(matches)
    chapter_depth = min(depths.values())
    assert set(depths.values()) == {chapter_depth}, f"{edition}: chapters at depths {depths}"
    at_depth = [mark for depth, mark in marks if depth == chapter_depth]
    assert len(at_depth) == len(expected), f"{edition}: {at_depth} for the chapters {expected}"


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_chapter_title_is_printed_in_the_edition_language(edition):
    printed = plain(text(edition))
    for document in ["index", *toctree_documents()]:
        chapter = title(document, edition)
        assert plain(chapter) in printed, f"{edition}: {chapter!r} is not in the PDF"
    if edition == "zh_CN":  # the Chinese titles differ from the English ones
        assert plain(english_title("softmax")) not in printed


@pytest.mark.parametrize("edition", EDITIONS)
def test_no_raw_tex_in_the_text(edition):
    raw = sorted({match.group(0) for match in RAW_TEX.finditer(text(edition))})
    assert not raw, f"{edition}: math left untypeset: {raw}"


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_solution_is_printed_under_its_heading(edition):
    """One heading per hidden solution cell of the chapters, counted in the sources."""
    hidden = sum(
        len(re.findall(r":tags: \[[^\]]*hide-cell", (DOCS / f"{doc}.md").read_text("utf-8")))
        for doc in toctree_documents()
    )
    lines = [line.strip() for line in text(edition).splitlines()]
    assert hidden > 0
    assert lines.count(SOLUTION_HEADING[edition]) == hidden


@pytest.mark.parametrize("edition", EDITIONS)
def test_title_page_gives_versions_and_date(edition):
    first = plain(extract(reader(edition).pages[0]))
    for package in ("torch", "numpy", "scipy"):
        assert re.search(rf"{package}\d+\.\d+", first), f"{edition}: no {package} version"
    assert re.search(r"\d{4}-\d{2}-\d{2}", first), f"{edition}: no build date on {first!r}"


def unembedded_fonts(page) -> list[str]:
    """The fonts a page uses without carrying their glyphs."""
    missing = []
    resources = page.get("/Resources") or {}
    fonts = resources.get("/Font") or {}
    for font in fonts.values():
        font = font.get_object()
        if font.get("/Subtype") == "/Type3":
            continue  # glyphs drawn by the PDF itself
        descendant = font
        if "/DescendantFonts" in font:  # a composite (Type0) font: its glyphs are below
            descendant = font["/DescendantFonts"][0].get_object()
        descriptor = descendant.get("/FontDescriptor")
        descriptor = descriptor.get_object() if descriptor is not None else {}
        if not any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
            missing.append(str(font.get("/BaseFont")))
    return missing


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_font_is_embedded(edition):
    missing = set()
    used = 0
    for page in reader(edition).pages:
        used += len((page.get("/Resources") or {}).get("/Font") or {})
        missing.update(unembedded_fonts(page))
    assert used > 0, f"{edition}: no fonts found"
    assert not missing, f"{edition}: fonts not embedded: {sorted(missing)}"


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_page_of_the_site_links_to_the_pdf(edition):
    from bs4 import BeautifulSoup

    reader(edition)
    site_pdf = SITE / edition / pdf_path(edition).name
    if not os.environ.get("BOOK_PDF") and not site_pdf.is_file():
        pytest.skip("the site was built without BOOK_PDF=1 (nox -s docs): no PDF links")
    assert site_pdf.is_file(), f"{site_pdf} is not in the site"
    pages = chapter_pages(edition)
    assert pages, f"no pages in {SITE / edition}"
    for page in pages:
        html = BeautifulSoup((SITE / edition / page).read_text("utf-8"), "html.parser")
        links = [a["href"] for a in html.select(".sidebar-pdf-download a[href]")]
        assert len(links) == 1, f"{edition}/{page}: PDF links {links}"
        target = (SITE / edition / page).parent / links[0]
        assert target.resolve() == site_pdf.resolve(), f"{edition}/{page}: {links[0]}"
