"""Accessibility of every page of both editions, checked by axe-core in Chromium.

No page may have a violation of impact "serious" or "critical". The axe-core script
ships inside the axe-playwright-python package, so nothing is fetched. Run after
``nox -s docs``.
"""

from __future__ import annotations

import pytest

from tests.site_conftest import all_site_pages, page_params, require

pytestmark = [pytest.mark.site, pytest.mark.browser, pytest.mark.slow]


def describe(violation: dict) -> str:
    targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
    more = len(violation["nodes"]) - len(targets)
    return (
        f"[{violation['impact']}] {violation['id']}: {violation['help']} "
        f"({len(violation['nodes'])} element(s), e.g. {'; '.join(targets)}"
        f"{f' and {more} more' if more > 0 else ''})\n    {violation['helpUrl']}"
    )


@pytest.mark.parametrize("item", page_params(all_site_pages()))
def test_no_serious_accessibility_violations(item, page_report):
    """axe-core, light and dark mode (``accessibility_violations`` in site_conftest.py)."""
    edition, page = require(item)
    report = page_report(edition, page)
    violations = report["accessibility"]
    assert not violations, "\n".join(map(describe, violations))
    assert not report["visit"].external_requests, report["visit"].external_requests
