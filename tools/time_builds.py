#!/usr/bin/env python3
"""Time the book's build as a reader or an author meets it, in a fresh clone of HEAD.

    python3 tools/time_builds.py [--keep] [--workdir DIR]

Runs ``python3 -m nox -s docs`` in a clone of HEAD (uncommitted changes are not part
of it), through these steps, and prints a Markdown table of the wall-clock time of
each and the pages it executed:

1. the first run: nox creates its virtualenv and installs the pinned versions, then
   builds both editions from nothing;
2. a cold build: ``_build/`` deleted (the execution cache with it), virtualenv reused;
3. a rebuild with nothing changed;
4. a rebuild after one page's prose changed (``-- --draft``: the changed paragraph
   has no Chinese translation yet, which the full build refuses);
5. a rebuild after one code cell of that page changed;
6. a rebuild after ``attention_examples`` changed.

It fails if a step executes other pages than it should: nothing for 3 and 4, exactly
the edited page for 5, every page for 6 (``nox -s docs`` itself fails if the Chinese
build executes anything). Run it on a quiet machine; it takes about ten minutes.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = "softmax"  # the page whose prose and code the steps edit
EXECUTED = re.compile(r"([\w-]+)\.md(?::\d*)?: Executing notebook using")


def pages(clone: Path) -> set[str]:
    """The executed pages of the book: every MyST notebook under docs/."""
    return {
        path.stem
        for path in (clone / "docs").glob("*.md")
        if "file_format: mystnb" in path.read_text(encoding="utf-8")
    }


def run_docs(clone: Path, *nox_args: str) -> tuple[float, list[str]]:
    """Seconds of one ``nox -s docs`` in ``clone``, and the pages it executed."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "docs", *nox_args],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"nox -s docs {' '.join(nox_args)} failed:\n{output[-4000:]}")
    return seconds, sorted(set(EXECUTED.findall(output)))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        sys.exit(f"{path}: cannot find {old!r} to edit")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    parser.add_argument("--workdir", type=Path, help="where to clone (default: a temp dir)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="book-build-times-"))
    clone = workdir / "book"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=clone, capture_output=True, text=True
    ).stdout.strip()
    everything = pages(clone)
    page = clone / "docs" / f"{PAGE}.md"
    print(f"timing the build of {commit} in {clone}", flush=True)

    steps: list[tuple[str, str, float, list[str], set[str] | None]] = []

    def step(name: str, command: str, nox_args: tuple[str, ...], expected: set[str] | None):
        seconds, executed = run_docs(clone, *nox_args)
        steps.append((name, command, seconds, executed, expected))
        print(f"{name}: {seconds:.0f} s, executed {len(executed)} pages", flush=True)

    try:
        step("first run: install, then build both editions", "nox -s docs", (), None)
        shutil.rmtree(clone / "_build")
        step("cold build of both editions", "nox -R -s docs", ("-R",), everything)
        step("rebuild, nothing changed", "nox -R -s docs", ("-R",), set())
        # A sentence added to the first paragraph after the page's title.
        text = page.read_text(encoding="utf-8")
        paragraph = re.search(r"\n\n([A-Z][^\n]*\n)", text[text.index("\n# ") :])
        if paragraph is None:
            sys.exit(f"{page}: no paragraph after the title to edit")
        edit(page, paragraph.group(1), "This sentence is new. " + paragraph.group(1))
        step(
            f"rebuild after editing the prose of {PAGE}.md",
            "nox -R -s docs -- --draft",
            ("-R", "--", "--draft"),
            set(),
        )
        edit(page, "This sentence is new. ", "")  # the translations match again
        # A comment line at the top of the first code cell without options (":tags: ...").
        text = page.read_text(encoding="utf-8")
        cell = re.search(r"```\{code-cell\} ipython3\n(?!:)", text)
        if cell is None:
            sys.exit(f"{page}: no code cell without options to edit")
        # Insert at the match itself: the same fence opens the cells with options too.
        page.write_text(text[: cell.end()] + "# edited\n" + text[cell.end() :], encoding="utf-8")
        step(f"rebuild after editing a code cell of {PAGE}.md", "nox -R -s docs", ("-R",), {PAGE})
        module = clone / "attention_examples" / "softmax.py"
        module.write_text(module.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
        step(
            "rebuild after editing attention_examples",
            "nox -R -s docs",
            ("-R",),
            everything,
        )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nBuild times of {commit} ({len(everything)} executed pages):\n")
    print("| step | command | wall time | pages executed |")
    print("| --- | --- | ---: | ---: |")
    wrong = []
    for name, command, seconds, executed, expected in steps:
        print(f"| {name} | `{command}` | {seconds:.0f} s | {len(executed)} |")
        if expected is not None and set(executed) != expected:
            wrong.append(f"{name}: executed {executed}, expected {sorted(expected)}")
    if wrong:
        sys.exit("\n".join(["", "steps that executed the wrong pages:", *wrong]))


if __name__ == "__main__":
    main()
