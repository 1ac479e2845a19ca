"""A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for KDS tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path(os.environ.get("ORDERPASS_CHROMIUM", "/usr/bin/chromium"))
# Flags from this workplace's notes: no sandbox as root, and no background network chatter.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def require_chromium() -> None:
    """Skip (or, where the browser must be there, fail) when Chromium is missing."""
    if CHROMIUM.exists() and shutil.which(str(CHROMIUM)):
        return
    reason = (
        f"no Chromium at {CHROMIUM}: `make test` installs it with apt-get where it runs as root on Debian"
    )
    if os.environ.get("ORDERPASS_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()
