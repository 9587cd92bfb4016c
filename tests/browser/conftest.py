"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright against the live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import Persona, log_in

CHROMIUM = os.environ.get("HDS_CHROMIUM", "/usr/bin/chromium")
FRONTEND_BUILD = Path(__file__).resolve().parents[2] / "frontend" / "dist" / "pages.js"

# Playwright's sync API runs an event loop in this thread; Django's ORM calls in the live server
# thread and in test code are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        pytest.skip(
            f"SKIPPED LOUDLY: no Chromium at {CHROMIUM}; run the test command as root "
            "(it installs Debian's chromium) or set HDS_CHROMIUM"
        )
    if not FRONTEND_BUILD.exists():
        pytest.fail("frontend/dist is missing: run scripts/setup.sh (npm ci && npm run build)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def uploader(alice: Persona) -> Client:
    """A test client logged in as alice, for putting studies in place quickly."""
    client = Client()
    log_in(client, alice)
    return client
