"""Shared test settings.

Hypothesis runs derandomized by default, so CI sees the same examples on every run
and a failure reproduces locally. ``HYPOTHESIS_PROFILE=dev`` explores more, with
fresh random examples each run; ``HYPOTHESIS_PROFILE=thorough`` more still.
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

# Fixtures for the checks of the built site (server, browser, page discovery).
pytest_plugins = ["tests.site_conftest"]

settings.register_profile(
    "ci",
    derandomize=True,  # the same examples every run: no flaky CI
    database=None,  # nothing written to .hypothesis/
    max_examples=25,
    deadline=None,  # the first call into torch can be slow; timing is not what we test
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _restore_torch_state():
    """Keep one test's global seed or default dtype from leaking into the next."""
    rng = torch.get_rng_state()
    dtype = torch.get_default_dtype()
    yield
    torch.set_rng_state(rng)
    torch.set_default_dtype(dtype)
