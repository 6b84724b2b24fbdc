"""The publishing setup: the GitHub Pages workflow, Read the Docs, and what the built site
tells search engines and social sites (canonical URLs, OpenGraph tags, sitemaps).

The workflow and .readthedocs.yaml must parse, have the keys their services require, and
run only nox sessions that the noxfile defines (read with ``ast``, not imported).
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.site_conftest import (
    EDITIONS,
    ROOT,
    chapter_pages,
    discover_pages,
    edition_dir,
)

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
READTHEDOCS = ROOT / ".readthedocs.yaml"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"


# --- the noxfile, read without running it --------------------------------------------


def nox_sessions() -> dict[str, list[str]]:
    """Session name -> the Python versions it asks for, from noxfile.py's decorators."""
    sessions = {}
    for node in ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if ast.unparse(target) not in ("nox.session", "session"):
                continue
            keywords = {k.arg: k.value for k in call.keywords} if call else {}
            name = keywords.get("name")
            python = keywords.get("python")
            value = ast.literal_eval(python) if python is not None else None
            pythons = [value] if isinstance(value, str) else list(value or [])
            sessions[ast.literal_eval(name) if name else node.name] = pythons
    return sessions


def default_sessions() -> list[str]:
    for node in ast.walk(ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "nox.options.sessions":
            return ast.literal_eval(node.value)
    return []


def nox_invocations(commands: list[str]) -> list[list[str]]:
    """The sessions each ``nox`` command runs (``[]`` for a bare ``nox``: the defaults)."""
    invocations = []
    for command in commands:
        for line in command.splitlines():
            words = shlex.split(line, comments=True)
            if "nox" not in words:
                continue
            args = words[words.index("nox") + 1 :]
            if words[words.index("nox") - 1 : words.index("nox")] not in (["-m"], []):
                continue  # e.g. `pip install nox`
            sessions = [
                name
                for flag, value in zip(args, [*args[1:], ""][: len(args)], strict=True)
                if flag in ("-s", "--session", "--sessions")
                for name in value.split(",")
            ]
            invocations.append(sessions)
    return invocations


def test_noxfile_runs_every_check_by_default():
    sessions = nox_sessions()
    assert {"lint", "docs", "tests"} <= set(sessions), sorted(sessions)
    assert default_sessions() == ["lint", "docs", "tests"]
    assert "reproducible" in sessions, "the reproducibility check has no session"


# --- GitHub Actions ------------------------------------------------------------------


def load_workflow(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), f"{path.name} is not a YAML mapping"
    # YAML 1.1 reads the key `on` as the boolean True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def run_commands(workflow: dict) -> list[str]:
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


def uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job.get("steps", []) if "uses" in step]


@pytest.fixture(scope="module")
def workflow() -> dict:
    assert WORKFLOWS, "no workflow in .github/workflows"
    publishing = [w for w in map(load_workflow, WORKFLOWS) if "deploy-pages" in str(w)]
    assert len(publishing) == 1, "exactly one workflow should publish to GitHub Pages"
    return publishing[0]


def check_schema(schema: str, path: Path) -> subprocess.CompletedProcess:
    """Validate against a schema that check-jsonschema ships (no network needed)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_the_github_schema(path):
    result = check_schema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_workflow_parses():
    for path in WORKFLOWS:
        workflow = load_workflow(path)
        for key in ("name", "on", "jobs"):
            assert workflow.get(key), f"{path.name} has no {key!r}"
        for name, job in workflow["jobs"].items():
            assert "runs-on" in job, f"{path.name}: job {name} has no runs-on"
            assert job.get("steps"), f"{path.name}: job {name} has no steps"
            for step in job["steps"]:
                assert ("run" in step) != ("uses" in step), f"{path.name}: {step}"


def test_workflow_runs_on_pushes_and_pull_requests(workflow):
    triggers = workflow["on"]
    assert "main" in triggers["push"]["branches"]
    assert "pull_request" in triggers


def test_workflow_runs_the_readme_test_command(workflow):
    invocations = nox_invocations(run_commands(workflow))
    assert [] in invocations, "the workflow never runs `python3 -m nox` (every check)"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m nox\n" in readme, "the README's test command is not `python3 -m nox`"
    known = set(nox_sessions())
    for sessions in invocations:
        assert set(sessions) <= known, f"the workflow runs unknown sessions {sessions}"


def test_workflow_checks_the_wheel(workflow):
    """The wheel session is not in the default run: CI runs it on its own."""
    assert "wheel" in nox_sessions(), "the noxfile has no wheel session"
    assert ["wheel"] in nox_invocations(run_commands(workflow)), "CI never runs nox -s wheel"


def test_workflow_publishes_the_checked_site(workflow):
    jobs = workflow["jobs"]
    builders = [name for name, job in jobs.items() if "actions/upload-pages-artifact" in uses(job)]
    deployers = [name for name, job in jobs.items() if "actions/deploy-pages" in uses(job)]
    assert len(builders) == 1, "one job must upload the site"
    assert len(deployers) == 1, "one job must deploy it"
    builder, deployer = jobs[builders[0]], jobs[deployers[0]]
    upload = next(s for s in builder["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "_build/site"
    steps = builder["steps"]
    checks = next(i for i, s in enumerate(steps) if [] in nox_invocations([s.get("run", "")]))
    assert checks < steps.index(upload), "the site is uploaded before the checks ran"
    needs = deployer.get("needs")
    assert builders[0] in ([needs] if isinstance(needs, str) else needs)
    assert deployer["permissions"] == {"pages": "write", "id-token": "write"}
    assert deployer["environment"]["name"] == "github-pages"
    assert "refs/heads/main" in deployer["if"], "only main is published"
    base_url = [s for s in steps if "BOOK_BASE_URL" in s.get("env", {})]
    assert base_url, "the build does not set BOOK_BASE_URL to the published address"


def test_workflow_python_matches_the_noxfile(workflow):
    wanted = {python for pythons in nox_sessions().values() for python in pythons}
    images = [str(job.get("container", "")) for job in workflow["jobs"].values()]
    setups = [
        str(step.get("with", {}).get("python-version", ""))
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
    ]
    assert any(python in text for python in wanted for text in images + setups), (
        f"no job provides Python {sorted(wanted)}"
    )


# --- Read the Docs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def readthedocs() -> dict:
    assert READTHEDOCS.is_file(), ".readthedocs.yaml is missing"
    return yaml.safe_load(READTHEDOCS.read_text(encoding="utf-8"))


def test_readthedocs_matches_its_schema():
    result = check_schema("vendor.readthedocs", READTHEDOCS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readthedocs_config(readthedocs):
    assert readthedocs["version"] == 2
    build = readthedocs["build"]
    assert re.fullmatch(r"ubuntu-\d\d\.\d\d", build["os"]), build["os"]
    wanted = {python for pythons in nox_sessions().values() for python in pythons}
    assert str(build["tools"]["python"]) in wanted
    configuration = readthedocs["sphinx"]["configuration"]
    assert (ROOT / configuration).is_file(), configuration


def test_readthedocs_builds_with_the_docs_session(readthedocs):
    commands = readthedocs["build"]["commands"]
    assert ["docs"] in nox_invocations(commands), "Read the Docs must build with `nox -s docs`"
    for sessions in nox_invocations(commands):
        assert set(sessions) <= set(nox_sessions()), sessions
    copied = " ".join(commands)
    assert "$READTHEDOCS_OUTPUT/html" in copied, "nothing is put where Read the Docs serves"
    for edition in EDITIONS:
        assert edition in copied, f"the {edition} edition is never published"
    assert "READTHEDOCS_LANGUAGE" in copied, "the edition must follow the project's language"


# --- the base URL is configurable ----------------------------------------------------

READ_CONF = """
import json, runpy
conf = runpy.run_path("docs/conf.py")
print(json.dumps({key: conf[key] for key in
    ("book_edition_config", "site_url", "sitemap_url_scheme", "sitemap_locales")}))
"""


def read_conf(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("BOOK_BASE_URL", "READTHEDOCS_CANONICAL_URL")
    }
    return subprocess.run(
        [sys.executable, "-c", READ_CONF],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_base_url_comes_from_the_environment():
    result = read_conf(BOOK_BASE_URL="https://example.org/attention-book")
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout.splitlines()[-1])
    for edition in EDITIONS:
        settings = conf["book_edition_config"][edition]
        assert settings["html_baseurl"] == f"https://example.org/attention-book/{edition}/"
        assert settings["ogp_site_url"] == settings["html_baseurl"]
        assert settings["notfound_urls_prefix"] == f"/attention-book/{edition}/"
    assert conf["site_url"] == "https://example.org/attention-book/"
    assert conf["sitemap_url_scheme"] == "{lang}{link}"


def test_read_the_docs_url_wins():
    url = "https://attention.readthedocs.io/zh-cn/latest/"
    result = read_conf(READTHEDOCS_CANONICAL_URL=url, BOOK_BASE_URL="https://example.org/")
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout.splitlines()[-1])
    assert conf["book_edition_config"]["zh_CN"]["html_baseurl"] == url
    assert conf["book_edition_config"]["zh_CN"]["notfound_urls_prefix"] == "/zh-cn/latest/"
    assert conf["site_url"] == url


def test_a_relative_base_url_is_refused():
    result = read_conf(BOOK_BASE_URL="attention-book/")
    assert result.returncode != 0
    assert "BOOK_BASE_URL" in result.stderr
    assert "'attention-book/'" in result.stderr


# --- what the built site says about itself -------------------------------------------


def meta(html: str, key: str) -> str | None:
    match = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    return match.group(1) if match else None


def canonical(html: str) -> str | None:
    match = re.search(r'<link rel="canonical" href="([^"]+)"', html)
    return match.group(1) if match else None


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_pages_have_canonical_urls_and_opengraph_tags(edition):
    pages = chapter_pages(edition)
    assert pages, f"no pages in {edition_dir(edition)}: run `python3 -m nox -s docs` first"
    bases = set()
    for page in pages:
        html = (edition_dir(edition) / page).read_text(encoding="utf-8")
        url = canonical(html)
        assert url, f"{edition}/{page} has no canonical URL"
        assert url.endswith(f"/{edition}/{page}"), f"{edition}/{page}: canonical {url}"
        bases.add(url[: -len(f"{edition}/{page}")])
        assert meta(html, "og:url") == url, f"{edition}/{page}: og:url"
        assert meta(html, "og:title"), f"{edition}/{page} has no og:title"
        assert meta(html, "og:locale") == edition, f"{edition}/{page}: og:locale"
        if page != "index.html":
            description = meta(html, "og:description")
            assert description, f"{edition}/{page} has no og:description"
            assert meta(html, "description") == description
    assert len(bases) == 1, f"pages disagree on where the site is published: {bases}"


@pytest.mark.site
@pytest.mark.parametrize("edition", EDITIONS)
def test_sitemap_lists_every_page_and_its_twin(edition):
    path = edition_dir(edition) / "sitemap.xml"
    assert path.is_file(), f"{edition} has no sitemap.xml"
    entries = ET.parse(path).getroot().findall(f"{SITEMAP}url")
    urls = {entry.findtext(f"{SITEMAP}loc") for entry in entries}
    wanted = {
        canonical((edition_dir(edition) / page).read_text(encoding="utf-8"))
        for page in discover_pages(edition)
        if page not in ("search.html", "genindex.html")
    }
    assert urls == wanted, f"missing: {sorted(wanted - urls)}; extra: {sorted(urls - wanted)}"
    for entry in entries:
        languages = {
            link.get("hreflang") for link in entry.findall(f"{XHTML}link[@rel='alternate']")
        }
        if languages:  # alternates are listed when one site holds both editions
            assert languages == {e.replace("_", "-") for e in EDITIONS}, languages
