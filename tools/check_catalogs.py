"""Refuse incomplete, stale or inconsistently typeset translation catalogs.

Checks every ``.po`` file of one language (default ``docs/locale/zh_CN/LC_MESSAGES``),
read with Babel's parser (``babel.messages.pofile.read_po``):

- every entry is translated and none is marked fuzzy;
- the header is not fuzzy and has no template placeholder (``YEAR-MO-DA``,
  ``FULL NAME <EMAIL@ADDRESS>`` ...), and no obsolete ``#~`` entry is left;
- the house rules of the Chinese text (see the README's "Translating" section):

  - ``spacing``: no space between a Chinese character (or full-width punctuation) and
    inline code, a role, math or a Latin word or number, nor between two Chinese
    characters: 形状为`(b, T)`的张量, 词元$i$对词元$j$, PyTorch模块;
  - ``punctuation``: full-width punctuation in Chinese sentences: ，；：？！。（） next to
    Chinese text, never the half-width , ; : ? ! . ( );
  - ``chapter link``: a link to a page is written “{doc}`page`”一章 (or after 章, as in
    下一章“{doc}`page`”);
  - ``enumeration``: quoted items of a list are separated by the enumeration comma:
    “查询”、“键”和“值”;
  - ``display math``: a displayed formula is not translated, its ``msgstr`` repeats the
    ``msgid``: Sphinx hands a translated formula of a MyST page to the Markdown parser
    behind a reST ``::`` marker, and the page then shows ``::`` instead of the formula
    (so words in a formula's ``\\text{}`` belong in the prose of the English page);

- with ``--pot-dir`` (templates freshly extracted from the English source by
  ``sphinx-build -b gettext``): every template has its catalog, and each catalog holds
  exactly the template's messages, so a changed English paragraph that was not carried
  into the catalog (``nox -s i18n``) is caught;
- with ``--glossary``: no translation uses a Chinese variant the glossary rejects
  (this is also how the glossary's verb forms, such as 掩蔽 for "to mask", are enforced).

Each problem is printed as ``file:line: problem: text``; the exit status is 1 if there
is any. Used by ``nox -s docs`` before the Chinese edition is built::

    python tools/check_catalogs.py --pot-dir _build/gettext/check --glossary docs/glossary.toml
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.pofile import PoFileError, read_po, unescape

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOGS = ROOT / "docs" / "locale" / "zh_CN" / "LC_MESSAGES"


@dataclass
class Entry:
    """One message of a catalog, with the line numbers of its parts."""

    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0  # the line of msgid
    # per plural index: (line number, the text that line contributes), in order
    msgstr_lines: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(text != "" for text in self.msgstr.values())

    def line_of(self, index: int, offset: int) -> int:
        """The file line that holds character ``offset`` of ``msgstr[index]``."""
        lines = self.msgstr_lines.get(index) or [(self.line, "")]
        position = 0
        for number, text in lines:
            position += len(text)
            if offset < position:
                return number
        return lines[-1][0]


_MSGSTR = re.compile(r'^(?:#~\s*)?msgstr(?:\[(\d+)\])?\s+(".*")\s*$')
_STRING = re.compile(r'^(?:#~\s*)?(".*")\s*$')


def _msgstr_lines(lines: list[str], start: int) -> dict[int, list[tuple[int, str]]]:
    """The msgstr lines of the entry whose msgid is on line ``start`` (1-based)."""
    found: dict[int, list[tuple[int, str]]] = {}
    current: int | None = None
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1].strip()
        keyword = _MSGSTR.match(line)
        string = _STRING.match(line)
        if keyword:
            current = int(keyword.group(1) or 0)
            found[current] = [(number, unescape(keyword.group(2)))]
        elif current is not None and string:
            found[current].append((number, unescape(string.group(1))))
        elif current is not None:
            break
    return found


def read_catalog(path: Path) -> list[Entry]:
    """Parse a .po/.pot file into entries (obsolete ``#~`` entries are kept, flagged).

    Each file is parsed once per version (the checks read every catalog several times).
    """
    stat = path.stat()
    return list(_read_catalog(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=256)
def _read_catalog(path: Path, mtime_ns: int, size: int) -> tuple[Entry, ...]:
    del mtime_ns, size  # part of the cache key only
    try:
        with path.open("rb") as file:
            catalog = read_po(file, charset="utf-8", abort_invalid=True)
    except PoFileError as error:
        raise ValueError(
            f"{path}:{error.lineno + 1}: cannot parse this line of a catalog: {error.line!r}"
        ) from error
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8: {error}") from error
    lines = path.read_text(encoding="utf-8").splitlines()

    def entry(message, *, obsolete: bool) -> Entry:
        if isinstance(message.id, tuple):
            msgid, plural = message.id[0], message.id[1]
            strings = dict(enumerate(message.string))
        else:
            msgid, plural, strings = message.id, None, {0: message.string}
        line = message.lineno or 1
        return Entry(
            msgid=msgid,
            msgctxt=message.context,
            msgid_plural=plural,
            msgstr=strings,
            flags=set(message.flags),
            line=line,
            msgstr_lines=_msgstr_lines(lines, line),
            obsolete=obsolete,
        )

    entries = []
    header_line = _header_line(lines)
    if header_line:
        header = _msgstr_lines(lines, header_line)
        entries.append(
            Entry(
                msgstr={0: "".join(text for _, text in header.get(0, []))},
                flags={"fuzzy"} if catalog.fuzzy else set(),
                line=header_line,
                msgstr_lines=header,
            )
        )
    entries += [entry(message, obsolete=False) for message in catalog if message.id != ""]
    entries += [entry(message, obsolete=True) for message in catalog.obsolete.values()]
    return tuple(sorted(entries, key=lambda item: item.line))


def _header_line(lines: list[str]) -> int:
    """The line of the header's ``msgid ""`` (the first ``msgid`` of the file)."""
    for number, line in enumerate(lines, start=1):
        if line.startswith("msgid "):
            return number if line.strip() == 'msgid ""' else 0
    return 0


def messages(entries: list[Entry]) -> list[Entry]:
    """The live messages: no header, no obsolete entries."""
    return [entry for entry in entries if not entry.is_header and not entry.obsolete]


def _show(msgid: str, limit: int = 90) -> str:
    text = " ".join(msgid.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def check_translated(path: Path) -> list[str]:
    """Untranslated and fuzzy entries of one catalog, as ``file:line: problem: msgid``."""
    problems = []
    for entry in messages(read_catalog(path)):
        if entry.fuzzy:
            problems.append(f"{_rel(path)}:{entry.line}: fuzzy: {_show(entry.msgid)}")
        elif not entry.translated:
            problems.append(f"{_rel(path)}:{entry.line}: untranslated: {_show(entry.msgid)}")
    return problems


# Template values that the header of a catalog must not keep.
HEADER_PLACEHOLDERS = ("YEAR-MO-DA", "FULL NAME", "EMAIL@ADDRESS", "LL@li.org", "PACKAGE VERSION")


def check_housekeeping(path: Path) -> list[str]:
    """A fuzzy header, template placeholders in it, obsolete ``#~`` entries."""
    problems = []
    entries = read_catalog(path)
    header = next((entry for entry in entries if entry.is_header), None)
    if header is not None:
        if header.fuzzy:
            problems.append(
                f"{_rel(path)}:{header.line}: fuzzy header: fill in its fields and delete "
                "the '#, fuzzy' line above it"
            )
        for number, text in header.msgstr_lines.get(0, []):
            for placeholder in HEADER_PLACEHOLDERS:
                if placeholder in text:
                    problems.append(
                        f"{_rel(path)}:{number}: header placeholder {placeholder!r}: {_show(text)}"
                    )
    for entry in entries:
        if entry.obsolete:
            problems.append(
                f"{_rel(path)}:{entry.line}: obsolete entry (delete its '#~' lines): "
                f"{_show(entry.msgid)}"
            )
    return problems


def check_up_to_date(catalog_dir: Path, pot_dir: Path) -> list[str]:
    """Compare each catalog's messages with the template extracted from the source."""
    problems = []
    pots = sorted(pot_dir.rglob("*.pot"))
    if not pots:
        return [f"{_rel(pot_dir)}: no .pot templates found (run sphinx-build -b gettext)"]
    for pot in pots:
        relative = pot.relative_to(pot_dir).with_suffix(".po")
        po = catalog_dir / relative
        source = {entry.key: entry for entry in messages(read_catalog(pot))}
        if not po.exists():
            problems.append(
                f"{_rel(po)}:1: missing catalog for {relative.with_suffix('').as_posix()} "
                f"({len(source)} messages): run nox -s i18n and translate it"
            )
            continue
        translated = {entry.key: entry for entry in messages(read_catalog(po))}
        for key, entry in source.items():
            if key not in translated:
                problems.append(
                    f"{_rel(po)}:1: not in the catalog (source changed; run nox -s i18n): "
                    f"{_show(entry.msgid)}"
                )
        for key, entry in translated.items():
            if key not in source:
                problems.append(
                    f"{_rel(po)}:{entry.line}: no longer in the source (run nox -s i18n): "
                    f"{_show(entry.msgid)}"
                )
    templates = {pot.relative_to(pot_dir).with_suffix(".po") for pot in pots}
    for po in sorted(catalog_dir.rglob("*.po")):
        if po.relative_to(catalog_dir) not in templates:
            problems.append(f"{_rel(po)}:1: catalog of a page that no longer exists")
    return problems


def load_rejected(glossary: Path) -> dict[str, str]:
    """Rejected Chinese variant -> the glossary's term to use instead."""
    with glossary.open("rb") as file:
        terms = tomllib.load(file)["term"]
    return {variant: term["zh"] for term in terms for variant in term.get("rejected", [])}


def check_glossary(path: Path, rejected: dict[str, str]) -> list[str]:
    """Translations in one catalog that use a variant the glossary rejects."""
    problems = []
    for entry in messages(read_catalog(path)):
        for index, text in entry.msgstr.items():
            for variant, term in rejected.items():
                for found in re.finditer(re.escape(variant), text):
                    number = entry.line_of(index, found.start())
                    problems.append(
                        f"{_rel(path)}:{number}: rejected variant {variant!r}, "
                        f"the glossary term is {term!r}: {_excerpt(text, found.start())}"
                    )
    return problems


# --- the house rules of the Chinese text -------------------------------------------------

# Chinese characters, and the full-width punctuation of Chinese sentences.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
FULLWIDTH = "，。、；：？！“”‘’（）《》〈〉【】…—"
CHINESE = re.compile(f"[{HAN}{FULLWIDTH}]")
HAN_CHAR = re.compile(f"[{HAN}]")
# Latin words, numbers and the signs written with them (70%, -2, In [8]); not the
# emphasis delimiters * and _, which may need a space to be recognised
LATIN = re.compile(r"[!-)+-^a-~−±×°]")

# Markup whose inside is not Chinese prose: roles, inline code, math, link targets.
MARKUP = re.compile(
    r"(?P<role>\{[\w:.+-]+\}(?P<rticks>`+).+?(?P=rticks))"
    r"|(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|(?P<math>\$\$.+?\$\$|(?<![\\$])\$(?=\S)(?:\\.|[^$\\])+?(?<=\S)\$)"
    r"|(?P<target>\]\([^)\s]*\)|<https?://[^>\s]+>)"
    # a call or a tuple of numbers written as plain text: torch.tril(x), (10, 0)
    r"|(?P<expression>[A-Za-z_][\w.]*\([^()]*\)|\(\s*-?[\d.]+(?:\s*,\s*-?[\d.]+)+\s*\))",
    re.S,
)
ROLE_DOC = re.compile(r"\{doc\}`(?P<target>[^`<]+)`")
HALF_PUNCT = re.compile(
    f"(?<=[{HAN}])[,;:?!.](?!\\d)|[,;:?!]\\s*(?=[{HAN}])"
    f"|(?<=[{HAN}])\\s*\\(|\\(\\s*(?=[{HAN}])|(?<=[{HAN}])\\s*\\)|\\)\\s*(?=[{HAN}])"
)
QUOTED_LIST = re.compile(r"”[ \t]*“")
DISPLAY_MATH = (
    "display math: keep the formula exactly as in msgid (a translated formula shows as '::')"
)
LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")


def _excerpt(text: str, offset: int, width: int = 24) -> str:
    start, end = max(0, offset - width), min(len(text), offset + width)
    return (
        ("…" if start else "")
        + _show(text[start:end], 2 * width + 2)
        + ("…" if end < len(text) else "")
    )


def _tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of every stretch: ``prose`` or a markup kind."""
    position = 0
    for found in MARKUP.finditer(text):
        if found.start() > position:
            yield position, found.start(), "prose"
        yield found.start(), found.end(), str(found.lastgroup)
        position = found.end()
    if position < len(text):
        yield position, len(text), "prose"


def is_display_math(entry: Entry) -> bool:
    """A displayed formula: LaTeX commands, and no inline math, code or role around them."""
    source = entry.msgid
    return bool(LATEX_COMMAND.search(source)) and not re.search(r"[$`]", source)


def _spacing(text: str) -> Iterator[tuple[int, str]]:
    """Whitespace that separates Chinese from code, roles, math, Latin or Chinese."""
    tokens = list(_tokens(text))
    for index, (start, end, kind) in enumerate(tokens):
        if kind != "prose":
            continue
        prose = text[start:end]
        for gap in re.finditer(r"[ \t]+", prose):
            left_at, right_at = start + gap.start() - 1, start + gap.end()
            if left_at < start and index > 0:
                left = "markup"
            elif left_at >= start:
                left = text[left_at]
            else:
                continue
            if right_at >= end and index + 1 < len(tokens):
                right = "markup"
            elif right_at < end:
                right = text[right_at]
            else:
                continue
            sides = [left, right]
            chinese = [side != "markup" and bool(CHINESE.fullmatch(side)) for side in sides]
            other = [
                side == "markup" or bool(LATIN.fullmatch(side)) or bool(CHINESE.fullmatch(side))
                for side in sides
            ]
            if any(chinese) and all(other):
                yield start + gap.start(), "spacing: no space next to Chinese text"


def _punctuation(text: str) -> Iterator[tuple[int, str]]:
    for start, end, kind in _tokens(text):
        if kind != "prose":
            continue
        for found in HALF_PUNCT.finditer(text, start, end):
            mark = found.group().strip()
            yield found.start(), f"punctuation: half-width {mark!r} in a Chinese sentence"


def _chapter_links(text: str) -> Iterator[tuple[int, str]]:
    for start, end, kind in _tokens(text):
        found = ROLE_DOC.fullmatch(text, start, end) if kind == "role" else None
        if found is None:
            continue
        before, after = text[:start], text[end:]
        quoted = before.endswith("“") and after.startswith("”")
        named = after.startswith(("”一章", "”一页")) or before[:-1].endswith("章")
        if not (quoted and named):
            yield start, "chapter link: write “{doc}`" + found.group("target") + "`”一章"


def _enumeration(text: str) -> Iterator[tuple[int, str]]:
    for start, end, kind in _tokens(text):
        if kind != "prose":
            continue
        for found in QUOTED_LIST.finditer(text, start, end):
            yield found.start(), "enumeration: separate quoted items with 、, as ”、“"


def rule_problems(text: str) -> list[tuple[int, str]]:
    """(offset, problem) for each break of the house rules in one translated text."""
    if not HAN_CHAR.search(text):
        return []
    return sorted(
        [*_spacing(text), *_punctuation(text), *_chapter_links(text), *_enumeration(text)]
    )


def check_house_rules(path: Path) -> list[str]:
    """The house rules of the Chinese text (module docstring), as ``file:line: rule``."""
    problems = []
    for entry in messages(read_catalog(path)):
        for index, text in entry.msgstr.items():
            if is_display_math(entry):
                found = [] if text == entry.msgid else [(0, DISPLAY_MATH)]
            else:
                found = rule_problems(text)
            for offset, problem in found:
                number = entry.line_of(index, offset)
                problems.append(f"{_rel(path)}:{number}: {problem}: {_excerpt(text, offset)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "catalogs",
        nargs="?",
        type=Path,
        default=DEFAULT_CATALOGS,
        help=f"directory of .po files (default: {_rel(DEFAULT_CATALOGS)})",
    )
    parser.add_argument("--pot-dir", type=Path, help="templates freshly extracted from the source")
    parser.add_argument("--glossary", type=Path, help="glossary.toml whose rejected variants fail")
    args = parser.parse_args(argv)

    if not args.catalogs.is_dir():
        print(f"{args.catalogs}: not a directory of catalogs", file=sys.stderr)
        return 1
    catalogs = sorted(args.catalogs.rglob("*.po"))
    problems: list[str] = []
    for po in catalogs:
        problems += check_translated(po)
        problems += check_housekeeping(po)
        problems += check_house_rules(po)
    if args.pot_dir is not None:
        problems += check_up_to_date(args.catalogs, args.pot_dir)
    if args.glossary is not None:
        rejected = load_rejected(args.glossary)
        for po in catalogs:
            problems += check_glossary(po, rejected)

    for problem in problems:
        print(problem)
    if problems:
        print(
            f"\n{len(problems)} problem(s) in {_rel(args.catalogs)}. To fix: nox -s i18n, "
            "translate each entry, delete its '#, fuzzy' line, follow the house rules of "
            "the README's Translating section, rebuild.",
            file=sys.stderr,
        )
        return 1
    print(f"{len(catalogs)} catalogs in {_rel(args.catalogs)}: complete and up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
