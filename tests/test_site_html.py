"""The built HTML of both editions: valid, every internal link and anchor resolves,
nothing is loaded from another host, and a 404 page exists.

Run after ``nox -s docs``; ``BOOK_SITE_DIR`` points the tests at another build.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.site_conftest import (
    CJK,
    EDITIONS,
    NOT_FOUND_PAGE,
    ROOT,
    SITE,
    canonical_base_path,
    discover_pages,
    edition_dir,
    expected_chapters,
)

pytestmark = pytest.mark.site

ALLOWED = Path(__file__).with_name("site_html_allowed.toml")
VNU = ROOT / "tools" / "vnu.py"

# Elements and attributes whose URL the browser loads by itself (not links a reader follows).
LOADING = {
    ("script", "src"),
    ("img", "src"),
    ("source", "src"),
    ("iframe", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("track", "src"),
}
LOADING_LINK_RELS = {
    "stylesheet",
    "preload",
    "modulepreload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "icon",
    "apple-touch-icon",
    "manifest",
}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


def html_files() -> list[Path]:
    """Every HTML file a reader can reach: both editions, their 404 pages, the root page."""
    files = [edition_dir(e) / page for e in EDITIONS for page in discover_pages(e)]
    files += [edition_dir(e) / NOT_FOUND_PAGE for e in EDITIONS]
    files.append(SITE / "index.html")
    return [path for path in files if path.is_file()]


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(key):
                self.ids.add(attributes[key])
        for attribute in ("href", "src", "data", "srcset", "poster"):
            value = attributes.get(attribute)
            if value is None:
                continue
            if tag == "link":
                rels = set((attributes.get("rel") or "").lower().split())
                kind = "load" if rels & LOADING_LINK_RELS else "link"
                self.links.append((f"link[{' '.join(sorted(rels))}]", kind, value))
            elif attribute == "srcset":
                for candidate in value.split(","):
                    self.links.append((tag, "load", candidate.strip().split(" ")[0]))
            else:
                kind = "load" if (tag, attribute) in LOADING or attribute == "poster" else "link"
                self.links.append((tag, kind, value))
        if attributes.get("style"):
            self.styles.append(attributes["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


@cache
def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def published_base() -> str | None:
    """The absolute URL the site is published at, read from the canonical links."""
    index = edition_dir("en") / "index.html"
    if not index.is_file():
        return None
    for tag, _, url in parse(index).links:
        if tag == "link[canonical]" and url.endswith("en/index.html"):
            return url[: -len("en/index.html")]
    return None


def local_target(source: Path, url: str) -> tuple[Path, str] | None:
    """The file (and fragment) a URL in ``source`` points to, or None if it leaves the site."""
    parts = urlsplit(url)
    base = published_base()
    if parts.scheme or parts.netloc:
        if base and url.startswith(base):
            return SITE / unquote(urlsplit(url[len(base) :]).path), parts.fragment
        return None
    if not parts.path:
        return source, parts.fragment
    if parts.path.startswith("/"):
        prefix = canonical_base_path()
        if not parts.path.startswith(prefix):
            return SITE / "outside-the-site" / parts.path.lstrip("/"), parts.fragment
        return SITE / unquote(parts.path[len(prefix) :]), parts.fragment
    return (source.parent / unquote(parts.path)).resolve(), parts.fragment


def relative(path: Path) -> str:
    try:
        return path.relative_to(SITE).as_posix()
    except ValueError:
        return str(path)


def test_site_is_built():
    for edition in EDITIONS:
        assert (edition_dir(edition) / "index.html").is_file(), (
            f"{edition_dir(edition)} has no index.html: run `python3 -m nox -s docs` first"
        )
    assert (SITE / "index.html").is_file(), "the site has no root index.html"


# --- links and anchors ---------------------------------------------------------------


@pytest.mark.parametrize("edition", EDITIONS)
def test_internal_links_and_anchors_resolve(edition):
    files = [path for path in html_files() if path.is_relative_to(edition_dir(edition))]
    assert files, f"no HTML in {edition_dir(edition)}"
    broken = []
    checked = 0
    for source in files:
        for tag, _, url in parse(source).links:
            if url.startswith(("mailto:", "javascript:", "data:", "tel:")):
                continue
            target = local_target(source, url)
            if target is None:
                continue
            path, fragment = target
            checked += 1
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                broken.append(f"{relative(source)}: <{tag}> {url} -> missing {relative(path)}")
            elif fragment and path.suffix == ".html" and fragment not in parse(path).ids:
                broken.append(f"{relative(source)}: <{tag}> {url} -> no #{fragment}")
    assert checked > len(files), f"only {checked} internal links in {len(files)} pages"
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken)


def test_root_page_offers_both_editions():
    links = {url for _, _, url in parse(SITE / "index.html").links}
    for edition in EDITIONS:
        assert any(url.strip("./").startswith(edition) for url in links), (
            f"the root page has no link to the {edition} edition: {sorted(links)}"
        )


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_chapter_ends_with_its_references(edition):
    """Each chapter cites its sources inline and lists them under a last References heading."""
    problems = []
    for name in expected_chapters():
        page = (edition_dir(edition) / f"{name}.html").read_text(encoding="utf-8")
        sections = re.findall(r'<section id="([^"]+)">', page)
        cited = set(re.findall(r'href="#footcite-([^"]+)"', page))
        listed = set(re.findall(r'<aside class="footnote brackets" id="footcite-([^"]+)"', page))
        if not sections or sections[-1] != "references":
            problems.append(f"{name}: the last section is {sections[-1:]}, not references")
        if not cited:
            problems.append(f"{name}: cites no source")
        elif cited != listed:
            problems.append(f"{name}: cited {sorted(cited)} but listed {sorted(listed)}")
    assert not problems, "\n".join(problems)


# --- nothing loads from another host -------------------------------------------------


def test_no_page_loads_anything_from_another_host():
    files = html_files()
    assert files, f"no HTML in {SITE}"
    external = []
    for source in files:
        page = parse(source)
        for tag, kind, url in page.links:
            if kind == "load" and local_target(source, url) is None:
                external.append(f"{relative(source)}: <{tag}> {url}")
        for style in page.styles:
            for match in CSS_URL.finditer(style):
                url = match.group(1) or match.group(2)
                if urlsplit(url).netloc:
                    external.append(f"{relative(source)}: inline style loads {url}")
    assert not external, f"{len(external)} external resource(s):\n" + "\n".join(external)


def test_no_stylesheet_loads_anything_from_another_host():
    sheets = [path for e in EDITIONS for path in (edition_dir(e) / "_static").rglob("*.css")]
    assert sheets, "no stylesheet found"
    external = [
        f"{relative(sheet)}: {match.group(1) or match.group(2)}"
        for sheet in sheets
        for match in CSS_URL.finditer(sheet.read_text(encoding="utf-8", errors="replace"))
        if urlsplit(match.group(1) or match.group(2)).netloc
    ]
    assert not external, "\n".join(external)


# --- the 404 page --------------------------------------------------------------------


@pytest.mark.parametrize("edition", EDITIONS)
def test_404_page_exists(edition):
    path = edition_dir(edition) / NOT_FOUND_PAGE
    assert path.is_file(), f"{relative(path)} is missing"
    text = path.read_text(encoding="utf-8")
    lang = re.search(r'<html[^>]*\slang="([^"]+)"', text)
    assert lang, f"{relative(path)} has no lang attribute"
    assert lang.group(1).replace("-", "_") == edition, f"lang of {relative(path)}"
    title = re.search(r"<title>(.*?)</title>", text, re.S).group(1)
    if edition == "zh_CN":
        assert CJK.search(title), f"the Chinese 404 page has an untranslated title: {title!r}"
    # Served for missing URLs at any depth, so its own URLs must not be relative.
    urls = [(tag, url) for tag, _, url in parse(path).links]
    assert any(tag == "link[stylesheet]" for tag, _ in urls), "the 404 page has no stylesheet"
    relative_urls = [
        f"<{tag}> {url}" for tag, url in urls if not url.startswith(("/", "#", "http", "data:"))
    ]
    assert not relative_urls, f"relative URLs break at other depths: {relative_urls}"


# --- HTML validity -------------------------------------------------------------------


def load_allowed() -> list[dict]:
    allowed = tomllib.loads(ALLOWED.read_text(encoding="utf-8")).get("allowed", [])
    for entry in allowed:
        assert entry.get("why", "").strip(), f"filter {entry['message']!r} gives no reason"
    return allowed


def is_allowed(message: dict, entry: dict) -> bool:
    return bool(
        re.search(entry["message"], message.get("message", ""))
        and re.search(entry.get("extract", ""), message.get("extract", ""))
    )


@pytest.fixture(scope="module")
def checker_messages() -> list[dict]:
    files = html_files()
    assert files, f"no HTML in {SITE}"
    result = subprocess.run(
        [sys.executable, str(VNU), "--format", "json", "--errors-only", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    try:
        report = json.loads(result.stderr or result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the Nu Html Checker did not run:\n{result.stdout}\n{result.stderr}")
    return report["messages"]


@pytest.mark.slow
@pytest.mark.xdist_group("vnu")  # one run of the checker for both
def test_html_is_valid(checker_messages):
    allowed = load_allowed()
    errors = [
        message
        for message in checker_messages
        if message.get("type") in ("error", "non-document-error")
        and not any(is_allowed(message, entry) for entry in allowed)
    ]
    by_message = defaultdict(list)
    for error in errors:
        where = f"{relative(Path(urlsplit(error.get('url', '')).path))}:{error.get('lastLine')}"
        by_message[error.get("message", "")].append(where)
    summary = [
        f"{len(places)}x {message}\n    e.g. {', '.join(places[:3])}"
        for message, places in sorted(by_message.items(), key=lambda item: -len(item[1]))
    ]
    assert not errors, f"{len(errors)} HTML error(s):\n" + "\n".join(summary)


@pytest.mark.slow
@pytest.mark.xdist_group("vnu")  # one run of the checker for both
def test_every_allowed_error_still_occurs(checker_messages):
    unused = [
        entry["message"]
        for entry in load_allowed()
        if not any(is_allowed(message, entry) for message in checker_messages)
    ]
    assert not unused, f"filters in {ALLOWED.name} match nothing any more, delete them: {unused}"
