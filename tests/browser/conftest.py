"""The ``playwright`` fixture: Playwright's driver, never a downloaded browser (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Playwright, async_playwright

from browser.harness import CHROMIUM


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    assert Path(CHROMIUM).exists(), "apt install chromium: the browser tests use Debian's Chromium"
    async with async_playwright() as pw:
        yield pw

