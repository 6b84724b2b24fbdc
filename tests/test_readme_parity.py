"""README.zh-CN.md covers every section of README.md, so the two cannot drift apart.

The sections are paired in order (``##`` headings). Each pair must hold the same inline
code, the same commands and paths in its code blocks, the same links, and tables of the
same rows (same code and numbers in each row), so a paragraph that names a command, a
variable or a file in one README and not in the other fails with its section named.
The Chinese README also follows the house rules of the Chinese text.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = ROOT / "README.md"
CHINESE = ROOT / "README.zh-CN.md"

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
CODE = re.compile(r"(`+)(.+?)\1")
URL = re.compile(r"<(https?://[^>]+)>|\]\(([^)\s]+)\)")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Section:
    """One ``##`` section of a README (the preamble is the section before the first)."""

    title: str
    text: str = ""
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (language, body)

    @property
    def prose(self) -> str:
        return FENCE.sub("", self.text)

    @property
    def table_rows(self) -> list[str]:
        rows = [line for line in self.prose.splitlines() if line.startswith("|")]
        return [row for row in rows if not re.fullmatch(r"[|\s:-]+", row)][1:]  # no header


def sections(path: Path) -> list[Section]:
    found = [Section("(preamble)")]
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("## "):
            found.append(Section(line[3:].strip()))
        else:
            found[-1].text += line
    for section in found:
        section.blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(section.text)]
    return found


def inline_code(text: str) -> Counter[str]:
    return Counter(match.group(2).strip() for match in CODE.finditer(text))


def commands(language: str, body: str) -> list[str]:
    """What a code block says regardless of language: commands, or the paths of a tree."""
    lines = [line for line in body.splitlines() if line.strip()]
    if language == "text":
        return [line.split()[0] for line in lines]
    return [line for line in lines if not line.lstrip().startswith("#")]


def links(text: str) -> set[str]:
    return {a or b for a, b in URL.findall(text)} - {"README.md", "README.zh-CN.md"}


def row_facts(row: str) -> tuple[Counter[str], Counter[str]]:
    without_code = CODE.sub(" ", row)
    return inline_code(row), Counter(NUMBER.findall(without_code))


ENGLISH_SECTIONS = sections(ENGLISH)
CHINESE_SECTIONS = sections(CHINESE)
PAIRS = list(zip(ENGLISH_SECTIONS, CHINESE_SECTIONS, strict=False))


def test_every_section_has_its_counterpart():
    english = [section.title for section in ENGLISH_SECTIONS]
    chinese = [section.title for section in CHINESE_SECTIONS]
    assert len(english) == len(chinese), (
        f"README.md has {len(english)} sections {english}, "
        f"README.zh-CN.md has {len(chinese)} {chinese}: they must correspond one to one"
    )


@pytest.mark.parametrize(("english", "chinese"), PAIRS, ids=[pair[0].title for pair in PAIRS])
def test_the_sections_say_the_same_things(english: Section, chinese: Section):
    where = f"section {english.title!r} / {chinese.title!r}"
    assert inline_code(chinese.prose) == inline_code(english.prose), (
        f"{where}: inline code differs; only in README.md: "
        f"{sorted((inline_code(english.prose) - inline_code(chinese.prose)).elements())}, "
        f"only in README.zh-CN.md: "
        f"{sorted((inline_code(chinese.prose) - inline_code(english.prose)).elements())}"
    )
    assert [commands(*block) for block in chinese.blocks] == [
        commands(*block) for block in english.blocks
    ], f"{where}: the code blocks differ"
    assert links(chinese.prose) == links(english.prose), f"{where}: the links differ"
    assert len(chinese.table_rows) == len(english.table_rows), f"{where}: table rows differ"
    for row_en, row_zh in zip(english.table_rows, chinese.table_rows, strict=True):
        assert row_facts(row_zh) == row_facts(row_en), f"{where}: {row_en!r} vs {row_zh!r}"


def test_each_readme_links_to_the_other():
    assert "(README.zh-CN.md)" in ENGLISH_SECTIONS[0].text
    assert "(README.md)" in CHINESE_SECTIONS[0].text


def test_the_title_is_the_same_in_both():
    first = [path.read_text(encoding="utf-8").splitlines()[0] for path in (ENGLISH, CHINESE)]
    english_title, chinese_title = (part.strip() for part in first[0][2:].split("·"))
    assert set(first[1][2:].split(" · ")) == {english_title, chinese_title}


def prose_pieces(text: str) -> list[str]:
    """The text of each line without Markdown's own syntax (headings, lists, table bars)."""
    pieces = []
    for line in FENCE.sub("", text).splitlines():
        line = re.sub(r"^\s*(?:#+ |- |\d+\. )?", "", line)
        if line.startswith("|"):
            pieces += [cell.strip() for cell in line.strip("|").split("|")]
        else:
            pieces.append(line.strip())
    return [piece for piece in pieces if piece]


def test_the_chinese_readme_follows_the_house_rules():
    check_catalogs = load_module("check_catalogs", ROOT / "tools" / "check_catalogs.py")
    problems = [
        f"README.zh-CN.md: {problem}: {piece[:60]}"
        for piece in prose_pieces(CHINESE.read_text(encoding="utf-8"))
        for _, problem in check_catalogs.rule_problems(piece)
    ]
    assert not problems, "\n".join(problems)


def test_the_chinese_readme_does_not_break_lines_inside_sentences():
    """A line break between two Chinese characters shows as a stray space in a browser."""
    text = FENCE.sub("", CHINESE.read_text(encoding="utf-8"))
    han = re.compile(r"[\u4e00-\u9fff，、；：（“]")
    new_block = re.compile(r"#|\||- |\d+\. ")
    lines = text.splitlines()
    broken = [
        line
        for line, following in itertools.pairwise(lines)
        if line and han.fullmatch(line[-1]) and following and not new_block.match(following)
    ]
    assert not broken, broken


def test_the_parity_check_catches_a_missing_paragraph(tmp_path: Path):
    """The check can fail: drop the SOURCE_DATE_EPOCH sentence from the Chinese site section."""
    site = next(pair for pair in PAIRS if pair[0].title == "The site")
    damaged = Section(site[1].title, re.sub(r"[^\n]*SOURCE_DATE_EPOCH[^\n]*", "", site[1].text))
    damaged.blocks = site[1].blocks
    with pytest.raises(AssertionError, match="SOURCE_DATE_EPOCH"):
        test_the_sections_say_the_same_things(site[0], damaged)
