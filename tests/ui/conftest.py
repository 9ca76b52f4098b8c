"""Fixtures of the page tests (a real browser)."""

from __future__ import annotations

import os

import pytest

from tests.ui.browser import chromium_path


@pytest.fixture
def browser_available() -> None:
    """Chromium is required under CI (scripts/test.sh installs it); elsewhere the test skips."""
    if chromium_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed and CI=true")
        pytest.skip("chromium is not installed (scripts/ensure-chromium.sh)")
