"""Accessibility of every page of both editions, checked by axe-core in Chromium.

No page may have a violation of impact "serious" or "critical". The axe-core script
ships inside the axe-playwright-python package, so nothing is fetched. Run after
``nox -s docs``.
"""

from __future__ import annotations

import pytest

from tests.site_conftest import all_site_pages, page_params, require

pytestmark = [pytest.mark.site, pytest.mark.browser, pytest.mark.slow]

BLOCKING = ("serious", "critical")


@pytest.fixture(scope="session")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def describe(violation: dict) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    more = len(violation["nodes"]) - len(targets)
    return (
        f"[{violation['impact']}] {violation['id']}: {violation['help']} "
        f"({len(violation['nodes'])} element(s), e.g. {'; '.join(targets)}"
        f"{f' and {more} more' if more > 0 else ''})\n    {violation['helpUrl']}"
    )


def run_axe(axe, tab, rules: list[str] | None = None) -> list[dict]:
    """The serious and critical violations on the page (of the given rules only, if any)."""
    options: dict = {"resultTypes": ["violations"]}
    if rules is not None:
        options["runOnly"] = {"type": "rule", "values": rules}
    results = axe.run(tab, options=options)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING]


@pytest.mark.parametrize("item", page_params(all_site_pages()))
def test_no_serious_accessibility_violations(item, axe, open_page, site_server):
    edition, page = require(item)
    tab, visit = open_page(site_server.url(edition, page))
    violations = run_axe(axe, tab)
    # The theme follows the reader's colour scheme: contrast must hold in dark mode too.
    tab.emulate_media(color_scheme="dark")
    violations += [
        {**v, "id": f"{v['id']} (dark mode)"} for v in run_axe(axe, tab, rules=["color-contrast"])
    ]
    assert not violations, "\n".join(map(describe, violations))
    assert not visit.external_requests, visit.external_requests
