"""Compare the printed outputs of the executed book with the seeds' reference outputs.

The reference outputs live in ``tests/reference_outputs/<page>.toml`` (format:
``tests/reference_outputs/README.md``). Each ``[[output]]`` names one code cell of one
page by its tag ``ref-<cell>``. After the build, this module reads the executed
notebooks of an edition, takes the text each tagged cell printed, extracts its numbers
and compares them, in order, with the numbers of the expected text:

>>> [token.text for token in tokenize("context_vec_2: tensor([0.4419, -1.e+09, nan])")]
['0.4419', '-1.e+09', 'nan']
>>> compare_tokens(tokenize("tensor([0.9544, 1.4950])"), tokenize("[0.9545, 1.4950]"))
[]
>>> compare_tokens(tokenize("tensor([0.9544, 1.4950])"), tokenize("[0.9546, 1.4950]"))
['#1: expected 0.9544 (± 0.0001), printed 0.9546']

Run it from the command line after ``nox -s docs``::

    python tools/reference_check.py            # every edition, every page
    python tools/reference_check.py --edition en

``tests/test_reference_outputs.py`` runs the same checks as one test per page and edition.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE_DIR = ROOT / "tests" / "reference_outputs"
EDITIONS = ("en", "zh_CN")
TAG_PREFIX = "ref-"
BUILD_COMMAND = "nox -s docs"


# --- where the build leaves the executed notebooks ---------------------------------


def build_dir() -> Path:
    """The build directory of ``nox -s docs``; ``BOOK_BUILD_DIR`` overrides it."""
    return Path(os.environ.get("BOOK_BUILD_DIR", ROOT / "_build"))


def executed_notebooks(edition: str, build: Path | None = None) -> Path:
    """The directory holding the executed notebooks ``<page>.ipynb`` of one edition.

    myst-nb writes them to ``<sphinx outdir>/../jupyter_execute``; ``nox -s docs`` builds
    edition ``<edition>`` into ``_build/<edition>/html``, so its notebooks are in
    ``_build/<edition>/jupyter_execute``. This function and :func:`built_html` are the
    only places that know the layout of the build.
    """
    return (build or build_dir()) / edition / "jupyter_execute"


def built_html(edition: str, build: Path | None = None) -> Path:
    """The HTML pages of one edition, as Sphinx wrote them (``nox -s docs`` copies them
    into ``_build/site/<edition>``)."""
    return (build or build_dir()) / edition / "html"


# --- tokens: the numbers of a printed text ------------------------------------------

_PROMPT = re.compile(r"^[ \t]*(?:In|Out)[ \t]*\[[ \t]*\d*[ \t]*\]:?", re.MULTILINE)
# A number is not part of an identifier (grad_fn=<MmBackward0>, float32, context_vec_2,
# 0x7f3a) nor of a dotted name or version (torch.float16, 1.2.3). True and False count
# as values (boolean masks) unless they are a keyword argument (requires_grad=True).
_TOKEN = re.compile(
    r"""
    (?<![A-Za-z0-9_.])
    (?:
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<special>[-+]?(?i:inf|nan))
      | (?<!=)(?P<bool>True|False)
    )
    (?![A-Za-z0-9_.])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """One printed value.

    ``unit`` is one unit in the last printed decimal place (``0.0001`` for ``0.9544``,
    ``1E+5`` for ``1.2e+06``) and zero for values printed without fractional digits
    (``3``, ``2.``, ``1.e+09``): PyTorch and NumPy print floats that way only when the
    value is integral, so those must match exactly.
    """

    text: str
    value: Decimal | bool
    unit: Decimal

    @property
    def is_bool(self) -> bool:
        return isinstance(self.value, bool)

    def __str__(self) -> str:
        return self.text


def _unit(number: str) -> Decimal:
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if decimals == 0:
        return Decimal(0)
    return Decimal(1).scaleb(int(exponent or 0) - decimals)


def tokenize(text: str) -> list[Token]:
    """The printed values of ``text``, in order; labels, identifiers and prompts are skipped.

    >>> [t.text for t in tokenize("torch.Size([2, 6, 3]) grad_fn=<MmBackward0>")]
    ['2', '6', '3']
    >>> [t.text for t in tokenize("[ 3.e+00 -1.e+09 -2.e+00] dtype=float32")]
    ['3.e+00', '-1.e+09', '-2.e+00']
    >>> [t.text for t in tokenize("In [21]: [False,  True] requires_grad=True")]
    ['False', 'True']
    >>> tokenize("0.9544")[0].unit, tokenize("2.")[0].unit
    (Decimal('0.0001'), Decimal('0'))
    """
    tokens = []
    for match in _TOKEN.finditer(_PROMPT.sub("", text)):
        if match["bool"]:
            tokens.append(Token(match["bool"], match["bool"] == "True", Decimal(0)))
        elif match["special"]:
            tokens.append(Token(match["special"], Decimal(match["special"]), Decimal(0)))
        else:
            number = match["number"]
            tokens.append(Token(number, Decimal(number), _unit(number)))
    return tokens


def _tolerance(expected: Token, rtol: float, atol: float) -> Decimal:
    assert isinstance(expected.value, Decimal)
    tolerance = expected.unit
    if atol:
        tolerance += Decimal(str(atol))
    if rtol:
        tolerance += Decimal(str(rtol)) * abs(expected.value)
    return tolerance


def token_matches(expected: Token, actual: Token, rtol: float = 0.0, atol: float = 0.0) -> bool:
    """Whether ``actual`` is ``expected`` to the precision ``expected`` was printed with.

    >>> token_matches(tokenize("0.1385")[0], tokenize("0.1384")[0])
    True
    >>> token_matches(tokenize("0.1385")[0], tokenize("0.1383")[0])
    False
    >>> token_matches(tokenize("nan")[0], tokenize("nan")[0])
    True
    """
    if expected.is_bool or actual.is_bool:
        return expected.is_bool and actual.is_bool and expected.value == actual.value
    e, a = expected.value, actual.value
    assert isinstance(e, Decimal)
    assert isinstance(a, Decimal)
    if e.is_nan() or a.is_nan():
        return e.is_nan() and a.is_nan()
    if e.is_infinite() or a.is_infinite():
        return e == a
    return abs(a - e) <= _tolerance(expected, rtol, atol)


def compare_tokens(
    expected: Sequence[Token],
    actual: Sequence[Token],
    rtol: float = 0.0,
    atol: float = 0.0,
    limit: int = 12,
) -> list[str]:
    """What differs between the expected and the printed values (empty if they match)."""
    if len(expected) != len(actual):
        return [f"expected {len(expected)} values, printed {len(actual)}"]
    problems = []
    for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
        if token_matches(e, a, rtol, atol):
            continue
        if e.is_bool or not isinstance(e.value, Decimal) or not e.value.is_finite():
            problems.append(f"#{i + 1}: expected {e}, printed {a}")
        else:
            tolerance = format(_tolerance(e, rtol, atol).normalize(), "f")
            problems.append(f"#{i + 1}: expected {e} (± {tolerance}), printed {a}")
    if len(problems) > limit:
        problems[limit:] = [f"... and {len(problems) - limit} more"]
    return problems


def check_dropout(
    actual: Sequence[Token],
    original: Sequence[Token] | None,
    p: float,
    rtol: float = 0.0,
    atol: float = 0.0,
    limit: int = 12,
) -> list[str]:
    """What breaks the invariants of dropout with probability ``p`` (empty if none).

    Every printed value is 0 (dropped) or the original value times 1/(1-p) (kept), to
    the precision both were printed with (each printed value is within half a unit of
    its last digit of the true one); at least one nonzero original is kept and one
    dropped. ``original=None`` means dropout was applied to a tensor of ones.

    >>> check_dropout(tokenize("[2., 0., 0.7181]"), tokenize("[1.0, 0.2, 0.3590]"), 0.5)
    []
    >>> check_dropout(tokenize("[2., 0., 0.7100]"), tokenize("[1.0, 0.2, 0.3590]"), 0.5)
    ['#3: printed 0.7100, expected 0 or 0.3590 × 2 = 0.7180']
    """
    problems: list[str] = []
    if original is None:
        original = [Token("1", Decimal(1), Decimal(0))] * len(actual)
    if len(original) != len(actual):
        return [f"the original printed {len(original)} values, the dropout {len(actual)}"]
    scale = 1 / (1 - Decimal(str(p)))
    kept = dropped = 0
    for i, (o, a) in enumerate(zip(original, actual, strict=True)):
        if not _finite_number(o) or not _finite_number(a):
            problems.append(f"#{i + 1}: printed {a}, original {o}: both must be finite numbers")
            continue
        assert isinstance(o.value, Decimal)
        assert isinstance(a.value, Decimal)
        if a.value == 0:
            dropped += o.value != 0
            continue
        target = o.value * scale
        # o and a are rounded to half a unit each; o's rounding error is scaled, too
        tolerance = (o.unit * scale + a.unit) / 2
        tolerance += Decimal(str(atol)) + Decimal(str(rtol)) * abs(target)
        if abs(a.value - target) <= tolerance:
            kept += o.value != 0
        else:
            shown = target.quantize(o.unit) if o.unit else target.normalize()
            problems.append(
                f"#{i + 1}: printed {a}, expected 0 or {o} × {scale.normalize()} = {shown}"
            )
    if len(problems) > limit:
        problems[limit:] = [f"... and {len(problems) - limit} more"]
    if not problems and (kept == 0 or dropped == 0):
        problems.append(
            f"dropout kept {kept} and dropped {dropped} of the nonzero values: "
            "expected at least one of each"
        )
    return problems


def _finite_number(token: Token) -> bool:
    return isinstance(token.value, Decimal) and token.value.is_finite()


# --- reference data -----------------------------------------------------------------

_REQUIRED = ("cell", "seed", "seed_cell", "what", "expected")
_OPTIONAL = ("kind", "rtol", "atol", "p", "of")
_KINDS = ("values", "dropout")
# also the cell's HTML anchor on its page (ref-<cell>), so it is already a valid id
_CELL_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SEED = re.compile(r"\d{3}|book")


@dataclass(frozen=True)
class Reference:
    """One ``[[output]]`` of ``tests/reference_outputs/<page>.toml``."""

    page: str
    cell: str
    seed: str
    seed_cell: str
    what: str
    expected: str
    source: Path
    kind: str = "values"
    rtol: float = 0.0
    atol: float = 0.0
    p: float | None = None
    of: str | None = None

    @property
    def tag(self) -> str:
        return TAG_PREFIX + self.cell

    @property
    def expected_tokens(self) -> list[Token]:
        return tokenize(self.expected)


@dataclass
class ReferenceData:
    """Every page's references, and what is wrong with the data, by page."""

    references: dict[str, list[Reference]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # the cells named by any [[output]], also by those with errors (reported already)
    named_cells: dict[str, set[str]] = field(default_factory=dict)

    @property
    def pages(self) -> list[str]:
        return sorted(set(self.references) | set(self.errors))


def _clean_expected(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _validate_entry(entry: Any, index: int) -> list[str]:
    where = f"[[output]] #{index + 1}"
    if not isinstance(entry, dict):
        return [f"{where}: expected a table, got {type(entry).__name__}"]
    if isinstance(entry.get("cell"), str):
        where = f"[[output]] cell = {entry['cell']!r}"
    errors = []
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        errors.append(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"expected keys: {', '.join(_REQUIRED + _OPTIONAL)}"
        )
    for key in _REQUIRED:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            got = "nothing" if value is None else repr(value)
            errors.append(f"{where}: {key} must be a non-empty string, got {got}")
    cell, seed = entry.get("cell"), entry.get("seed")
    if isinstance(cell, str) and cell.startswith(TAG_PREFIX):
        errors.append(
            f"{where}: cell is the tag without {TAG_PREFIX!r}, got {cell!r} "
            f"(expected {cell[len(TAG_PREFIX) :]!r})"
        )
    elif isinstance(cell, str) and cell and not _CELL_ID.fullmatch(cell):
        errors.append(
            f"{where}: cell must be lowercase letters and digits in words joined by '-' "
            f"(e.g. 'journey-scores'), got {cell!r}"
        )
    if isinstance(seed, str) and seed and not _SEED.fullmatch(seed):
        errors.append(f'{where}: seed must be a seed number such as "002" or "book", got {seed!r}')
    kind = entry.get("kind", "values")
    if kind not in _KINDS:
        errors.append(f"{where}: kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    for key in ("rtol", "atol"):
        value = entry.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            errors.append(f"{where}: {key} must be a number >= 0, got {value!r}")
    if kind == "dropout":
        p = entry.get("p")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 1:
            errors.append(f"{where}: a dropout needs p, a number with 0 < p < 1, got {p!r}")
        of = entry.get("of")
        if of is not None and not (isinstance(of, str) and of):
            errors.append(f"{where}: of must name a cell of the same page, got {of!r}")
    else:
        for key in ("p", "of"):
            if key in entry:
                errors.append(f'{where}: {key} is only meaningful with kind = "dropout"')
    expected = entry.get("expected")
    if isinstance(expected, str) and expected.strip() and not tokenize(expected):
        errors.append(f"{where}: expected contains no numbers to compare: {expected.strip()!r}")
    return errors


def _check_dropout_data(references: list[Reference]) -> list[str]:
    by_cell = {ref.cell: ref for ref in references}
    errors = []
    for ref in references:
        if ref.kind != "dropout":
            continue
        where = f"[[output]] cell = {ref.cell!r}"
        original = None
        if ref.of is not None:
            if ref.of == ref.cell or ref.of not in by_cell:
                errors.append(f"{where}: of = {ref.of!r} must name another [[output]] of this file")
                continue
            if by_cell[ref.of].kind != "values":
                errors.append(f"{where}: of = {ref.of!r} must name an output of kind values")
                continue
            original = by_cell[ref.of].expected_tokens
        assert ref.p is not None
        problems = check_dropout(ref.expected_tokens, original, ref.p, ref.rtol, ref.atol)
        if problems:
            of = "a tensor of ones" if ref.of is None else f"the expected text of {ref.of!r}"
            errors.append(
                f"{where}: the expected text is not a dropout with p = {ref.p} of {of}: "
                + "; ".join(problems)
            )
    return errors


def load_reference_file(path: Path) -> tuple[list[Reference], list[str]]:
    """The references of one page's TOML file, and the problems of its data."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        return [], [f"{path.name}: cannot read the TOML file: {error}"]
    errors = []
    extra = sorted(set(data) - {"output"})
    if extra:
        errors.append(
            f"{path.name}: unknown top-level key(s) {', '.join(extra)}; expected [[output]]"
        )
    entries = data.get("output", [])
    if not isinstance(entries, list) or not entries:
        return [], [*errors, f"{path.name}: expected at least one [[output]] table"]
    references = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        entry_errors = _validate_entry(entry, index)
        errors += [f"{path.name}: {error}" for error in entry_errors]
        if entry_errors:
            continue
        if entry["cell"] in seen:
            errors.append(f"{path.name}: cell {entry['cell']!r} has two [[output]] tables")
            continue
        seen.add(entry["cell"])
        references.append(
            Reference(
                page=path.stem,
                cell=entry["cell"],
                seed=entry["seed"],
                seed_cell=entry["seed_cell"].strip(),
                what=" ".join(entry["what"].split()),
                expected=_clean_expected(entry["expected"]),
                source=path,
                kind=entry.get("kind", "values"),
                rtol=float(entry.get("rtol", 0.0)),
                atol=float(entry.get("atol", 0.0)),
                p=float(entry["p"]) if "p" in entry else None,
                of=entry.get("of"),
            )
        )
    errors += [f"{path.name}: {error}" for error in _check_dropout_data(references)]
    return references, errors


def load_references(directory: Path = REFERENCE_DIR) -> ReferenceData:
    """Every ``<page>.toml`` of ``directory``."""
    data = ReferenceData()
    for path in sorted(directory.glob("*.toml")):
        references, errors = load_reference_file(path)
        data.references[path.stem] = references
        if errors:
            data.errors[path.stem] = errors
        data.named_cells[path.stem] = {ref.cell for ref in references} | _named_cells(path)
    return data


def _named_cells(path: Path) -> set[str]:
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("output", [])
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    if not isinstance(entries, list):
        return set()
    cells = (entry.get("cell") for entry in entries if isinstance(entry, dict))
    return {cell for cell in cells if isinstance(cell, str)}


# --- pages and executed notebooks ---------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)


def source_pages(docs: Path = DOCS) -> dict[str, Path]:
    """The book's notebook pages: docname -> source file (MyST notebooks and ``.ipynb``)."""
    pages = {}
    for path in sorted(docs.rglob("*")):
        relative = path.relative_to(docs)
        if any(part.startswith(("_", ".")) or part == "locale" for part in relative.parts):
            continue
        if path.suffix == ".ipynb" or (path.suffix == ".md" and _is_notebook(path)):
            pages[relative.with_suffix("").as_posix()] = path
    return pages


def _is_notebook(path: Path) -> bool:
    match = _FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    return bool(match and re.search(r"^(file_format|kernelspec)\s*:", match[1], re.MULTILINE))


def read_notebook(path: Path) -> dict[str, Any]:
    """An executed notebook as plain JSON data (nbformat 4)."""
    return json.loads(path.read_text(encoding="utf-8"))


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def code_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]


def reference_tags(cell: dict[str, Any]) -> list[str]:
    """The cell ids of the ``ref-`` tags of a cell."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [tag[len(TAG_PREFIX) :] for tag in tags if tag.startswith(TAG_PREFIX)]


def printed_text(cell: dict[str, Any]) -> str:
    """What a code cell printed: its stdout and the text of its results, in order.

    Glued outputs (``myst_nb.glue``) and the text stand-ins of images are not printed
    text; neither is stderr (warnings).
    """
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            parts.append(_text(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "scrapbook" in output.get("metadata", {}) or any(
                mime.startswith("image/") for mime in data
            ):
                continue
            if "text/plain" in data:
                text = _text(data["text/plain"])
                parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)


# --- checking one page of one edition -----------------------------------------------


@dataclass
class Failure:
    """One mismatch, with everything needed to understand it without the build."""

    page: str
    edition: str
    message: str
    reference: Reference | None = None
    actual_text: str | None = None
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        ref = self.reference
        head = f"{self.page} [{self.edition}]"
        if ref is not None:
            head += f", cell {ref.tag} (seed {ref.seed}, {ref.seed_cell})"
        lines = [f"{head}: {self.message}"]
        lines += [f"    {detail}" for detail in self.details]
        if ref is not None:
            lines.append(f"    what: {ref.what}")
            if self.actual_text is not None:
                expected = ", ".join(map(str, ref.expected_tokens))
                actual = ", ".join(map(str, tokenize(self.actual_text)))
                lines.append(f"    expected values: [{expected}]")
                lines.append(f"    printed values:  [{actual}]")
            lines.append("    expected text:")
            lines += [f"        {line}" for line in ref.expected.splitlines()]
            if self.actual_text is not None:
                lines.append("    printed text:")
                lines += [f"        {line}" for line in self.actual_text.splitlines() or [""]]
        return "\n".join(lines)


def check_page(
    page: str,
    edition: str,
    data: ReferenceData,
    pages: Iterable[str],
    notebooks: Path,
) -> list[Failure]:
    """Every failure of one page in one edition (an empty list when all is well)."""
    references = data.references.get(page, [])
    failures = [Failure(page, edition, error) for error in data.errors.get(page, [])]
    toml = f"{REFERENCE_DIR.name}/{page}.toml"
    if page not in set(pages):
        if references or page in data.errors:
            failures.append(
                Failure(page, edition, f"{toml} names page {page!r}, but there is no such page")
            )
        return failures
    notebook_path = notebooks / f"{page}.ipynb"
    if not notebook_path.is_file():
        failures.append(
            Failure(
                page,
                edition,
                f"no executed notebook {notebook_path}: build the site with `{BUILD_COMMAND}`",
            )
        )
        return failures
    cells = code_cells(read_notebook(notebook_path))
    tagged: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        ids = reference_tags(cell)
        if len(ids) > 1:
            failures.append(
                Failure(
                    page,
                    edition,
                    f"code cell #{index + 1} has several reference tags: "
                    + ", ".join(TAG_PREFIX + i for i in ids),
                )
            )
        for cell_id in ids:
            tagged.setdefault(cell_id, []).append(index)

    def text_of(cell_id: str) -> str | None:
        indices = tagged.get(cell_id, [])
        return printed_text(cells[indices[0]]) if len(indices) == 1 else None

    for ref in references:
        indices = tagged.get(ref.cell, [])
        if not indices:
            failures.append(
                Failure(page, edition, f"no code cell is tagged {ref.tag}", reference=ref)
            )
            continue
        if len(indices) > 1:
            numbers = ", ".join(f"#{i + 1}" for i in indices)
            failures.append(
                Failure(
                    page,
                    edition,
                    f"{len(indices)} code cells are tagged {ref.tag} ({numbers})",
                    reference=ref,
                )
            )
            continue
        actual = printed_text(cells[indices[0]])
        if ref.kind == "dropout":
            failures += _check_dropout_cell(page, edition, ref, actual, text_of)
            continue
        problems = compare_tokens(ref.expected_tokens, tokenize(actual), ref.rtol, ref.atol)
        if problems:
            failures.append(
                Failure(
                    page,
                    edition,
                    "the printed values differ from the reference",
                    reference=ref,
                    actual_text=actual,
                    details=problems,
                )
            )
    named = data.named_cells.get(page, set()) | {ref.cell for ref in references}
    untracked = sorted(set(tagged) - named)
    for cell_id in untracked:
        failures.append(
            Failure(
                page,
                edition,
                f"code cell #{tagged[cell_id][0] + 1} is tagged {TAG_PREFIX}{cell_id}, "
                f"but {toml} has no [[output]] with cell = {cell_id!r}",
            )
        )
    return failures


def _check_dropout_cell(page, edition, ref, actual, text_of) -> list[Failure]:
    assert ref.p is not None
    original = None
    if ref.of is not None:
        original_text = text_of(ref.of)
        if original_text is None:
            return [
                Failure(
                    page,
                    edition,
                    f"cannot check the dropout: no single code cell is tagged {TAG_PREFIX}{ref.of}",
                    reference=ref,
                    actual_text=actual,
                )
            ]
        original = tokenize(original_text)
    printed = tokenize(actual)
    problems = []
    if len(printed) != len(ref.expected_tokens):
        problems.append(f"expected {len(ref.expected_tokens)} values, printed {len(printed)}")
    problems += check_dropout(printed, original, ref.p, ref.rtol, ref.atol)
    if not problems:
        return []
    of = "a tensor of ones" if ref.of is None else f"the values printed by {TAG_PREFIX}{ref.of}"
    return [
        Failure(
            page,
            edition,
            f"the printed values are not a dropout with p = {ref.p} of {of}",
            reference=ref,
            actual_text=actual,
            details=problems,
        )
    ]


def check_edition(
    edition: str,
    data: ReferenceData | None = None,
    pages: Iterable[str] | None = None,
    notebooks: Path | None = None,
) -> list[Failure]:
    """Every failure of every page of one edition."""
    data = load_references() if data is None else data
    pages = set(source_pages() if pages is None else pages)
    notebooks = executed_notebooks(edition) if notebooks is None else notebooks
    return [
        failure
        for page in sorted(pages | set(data.pages))
        for failure in check_page(page, edition, data, pages, notebooks)
    ]


# --- the two editions print the same ------------------------------------------------

_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_ID_USE = re.compile(r'(\bid="|#)([^"\s)]+)')


def normalise_svg(svg: str) -> str:
    """An SVG without what changes from one run to the next: its date and random ids.

    >>> a = '<metadata><dc:date>1</dc:date></metadata><g id="p1a"/><use href="#p1a"/>'
    >>> normalise_svg(a) == normalise_svg(a.replace("1a", "9f").replace(">1<", ">2<"))
    True
    """
    svg = _SVG_METADATA.sub("", svg)
    ids = {}
    for match in _SVG_ID.finditer(svg):
        ids.setdefault(match[1], f"id{len(ids)}")
    return _SVG_ID_USE.sub(lambda m: m[1] + ids.get(m[2], m[2]), svg)


def _normalise_output(output: dict[str, Any]) -> dict[str, Any]:
    kind = output.get("output_type")
    if kind == "stream":
        return {"stream": output.get("name"), "text": _text(output.get("text", ""))}
    if kind == "error":
        return {"error": output.get("ename"), "value": output.get("evalue")}
    data = {}
    for mime, value in output.get("data", {}).items():
        text = _text(value) if isinstance(value, (str, list)) else json.dumps(value, sort_keys=True)
        data[mime] = normalise_svg(text) if mime == "image/svg+xml" else text
    return {kind: data}


def _describe_difference(a: Any, b: Any, label_a: str, label_b: str) -> list[str]:
    text_a = json.dumps(a, indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    text_b = json.dumps(b, indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    diff = list(difflib.unified_diff(text_a, text_b, label_a, label_b, n=1, lineterm=""))
    return [line[:160] for line in diff[:20]] + (["..."] if len(diff) > 20 else [])


def compare_editions(
    page: str,
    editions: Sequence[str] = EDITIONS,
    notebooks: Sequence[Path] | None = None,
) -> list[str]:
    """How the code cells' outputs of ``page`` differ between two editions (empty if not).

    Outputs are compared as printed: stream text, every MIME type of every result
    (SVG images without their creation date and random ids), glued outputs, and errors.
    """
    first, second = editions
    dirs = notebooks or [executed_notebooks(edition) for edition in editions]
    paths = [directory / f"{page}.ipynb" for directory in dirs]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        return [
            f"no executed notebook {path}: build the site with `{BUILD_COMMAND}`"
            for path in missing
        ]
    cells_a, cells_b = (code_cells(read_notebook(path)) for path in paths)
    problems = []
    if len(cells_a) != len(cells_b):
        problems.append(f"{first} has {len(cells_a)} code cells, {second} has {len(cells_b)}")
    for index, (a, b) in enumerate(zip(cells_a, cells_b, strict=False)):
        tags = ", ".join(a.get("metadata", {}).get("tags", []))
        first_line = _text(a.get("source", "")).strip().splitlines()[:1] or [""]
        where = f"code cell #{index + 1}" + (f" [{tags}]" if tags else "")
        where += f" ({first_line[0][:60]})"
        if _text(a.get("source", "")) != _text(b.get("source", "")):
            problems.append(f"{where}: the source differs between {first} and {second}")
        outputs_a = [_normalise_output(output) for output in a.get("outputs", [])]
        outputs_b = [_normalise_output(output) for output in b.get("outputs", [])]
        if outputs_a != outputs_b:
            problems.append(f"{where}: the outputs differ between {first} and {second}")
            problems += [
                "    " + line for line in _describe_difference(outputs_a, outputs_b, first, second)
            ]
    if any("the source differs" in problem for problem in problems):
        problems.insert(
            0,
            f"the editions were built from different versions of {page}: "
            f"build both again with `{BUILD_COMMAND}`",
        )
    glue = [directory / f"{page}.glue.json" for directory in dirs]
    glued = [
        {
            key: _normalise_output(value)
            for key, value in json.loads(path.read_text(encoding="utf-8")).items()
        }
        if path.is_file()
        else {}
        for path in glue
    ]
    for key in sorted(set(glued[0]) | set(glued[1])):
        if glued[0].get(key) != glued[1].get(key):
            problems.append(f"glued output {key!r} differs between {first} and {second}")
            problems += [
                "    " + line
                for line in _describe_difference(
                    glued[0].get(key), glued[1].get(key), first, second
                )
            ]
    return problems


# --- command line -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--build",
        type=Path,
        default=None,
        help="the build directory of `nox -s docs` (default: _build, or $BOOK_BUILD_DIR)",
    )
    parser.add_argument(
        "--edition",
        action="append",
        choices=EDITIONS,
        help="check only this edition (repeatable; default: all)",
    )
    parser.add_argument(
        "--references",
        type=Path,
        default=REFERENCE_DIR,
        help="the directory of the <page>.toml files (default: %(default)s)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=DOCS,
        help="the directory of the pages (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    editions = args.edition or list(EDITIONS)
    data = load_references(args.references)
    pages = source_pages(args.docs)
    failures: list[str] = []
    for edition in editions:
        notebooks = executed_notebooks(edition, args.build)
        failures += map(str, check_edition(edition, data, pages, notebooks))
    if set(editions) == set(EDITIONS):
        dirs = [executed_notebooks(edition, args.build) for edition in EDITIONS]
        for page in sorted(pages):
            problems = compare_editions(page, EDITIONS, dirs)
            if problems:
                failures.append("\n".join([f"{page}: {problems[0]}", *problems[1:]]))
    count = sum(len(refs) for refs in data.references.values())
    if failures:
        print("\n\n".join(failures))
        print(f"\n{len(failures)} failure(s)")
        return 1
    pages_checked = len(data.references)
    print(f"{count} reference outputs on {pages_checked} pages match in {', '.join(editions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
