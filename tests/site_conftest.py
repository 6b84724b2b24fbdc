"""Fixtures for the checks of the built site: the pages, a local server and a browser.

The site is read from ``BOOK_SITE_DIR`` (default ``_build/site``, where ``nox -s docs``
builds it). Pages are discovered from the built site, so a new chapter is checked
without touching the tests; the chapters the package documents (``Chapter: ...
(docs/<name>.md)`` in each module's docstring) must all be there.

The browser is Debian's Chromium at ``/usr/bin/chromium`` (``BOOK_CHROMIUM`` overrides
it), driven by Playwright; no browser is ever downloaded. The browser tests are
skipped, with a message saying why, only when that executable is missing.

Tests that read the built site carry the marker ``site`` (those that drive Chromium also
``browser``), so ``pytest -m "not site"`` runs the unit tests alone. Without a built site
(a fresh clone), plain ``pytest`` skips the ``site`` tests and says why; with
``BOOK_REQUIRE_SITE=1``, which ``nox -s tests`` sets, a missing site fails them instead.
"""

from __future__ import annotations

import ast
import functools
import http.server
import io
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("BOOK_SITE_DIR", ROOT / "_build" / "site")).resolve()
EDITIONS = ("en", "zh_CN")
# The browser and flags of tools/build_pdf.py (pytest loads this module as a plugin before
# the repository is importable, so the list is kept in both places).
CHROMIUM = Path(os.environ.get("BOOK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# How long a page may take to load, or an element to appear, before a browser test fails
# (Playwright's default is 30 s, which a busy 2-core machine running the tests in
# parallel exceeds on the longest pages). BOOK_BROWSER_TIMEOUT sets it, in seconds.
BROWSER_TIMEOUT_MS = float(os.environ.get("BOOK_BROWSER_TIMEOUT", "120")) * 1000
# Generated pages that are not chapters but that readers still reach.
GENERATED_PAGES = frozenset({"genindex.html", "search.html"})
NOT_FOUND_PAGE = "404.html"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
NOT_BUILT = "the site is not built in {site}: run `python3 -m nox -s docs` first"
# Set by `nox -s tests`: the site must be there, and a test that needs it fails without it.
REQUIRE_SITE = os.environ.get("BOOK_REQUIRE_SITE", "") not in ("", "0")


def site_is_built() -> bool:
    return all((SITE / edition / "index.html").is_file() for edition in EDITIONS)


XDIST_GROUPING_BUG = "https://github.com/pytest-dev/pytest-xdist/issues/1386"
UNGROUPED = pytest.StashKey[str]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test that pytest-xdist should have grouped and did not (see below)."""
    if UNGROUPED in item.stash:
        pytest.fail(item.stash[UNGROUPED])


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own hook, which marks the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check that xdist groups the tests of a page; skip the ``site`` tests when there is
    no site to read, unless it is required.

    pytest-xdist's ``--dist loadgroup`` sends the tests of one ``xdist_group`` to one
    worker by appending ``@group`` to their node ids in the worker. pytest 9.2 builds node
    ids from a structured id instead, so the groups silently vanish and every page is
    loaded by both workers (XDIST_GROUPING_BUG; pyproject.toml keeps pytest below 9.2).
    """
    if getattr(config.option, "loadgroup", False):  # in xdist's workers, --dist loadgroup
        for item in items:
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
                item.stash[UNGROUPED] = (
                    f"pytest-xdist did not put this test in its xdist_group (pytest "
                    f"{pytest.__version__}): see {XDIST_GROUPING_BUG}"
                )
    if REQUIRE_SITE or site_is_built():
        return
    skip = pytest.mark.skip(
        reason=NOT_BUILT.format(site=SITE) + ' (or deselect these tests: pytest -m "not site")'
    )
    for item in items:
        if item.get_closest_marker("site") is not None:
            item.add_marker(skip)


def edition_dir(edition: str) -> Path:
    return SITE / edition


def discover_pages(edition: str) -> list[str]:
    """Every HTML page of one edition, as paths relative to it (``softmax.html``)."""
    root = edition_dir(edition)
    if not root.is_dir():
        return []
    pages = []
    for path in sorted(root.rglob("*.html")):
        relative = path.relative_to(root).as_posix()
        if relative.split("/")[0].startswith("_") or relative == NOT_FOUND_PAGE:
            continue  # _static, _sources, _images; the 404 page has tests of its own
        pages.append(relative)
    return pages


def expected_chapters() -> list[str]:
    """The chapters the package says exist: ``docs/<name>.md`` in module docstrings."""
    chapters = set()
    for module in sorted((ROOT / "attention_examples").glob("*.py")):
        docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8"))) or ""
        chapters.update(re.findall(r"``docs/([\w-]+)\.md``", docstring))
    return sorted(chapters)


def chapter_pages(edition: str) -> list[str]:
    """The pages written as book pages (everything but the index and search pages)."""
    return [page for page in discover_pages(edition) if page not in GENERATED_PAGES]


def all_site_pages() -> list[tuple[str, str]]:
    return [(edition, page) for edition in EDITIONS for page in discover_pages(edition)]


def page_params(pages: list[tuple[str, str]]) -> list:
    """Parameters for a test over pages; a missing site becomes one failing case.

    The tests of one page form one ``xdist_group``: run in parallel (``--dist loadgroup``),
    they go to the same worker, which loads the page once for all of them (``page_report``).
    """
    if not pages:
        return [pytest.param(None, id="site-not-built")]
    params = []
    for edition, page in pages:
        name = f"{edition}/{page}"
        params.append(pytest.param((edition, page), id=name, marks=pytest.mark.xdist_group(name)))
    return params


def require(item):
    """Fail (never skip) a page test when the site was not built."""
    if item is None:
        pytest.fail(NOT_BUILT.format(site=SITE))
    return item


def canonical_base_path() -> str:
    """The URL path the site is published under, read from a built page.

    The 404 page links with absolute paths (it is served for any missing URL), so the
    local server must answer under the same prefix as the published site.
    """
    for edition in EDITIONS:
        index = edition_dir(edition) / "index.html"
        if index.is_file():
            match = re.search(
                r'<link rel="canonical" href="([^"]+)"', index.read_text(encoding="utf-8")
            )
            if match:
                path = urlsplit(match.group(1)).path
                suffix = f"{edition}/index.html"
                if path.endswith(suffix):
                    return path[: -len(suffix)] or "/"
    return "/"


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of the site, under ``/`` and the published prefix, with 404 pages."""

    prefix = "/"

    def log_message(self, *args):
        pass  # quiet: the tests report what matters

    def translate_path(self, path):
        path = urlsplit(path).path
        if self.prefix != "/" and path.startswith(self.prefix):
            path = "/" + path[len(self.prefix) :]
        return super().translate_path(path)

    def send_head(self):
        target = Path(self.translate_path(self.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            return self._not_found()
        return super().send_head()

    def _not_found(self):
        path = unquote(urlsplit(self.path).path)
        if self.prefix != "/" and path.startswith(self.prefix):
            path = "/" + path[len(self.prefix) :]
        edition = path.strip("/").split("/")[0]
        candidates = [SITE / NOT_FOUND_PAGE, SITE / "en" / NOT_FOUND_PAGE]
        if edition in EDITIONS:
            candidates.insert(0, SITE / edition / NOT_FOUND_PAGE)
        page = next((c for c in candidates if c.is_file()), None)
        body = page.read_bytes() if page else b"not found"
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # send_head returns a file object whose content do_GET copies to the client.
        return io.BytesIO(body) if self.command != "HEAD" else None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Chromium opens several connections at once; socketserver's default backlog of 5
    # can drop some while a busy machine is slow to accept them.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A page closed or left while a file was being sent is no error of the site.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class SiteServer:
    """The built site served on 127.0.0.1 at a free port."""

    origin: str
    prefix: str

    def url(self, edition: str, page: str = "index.html") -> str:
        return f"{self.origin}{self.prefix}{edition}/{page}"


@pytest.fixture(scope="session")
def site_server() -> Iterator[SiteServer]:
    """The site served at a free port: one server per test session (per xdist worker)."""
    if not SITE.is_dir():
        pytest.fail(NOT_BUILT.format(site=SITE))
    prefix = canonical_base_path()
    handler = functools.partial(
        type("Handler", (_SiteHandler,), {"prefix": prefix}), directory=str(SITE)
    )
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SiteServer(origin=f"http://127.0.0.1:{server.server_port}", prefix=prefix)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole test session (with pytest-xdist: one per worker)."""
    if not CHROMIUM.is_file():
        pytest.skip(
            f"no browser: {CHROMIUM} is missing. Install Debian's chromium "
            "(`apt-get install chromium`; the nox tests session does it when run as root)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Visit:
    """What happened while a page loaded: errors and requests that left the machine."""

    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    broken_resources: list[str] = field(default_factory=list)


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOCAL_HOSTS


def load(browser, url: str, *, width: int = 1280, height: int = 900, clipboard: bool = False):
    """Open ``url`` in a fresh browser context; returns ``(context, page, visit)``.

    Every request that would leave the machine is blocked and recorded, and so are
    console errors, uncaught exceptions and local resources that fail to load.
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
    if clipboard:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    visit = Visit()

    def route(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            visit.external_requests.append(route.request.url)
            route.abort()

    def console(message):
        if message.type == "error":
            visit.console_errors.append(f"{message.text} (at {message.location.get('url')})")

    def response(response):
        if response.status >= 400 and response.url != url:
            visit.broken_resources.append(f"{response.status} {response.url}")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", console)
    page.on("pageerror", lambda error: visit.console_errors.append(f"uncaught: {error}"))
    page.on("response", response)
    network = _Network(page)
    page.goto(url, wait_until="load")
    network.wait_until_quiet()
    wait_for_math(page)
    return context, page, visit


class _Network:
    """The requests of a page still in flight, to wait until there are none.

    Playwright's own ``networkidle`` state is documented as unreliable (it may never
    come); this wait says, when it times out, which requests were still pending.
    """

    QUIET_MS = 500
    POLL_MS = 50

    def __init__(self, page) -> None:
        self.page = page
        self.pending: dict[object, str] = {}
        self.last_change = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request) -> None:
        self.pending[request] = request.url
        self.last_change = time.monotonic()

    def _ended(self, request) -> None:
        self.pending.pop(request, None)
        self.last_change = time.monotonic()

    def wait_until_quiet(self) -> None:
        deadline = time.monotonic() + BROWSER_TIMEOUT_MS / 1000
        while self.pending or (time.monotonic() - self.last_change) * 1000 < self.QUIET_MS:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(self.pending)} request(s) of {self.page.url} still pending after "
                    f"{BROWSER_TIMEOUT_MS / 1000:.0f} s:\n" + "\n".join(self.pending.values())
                )
            self.page.wait_for_timeout(self.POLL_MS)  # lets Playwright deliver events


@pytest.fixture
def open_page(browser):
    """``open_page(url, width=..., clipboard=...)`` -> ``(page, visit)``, closed afterwards."""
    contexts = []

    def _open(url: str, **options):
        context, page, visit = load(browser, url, **options)
        contexts.append(context)
        return page, visit

    yield _open
    for context in contexts:
        context.close()


def wait_for_math(page) -> None:
    """Wait until MathJax, if the page loads it, has typeset the page."""
    has_math = page.evaluate("() => document.querySelector('.math') !== null")
    if not has_math:
        return
    # Once the network is quiet the MathJax script has loaded, or failed to (then the math
    # test reports the raw TeX left on the page).
    if page.evaluate("() => Boolean(window.MathJax && window.MathJax.startup)"):
        page.evaluate("() => window.MathJax.startup.promise.then(() => true)")


# What the page checks look at, read off each page once (``page_report``).
PAGE_REPORT_JS = """
() => {
  const code = 'pre, code, kbd, samp, script, style, noscript, .highlight, .cell_output, '
    + 'mjx-container';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (parent && !parent.closest(code)) texts.push(walker.currentNode.textContent);
  }
  const math = [...document.querySelectorAll('.math')];
  return {
    lang: document.documentElement.lang,
    text: texts.join(' '),
    math: math.length,
    typeset: math.filter((m) => m.querySelector('mjx-container')).length,
    images: [...document.querySelectorAll('article img')].map((img) => ({
      src: img.getAttribute('src'),
      alt: img.getAttribute('alt'),
      loaded: img.complete && img.naturalWidth > 0,
    })),
    figures: Object.fromEntries([...document.querySelectorAll('figure[id]')].map((fig) => {
      const img = fig.querySelector('img');
      const caption = fig.querySelector('figcaption');
      return [fig.id, {
        loaded: Boolean(img && img.complete && img.naturalWidth > 0),
        shown: Boolean(img && img.getBoundingClientRect().width > 100),
        alt: img ? (img.getAttribute('alt') || '') : '',
        caption: caption ? caption.textContent.trim() : '',
      }];
    })),
  };
}
"""

# axe-core's impacts that fail a page (test_site_a11y.py)
BLOCKING_IMPACTS = ("serious", "critical")


def accessibility_violations(tab) -> list[dict]:
    """axe-core's serious and critical violations on the page, in light and dark mode.

    The theme follows the reader's colour scheme, so contrast must hold in dark mode too:
    axe runs again there, on the colour-contrast rule only. The axe-core script ships
    inside the axe-playwright-python package, so nothing is fetched.
    """
    from axe_playwright_python.sync_playwright import Axe

    def run(rules: list[str] | None = None) -> list[dict]:
        options: dict = {"resultTypes": ["violations"]}
        if rules is not None:
            options["runOnly"] = {"type": "rule", "values": rules}
        violations = Axe().run(tab, options=options).response["violations"]
        return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]

    violations = run()
    tab.emulate_media(color_scheme="dark")
    dark = run(rules=["color-contrast"])
    return violations + [{**v, "id": f"{v['id']} (dark mode)"} for v in dark]


@pytest.fixture(scope="session")
def page_report(browser, site_server):
    """Load each page once (desktop width) and keep what the page checks look at.

    The tests of one page share a worker (``page_params``), so each page is loaded once
    per run for its console, request, math, image and accessibility checks.
    """
    reports = {}

    def _report(edition: str, page: str) -> dict:
        if (edition, page) not in reports:
            context, tab, visit = load(browser, site_server.url(edition, page))
            try:
                report = tab.evaluate(PAGE_REPORT_JS)
                report["accessibility"] = accessibility_violations(tab)
            finally:
                context.close()
            report["visit"] = visit
            reports[edition, page] = report
        return reports[edition, page]

    return _report
