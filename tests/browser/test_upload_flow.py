"""A person uploads files in a real browser, sees the study with previews, and downloads it."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.archive.factories import ct_series
from tests.conftest import Persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Any, base: str, persona: Persona) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail address").fill(persona.email)
    page.get_by_label("Password").fill(persona.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My documents").wait_for()


def test_upload_files_see_previews_and_download(
    browser: Any, live_server: Any, alice: Persona, tmp_path: Path
) -> None:
    folder = tmp_path / "cd"
    folder.mkdir()
    for i, data in enumerate(ct_series(3, patient_name="Browser^Bea", description="CT Hand")):
        (folder / f"IM{i:04d}").write_bytes(data)
    (folder / "notes.txt").write_bytes(b"this is not an image")

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server.url, alice)
    page.get_by_role("navigation").get_by_role("link", name="Upload").click()
    page.locator("input[data-pick-files]").set_input_files(sorted(folder.iterdir()))

    done = page.locator("[data-done]")
    expect(done).to_be_visible(timeout=30_000)
    expect(page.locator(".upload-results li.stored")).to_have_count(3)
    expect(page.locator(".upload-results li.error")).to_have_count(1)
    expect(page.locator(".upload-results li.error")).to_contain_text("not a DICOM file")
    expect(page.locator("[data-total-label]")).to_contain_text("3 stored")

    done.get_by_role("link", name="Go to My documents").click()
    row = page.locator(".study-row", has_text="CT Hand")
    expect(row).to_contain_text("3 images")
    thumb = row.locator("img.thumb")
    expect(thumb).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert thumb.evaluate("img => img.naturalWidth") > 0

    row.locator("a.study-link").click()  # the row also links to the viewer
    page.get_by_role("heading", name="CT Hand").wait_for()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download JPEG + DICOM").click()
    target = tmp_path / "study.zip"
    info.value.save_as(target)
    names = zipfile.ZipFile(target).namelist()
    assert "DICOMDIR" in names
    assert len([n for n in names if n.startswith("JPEG/")]) == 3
    assert not errors, errors
    context.close()


def test_many_files_go_up_in_groups_and_each_keeps_its_own_result(
    browser: Any, live_server: Any, alice: Persona, tmp_path: Path
) -> None:
    """36 files make three requests of at most 16; results stay with their files."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i, data in enumerate(ct_series(34, description="CT Abdomen")):
        (folder / f"IM{i:04d}").write_bytes(data)
    (folder / "IM0020x").write_bytes(b"broken " * 50)  # sorts into the second group
    (folder / "IM0003").rename(folder / "IM0003-copy")
    (folder / "IM0003").write_bytes((folder / "IM0003-copy").read_bytes())

    page = browser.new_page()
    requests: list[str] = []
    page.on(
        "request",
        lambda r: requests.append(r.url) if r.url.endswith("/api/v1/uploads") else None,
    )
    _login(page, live_server.url, alice)
    page.goto(f"{live_server.url}/upload/")
    page.locator("input[data-pick-files]").set_input_files(sorted(folder.iterdir()))

    expect(page.locator("[data-done]")).to_be_visible(timeout=60_000)
    expect(page.locator(".upload-results li.stored")).to_have_count(34)
    expect(page.locator(".upload-results li.duplicate")).to_have_count(1)
    error = page.locator(".upload-results li.error")
    expect(error).to_have_count(1)
    expect(error.locator(".result-path")).to_have_text("IM0020x")
    duplicate = page.locator(".upload-results li.duplicate .result-path")
    expect(duplicate).to_have_text("IM0003-copy")
    assert len(requests) == 3
    page.close()
