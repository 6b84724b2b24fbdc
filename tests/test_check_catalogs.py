"""The house rules of the Chinese text, as ``tools/check_catalogs.py`` enforces them.

Each rule is shown to catch a bad example and to pass the good one, on a single
translation and through a catalog file (reported as ``file:line``). The last tests run
every rule over the repository's catalogs, which must all pass. The parser and the
completeness checks are tested in tests/test_editions.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "docs" / "locale" / "zh_CN" / "LC_MESSAGES"
GLOSSARY = ROOT / "docs" / "glossary.toml"


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
# The Chinese translation of page, a page of Attention, step by step.
msgid ""
msgstr ""
"Project-Id-Version: Attention, step by step 0.1.0\\n"
"PO-Revision-Date: 2026-12-03 08:00+0000\\n"
"Last-Translator: The attention book authors\\n"
"Language: zh_CN\\n"
"Language-Team: Chinese (Simplified)\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"""


def rules(text: str) -> list[str]:
    """The names of the rules a translation breaks (``spacing``, ``punctuation`` ...)."""
    return [problem.split(":")[0] for _, problem in check_catalogs.rule_problems(text)]


def catalog(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    po = tmp_path / "zh_CN" / "page.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    po.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return po


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


# --- one rule at a time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ("形状为 `(b, T)` 的张量", "形状为`(b, T)`的张量"),
        ("词元 $i$ 对词元 $j$ 的分数", "词元$i$对词元$j$的分数"),
        ("写成 PyTorch 模块", "写成PyTorch模块"),
        ("介于 0.56 与 1.85 之间", "介于0.56与1.85之间"),
        ("把 70% 的注意力给它", "把70%的注意力给它"),
        ("见 {ref}`讲缩放的那一节 <why-scale>`", "见{ref}`讲缩放的那一节 <why-scale>`"),
        ("查询 “journey”", "查询“journey”"),
        ("注意力 权重", "注意力权重"),
    ],
)
def test_spacing_no_space_next_to_chinese(bad: str, good: str):
    assert "spacing" in rules(bad)
    assert rules(good) == []


def test_spacing_leaves_code_math_roles_and_emphasis_alone():
    """Spaces inside code, math and a role's text, and around emphasis, are not prose."""
    assert rules("调用`f(a, b)`后，$a + b$的值见{ref}`这一节 <x>`") == []
    assert rules("在softmax *之前*修改分数") == []  # CommonMark may need that space
    assert rules("“Your journey starts with one step”是例句") == []


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ("分数为负,权重为正", "分数为负，权重为正"),
        ("一个例子:查询", "一个例子：查询"),
        ("这是一个词元.", "这是一个词元。"),
        ("嵌入(embedding)", "嵌入（embedding）"),
        ("权重（见下图)", "权重（见下图）"),
    ],
)
def test_punctuation_is_full_width_in_chinese_sentences(bad: str, good: str):
    assert "punctuation" in rules(bad)
    assert rules(good) == []


def test_punctuation_leaves_calls_numbers_and_tuples_alone():
    assert rules("值为(10, 0)和(0, 10)的平均") == []
    assert rules("torch.manual_seed(123)之后抽取的权重") == []
    assert rules("放大因子为1.25，即1/(1-p)") == []


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ("见{doc}`softmax`。", "见“{doc}`softmax`”一章。"),
        ("“{doc}`softmax`”会解释它。", "下一章“{doc}`softmax`”会解释它。"),
        ("{doc}`glossary`给出了术语。", "“{doc}`glossary`”一页给出了术语。"),
    ],
)
def test_chapter_links_are_quoted_and_named(bad: str, good: str):
    assert rules(bad) == ["chapter link"]
    assert rules(good) == []


def test_quoted_items_of_a_list_take_the_enumeration_comma():
    assert rules("给“Your”“with”和“step”稍少一些") == ["enumeration"]
    assert rules("给“Your”、“with”和“step”稍少一些") == []


def formula_catalog(tmp_path: Path, msgstr: str) -> Path:
    formula = r"\\alpha_{ij} = 0 \\quad \\text{for } j > i"
    return catalog(tmp_path, f'\n#: page.md:5\nmsgid "{formula}"\nmsgstr "{msgstr}"\n')


def test_a_displayed_formula_is_kept_as_it_is(tmp_path: Path):
    """Sphinx shows a translated formula of a MyST page as '::': formulas stay untranslated."""
    kept = formula_catalog(tmp_path, r"\\alpha_{ij} = 0 \\quad \\text{for } j > i")
    assert check_catalogs.check_house_rules(kept) == []
    translated = formula_catalog(tmp_path, r"\\alpha_{ij} = 0 \\quad \\text{当 } j > i \\text{ 时}")
    problems = check_catalogs.check_house_rules(translated)
    line = line_of(translated, "当")
    assert [problem.split(": ")[:2] for problem in problems] == [
        [f"{translated}:{line}", "display math"]
    ]


def test_an_entry_is_display_math_by_its_msgid():
    assert check_catalogs.is_display_math(check_catalogs.Entry(msgid=r"\omega_{ij} = q \cdot k"))
    assert not check_catalogs.is_display_math(check_catalogs.Entry(msgid=r"Divide by $\sqrt{d}$."))


# --- through a catalog file, as file:line ----------------------------------------------------


def test_house_rules_report_the_line_of_a_wrapped_translation(tmp_path: Path):
    po = catalog(
        tmp_path,
        """
        #: page.md:3
        msgid "Scores of token $i$ and weights."
        msgstr ""
        "词元$i$的注意力分数，"
        "以及 PyTorch 算出的权重。"

        #: page.md:5
        msgid "\\\\alpha_{ij} = 0 \\\\quad \\\\text{for } j > i"
        msgstr "\\\\alpha_{ij} = 0 \\\\quad (j > i)"
        """,
    )
    problems = check_catalogs.check_house_rules(po)
    spaced, formula = line_of(po, "以及 PyTorch"), line_of(po, 'msgstr "\\\\alpha')
    assert [problem.split(": ")[0:2] for problem in problems] == [
        [f"{po}:{spaced}", "spacing"],
        [f"{po}:{spaced}", "spacing"],
        [f"{po}:{formula}", "display math"],
    ]


def test_a_fuzzy_header_with_placeholders_fails(tmp_path: Path):
    template_header = textwrap.dedent(
        """\
        # SOME DESCRIPTIVE TITLE.
        #, fuzzy
        msgid ""
        msgstr ""
        "PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\\n"
        "Last-Translator: FULL NAME <EMAIL@ADDRESS>\\n"
        "Language-Team: zh_CN <LL@li.org>\\n"
        "Content-Type: text/plain; charset=utf-8\\n"
        """
    )
    po = catalog(tmp_path, '\nmsgid "Attention"\nmsgstr "注意力"\n', header=template_header)
    problems = check_catalogs.check_housekeeping(po)
    header = line_of(po, 'msgid ""')
    assert problems[0].startswith(f"{po}:{header}: fuzzy header")
    placeholders = sorted(problem.split("'")[1] for problem in problems[1:])
    assert placeholders == ["EMAIL@ADDRESS", "FULL NAME", "LL@li.org", "YEAR-MO-DA"]
    assert any(f"{po}:{line_of(po, 'YEAR-MO-DA')}:" in problem for problem in problems)


def test_a_filled_header_passes(tmp_path: Path):
    po = catalog(tmp_path, '\nmsgid "Attention"\nmsgstr "注意力"\n')
    assert check_catalogs.check_housekeeping(po) == []


def test_obsolete_entries_fail(tmp_path: Path):
    po = catalog(
        tmp_path,
        """
        msgid "Attention"
        msgstr "注意力"

        #~ msgid "A removed paragraph."
        #~ msgstr "已删除的段落。"
        """,
    )
    problems = check_catalogs.check_housekeeping(po)
    obsolete = line_of(po, '#~ msgid "A removed')
    assert problems == [
        f"{po}:{obsolete}: obsolete entry (delete its '#~' lines): A removed paragraph."
    ]


def test_the_command_line_fails_on_a_house_rule(tmp_path: Path, capsys):
    po = catalog(tmp_path, '\nmsgid "See `x`."\nmsgstr "见 `x`。"\n')
    assert check_catalogs.main([str(po.parent)]) == 1
    out = capsys.readouterr().out
    translation = line_of(po, 'msgstr "见')
    assert f"{po}:{translation}: spacing: no space next to Chinese text" in out


def test_the_glossary_verb_form_is_enforced(tmp_path: Path):
    po = catalog(tmp_path, '\nmsgid "mask the future"\nmsgstr "掩盖未来的词元"\n')
    problems = check_catalogs.check_glossary(po, check_catalogs.load_rejected(GLOSSARY))
    translation = line_of(po, 'msgstr "掩盖')
    assert problems == [
        f"{po}:{translation}: rejected variant '掩盖', the glossary term is '掩蔽': 掩盖未来的词元"
    ]


# --- the repository --------------------------------------------------------------------------


def test_the_repository_catalogs_follow_the_house_rules():
    catalogs = sorted(CATALOGS.glob("*.po"))
    assert catalogs, f"no catalogs in {CATALOGS}"
    problems = [
        problem
        for po in catalogs
        for problem in check_catalogs.check_housekeeping(po) + check_catalogs.check_house_rules(po)
    ]
    assert not problems, "\n".join(problems)


def test_the_house_rules_cover_every_translated_page():
    """Every chapter catalog holds Chinese prose that the rules actually read."""
    for po in sorted(CATALOGS.glob("*.po")):
        entries = check_catalogs.messages(check_catalogs.read_catalog(po))
        chinese = [e for e in entries if check_catalogs.HAN_CHAR.search(e.msgstr.get(0, ""))]
        assert chinese, f"{po.name}: no Chinese translation found"


# --- the built site ----------------------------------------------------------------------------

SITE = Path(os.environ.get("BOOK_SITE_DIR", ROOT / "_build" / "site")).resolve()
DISPLAY_MATH = re.compile(r'<div class="math notranslate nohighlight">\s*(.*?)</div>', re.S)


def test_the_chinese_edition_shows_every_displayed_formula_of_the_english_one():
    """A translated formula would show as '::' (why the catalogs keep formulas as they are)."""
    pages = sorted((SITE / "en").glob("*.html"))
    if not pages or not (SITE / "zh_CN" / "index.html").is_file():
        pytest.fail(f"the site is not built in {SITE}: run `python3 -m nox -s docs` first")
    formulas = 0
    for english in pages:
        chinese = SITE / "zh_CN" / english.name
        shown = [
            DISPLAY_MATH.findall(path.read_text(encoding="utf-8")) for path in (english, chinese)
        ]
        assert shown[1] == shown[0], f"{english.name}: the displayed formulas differ"
        formulas += len(shown[0])
    assert formulas >= 20  # the pages were read
