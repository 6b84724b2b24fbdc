"""The built site in a real browser, every page of both editions, as readers meet it.

Chromium (Debian's, driven by Playwright) loads each page from a server on 127.0.0.1
with every request to another host blocked and counted. Run after ``nox -s docs``;
``BOOK_SITE_DIR`` points the tests at another build.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

import pytest

from tests.site_conftest import (
    CJK,
    EDITIONS,
    GENERATED_PAGES,
    ROOT,
    all_site_pages,
    chapter_pages,
    discover_pages,
    edition_dir,
    expected_chapters,
    page_params,
    require,
)

pytestmark = pytest.mark.site

# What a reader searching for a term must find: the chapters about it (by module and
# page name). Pages whose title contains the term are expected as well (see below).
SEARCH_EXPECTATIONS = {
    "en": {
        "attention": [
            "weighted_average",
            "simple_self_attention",
            "self_attention",
            "causal_attention",
            "multihead_attention",
        ],
        "softmax": ["softmax"],
        "mask": ["masking", "causal_attention"],
    },
    "zh_CN": {
        "注意力": [
            "weighted_average",
            "simple_self_attention",
            "self_attention",
            "causal_attention",
            "multihead_attention",
        ],
        "自注意力": ["simple_self_attention", "self_attention"],
        "因果掩码": ["masking", "causal_attention"],
        "多头注意力": ["multihead_attention"],
    },
}

RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\\[A-Za-z]+|\$[^\s$]")


def html_of(edition: str, page: str) -> str:
    return (edition_dir(edition) / page).read_text(encoding="utf-8")


def pages_containing(marker: str) -> list[tuple[str, str]]:
    """Pages whose built HTML contains ``marker`` (chosen at collection time)."""
    return [
        (edition, page) for edition, page in all_site_pages() if marker in html_of(edition, page)
    ]


def title_of(edition: str, page: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", html_of(edition, page), re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip("¶ \n") if match else ""


def twin(edition: str) -> str:
    return next(other for other in EDITIONS if other != edition)


# --- the book is all there ------------------------------------------------------------


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_chapter_is_built(edition):
    chapters = expected_chapters()
    assert len(chapters) >= 8, f"the package documents only {chapters}"
    built = chapter_pages(edition)
    missing = [name for name in chapters if f"{name}.html" not in built]
    assert not missing, f"chapters missing from the {edition} edition: {missing} (built: {built})"


def test_both_editions_have_the_same_pages():
    english, chinese = discover_pages("en"), discover_pages("zh_CN")
    assert english, f"no English pages in {edition_dir('en')}"
    assert sorted(english) == sorted(chinese), (
        f"only in en: {sorted(set(english) - set(chinese))}; "
        f"only in zh_CN: {sorted(set(chinese) - set(english))}"
    )


# --- every page loads cleanly --------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params(all_site_pages()))
def test_page_loads_without_console_errors(item, page_report):
    edition, page = require(item)
    visit = page_report(edition, page)["visit"]
    assert not visit.console_errors, "\n".join(visit.console_errors)
    assert not visit.broken_resources, "\n".join(visit.broken_resources)


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params(all_site_pages()))
def test_page_makes_no_request_outside_localhost(item, page_report):
    edition, page = require(item)
    external = page_report(edition, page)["visit"].external_requests
    assert len(external) == 0, f"{len(external)} blocked request(s):\n" + "\n".join(external)


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params(all_site_pages()))
def test_math_is_rendered(item, page_report):
    edition, page = require(item)
    report = page_report(edition, page)
    assert report["typeset"] == report["math"], (
        f"{report['math'] - report['typeset']} of {report['math']} math elements "
        "were not typeset by MathJax"
    )
    leftovers = sorted({match.group(0) for match in RAW_TEX.finditer(report["text"])})
    assert not leftovers, f"raw TeX left in the page's text: {leftovers}"


def test_math_pages_exist():
    """The math test above must have something to check: chapters do use math."""
    assert pages_containing('class="math'), "no page of the site contains math"


# --- language switch -----------------------------------------------------------------

FIND_LINK_JS = """
(target) => {
  const norm = (href) => {
    const url = new URL(href, location.href);
    url.hash = '';
    url.search = '';
    return url.href.replace(/index\\.html$/, '');
  };
  const links = [...document.querySelectorAll('a[href]')].filter((a) => norm(a.href) === target);
  const shown = links.filter((a) => a.getBoundingClientRect().width > 0
    && a.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}));
  document.querySelectorAll('[data-twin-link]').forEach((a) => a.removeAttribute('data-twin-link'));
  if (shown.length) shown[0].setAttribute('data-twin-link', '');
  return {links: links.length, shown: shown.length};
}
"""


def normalised(url: str) -> str:
    url = url.split("#")[0].split("?")[0]
    return url[: -len("index.html")] if url.endswith("index.html") else url


@pytest.mark.browser
# From each English page to its Chinese twin and back, which follows the links of both
# (test_both_editions_have_the_same_pages: every page has its twin).
@pytest.mark.parametrize("item", page_params([p for p in all_site_pages() if p[0] == "en"]))
def test_language_switch_opens_the_twin_page_and_back(item, open_page, site_server):
    edition, page = require(item)
    here = site_server.url(edition, page)
    there = site_server.url(twin(edition), page)
    tab, visit = open_page(here)
    for source, target in ((here, there), (there, here)):
        found = tab.evaluate(FIND_LINK_JS, normalised(target))
        assert found["shown"], (
            f"no visible link on {source} to its twin {target} "
            f"({found['links']} hidden link(s) to it)"
        )
        tab.click("[data-twin-link]")
        tab.wait_for_url(lambda url, target=target: normalised(url) == normalised(target))
        tab.wait_for_load_state("load")
    assert not visit.console_errors, "\n".join(visit.console_errors)


# --- search --------------------------------------------------------------------------

SEARCH_CASES = [
    pytest.param(edition, term, id=f"{edition}-{term}")
    for edition, terms in SEARCH_EXPECTATIONS.items()
    for term in terms
]


def expected_search_results(edition: str, term: str) -> set[str]:
    built = set(discover_pages(edition))
    expected = {f"{name}.html" for name in SEARCH_EXPECTATIONS[edition][term]} & built
    expected |= {
        page
        for page in chapter_pages(edition)
        if page != "index.html" and term.casefold() in title_of(edition, page).casefold()
    }
    return expected


@pytest.mark.browser
@pytest.mark.parametrize(("edition", "term"), SEARCH_CASES)
def test_search_lists_the_expected_pages(edition, term, open_page, site_server):
    expected = expected_search_results(edition, term)
    assert expected, f"none of the pages expected for {term!r} exist in the {edition} edition"
    tab, visit = open_page(site_server.url(edition, f"search.html?q={quote(term)}"))
    tab.wait_for_function(
        "() => { const s = document.querySelector('#search-results .search-summary');"
        " return s && s.textContent.trim().length > 0; }",
        timeout=30_000,
    )
    hrefs = tab.eval_on_selector_all(
        "#search-results ul.search li a[href]", "(links) => links.map((a) => a.href)"
    )
    base = site_server.url(edition, "")
    found = {
        urlsplit(href).path[len(urlsplit(base).path) :] for href in hrefs if href.startswith(base)
    }
    missing = sorted(expected - found)
    assert not missing, f"search for {term!r} misses {missing}; it lists {sorted(found)}"
    assert not visit.console_errors, "\n".join(visit.console_errors)


# --- copy buttons --------------------------------------------------------------------

CODE_BLOCKS_JS = """
() => {
  document.querySelectorAll('details').forEach((d) => { d.open = true; });
  return [...document.querySelectorAll('article div.highlight')]
    .filter((block) => !block.closest('.cell_output') && block.querySelector('pre'))
    .map((block, i) => { block.setAttribute('data-code-block', String(i));
                         return block.querySelector('pre').textContent; });
}
"""
PROMPT = re.compile(r"^(>>> |\.\.\. |\$ )")


def expected_copy(shown: str) -> str:
    """What a reader should get: the code, without prompts and without printed output."""
    lines = shown.rstrip("\n").split("\n")
    if any(PROMPT.match(line) for line in lines):
        lines = [PROMPT.sub("", line) for line in lines if PROMPT.match(line)]
    return "\n".join(lines)


# Clicks every copy button of the page in turn, in the page itself (one round trip rather
# than several per button), and returns what each put on the clipboard (None: no button).
COPY_ALL_JS = """
async () => {
  const copied = [];
  for (const block of document.querySelectorAll('[data-code-block]')) {
    const buttons = block.querySelectorAll('button.copybtn');
    if (buttons.length !== 1) { copied.push(null); continue; }
    await navigator.clipboard.writeText('(nothing copied)');
    buttons[0].click();
    let text = '(nothing copied)';
    for (let i = 0; i < 500 && text === '(nothing copied)'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      text = await navigator.clipboard.readText();
    }
    copied.push(text);
  }
  return copied;
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params(pages_containing('<div class="highlight">')))
def test_copy_buttons_copy_the_code_only(item, open_page, site_server):
    edition, page = require(item)
    tab, _ = open_page(site_server.url(edition, page), clipboard=True)
    blocks = tab.evaluate(CODE_BLOCKS_JS)
    if not blocks:
        pytest.skip("the page's only code blocks are outputs")
    # As a reader does it, once: the button shows on hover and a real click copies.
    first = '[data-code-block="0"]'
    tab.evaluate("() => navigator.clipboard.writeText('(nothing copied)')")
    tab.hover(first)
    tab.locator(f"{first} button.copybtn").click()
    tab.wait_for_function("() => document.querySelector('.copybtn.success') !== null")
    assert tab.evaluate("() => navigator.clipboard.readText()").rstrip("\n") == expected_copy(
        blocks[0]
    ), "code block 0"
    # Then every button of the page.
    copied = tab.evaluate(COPY_ALL_JS)
    assert len(copied) == len(blocks)
    for index, (shown, text) in enumerate(zip(blocks, copied, strict=True)):
        assert text is not None, f"code block {index} has no copy button, or more than one"
        assert text.rstrip("\n") == expected_copy(shown), f"code block {index}"
        assert not any(PROMPT.match(line) for line in text.split("\n")), text


# --- exercises -----------------------------------------------------------------------

EXERCISES_JS = """
() => [...document.querySelectorAll('article .admonition.exercise')].map((exercise, i) => {
  let node = exercise.nextElementSibling;
  while (node && !node.matches('.admonition.exercise, section')) {
    const hidden = node.matches('.cell') ? node.querySelector(':scope > details') : null;
    if (hidden) { hidden.setAttribute('data-solution', String(i)); return true; }
    node = node.nextElementSibling;
  }
  return false;
})
"""


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params(pages_containing("exercise admonition")))
def test_exercise_solutions_are_hidden_until_opened(item, open_page, site_server):
    edition, page = require(item)
    tab, _ = open_page(site_server.url(edition, page))
    solutions = tab.evaluate(EXERCISES_JS)
    assert solutions, "the page has no exercise"
    without = [i + 1 for i, found in enumerate(solutions) if not found]
    assert not without, f"exercise(s) number {without} on the page have no hidden solution cell"
    for index in range(len(solutions)):
        solution = tab.locator(f'[data-solution="{index}"]')
        code = solution.locator(".cell_input, .cell_output").first
        assert code.count() == 1, f"solution {index + 1} shows no code"
        assert not code.is_visible(), f"solution {index + 1} is visible before it is opened"
        solution.locator("summary").click()
        assert code.is_visible(), f"solution {index + 1} does not open"


@pytest.mark.parametrize("edition", EDITIONS)
def test_the_book_has_exercises(edition):
    assert pages_containing("exercise admonition"), "no page has an exercise"
    english = {p for e, p in pages_containing("exercise admonition") if e == "en"}
    here = {p for e, p in pages_containing("exercise admonition") if e == edition}
    assert here == english, f"pages with exercises differ: en {english}, {edition} {here}"


# --- figures -------------------------------------------------------------------------


def heatmap_chapters() -> list[str]:
    """Chapters whose source draws a heatmap (and so must show one)."""
    return sorted(
        source.stem
        for source in (ROOT / "docs").glob("*.md")
        if "plot_attention_heatmap(" in source.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize("edition", EDITIONS)
def test_heatmaps_are_present(edition):
    chapters = heatmap_chapters()
    assert chapters, "no page draws a heatmap"
    built = set(discover_pages(edition))
    for name in chapters:
        page = f"{name}.html"
        if page not in built:
            continue  # reported by test_every_chapter_is_built
        images = re.findall(r"<img [^>]*>", html_of(edition, page))
        assert images, f"{edition}/{page} draws a heatmap but shows no image"
        english = re.findall(r"<img [^>]*>", html_of("en", page))
        assert len(images) == len(english), f"{edition}/{page}: image count differs from en"


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params(pages_containing("<img ")))
def test_images_have_alt_text_in_the_page_language(item, page_report):
    edition, page = require(item)
    images = page_report(edition, page)["images"]
    for image in images:
        alt = (image["alt"] or "").strip()
        assert image["loaded"], f"image {image['src']} did not load"
        assert alt, f"image {image['src']} has no alt text"
        if edition == "zh_CN":
            assert CJK.search(alt), f"alt text of {image['src']} is not Chinese: {alt!r}"
        else:
            assert not CJK.search(alt), f"alt text of {image['src']} is not English: {alt!r}"


# The schematic diagrams drawn by attention_examples.diagrams, by page and figure name.
DIAGRAMS = {
    "multihead_attention.html": ["fig-mha-reshape"],
    "grouped_attention.html": ["fig-gqa-projections"],
    "fast_attention.html": ["fig-memory-hierarchy", "fig-tiling", "fig-kv-cache"],
}


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params([(e, page) for e in EDITIONS for page in DIAGRAMS]))
def test_diagrams_render_with_alt_text_and_caption(item, page_report):
    edition, page = require(item)
    figures = page_report(edition, page)["figures"]
    for name in DIAGRAMS[page]:
        assert name in figures, f"{edition}/{page} has no figure #{name} ({sorted(figures)})"
        figure = figures[name]
        assert figure["loaded"], f"{edition}/{page}#{name}: the image did not load"
        assert figure["shown"], f"{edition}/{page}#{name}: the image is not shown"
        assert figure["alt"], f"{edition}/{page}#{name} has no alt text"
        assert figure["caption"], f"{edition}/{page}#{name} has no caption"
        if edition == "zh_CN":
            assert CJK.search(figure["caption"]), f"caption of #{name} is not Chinese"


# --- phone width ---------------------------------------------------------------------

OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const fixed = (el) => { for (let a = el; a; a = a.parentElement) {
    if (getComputedStyle(a).position === 'fixed') return true; } return false; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].map((c) => '.' + c).join('');
  const offenders = new Set();
  const report = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= width + 1) continue;
    if (el.parentElement && offenders.has(el.parentElement)) { offenders.add(el); continue; }
    if (!el.checkVisibility({checkVisibilityCSS: true}) || fixed(el)) continue;
    let contained = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (scrolls(a) && a.getBoundingClientRect().right <= width + 1) { contained = true; break; }
    }
    if (contained) continue;
    offenders.add(el);
    report.push(`${name(el)} reaches ${Math.round(box.right)}px`);
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, offenders: report.slice(0, 10)};
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("item", page_params(all_site_pages()))
def test_nothing_overflows_at_phone_width(item, open_page, site_server):
    edition, page = require(item)
    tab, _ = open_page(site_server.url(edition, page), width=375, height=812)
    result = tab.evaluate(OVERFLOW_JS)
    assert result["width"] == 375
    assert not result["offenders"], "wider than the screen: " + "; ".join(result["offenders"])
    assert result["scrollWidth"] <= result["width"], (
        f"the page scrolls sideways: {result['scrollWidth']}px wide at {result['width']}px"
    )


# --- 404 -----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("edition", EDITIONS)
def test_missing_page_shows_the_404_page(edition, open_page, site_server):
    url = site_server.url(edition, "no/such/page.html")
    tab, visit = open_page(url)
    assert tab.evaluate("() => document.documentElement.lang").replace("-", "_") == edition
    assert tab.locator("article h1").count() == 1, "the 404 page has no heading"
    assert not visit.external_requests, visit.external_requests
    # Chromium logs the 404 status of the page itself as an error: that one is expected.
    errors = [error for error in visit.console_errors if not error.endswith(f"(at {url})")]
    assert not errors, "\n".join(errors)
    # styled like the book: the theme's stylesheet loaded despite the deep URL
    assert tab.evaluate("() => document.styleSheets.length") >= 2
    assert not visit.broken_resources, "\n".join(visit.broken_resources)


def test_generated_pages_are_known():
    """Guard the exclusions above: search and index pages exist in both editions."""
    for edition in EDITIONS:
        assert set(discover_pages(edition)) >= GENERATED_PAGES, edition
