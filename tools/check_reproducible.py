#!/usr/bin/env python3
"""Build the book twice from the same commit and compare the two builds.

    python3 tools/check_reproducible.py [--keep] [--workdir DIR]

Each build starts from a fresh clone of HEAD (so uncommitted changes are not part of
it) and a fresh, empty execution cache, so every notebook is executed twice. Both
editions are built as ``nox -s docs`` builds them. The executed notebooks and every
file of the two sites must be identical once timestamps (the build date, the dates
matplotlib writes into SVG metadata) are normalised; the script prints each difference
and exits with status 1 if there is one. Run it through ``nox -s reproducible``, which
provides sphinx-build and the book's dependencies.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "zh_CN")
# Files that record the build itself, not its result.
IGNORED = {".buildinfo", ".buildinfo.bak"}
IGNORED_DIRS = {"doctrees", ".doctrees"}
TEXT_SUFFIXES = {".html", ".js", ".css", ".xml", ".txt", ".ipynb", ".svg", ".json", ".inv"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


def build(clone: Path, cache: Path) -> None:
    """Build both editions in ``clone`` into ``clone/_build/<language>/html``."""
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "BOOK_EXECUTION_CACHE": str(cache),
        "PYTHONPATH": str(clone),  # the clone's package, not the installed checkout
    }
    for language in LANGUAGES:
        edition = clone / "_build" / language
        subprocess.run(
            [
                "sphinx-build", "-b", "html", "-q", "-W", "--keep-going", "-n", "-j", "auto",
                "-D", f"language={language}", "-d", str(edition / "doctrees"),
                str(clone / "docs"), str(edition / "html"),
            ],
            check=True,
            env=env,
            cwd=clone,
        )  # fmt: skip


# Figures are stored under the hash of their content: name them by where they appear
# instead, so that a changed figure shows as a difference of its content, not its name.
CONTENT_NAME = re.compile(r"\b([0-9a-f]{64})\.(svg|png|jpe?g|pdf)\b")


def aliases(files: dict[str, Path]) -> dict[str, str]:
    """Content-hashed file names -> ``figure-N.ext``, numbered by first mention."""
    names: dict[str, str] = {}
    for path in files.values():
        if path.suffix in (".html", ".ipynb"):
            for match in CONTENT_NAME.finditer(path.read_text(encoding="utf-8", errors="replace")):
                names.setdefault(match.group(0), f"figure-{len(names) + 1}.{match.group(2)}")
    return names


def normalise(text: str, names: dict[str, str]) -> str:
    text = CONTENT_NAME.sub(lambda match: names.get(match.group(0), match.group(0)), text)
    return TIMESTAMP.sub("<timestamp>", text)


def files_of(root: Path) -> tuple[dict[str, Path | None], dict[str, str]]:
    files = {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and path.name not in IGNORED
        and not IGNORED_DIRS & set(path.relative_to(root).parts)
    }
    names = aliases(files)
    renamed: dict[str, Path | None] = {}
    unreferenced = 0
    for name, path in files.items():
        match = CONTENT_NAME.fullmatch(path.name)
        if match and match.group(0) not in names:
            # Unreferenced copies (myst-nb's jupyter_execute folder): counted, not compared.
            unreferenced += 1
            renamed[f"unreferenced figure {unreferenced}"] = None
            continue
        renamed[CONTENT_NAME.sub(lambda m: names.get(m.group(0), m.group(0)), name)] = path
    return renamed, names


def compare(first: Path, second: Path) -> list[str]:
    """Differences between two build trees, each described in a few lines."""
    (a, names_a), (b, names_b) = files_of(first), files_of(second)
    problems = [f"only in the first build: {name}" for name in sorted(a.keys() - b.keys())]
    problems += [f"only in the second build: {name}" for name in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        if a[name] is None or b[name] is None:
            continue
        left, right = a[name].read_bytes(), b[name].read_bytes()
        if left == right:
            continue
        if a[name].suffix not in TEXT_SUFFIXES:
            problems.append(f"{name}: binary files differ")
            continue
        left_text = normalise(left.decode("utf-8", errors="replace"), names_a)
        right_text = normalise(right.decode("utf-8", errors="replace"), names_b)
        if left_text == right_text:
            continue
        diff = difflib.unified_diff(
            left_text.splitlines(), right_text.splitlines(), "first", "second", n=0, lineterm=""
        )
        lines = [line[:200] for line in list(diff)[2:10]]
        problems.append(f"{name}: differs\n    " + "\n    ".join(lines))
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the two builds")
    parser.add_argument(
        "--compare-only", action="store_true", help="compare the builds already in --workdir"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="book-reproducible-"))
    workdir.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        builds = [workdir / run / "_build" for run in ("first", "second")]
        for run in () if args.compare_only else ("first", "second"):
            clone = workdir / run
            shutil.rmtree(clone, ignore_errors=True)
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
            subprocess.run(["git", "checkout", "--quiet", commit], cwd=clone, check=True)
            print(f"building {commit[:12]} ({run} time) in {clone}", flush=True)
            build(clone, workdir / f"{run}-cache")
        problems = []
        for language in LANGUAGES:
            for part in ("html", "jupyter_execute"):
                first, second = (b / language / part for b in builds)
                if not first.is_dir() or not second.is_dir():
                    problems.append(f"{language}/{part}: missing from a build")
                    continue
                problems += [f"{language}/{part}/{p}" for p in compare(first, second)]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        print(f"the two builds of {commit[:12]} differ in {len(problems)} place(s):")
        print("\n".join(problems))
        return 1
    print(f"the two builds of {commit[:12]} are identical (timestamps aside)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
