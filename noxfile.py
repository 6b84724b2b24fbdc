"""Every workflow of the book: ``nox -l`` lists them.

``nox -s docs`` builds both editions; ``nox`` (no arguments) runs every check:
lint, the build, then the tests, which read the built site.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
DOCS = ROOT / "docs"
BUILD = ROOT / "_build"
SITE = BUILD / "site"
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
LANGUAGES = ("en", "zh_CN")

nox.options.sessions = ["lint", "docs", "tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True


def install(session: nox.Session, *groups: str, editable: bool = True) -> None:
    """Install the package and the given dependency groups at the pinned versions."""
    deps = [dep for group in groups for dep in nox.project.dependency_groups(PYPROJECT, group)]
    package = ["-e", "."] if editable else ["."]
    session.install("-c", str(CONSTRAINTS), *package, *deps)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("-c", str(CONSTRAINTS), *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Unit tests, doctests, reference-output checks and site checks (after ``docs``)."""
    install(session, "test", "docs")
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the book in English and Chinese into _build/site/{en,zh_CN}."""
    install(session, "docs")
    env = {"PYTHONHASHSEED": "0"}
    for language in LANGUAGES:
        session.run(
            "sphinx-build",
            "-b", "html",
            "-W", "--keep-going", "-n",
            "-j", "auto",
            "-D", f"language={language}",
            "-d", str(BUILD / "doctrees" / language),
            str(DOCS),
            str(SITE / language),
            env=env,
        )  # fmt: skip
    shutil.copy(DOCS / "_root" / "index.html", SITE / "index.html")
    session.log(f"The book is in {SITE}: open {SITE / 'index.html'}")


@nox.session(python="3.11")
def lock(session: nox.Session) -> None:
    """Re-resolve every dependency group and pin the result in constraints.txt."""
    groups = [dep for group in PYPROJECT["dependency-groups"] for dep in
              nox.project.dependency_groups(PYPROJECT, group)]  # fmt: skip
    session.install("torch==2.13.0", ".", *groups)
    frozen = session.run("pip", "freeze", "--exclude-editable", silent=True, log=False)
    lines = [
        line.split("+")[0] if line.startswith("torch==") else line
        for line in str(frozen).splitlines()
        if line and not line.startswith(("attention_examples", "attention-examples"))
    ]
    header = "# The exact versions the book's outputs were verified with. Regenerate: nox -s lock\n"
    CONSTRAINTS.write_text(header + "\n".join(sorted(lines, key=str.lower)) + "\n")
    session.log(f"wrote {len(lines)} pins to {CONSTRAINTS}")


@nox.session(python=False)
def clean(session: nox.Session) -> None:
    """Remove the build directory (and with it the execution cache)."""
    shutil.rmtree(BUILD, ignore_errors=True)
