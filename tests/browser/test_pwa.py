"""The installable web app in real Chromium: the service worker and manifest, "Keep on this
device" with the viewer opened offline, the offline page, "Delete from this device", and that
viewing without keeping leaves no health data in Cache Storage (docs/pwa.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from playwright.sync_api import expect
from pydicom import dcmread

from tests.archive.factories import ct_series
from tests.browser.test_viewer import _login, _open, _wait_for_image
from tests.conftest import Persona
from tests.viewer.factories import mr_series, upload_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Whether this page's registration has an active worker within `ms` (page.evaluate has no
# timeout of its own); if not, what the registrations look like, for the failure message.
WORKER_ACTIVE = """async (ms) => {
  const wait = new Promise((resolve) => setTimeout(() => resolve(null), ms))
  if (await Promise.race([navigator.serviceWorker.ready, wait])) return null
  return (await navigator.serviceWorker.getRegistrations()).map((r) => [
    r.scope, r.installing && r.installing.state, r.waiting && r.waiting.state,
    r.active && r.active.state
  ])
}"""

# The registration of the worker that controls this page, and the cache names.
WORKER_STATE = """async () => {
  const controller = navigator.serviceWorker.controller
  const registration = await navigator.serviceWorker.getRegistration()
  return {
    controller: controller && controller.scriptURL,
    script: registration && registration.active && registration.active.scriptURL,
    scope: registration && registration.scope,
    caches: await caches.keys()
  }
}"""

# Every URL in Cache Storage, by cache.
CACHE_CONTENTS = """async () => {
  const out = {}
  for (const name of await caches.keys()) {
    out[name] = (await (await caches.open(name)).keys()).map((request) => request.url)
  }
  return out
}"""

MANIFEST = """async () => {
  const link = document.querySelector('link[rel="manifest"]')
  const manifest = await (await fetch(link.href)).json()
  const icons = []
  for (const icon of manifest.icons.filter((i) => i.type === 'image/png')) {
    const bitmap = await createImageBitmap(await (await fetch(icon.src)).blob())
    icons.push([icon.sizes, `${bitmap.width}x${bitmap.height}`])
  }
  return { manifest, icons }
}"""


@pytest.fixture
def page(browser: Any, live_server: Any, alice: Persona) -> Iterator[Any]:
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 800}, service_workers="allow"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _install_worker(page, live_server.url)
    _login(page, live_server.url, alice)
    page.errors = errors
    yield page
    context.close()


def _install_worker(page: Any, base: str) -> None:
    """Open the login page, which registers the worker by itself, and wait until the worker is
    active before anything navigates.

    Logging in at once would race the worker's installation against the navigation: a page
    whose navigation began before the worker was active stays uncontrolled until the next
    navigation (``clients.claim()`` skips a document still loading), which is how browsers
    work and what a user sees too, but a test cannot assert on it. A page that has no worker
    after 20 s is reloaded once, as a user's next page would register again (an installation
    can fail, say when a shell file does not arrive)."""
    page.goto(f"{base}/login/")
    states = page.evaluate(WORKER_ACTIVE, 20_000)
    if states is not None:
        page.reload()
        states = page.evaluate(WORKER_ACTIVE, 40_000)
    assert states is None, f"no worker: {states}"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _worker_ready(page: Any, base: str) -> dict[str, Any]:
    """The worker controls this page (it was active before the page was navigated to) and its
    shell is stored."""
    state: dict[str, Any] = page.evaluate(WORKER_STATE)
    assert state["controller"] == f"{base}/sw.js"
    assert state["script"] == f"{base}/sw.js"
    assert state["scope"] == f"{base}/"
    assert [name for name in state["caches"] if name.startswith("hds-shell-")]
    return state


def _go_offline(page: Any, offline: bool) -> None:
    page.context.set_offline(offline)


def test_keep_on_this_device_opens_the_study_offline_until_deleted(
    page: Any, live_server: Any, uploader: Client
) -> None:
    base = live_server.url
    ct = ct_series(3, description="CT Chest")
    study_uid = str(dcmread(BytesIO(ct[0])).StudyInstanceUID)
    study = upload_study(uploader, ct)
    mr = mr_series(2, study_uid=study_uid)
    mr_uid = str(dcmread(BytesIO(mr[0])).SeriesInstanceUID)
    upload_study(uploader, mr)

    # Installable: the worker controls the site, the manifest is linked and its icons decode.
    _worker_ready(page, base)
    manifest = page.evaluate(MANIFEST)
    assert manifest["manifest"]["display"] == "standalone"
    assert manifest["manifest"]["start_url"] == "/"
    assert sorted(manifest["icons"]) == [["192x192", "192x192"], ["512x512", "512x512"]]

    # Online: what the viewer asks the server for, both series shown.
    requested: list[str] = []

    def record(request: Any) -> None:
        requested.append(request.url)

    page.on("request", record)
    _open(page, base, study)
    _wait_for_image(page)
    page.locator(f'[data-series-uid="{mr_uid}"]').click()
    expect(page.locator('[data-pane="0"] [data-overlay="image"]')).to_have_text("Image 1 of 2")
    _wait_for_image(page)
    page.remove_listener("request", record)

    # Keep it, after the explanation.
    page.goto(f"{base}/documents/{study}/")
    card = page.locator("[data-keep]")
    card.get_by_role("button", name="Keep on this device").click()
    expect(card).to_contain_text("anyone using this browser profile")
    expect(card).to_contain_text("when you log out")
    card.get_by_role("button", name="Keep the images on this device").click()
    status = card.locator("[data-keep-status]")
    expect(status).to_have_text(re.compile(r"^Kept on this device \(\d[\d.,]* (kB|MB)\)$"))
    expect(card.get_by_role("button", name="Delete from this device")).to_be_visible()
    kept = page.evaluate(CACHE_CONTENTS)[f"hds-kept-{study}"]

    # Everything the viewer requested online is kept or in the shell: a viewer that asks for
    # anything else (say, another metadata URL) fails here.
    listed = page.evaluate(f"fetch('/viewer/{study}/offline.json').then((r) => r.json())")
    listed_urls = {entry["url"] for entry in listed["requests"]} | set(listed["static"])
    viewer_requests = {_path(url) for url in requested if url.startswith(base)}
    assert viewer_requests - listed_urls == set()
    assert {_path(url) for url in kept} >= {entry["url"] for entry in listed["requests"]}
    assert any("/dicomweb/" in url and "/frames/" in url for url in kept)

    # Offline: the kept study opens and both series show images; nothing fails to load.
    _go_offline(page, offline=True)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    _open(page, base, study)
    expect(page.locator('[data-pane="0"] [data-overlay="image"]')).to_have_text("Image 1 of 3")
    _wait_for_image(page)
    page.locator(f'[data-series-uid="{mr_uid}"]').click()
    expect(page.locator('[data-pane="0"] [data-overlay="image"]')).to_have_text("Image 1 of 2")
    _wait_for_image(page)
    assert [url for url in failed if url.startswith(base)] == []

    # A page that was not kept: the offline page, which links the kept study.
    page.goto(f"{base}/documents/")
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    expect(page.locator("[data-kept-list] a")).to_have_attribute("href", f"/viewer/{study}/")
    _go_offline(page, offline=False)

    # Delete from this device: the study's cache is gone, the shell stays.
    page.goto(f"{base}/documents/{study}/")
    expect(status).to_have_text(re.compile(r"^Kept on this device"))
    card.get_by_role("button", name="Delete from this device").click()
    expect(status).to_have_text("Deleted from this device.")
    expect(card.get_by_role("button", name="Keep on this device")).to_be_visible()
    names = page.evaluate("caches.keys()")
    assert f"hds-kept-{study}" not in names
    assert [name for name in names if name.startswith("hds-shell-")]
    assert not page.errors, page.errors


def test_viewing_without_keeping_leaves_no_health_data_in_cache_storage(
    page: Any, live_server: Any, uploader: Client
) -> None:
    base = live_server.url
    study = upload_study(uploader, ct_series(3))
    _worker_ready(page, base)
    page.goto(f"{base}/documents/{study}/")
    page.get_by_role("link", name="Open viewer").click()
    _wait_for_image(page)
    page.keyboard.press("End")
    expect(page.locator('[data-pane="0"] [data-overlay="image"]')).to_have_text("Image 3 of 3")
    page.goto(f"{base}/documents/")
    contents: dict[str, list[str]] = page.evaluate(CACHE_CONTENTS)
    assert list(contents) == [name for name in contents if name.startswith("hds-shell-")]
    stored = [_path(url) for urls in contents.values() for url in urls]
    assert stored
    assert [p for p in stored if not p.startswith(("/static/", "/offline/?lang="))] == []

    # Offline, the study was not kept: its viewer is the offline page, without a kept list.
    _go_offline(page, offline=True)
    page.goto(f"{base}/viewer/{study}/")
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    expect(page.locator("[data-kept-list]")).to_be_hidden()
    _go_offline(page, offline=False)

    # Logout's Clear-Site-Data wipes Cache Storage (here a stand-in for a kept study).
    page.goto(f"{base}/documents/")
    page.evaluate("caches.open('hds-kept-stand-in').then((c) => c.put('/x', new Response('x')))")
    assert "hds-kept-stand-in" in page.evaluate("caches.keys()")
    page.get_by_role("navigation").get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
    assert [n for n in page.evaluate("caches.keys()") if n.startswith("hds-kept-")] == []
    assert not page.errors, page.errors
