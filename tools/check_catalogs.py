"""Refuse incomplete or stale translation catalogs.

Checks every ``.po`` file of one language (default ``docs/locale/zh_CN/LC_MESSAGES``):

- every entry is translated and none is marked fuzzy;
- with ``--pot-dir`` (templates freshly extracted from the English source by
  ``sphinx-build -b gettext``): every template has its catalog, and each catalog holds
  exactly the template's messages, so a changed English paragraph that was not carried
  into the catalog (``nox -s i18n``) is caught;
- with ``--glossary``: no translation uses a Chinese variant the glossary rejects.

Each problem is printed as ``file:line: problem: msgid``; the exit status is 1 if there
is any. Used by ``nox -s docs`` before the Chinese edition is built::

    python tools/check_catalogs.py --pot-dir _build/gettext/check --glossary docs/glossary.toml
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOGS = ROOT / "docs" / "locale" / "zh_CN" / "LC_MESSAGES"

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b"}
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"\s*$')
_CONTINUATION = re.compile(r'^"(.*)"\s*$')


@dataclass
class Entry:
    """One message of a catalog, with the line numbers of its parts."""

    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0  # the line of msgid
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


def _unquote(text: str, path: Path, line: int) -> str:
    out, chars = [], iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, None)
        if escaped not in _ESCAPES:
            raise ValueError(f"{path}:{line}: unknown escape \\{escaped} in a string")
        out.append(_ESCAPES[escaped])
    return "".join(out)


def read_catalog(path: Path) -> list[Entry]:
    """Parse a .po/.pot file into entries (obsolete ``#~`` entries are kept, flagged)."""
    entries: list[Entry] = []
    entry = Entry()
    current: tuple[str, int] | None = None  # (part, plural index) being continued
    started = False

    def finish() -> None:
        nonlocal entry, current, started
        if started:
            entries.append(entry)
        entry, current, started = Entry(), None, False

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            continue
        if line.startswith("#"):
            if current is not None and current[0] == "msgstr":
                finish()  # a comment after msgstr starts the next entry
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            continue
        keyword = _KEYWORD.match(line)
        if keyword:
            name, text = keyword.group(1), _unquote(keyword.group(2), path, number)
            if name in ("msgctxt", "msgid") and current is not None and current[0] == "msgstr":
                finish()
            started = True
            entry.obsolete = entry.obsolete or obsolete
            if name == "msgctxt":
                entry.msgctxt, current = text, ("msgctxt", 0)
            elif name == "msgid":
                entry.msgid, entry.line, current = text, number, ("msgid", 0)
            elif name == "msgid_plural":
                entry.msgid_plural, current = text, ("msgid_plural", 0)
            else:
                index = int(name[7:-1]) if "[" in name else 0
                entry.msgstr[index] = text
                entry.msgstr_lines.setdefault(index, []).append((number, text))
                current = ("msgstr", index)
            continue
        continuation = _CONTINUATION.match(line)
        if continuation and current is not None:
            text = _unquote(continuation.group(1), path, number)
            part, index = current
            if part == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + text
            elif part == "msgid":
                entry.msgid += text
            elif part == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + text
            else:
                entry.msgstr[index] += text
                entry.msgstr_lines[index].append((number, text))
            continue
        raise ValueError(f"{path}:{number}: cannot parse this line of a catalog: {raw!r}")
    finish()
    return entries


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
        for lines in entry.msgstr_lines.values():
            for number, text in lines:
                for variant, term in rejected.items():
                    if variant in text:
                        problems.append(
                            f"{_rel(path)}:{number}: rejected variant {variant!r}, "
                            f"the glossary term is {term!r}: {_show(text)}"
                        )
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
            "translate each entry, delete its '#, fuzzy' line, rebuild.",
            file=sys.stderr,
        )
        return 1
    print(f"{len(catalogs)} catalogs in {_rel(args.catalogs)}: complete and up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
