"""Every workflow of the book: ``nox -l`` lists them.

``nox -s docs`` builds both editions; ``nox`` (no arguments) runs every check:
lint, the build, then the tests, which read the built site.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nox

ROOT = Path(__file__).parent
DOCS = ROOT / "docs"
BUILD = ROOT / "_build"
SITE = BUILD / "site"
GETTEXT = BUILD / "gettext"
CATALOGS = DOCS / "locale" / "zh_CN" / "LC_MESSAGES"
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
LANGUAGES = ("en", "zh_CN")

nox.options.sessions = ["lint", "typecheck", "docs", "tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True


# typecheck, docs, tests, pdf, i18n, bench and reproducible share one environment: PyTorch
# alone fills about 1 GB, and a copy per session (4.5 GB for one `nox`) can fill a disk.
# Each session installs the dependency groups it needs into it; `rm -r .nox` starts afresh.
BOOK_ENV = ROOT / ".nox" / "book"
BOOK_BIN = BOOK_ENV / "bin"


def install(session: nox.Session, *groups: str) -> None:
    """Install the package (editable) and the given groups, pinned, into the shared environment."""
    if not (BOOK_BIN / "python").is_file():
        here = sys.version_info[:2] == (3, 11)
        python = sys.executable if here else shutil.which("python3.11")
        if not python:
            session.error("the book needs Python 3.11 (python3.11 is not on the PATH)")
        session.run(python, "-m", "venv", str(BOOK_ENV), external=True)
    deps = [dep for group in groups for dep in nox.project.dependency_groups(PYPROJECT, group)]
    run(session, "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", str(CONSTRAINTS), "-e", str(ROOT), *deps)  # fmt: skip
    # its programs come first for whatever the session starts (kernels, sphinx-build)
    session.env["PATH"] = os.pathsep.join([str(BOOK_BIN), os.environ.get("PATH", "")])
    session.env["VIRTUAL_ENV"] = str(BOOK_ENV)


def run(session: nox.Session, program: str, *args: str | Path, **kwargs: Any) -> str | None:
    """Run one of the shared environment's programs (python, pytest, sphinx-build...)."""
    output = session.run(str(BOOK_BIN / program), *map(str, args), external=True, **kwargs)
    return output if isinstance(output, str) else None


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("-c", str(CONSTRAINTS), *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and on tests/typing_returns.py (settings in pyproject.toml)."""
    install(session, "typecheck")
    run(session, "mypy")


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Unit tests, doctests, reference-output checks and site checks (after ``docs``).

    Arguments go to pytest: ``nox -s tests -- -m "not site"`` runs the tests that need no
    built site. Here, unlike a plain ``pytest``, a missing site fails the site tests.
    """
    install(session, "test", "docs")
    install_site_check_tools(session)
    # In parallel, one worker per core (`-- -n 0` runs them in this process); the tests of
    # one page, and the two of the HTML checker, share a worker (xdist_group).
    parallel = ["-n", "auto", "--dist", "loadgroup"]
    run(session, "pytest", *parallel, *session.posargs, env={"BOOK_REQUIRE_SITE": "1"})


# The site checks use Debian's Chromium (Playwright never downloads a browser), and
# Java and npm for the Nu Html Checker (tools/vnu.py fetches it from the npm registry).
SITE_CHECK_TOOLS = {"/usr/bin/chromium": "chromium", "java": "default-jre-headless", "npm": "npm"}


def install_site_check_tools(session: nox.Session) -> None:
    """apt-get install what the site checks need and the machine lacks (when root).

    Never fails the run: without a browser the browser tests are skipped and say why.
    """
    missing = [package for tool, package in SITE_CHECK_TOOLS.items() if not shutil.which(tool)]
    if not missing:
        return
    if getattr(os, "geteuid", lambda: -1)() != 0 or not shutil.which("apt-get"):
        session.warn(f"not root or no apt-get: cannot install {missing} for the site checks")
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        session.run("apt-get", "update", "-qq", external=True, env=env)
        session.run("apt-get", "install", "-y", "-qq", *missing, external=True, env=env)
    except nox.command.CommandFailed:
        session.warn(f"could not install {missing}: the checks that need them will say so")


def sphinx_build(session: nox.Session, *args: str | Path, silent: bool = False) -> str | None:
    """Run sphinx-build with the settings every build of the book shares."""
    env = {"PYTHONHASHSEED": "0"}
    return run(session, "sphinx-build", *args, env=env, silent=silent)


def build_edition(session: nox.Session, language: str, *, silent: bool = False) -> str | None:
    """Build one edition into _build/<language>/html (notebooks in .../jupyter_execute)."""
    edition = BUILD / language
    # Sphinx never deletes the page of a removed document: start the HTML afresh
    # (the doctrees stay, so unchanged pages are not read again).
    shutil.rmtree(edition / "html", ignore_errors=True)
    return sphinx_build(
        session,
        "-b", "html",
        "-W", "--keep-going", "-n",
        "-j", "auto",
        "-D", f"language={language}",
        "-d", edition / "doctrees",
        DOCS,
        edition / "html",
        silent=silent,
    )  # fmt: skip


def extract_messages(session: nox.Session) -> Path:
    """Extract every translatable message into fresh templates in _build/gettext/pot."""
    pot = GETTEXT / "pot"
    shutil.rmtree(pot, ignore_errors=True)
    sphinx_build(session, "-b", "gettext", "-q", "-d", GETTEXT / "doctrees", DOCS, pot)
    run(session, "python", str(ROOT / "tools" / "extract_theme_messages.py"), str(pot))
    return pot


def catalog_inputs_hash() -> str:
    """A hash of everything the catalog check's verdict depends on."""
    files = [
        *DOCS.glob("*.md"),
        *DOCS.glob("_ext/*.py"),
        *CATALOGS.glob("*.po"),
        DOCS / "conf.py",
        DOCS / "glossary.toml",
        ROOT / "tools" / "check_catalogs.py",
        ROOT / "tools" / "extract_theme_messages.py",
        # the reference-output tables: their "what" texts are messages of their page
        *(ROOT / "tests" / "reference_outputs").glob("*.toml"),
        ROOT / "tools" / "reference_check.py",
        CONSTRAINTS,  # the theme's version decides its messages
    ]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def check_catalogs(session: nox.Session, pot: Path, *, strict: bool = True) -> None:
    """Untranslated, fuzzy or stale catalog entries, and rejected glossary variants."""
    run(
        session, "python", str(ROOT / "tools" / "check_catalogs.py"), str(CATALOGS),
        "--pot-dir", str(pot), "--glossary", str(DOCS / "glossary.toml"),
        success_codes=[0] if strict else [0, 1],
    )  # fmt: skip


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Build the book in English and Chinese into _build/site/{en,zh_CN}.

    Each edition is built in _build/<language>/: html/ (copied into the site), doctrees/,
    and jupyter_execute/ (the page's executed notebooks, for comparing the editions).
    Both share the execution cache, so the Chinese build executes nothing (checked).
    Before the Chinese build, the catalogs must be complete, without fuzzy entries and up
    to date with the English pages (checked again whenever a page, a catalog or the check
    itself changed); ``nox -s docs -- --draft`` builds it anyway.
    """
    install(session, "docs")
    draft = "--draft" in session.posargs
    build_edition(session, "en")
    stamp = GETTEXT / "checked.sha256"
    inputs = catalog_inputs_hash()
    if not draft and stamp.is_file() and stamp.read_text() == inputs:
        session.log("catalogs already checked against these pages: not extracting again")
    else:
        stamp.unlink(missing_ok=True)
        check_catalogs(session, extract_messages(session), strict=not draft)
        if not draft:
            stamp.write_text(inputs)
    if draft:
        session.warn("--draft: the Chinese edition may contain untranslated English text")
    output = build_edition(session, "zh_CN", silent=True) or ""
    print(output, end="")
    executed = [line for line in output.splitlines() if "Executing notebook" in line]
    if executed:
        session.error(
            "the Chinese build executed notebooks instead of reusing the English build's "
            "outputs from the shared cache:\n" + "\n".join(executed)
        )

    shutil.rmtree(SITE, ignore_errors=True)
    for language in LANGUAGES:
        shutil.copytree(BUILD / language / "html", SITE / language,
                        ignore=shutil.ignore_patterns(".buildinfo"))  # fmt: skip
    shutil.copy(DOCS / "_root" / "index.html", SITE / "index.html")
    (SITE / ".nojekyll").touch()  # GitHub Pages: serve _static/ and the other _ folders
    if os.environ.get("BOOK_PDF"):
        copy_pdfs_into_site(session)
    session.log(f"The book is in {SITE}: open {SITE / 'index.html'}")


# The PDF is printed by Debian's Chromium (tools/build_pdf.py says why this route); the
# Chinese edition needs a CJK font, which Chromium finds through fontconfig.
PDF_CHROMIUM = os.environ.get("BOOK_CHROMIUM", "/usr/bin/chromium")
PDF_TOOLS = {PDF_CHROMIUM: "chromium", "Noto Sans CJK SC": "fonts-noto-cjk"}
PDF_DIR = BUILD / "pdf"
PDF_NAME = "attention-step-by-step-{language}.pdf"  # as in docs/_ext/print_edition.py


def missing_pdf_tools() -> list[str]:
    """The Debian packages of PDF_TOOLS that the machine lacks."""
    fonts = ""
    if shutil.which("fc-list"):
        fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True,
                               text=True, check=False).stdout  # fmt: skip
    return [
        package
        for tool, package in PDF_TOOLS.items()
        if not (Path(tool).is_file() if tool.startswith("/") else tool in fonts)
    ]


def copy_pdfs_into_site(session: nox.Session) -> None:
    """Put each edition's PDF beside its pages, where the sidebar links to it (BOOK_PDF=1)."""
    for language in LANGUAGES:
        pdf = PDF_DIR / PDF_NAME.format(language=language)
        if pdf.is_file():
            shutil.copy(pdf, SITE / language / pdf.name)
        else:
            session.warn(f"BOOK_PDF is set but {pdf} is missing: build it with nox -s pdf")


@nox.session(python=False)
def pdf(session: nox.Session) -> None:
    """One PDF per edition in _build/pdf, linked from every page (about 4 min).

    Builds the site as ``nox -s docs`` does, with the sidebar link to the PDF
    (``BOOK_PDF=1``), then each edition with Sphinx's singlehtml builder from the same
    doctrees and execution cache (it fails if anything executes), prints that page with
    headless Chromium (tools/build_pdf.py) and copies each PDF into its edition of the
    site. The packages it needs, chromium and fonts-noto-cjk, are installed with apt-get
    when root; otherwise the session names them and stops.
    """
    missing = missing_pdf_tools()
    if missing and getattr(os, "geteuid", lambda: -1)() == 0 and shutil.which("apt-get"):
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=env)
        session.run("apt-get", "install", "-y", "-qq", *missing, external=True, env=env)
        missing = missing_pdf_tools()
    if missing:
        session.error(
            f"the PDF needs the Debian packages {missing}: as root, "
            f"`apt-get install {' '.join(missing)}`, then run nox -s pdf again"
        )
    install(session, "docs", "pdf")
    session.env["BOOK_PDF"] = "1"
    docs(session)
    for language in LANGUAGES:
        edition = BUILD / language
        single = edition / "singlehtml"
        shutil.rmtree(single, ignore_errors=True)
        output = sphinx_build(
            session,
            "-b", "singlehtml",
            "-W", "--keep-going", "-n",
            "-D", f"language={language}",
            "-d", edition / "doctrees",
            DOCS,
            single,
            silent=True,
        ) or ""  # fmt: skip
        print(output, end="")
        executed = [line for line in output.splitlines() if "Executing notebook" in line]
        if executed:
            session.error(
                "the single-page build executed notebooks instead of reusing the site's "
                "outputs from the shared cache:\n" + "\n".join(executed)
            )
        target = PDF_DIR / PDF_NAME.format(language=language)
        run(session, "python", str(ROOT / "tools" / "build_pdf.py"), str(single / "index.html"),
                    str(target))  # fmt: skip
    copy_pdfs_into_site(session)


@nox.session(python=False)
def i18n(session: nox.Session) -> None:
    """Extract the English messages and update the Chinese catalogs, then list what to translate.

    Writes templates to _build/gettext/pot and merges them into
    docs/locale/zh_CN/LC_MESSAGES/<page>.po (sphinx.po: the theme's words). A changed
    English paragraph becomes a fuzzy entry; a new one an empty entry; the entry of a
    deleted one is removed (the catalog check refuses obsolete ``#~`` entries).
    """
    install(session, "docs")
    pot = extract_messages(session)
    run(session, "sphinx-intl", "update", "--no-obsolete", "-p", str(pot),
                "-d", str(DOCS / "locale"),
                *[arg for language in LANGUAGES[1:] for arg in ("-l", language)])  # fmt: skip
    check_catalogs(session, pot, strict=False)


@nox.session(python=False)
def serve(session: nox.Session) -> None:
    """Serve the built site at http://127.0.0.1:8000 (``-- 8080 --bind 0.0.0.0``: port, LAN)."""
    if not (SITE / "index.html").is_file():
        session.error(f"no site in {SITE}: build it first with nox -s docs")
    args = session.posargs or ["8000", "--bind", "127.0.0.1"]
    session.log("Press Ctrl+C to stop.")
    session.run(sys.executable, "-m", "http.server", *args, "--directory", str(SITE))


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Time and measure the attention implementations on the CPU (about twenty minutes).

    Writes benchmarks/results.json (with the machine and the versions), redraws
    benchmarks/figures/ and prints the ratios against their targets. The book reads the
    results file; its build never reruns the benchmark. ``-- --replot``: only redraw.
    """
    install(session)  # the package is all it needs: torch.utils.benchmark times the runs
    run(session, "python", str(ROOT / "benchmarks" / "run_benchmark.py"), *session.posargs)


@nox.session(python="3.11")
def wheel(session: nox.Session) -> None:
    """Build the wheel and sdist, check them, and run the doctests of the installed wheel.

    The wheel is installed (not editable) into a fresh virtual environment with the pinned
    versions and its doctests run from a directory outside the repository, with pytest's
    settings from pyproject.toml: the package must work on its own, as users install it.
    The built files stay in _build/dist.
    """
    session.install("-c", str(CONSTRAINTS), *nox.project.dependency_groups(PYPROJECT, "wheel"))
    dist = BUILD / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # Without build isolation: the pinned setuptools of this session builds the files.
    session.run("python", "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT))
    files = sorted(map(str, dist.iterdir()))
    session.run("twine", "check", "--strict", *files)
    (wheel_file,) = dist.glob("*.whl")
    session.run("check-wheel-contents", str(wheel_file))
    with tempfile.TemporaryDirectory(prefix="attention-wheel-") as tmp:
        venv, outside = Path(tmp) / "venv", Path(tmp) / "run"
        outside.mkdir()
        session.run("python", "-m", "venv", str(venv))
        python = str(venv / "bin" / "python")
        pytest_pins = nox.project.dependency_groups(PYPROJECT, "doctest")
        session.run(python, "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS),
                    str(wheel_file), *pytest_pins, external=True)  # fmt: skip
        (outside / "pytest.ini").write_text(doctest_settings(), encoding="utf-8")
        session.chdir(outside)
        session.run(python, "-m", "pytest", "--pyargs", "attention_examples", external=True)


def doctest_settings() -> str:
    """pytest.ini for the installed package's doctests: the repository's pytest settings."""
    options = PYPROJECT["tool"]["pytest"]["ini_options"]
    addopts = [opt for opt in options["addopts"] if opt != "--import-mode=importlib"]
    lines = [
        "[pytest]",
        f"addopts = {' '.join(addopts)} -p no:cacheprovider",
        f"doctest_optionflags = {' '.join(options['doctest_optionflags'])}",
        f"xfail_strict = {str(options['xfail_strict']).lower()}",
        "filterwarnings =",
        *(f"    {rule}" for rule in options["filterwarnings"]),
    ]
    return "\n".join(lines) + "\n"


@nox.session(python=False)
def buildtimes(session: nox.Session) -> None:
    """Time ``nox -s docs`` in a fresh clone: cold, unchanged, after edits (about ten minutes).

    Prints the table of the README's "Build times" section and fails if a rebuild executes
    other pages than the edit calls for. ``-- --keep --workdir DIR`` keeps the clone.
    """
    session.run(sys.executable, str(ROOT / "tools" / "time_builds.py"), *session.posargs)


@nox.session(python=False)
def reproducible(session: nox.Session) -> None:
    """Build HEAD twice from scratch; executed outputs and HTML must match (slow).

    Every notebook is executed twice, so this is not part of the default run.
    ``nox -s reproducible -- --keep --workdir DIR`` keeps both builds for a look.
    """
    install(session, "docs")
    run(session, "python", str(ROOT / "tools" / "check_reproducible.py"), *session.posargs)


@nox.session(python="3.11")
def lock(session: nox.Session) -> None:
    """Re-resolve every dependency group and pin the result in constraints.txt."""
    groups = [dep for group in PYPROJECT["dependency-groups"] for dep in
              nox.project.dependency_groups(PYPROJECT, group)]  # fmt: skip
    session.install("torch==2.13.0", ".", *groups)
    # --all: setuptools is pinned too (the wheel session builds with it)
    frozen = session.run("pip", "freeze", "--all", "--exclude-editable", silent=True, log=False)
    lines = [
        line.split("+")[0] if line.startswith("torch==") else line
        for line in str(frozen).splitlines()
        if line and not line.startswith(("attention_examples", "attention-examples", "pip=="))
    ]
    header = "# The exact versions the book's outputs were verified with. Regenerate: nox -s lock\n"
    CONSTRAINTS.write_text(header + "\n".join(sorted(lines, key=str.lower)) + "\n")
    session.log(f"wrote {len(lines)} pins to {CONSTRAINTS}")


@nox.session(python=False)
def clean(session: nox.Session) -> None:
    """Remove the build directory (and with it the execution cache)."""
    shutil.rmtree(BUILD, ignore_errors=True)
