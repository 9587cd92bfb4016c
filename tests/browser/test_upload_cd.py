"""The browser uploader with a patient CD: the DICOMDIR's list decides what goes up
(frontend/src/upload/plan.js, the same rules as ``hds upload``: tests/vectors/upload_plans.json).
The plan request is answered by the page's route, so this tests the page's side alone; the
server's DICOMDIR reading is tested in tests/archive/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.archive.factories import ct_series
from tests.conftest import Persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _cd(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cd"
    folder.mkdir()
    (folder / "DICOMDIR").write_bytes(b"an index the route below answers for")
    for i, data in enumerate(ct_series(4, description="CT Knee")):
        (folder / f"IM{i:04d}").write_bytes(data)
    (folder / "Thumbs.db").write_bytes(b"clutter")
    return sorted(folder.iterdir())


def _open_upload(browser: Any, base: str, persona: Persona) -> tuple[Any, list[str], list[str]]:
    # The site's service worker would see the page's fetches first, and Playwright does not route
    # requests a service worker handles: without this, the plan route below is skipped whenever
    # the worker is already active (the test then failed about one time in ten).
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sent: list[str] = []

    page.on(
        "request",
        lambda r: sent.append(r.method) if r.url.endswith("/api/v1/uploads") else None,
    )
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail address").fill(persona.email)
    page.get_by_label("Password").fill(persona.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My documents").wait_for()
    page.goto(f"{base}/upload/")
    return page, errors, sent


def test_only_the_files_the_dicomdir_lists_go_up(
    browser: Any, live_server: Any, alice: Persona, tmp_path: Path
) -> None:
    page, errors, sent = _open_upload(browser, live_server.url, alice)
    plans: list[str] = []

    def plan(route: Any) -> None:
        plans.append(route.request.method)
        # Case and ISO 9660 version suffixes do not matter; IM0003 is not listed.
        body = json.dumps({"files": ["IM0000", "im0001", "IM0002;1"]})
        route.fulfill(status=200, content_type="application/json", body=body)

    page.route("**/api/v1/uploads/plan", plan)
    page.locator("input[data-pick-files]").set_input_files(_cd(tmp_path))

    expect(page.locator("[data-done]")).to_be_visible(timeout=60_000)
    paths = page.locator(".upload-results li.stored .result-path")
    expect(paths).to_have_text(["IM0000", "IM0001", "IM0002"])
    # Neither the DICOMDIR, nor the file it does not list, nor the clutter went up.
    expect(page.locator(".upload-results li")).to_have_count(3)
    expect(page.locator(".alert-warning")).to_be_hidden()
    assert plans == ["POST"]
    assert sent == ["POST"]  # one group
    assert not errors, errors
    page.context.close()


def test_a_dicomdir_that_cannot_be_read_sends_everything_with_a_warning(
    browser: Any, live_server: Any, alice: Persona, tmp_path: Path
) -> None:
    page, errors, sent = _open_upload(browser, live_server.url, alice)
    page.route("**/api/v1/uploads/plan", lambda route: route.fulfill(status=503, body="down"))
    page.locator("input[data-pick-files]").set_input_files(_cd(tmp_path))

    expect(page.locator("[data-done]")).to_be_visible(timeout=60_000)
    expect(page.locator(".upload-results li.stored .result-path")).to_have_text(
        ["IM0000", "IM0001", "IM0002", "IM0003"]
    )
    expect(page.locator(".upload-results li")).to_have_count(4)  # not the DICOMDIR
    expect(page.locator(".alert-warning")).to_be_visible()
    assert sent == ["POST"]
    assert not errors, errors
    page.context.close()
