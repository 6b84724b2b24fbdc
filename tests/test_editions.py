"""The two editions: catalog checks, offline math, language switch, notebooks, search.

The first part tests ``tools/check_catalogs.py`` (which ``nox -s docs`` runs before the
Chinese build) and the theme's catalog on their own. The second part reads the built site
(``BOOK_SITE_DIR``, default ``_build/site``; build it with ``nox -s docs``) without a
browser; tests/test_site_browser.py checks the same site in Chromium.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CATALOGS = DOCS / "locale" / "zh_CN" / "LC_MESSAGES"
SITE = Path(os.environ.get("BOOK_SITE_DIR", ROOT / "_build" / "site")).resolve()
EDITIONS = {"en": "en", "zh_CN": "zh-CN"}  # edition -> the lang attribute of its pages
NOT_BUILT = f"the site is not built in {SITE}: run `python3 -m nox -s docs` first"


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


check_catalogs = load_module("check_catalogs", ROOT / "tools" / "check_catalogs.py")


HEADER = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: zh_CN\\n"
"""


def write(path: Path, body: str) -> Path:
    """Write a catalog: the header, then ``body`` (dedented)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    """The number of the line of ``path`` that starts with ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


# --- the catalog check -----------------------------------------------------------------


@pytest.fixture
def incomplete_catalog(tmp_path: Path) -> Path:
    """A catalog with one good, one fuzzy and one untranslated entry."""
    write(
        tmp_path / "zh_CN" / "page.po",
        """
        #: page.md:1
        msgid "Attention"
        msgstr "注意力"

        #: page.md:3
        #, fuzzy
        msgid "The query is compared with every key."
        msgstr "查询与每个键比较。"

        #: page.md:5
        msgid ""
        "A paragraph that nobody "
        "has translated yet."
        msgstr ""
        """,
    )
    return tmp_path / "zh_CN"


def test_parser_reads_entries_lines_and_multiline_strings(incomplete_catalog: Path):
    po = incomplete_catalog / "page.po"
    entries = check_catalogs.messages(check_catalogs.read_catalog(po))
    assert [(entry.msgid, entry.line) for entry in entries] == [
        ("Attention", line_of(po, 'msgid "Attention"')),
        ("The query is compared with every key.", line_of(po, 'msgid "The query')),
        ("A paragraph that nobody has translated yet.", line_of(po, '"A paragraph') - 1),
    ]
    assert [entry.fuzzy for entry in entries] == [False, True, False]
    assert [entry.translated for entry in entries] == [True, True, False]


def test_parser_decodes_escapes_and_keeps_obsolete_entries_apart(tmp_path: Path):
    po = write(
        tmp_path / "escapes.po",
        r"""
        msgid "say \"softmax\"\n"
        msgstr "说 \"softmax\"\n"

        #~ msgid "removed paragraph"
        #~ msgstr "已删除的段落"
        """,
    )
    entries = check_catalogs.read_catalog(po)
    live = check_catalogs.messages(entries)
    assert [(entry.msgid, entry.msgstr[0]) for entry in live] == [
        ('say "softmax"\n', '说 "softmax"\n')
    ]
    assert [entry.msgid for entry in entries if entry.obsolete] == ["removed paragraph"]


def test_parser_names_the_line_it_cannot_read(tmp_path: Path):
    po = write(tmp_path / "broken.po", 'msgid "a"\nmsgstr "b"\nthis is not a catalog line\n')
    with pytest.raises(ValueError, match=r"broken\.po:3: cannot parse"):
        check_catalogs.read_catalog(po)


def test_fuzzy_and_untranslated_entries_fail_with_file_line_and_msgid(
    incomplete_catalog: Path, capsys: pytest.CaptureFixture[str]
):
    po = incomplete_catalog / "page.po"
    status = check_catalogs.main([str(incomplete_catalog)])
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    fuzzy, untranslated = line_of(po, 'msgid "The query'), line_of(po, '"A paragraph') - 1
    assert out == [
        f"{po}:{fuzzy}: fuzzy: The query is compared with every key.",
        f"{po}:{untranslated}: untranslated: A paragraph that nobody has translated yet.",
    ]


def test_the_command_line_exits_with_1_on_an_incomplete_catalog(incomplete_catalog: Path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_catalogs.py"), str(incomplete_catalog)],
        capture_output=True,
        text=True,
        check=False,
    )
    po = incomplete_catalog / "page.po"
    assert result.returncode == 1, result.stdout + result.stderr
    fuzzy, untranslated = line_of(po, 'msgid "The query'), line_of(po, '"A paragraph') - 1
    assert f"page.po:{fuzzy}: fuzzy:" in result.stdout
    assert f"page.po:{untranslated}: untranslated:" in result.stdout


def test_a_complete_catalog_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    write(
        tmp_path / "zh_CN" / "page.po",
        '\nmsgid "Attention"\nmsgstr "注意力"\n',
    )
    assert check_catalogs.main([str(tmp_path / "zh_CN")]) == 0
    assert "complete and up to date" in capsys.readouterr().out


def test_catalogs_out_of_date_with_the_source_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A changed English paragraph: the template has the new text, the catalog the old."""
    pot = tmp_path / "pot"
    write(pot / "page.pot", '\nmsgid "Attention"\nmsgstr ""\n\nmsgid "New text."\nmsgstr ""\n')
    write(pot / "other.pot", '\nmsgid "Softmax"\nmsgstr ""\n')
    catalogs = tmp_path / "zh_CN"
    write(
        catalogs / "page.po",
        '\nmsgid "Attention"\nmsgstr "注意力"\n\nmsgid "Old text."\nmsgstr "旧文本。"\n',
    )
    write(catalogs / "gone.po", '\nmsgid "Deleted page"\nmsgstr "已删除"\n')

    status = check_catalogs.main([str(catalogs), "--pot-dir", str(pot)])
    out = capsys.readouterr().out
    assert status == 1
    assert (
        f"{catalogs / 'page.po'}:1: not in the catalog (source changed; run nox -s i18n): New text."
        in out
    )
    old_line = line_of(catalogs / "page.po", 'msgid "Old text."')
    assert (
        f"{catalogs / 'page.po'}:{old_line}: no longer in the source (run nox -s i18n): Old text."
        in out
    )
    assert f"{catalogs / 'other.po'}:1: missing catalog for other" in out
    assert f"{catalogs / 'gone.po'}:1: catalog of a page that no longer exists" in out
    assert "Attention" not in out


def test_catalogs_matching_their_templates_pass(tmp_path: Path):
    write(tmp_path / "pot" / "page.pot", '\nmsgid "Attention"\nmsgstr ""\n')
    write(tmp_path / "zh_CN" / "page.po", '\nmsgid "Attention"\nmsgstr "注意力"\n')
    assert check_catalogs.check_up_to_date(tmp_path / "zh_CN", tmp_path / "pot") == []


def test_the_repository_catalogs_are_translated_and_not_fuzzy():
    catalogs = sorted(CATALOGS.rglob("*.po"))
    assert catalogs, f"no catalogs in {CATALOGS}"
    problems = [problem for po in catalogs for problem in check_catalogs.check_translated(po)]
    assert not problems, "\n".join(problems)


# --- the theme's words --------------------------------------------------------------------


def test_every_interface_word_has_a_chinese_translation():
    """Each word the templates, furo and myst-nb put into the HTML is in sphinx.po."""
    extract = load_module("extract_theme_messages", ROOT / "tools" / "extract_theme_messages.py")
    wanted = {message.id for message in extract.build_catalog() if message.id}
    catalog = {
        entry.msgid: entry
        for entry in check_catalogs.messages(check_catalogs.read_catalog(CATALOGS / "sphinx.po"))
    }
    assert "Back to top" in wanted  # the extraction works
    assert "Show code cell source" in wanted
    missing = sorted(word for word in wanted if word not in catalog)
    assert not missing, f"sphinx.po lacks {missing}: run nox -s i18n and translate them"
    untranslated = sorted(w for w in wanted if catalog[w].fuzzy or not catalog[w].translated)
    assert not untranslated, f"sphinx.po does not translate {untranslated}"


# --- the extensions' helpers -------------------------------------------------------------


@pytest.fixture(scope="module")
def extensions() -> SimpleNamespace:
    """The book's Sphinx extensions, imported as Sphinx imports them (they import each other)."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return SimpleNamespace(
            **{name: importlib.import_module(name) for name in (*BOOK_EXTENSIONS, "upstream")}
        )
    finally:
        sys.path.remove(str(DOCS / "_ext"))


BOOK_EXTENSIONS = tuple(
    path.stem for path in sorted((DOCS / "_ext").glob("*.py")) if path.stem != "upstream"
)


def test_build_date_follows_source_date_epoch(extensions, monkeypatch):
    epoch = 1_700_000_000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    expected = dt.date(*time.gmtime(epoch)[:3]).isoformat()
    assert extensions.build_info.build_date() == expected == "2023-11-14"


def test_build_date_rejects_a_malformed_source_date_epoch(extensions, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match=r"SOURCE_DATE_EPOCH must be an integer.*'yesterday'"):
        extensions.build_info.build_date()


def test_build_date_without_source_date_epoch_is_today(extensions, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    today = dt.datetime.now(tz=dt.UTC).date()
    built = dt.date.fromisoformat(extensions.build_info.build_date())
    assert abs((built - today).days) <= 1


def test_the_mathjax_files_exist_in_the_registry_package(extensions):
    math = extensions.offline_math
    source = math.mathjax_source()
    for relative in math.MATHJAX_FILES:
        assert (source / relative).exists(), relative
    assert list((source / "output/chtml/fonts/woff-v2").glob("*.woff"))


def test_every_book_extension_is_enabled(extensions):
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    missing = [name for name in BOOK_EXTENSIONS if f'"{name}"' not in conf]
    assert not missing, f"docs/_ext has extensions that conf.py does not enable: {missing}"


def pinned_versions() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if version:
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


# Each workaround of a library's bug: (module, its constant naming the release, library).
WORKAROUNDS = [
    ("stream_merging", "MYST_NB_VERSION", "myst-nb"),
    ("executed_notebooks", "MYST_NB_VERSION", "myst-nb"),
    ("execution_cache", "JUPYTER_CACHE_VERSION", "jupyter-cache"),
    ("search_stemmer", "SPHINX_VERSION", "sphinx"),
]


@pytest.mark.parametrize(("module", "constant", "library"), WORKAROUNDS)
def test_each_workaround_names_the_pinned_release_and_its_upstream_bug(
    extensions, module, constant, library
):
    extension = getattr(extensions, module)
    assert getattr(extension, constant) == pinned_versions()[library], (
        f"constraints.txt pins another {library} than docs/_ext/{module}.py was written for"
    )
    assert extension.UPSTREAM.startswith("https://github.com/"), extension.UPSTREAM
    assert extension.UPSTREAM in (extension.__doc__ or ""), "the docstring names the bug"


def test_the_version_guard_stops_the_build_when_a_library_moves(extensions):
    from sphinx.errors import ExtensionError

    installed = importlib.metadata.version("sphinx")
    extensions.upstream.require_version("sphinx", installed, "a fix", "https://example.org/1")
    with pytest.raises(
        ExtensionError,
        match=rf"a fix was written for sphinx 0\.1, but sphinx "
        rf"{re.escape(installed)} is installed\. See https://example\.org/1",
    ):
        extensions.upstream.require_version("sphinx", "0.1", "a fix", "https://example.org/1")


# --- the built site ---------------------------------------------------------------------


def site_pages(edition: str) -> list[Path]:
    root = SITE / edition
    return sorted(
        path for path in root.rglob("*.html") if not path.relative_to(root).parts[0].startswith("_")
    )


def notebook_pages() -> list[str]:
    """Pages written as notebooks (``file_format: mystnb``): they offer a download."""
    return sorted(
        path.stem
        for path in DOCS.glob("*.md")
        if re.search(r"^file_format:\s*mystnb\s*$", path.read_text(encoding="utf-8"), re.M)
    )


@pytest.fixture(scope="module")
def site() -> Path:
    if not all((SITE / edition / "index.html").is_file() for edition in EDITIONS):
        pytest.fail(NOT_BUILT)
    return SITE


def soup(path: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@pytest.mark.site
def test_site_layout(site: Path):
    for edition in EDITIONS:
        assert (site / edition / "index.html").is_file()
        assert (site / edition / "searchindex.js").is_file()
    assert (site / "index.html").is_file()
    assert not (site / "jupyter_execute").exists(), "executed notebooks leaked into the site root"


@pytest.mark.site
def test_root_page_offers_both_editions_without_javascript(site: Path):
    page = soup(site / "index.html")
    links = {a["href"] for a in page.find_all("a", href=True)}
    assert {"en/index.html", "zh_CN/index.html"} <= links
    script = " ".join(tag.get_text() for tag in page.find_all("script"))
    assert "navigator.languages" in script
    assert "location.replace" in script
    for href in links:
        assert (site / href).is_file(), href


@pytest.mark.site
@pytest.mark.parametrize(("edition", "lang"), EDITIONS.items())
def test_pages_declare_their_language(site: Path, edition: str, lang: str):
    for path in site_pages(edition):
        assert f'<html class="no-js" lang="{lang}"' in path.read_text(encoding="utf-8"), path


# Link relations that make the browser fetch something (canonical or alternate links do not).
FETCHING_LINKS = {"stylesheet", "icon", "preload", "modulepreload", "prefetch", "manifest"}
CSS_EXTERNAL = re.compile(r"""(?:@import\s+|url\(\s*)["']?(?:https?:)?//""", re.I)


def is_external(url: str) -> bool:
    return url.strip().startswith(("http://", "https://", "//"))


@pytest.mark.site
def test_nothing_is_loaded_from_outside_the_site(site: Path):
    offenders = []
    for path in sorted(site.rglob("*.html")):
        document = soup(path)
        for tag in document.find_all(["script", "img", "iframe", "source", "audio", "video"]):
            if tag.get("src") and is_external(tag["src"]):
                offenders.append(f"{path.relative_to(site)}: <{tag.name} src={tag['src']}>")
        for tag in document.find_all("link", href=True):
            if FETCHING_LINKS & set(tag.get("rel", [])) and is_external(tag["href"]):
                offenders.append(f"{path.relative_to(site)}: <link href={tag['href']}>")
        for tag in document.find_all("style"):
            if CSS_EXTERNAL.search(tag.get_text()):
                offenders.append(f"{path.relative_to(site)}: external url() in <style>")
    for path in sorted(site.rglob("*.css")):
        for match in CSS_EXTERNAL.finditer(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(f"{path.relative_to(site)}: {match.group(0)}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_math_is_served_from_the_site(site: Path, edition: str):
    root = site / edition
    mathjax = root / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").is_file()
    fonts = list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) >= 20, fonts
    size = sum(path.stat().st_size for path in mathjax.rglob("*") if path.is_file())
    assert size < 5_000_000, f"{size} bytes of MathJax: only tex-chtml's files should be copied"
    with_math = [path for path in site_pages(edition) if 'class="math' in path.read_text("utf-8")]
    assert with_math, "no page has math to render"
    for path in with_math:
        tags = soup(path).find_all("script", src=True)
        sources = [
            (path.parent / urlsplit(tag["src"]).path).resolve()
            for tag in tags
            if "mathjax" in tag["src"]
        ]
        assert sources == [(mathjax / "tex-chtml.js").resolve()], path


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_language_switch_links_to_the_same_page_in_the_other_edition(site: Path, edition: str):
    root = site / edition
    for path in site_pages(edition):
        switch = soup(path).select_one("nav.edition-switch")
        assert switch is not None, f"{path}: no language switch"
        links = switch.find_all("a", href=True)
        assert {a["data-edition"] for a in links} == set(EDITIONS) - {edition}, path
        for link in links:
            href = link["href"]
            assert not urlsplit(href).scheme, href
            if path.name == "404.html":
                # Served in place of any missing address, at any depth: a site-absolute link.
                assert href.endswith(f"/{link['data-edition']}/404.html"), f"{path}: {href}"
                continue
            assert not href.startswith("/"), href
            target = (path.parent / href).resolve()
            twin = site / link["data-edition"] / path.relative_to(root)
            assert target == twin.resolve(), f"{path}: {href} is not its twin {twin}"
            assert target.is_file(), f"{path}: {href} does not exist"


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_each_notebook_page_offers_its_executed_notebook(site: Path, edition: str):
    import nbformat

    pages = notebook_pages()
    assert pages, "no notebook pages in docs/"
    for page in pages:
        html = site / edition / f"{page}.html"
        assert html.is_file(), html
        links = {a["href"] for a in soup(html).select("a[download]")}
        assert links == {f"_notebooks/{page}.ipynb"}, f"{html}: download links {links}"
        notebook = nbformat.read(site / edition / "_notebooks" / f"{page}.ipynb", as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert any(cell.outputs for cell in code), f"{page}: not executed"
    for path in site_pages(edition):
        if path.stem not in pages:
            assert not soup(path).select("a[download]"), f"{path}: not a notebook page"


@pytest.mark.site
def test_both_editions_share_the_same_executed_outputs(site: Path):
    import nbformat

    for page in notebook_pages():
        outputs = {}
        for edition in EDITIONS:
            notebook = nbformat.read(site / edition / "_notebooks" / f"{page}.ipynb", as_version=4)
            outputs[edition] = [
                (cell.source, cell.get("outputs", []))
                for cell in notebook.cells
                if cell.cell_type == "code"
            ]
        assert outputs["en"] == outputs["zh_CN"], f"{page}: the editions' outputs differ"


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_copy_buttons_go_on_code_not_on_outputs(site: Path, edition: str):
    selector = "div:not(.output) > div.highlight pre"
    script = (site / edition / "_static" / "copybutton.js").read_text(encoding="utf-8")
    assert f"'{selector}'" in script or f'"{selector}"' in script
    assert "'zh-CN'" in script  # the copy button's own Chinese words ("复制", "复制成功!")
    checked = 0
    for page in notebook_pages():
        document = soup(site / edition / f"{page}.html")
        chosen = document.select(selector)
        assert not [pre for pre in chosen if pre.find_parent(class_="cell_output")], page
        inputs = document.select(".cell_input div.highlight pre")
        assert all(pre in chosen for pre in inputs), page
        checked += len(inputs)
    assert checked, "no code cells were found"


@pytest.mark.site
def test_footer_shows_the_versions_the_outputs_were_computed_with(site: Path):
    versions = [
        f"{name} {importlib.metadata.version(name)}"
        for name in ("torch", "numpy", "scipy", "attention_examples")
    ]
    date = re.compile(r"\d{4}-\d{2}-\d{2}")
    for edition in EDITIONS:
        for page in notebook_pages():
            footer = soup(site / edition / f"{page}.html").select_one(".verified-with")
            assert footer is not None, f"{edition}/{page}: no versions in the footer"
            text = " ".join(footer.get_text().split())
            assert all(version in text for version in versions), (edition, page, text)
            assert date.search(text), text


# What a reader of the Chinese edition must meet in Chinese around every page's content.
UI_SELECTORS = (
    ".back-to-top",
    ".toc-title",
    ".skip-to-content",
    ".related-pages .context",
    ".bottom-of-page .left-details",
    ".verified-with",
    ".sidebar-notebook-download",
    "details.hide summary",
)
UI_ATTRIBUTES = ("aria-label", "title", "placeholder")
ALLOWED_LATIN = {"Furo", "English", "Jupyter", "ipynb", "torch", "numpy", "scipy"}
ALLOWED_LATIN_PATTERN = re.compile(r"attention_examples|\d+\.\d+[\w.+]*")


def latin_words(text: str) -> set[str]:
    text = ALLOWED_LATIN_PATTERN.sub(" ", text)
    return set(re.findall(r"[A-Za-z]{2,}", text)) - ALLOWED_LATIN


@pytest.mark.site
def test_the_chinese_edition_speaks_chinese_around_the_content(site: Path):
    problems = []
    titles = set()
    for path in site_pages("en") + site_pages("zh_CN"):
        title = soup(path).find("title")
        titles.add(title.get_text().split(" - ")[0].strip() if title else "")
    for path in site_pages("zh_CN"):
        document = soup(path)
        for selector in UI_SELECTORS:
            for element in document.select(selector):
                for link in element.select(".title"):
                    link.decompose()  # the neighbouring page's title is the page's business
                words = latin_words(element.get_text(" "))
                if words:
                    problems.append(f"{path.name} {selector}: {sorted(words)}")
        for attribute in UI_ATTRIBUTES:
            for element in document.select(f"[{attribute}]"):
                value = element[attribute]
                if value in titles or element.name == "link":
                    continue
                words = latin_words(value)
                if words:
                    problems.append(f"{path.name} [{attribute}={value!r}]")
        # the hint of sphinx-togglebutton's buttons, set per edition in conf.py
        for hint in re.findall(r"let toggleHint\w+ = '([^']*)'", path.read_text("utf-8")):
            if latin_words(hint):
                problems.append(f"{path.name} toggle hint {hint!r}")
    assert not problems, "English left in the Chinese interface:\n" + "\n".join(sorted(problems))


# --- Chinese search -----------------------------------------------------------------------

# (term, page): a search of the Chinese edition for the term must find the page. A chapter's
# terms are checked once its catalog is complete; add the terms of new chapters here.
SEARCH_TERMS = [
    ("注意力", "index"),
    ("多头注意力", "index"),
    ("因果掩码", "index"),
    ("填充掩码", "index"),
    ("自注意力", "index"),
    ("注意力", "glossary"),
    ("自注意力", "glossary"),
    ("因果掩码", "glossary"),
    ("填充掩码", "glossary"),
    ("多头注意力", "glossary"),
    ("注意力分数", "glossary"),
    ("注意力权重", "glossary"),
    ("上下文向量", "glossary"),
    ("缩放点积注意力", "glossary"),
    ("掩码", "glossary"),
    ("归一化", "glossary"),
    ("查询", "glossary"),
    ("词元", "glossary"),
    ("丢弃法", "glossary"),
    ("键值缓存", "glossary"),
    ("加权平均", "weighted_average"),
    ("查询", "weighted_average"),
    ("softmax", "softmax"),
    ("溢出", "softmax"),
    ("数值稳定性", "softmax"),
    ("填充掩码", "masking"),
    ("因果掩码", "masking"),
    ("自注意力", "simple_self_attention"),
    ("上下文向量", "simple_self_attention"),
    ("权重矩阵", "numpy_attention"),
    ("查询", "numpy_attention"),
    ("查询", "self_attention"),
    ("上下文向量", "self_attention"),
    ("因果注意力", "causal_attention"),
    ("丢弃法", "causal_attention"),
    ("多头注意力", "multihead_attention"),
    ("键值缓存", "fast_attention"),
]


def search_index(edition: str) -> dict:
    text = (SITE / edition / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


@pytest.mark.site
@pytest.mark.parametrize(("term", "page"), SEARCH_TERMS, ids=[f"{t}-{p}" for t, p in SEARCH_TERMS])
def test_chinese_search_finds_the_term_on_its_page(site: Path, term: str, page: str):
    catalog = CATALOGS / f"{page}.po"
    assert catalog.is_file(), f"{page} has no Chinese catalog {catalog.name}"
    assert not check_catalogs.check_translated(catalog), f"{catalog.name} is incomplete"
    index = search_index("zh_CN")
    assert page in index["docnames"], f"{page} is not in the Chinese edition"
    number = index["docnames"].index(page)
    found = set()
    for table in ("terms", "titleterms"):
        hits = index[table].get(term.lower(), [])
        found.update(hits if isinstance(hits, list) else [hits])
    assert number in found, (
        f"searching the Chinese edition for {term!r} does not find {page}; it finds "
        f"{sorted(index['docnames'][n] for n in found)}"
    )


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_the_search_script_uses_a_stemmer_it_defines(site: Path, edition: str):
    """Sphinx 9.0 names a ChineseStemmer it never defines; the search page then hangs."""
    script = (site / edition / "_static" / "language_data.js").read_text(encoding="utf-8")
    assignment = re.search(r"window\.Stemmer = (\w+);", script)
    assert assignment is not None
    assert re.search(rf"\bvar {assignment.group(1)}\s*=", script), assignment.group(0)


def test_the_search_dictionary_holds_every_glossary_term():
    import tomllib

    dictionary = DOCS / "locale" / "zh_CN" / "jieba_dict.txt"
    words = {line.split()[0] for line in dictionary.read_text("utf-8").splitlines() if line.strip()}
    with (DOCS / "glossary.toml").open("rb") as file:
        terms = tomllib.load(file)["term"]
    chinese = {term["zh"] for term in terms if re.search(r"[\u4e00-\u9fff]", term["zh"])}
    missing = sorted(chinese - words)
    assert not missing, f"{dictionary.name} lacks the glossary terms {missing}"


def test_printed_text_does_not_depend_on_how_the_kernel_split_it(extensions):
    whole = [{"output_type": "stream", "name": "stdout", "text": "a\n\nb\n"}]
    split = [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "stream", "name": "stderr", "text": "warning\n"},
        {"output_type": "stream", "name": "stdout", "text": "\n"},
        {"output_type": "stream", "name": "stdout", "text": "b\n"},
    ]
    merge_streams = extensions.stream_merging.merge_streams
    merged = merge_streams(split)
    assert [o["text"] for o in merged] == ["a\n\nb\n", "warning\n"]
    assert merge_streams(whole) == whole
    assert split[0]["text"] == "a\n", "the outputs given must not be modified"


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_captions_and_code_blocks_are_accessible(site: Path, edition: str):
    for path in site_pages(edition):
        page = path.read_text(encoding="utf-8")
        headings = re.findall(r'<[^>]*\brole="heading"[^>]*>', page)
        assert all("aria-level=" in tag for tag in headings), path
        assert re.search(r"<pre(?![^>]*tabindex)[\s>]", page) is None, path
