"""The bilingual glossary (docs/glossary.toml) and its use in the Chinese catalogs.

The glossary fixes one Chinese term per concept and lists the variants the book does not
use. These tests refuse any such variant in a translation of docs/locale/zh_CN (reported
as file:line), check that the glossary itself is consistent, and that the rendered
glossary page shows it in each edition.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import textwrap
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GLOSSARY = DOCS / "glossary.toml"
CATALOGS = DOCS / "locale" / "zh_CN" / "LC_MESSAGES"
SITE = Path(os.environ.get("BOOK_SITE_DIR", ROOT / "_build" / "site")).resolve()
CJK = re.compile(r"[\u4e00-\u9fff]")


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


check_catalogs = load_module("check_catalogs", ROOT / "tools" / "check_catalogs.py")
glossary_table = load_module("glossary_table", DOCS / "_ext" / "glossary_table.py")


@pytest.fixture(scope="module")
def terms() -> list[dict]:
    return glossary_table.load_glossary(GLOSSARY)


def test_every_term_is_complete(terms):
    assert len(terms) >= 20
    for term in terms:
        for field in ("en", "zh", "en_note", "zh_note"):
            assert term[field].strip(), f"{term['en']!r}: empty {field}"
        assert CJK.search(term["zh_note"]), f"{term['en']!r}: zh_note is not in Chinese"
        assert all(variant.strip() for variant in term["rejected"]), term["en"]


def test_the_terms_the_book_relies_on_are_fixed(terms):
    """The concepts the design names, with the Chinese term it names for each."""
    chosen = {term["en"]: term["zh"] for term in terms}
    expected = {
        "query": "查询",
        "key": "键",
        "value": "值",
        "attention score": "注意力分数",
        "attention weight": "注意力权重",
        "context vector": "上下文向量",
        "causal mask": "因果掩码",
        "padding mask": "填充掩码",
        "self-attention": "自注意力",
        "multi-head attention": "多头注意力",
        "scaled dot-product attention": "缩放点积注意力",
    }
    assert {name: chosen.get(name) for name in expected} == expected
    rejected = {term["en"]: term["rejected"] for term in terms}
    assert "注意力得分" in rejected["attention score"]  # the variant the seeds also use


def test_one_chinese_term_per_concept(terms):
    seen: dict[str, str] = {}
    for term in terms:
        assert term["zh"] not in seen, (
            f"{term['zh']!r} translates both {seen.get(term['zh'])!r} and {term['en']!r}"
        )
        seen[term["zh"]] = term["en"]


def test_no_rejected_variant_is_part_of_an_accepted_term(terms):
    """Otherwise the check would refuse the glossary's own terms."""
    accepted = [term["zh"] for term in terms]
    clashes = [
        f"{variant!r} (rejected for {term['en']!r}) is part of {chosen!r}"
        for term in terms
        for variant in term["rejected"]
        for chosen in accepted
        if variant in chosen
    ]
    assert not clashes, "\n".join(clashes)


def test_the_glossary_notes_use_the_glossary(terms):
    """A note may name a rejected variant only as a name used elsewhere (``elsewhere``)."""
    rejected = check_catalogs.load_rejected(GLOSSARY)
    found = [
        f"{term['en']!r}: zh_note uses {variant!r}"
        for term in terms
        for variant in rejected
        if variant in term["zh_note"]
        and not any(variant in name for name in term.get("elsewhere", []))
    ]
    assert not found, "\n".join(found)


def test_the_names_used_elsewhere_are_given_in_the_note(terms):
    """Readers of other books meet these names: the note says so, and they are not `zh`."""
    with_names = [term for term in terms if term.get("elsewhere")]
    assert {term["en"] for term in with_names} >= {"dropout", "KV cache"}
    for term in with_names:
        for name in term["elsewhere"]:
            assert name in term["zh_note"], f"{term['en']!r}: zh_note does not name {name!r}"
            assert name != term["zh"], term["en"]


def test_the_verb_to_mask_is_fixed(terms):
    chosen = {term["en"]: term for term in terms}
    assert chosen["to mask"]["zh"] == "掩蔽"
    assert "掩盖" in chosen["to mask"]["rejected"]


def test_the_glossary_notes_follow_the_house_rules(terms):
    """The notes are Chinese text of the book too (spacing, punctuation ...)."""
    found = [
        f"{term['en']!r}: {problem} at {offset}: {term['zh_note']}"
        for term in terms
        for offset, problem in check_catalogs.rule_problems(term["zh_note"])
    ]
    assert not found, "\n".join(found)


def test_the_loader_rejects_an_incomplete_glossary(tmp_path: Path):
    broken = tmp_path / "glossary.toml"
    broken.write_text('[[term]]\nen = "query"\nzh = "查询"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks rejected, en_note, zh_note"):
        glossary_table.load_glossary(broken)


def test_the_term_anchors_are_readable():
    assert glossary_table.term_id("scaled dot-product attention") == (
        "term-scaled-dot-product-attention"
    )
    assert glossary_table.term_id("KV cache") == "term-kv-cache"


# --- the check of the Chinese catalogs ----------------------------------------------------


def rejected_variants_in(catalog_dir: Path) -> list[str]:
    rejected = check_catalogs.load_rejected(GLOSSARY)
    return [
        problem
        for po in sorted(catalog_dir.rglob("*.po"))
        for problem in check_catalogs.check_glossary(po, rejected)
    ]


def test_the_chinese_catalogs_use_no_rejected_variant():
    assert sorted(CATALOGS.glob("*.po")), f"no catalogs in {CATALOGS}"
    problems = rejected_variants_in(CATALOGS)
    assert not problems, "translations that use a variant the glossary rejects:\n" + "\n".join(
        problems
    )


def test_a_rejected_variant_is_reported_with_file_and_line(tmp_path: Path):
    po = tmp_path / "page.po"
    po.write_text(
        textwrap.dedent(
            """\
            msgid ""
            msgstr ""
            "Language: zh_CN\\n"

            msgid "The attention scores of the query."
            msgstr "查询的注意力分数。"

            msgid ""
            "Softmax turns the attention scores into "
            "attention weights."
            msgstr ""
            "softmax 把注意力得分"
            "变成注意力权重。"
            """
        ),
        encoding="utf-8",
    )
    lines = po.read_text(encoding="utf-8").splitlines()
    bad_line = next(n for n, line in enumerate(lines, 1) if "注意力得分" in line)
    problems = rejected_variants_in(tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{po}:{bad_line}: rejected variant '注意力得分'")
    assert "'注意力分数'" in problems[0]


def test_the_command_line_check_fails_on_a_rejected_variant(tmp_path: Path, capsys):
    po = tmp_path / "page.po"
    po.write_text('msgid "Causal mask"\nmsgstr "因果遮罩"\n', encoding="utf-8")
    status = check_catalogs.main([str(tmp_path), "--glossary", str(GLOSSARY)])
    assert status == 1
    assert (
        f"{po}:2: rejected variant '遮罩', the glossary term is '掩码'" in capsys.readouterr().out
    )


# --- the rendered page --------------------------------------------------------------------


def plain(text: str) -> str:
    """Whitespace collapsed, and the English edition's typographic quotes made straight."""
    straight = text.translate(str.maketrans({"’": "'", "‘": "'"}))
    if not CJK.search(straight):
        straight = straight.replace("“", '"').replace("”", '"')
    return " ".join(straight.split())


@pytest.mark.parametrize(("edition", "note"), [("en", "en_note"), ("zh_CN", "zh_note")])
def test_the_glossary_page_shows_every_term(terms, edition: str, note: str):
    from bs4 import BeautifulSoup

    page = SITE / edition / "glossary.html"
    if not page.is_file():
        pytest.fail(f"the site is not built in {SITE}: run `python3 -m nox -s docs` first")
    document = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    rows = document.select("table.glossary-table tbody tr")
    assert len(rows) == len(terms)
    for row, term in zip(rows, terms, strict=True):
        cells = [plain(cell.get_text()) for cell in row.find_all("td")]
        assert row.get("id") == glossary_table.term_id(term["en"])
        assert cells[:3] == [term["en"], term["zh"], plain(term[note])]
        for variant in term["rejected"]:
            assert variant in cells[3]


def test_the_glossary_file_is_valid_toml():
    with GLOSSARY.open("rb") as file:
        assert isinstance(tomllib.load(file)["term"], list)
