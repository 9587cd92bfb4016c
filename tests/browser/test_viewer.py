"""The DICOM viewer in real Chromium: studies open, scroll, window, measure, play, and every
compressed transfer syntax in the test data shows an image."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pydicom
import pytest
from django.test import Client
from playwright.sync_api import expect
from pydicom.uid import generate_uid

from tests.archive.factories import ct_series
from tests.conftest import Persona
from tests.viewer.factories import (
    COMPRESSED_FILES,
    ct_with_geometry,
    mr_series,
    projection_radiograph,
    recoded,
    undecodable,
    upload_study,
    us_multiframe,
    with_geometry,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Canvas statistics in the page: sum of the red, green and blue channels over every pixel, the
# number of pixels that are not black, and a coarse fingerprint to tell two images apart.
CANVAS_STATS = """(pane) => {
  const canvas = document.querySelector(`[data-pane="${pane}"] canvas`)
  if (!canvas || !canvas.width) return null
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
  let sum = 0, lit = 0
  const cells = new Array(64).fill(0)
  for (let i = 0; i < data.length; i += 4) {
    const v = data[i] + data[i + 1] + data[i + 2]
    sum += v
    if (v > 30) lit++
    const p = i / 4, x = p % canvas.width, y = Math.floor(p / canvas.width)
    cells[Math.floor(y * 8 / canvas.height) * 8 + Math.floor(x * 8 / canvas.width)] += v
  }
  return { sum, lit, width: canvas.width, height: canvas.height,
           cells: cells.map((c) => Math.round(c / (canvas.width * canvas.height / 64))) }
}"""


def _login(page: Any, base: str, persona: Persona) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail address").fill(persona.email)
    page.get_by_label("Password").fill(persona.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My documents").wait_for()


@pytest.fixture
def page(browser: Any, live_server: Any, alice: Persona) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server.url, alice)
    page.errors = errors
    yield page
    context.close()


def _stats(page: Any, pane: int = 0) -> dict[str, Any]:
    stats: dict[str, Any] | None = page.evaluate(CANVAS_STATS, pane)
    assert stats is not None
    return stats


def _wait_for_image(page: Any, pane: int = 0, *, settled: bool = False) -> dict[str, Any]:
    """Wait until the pane's canvas shows something that is not black; return its stats.

    ``settled``: also wait until two samples 100 ms apart agree, so a picture taken while the
    layout still resizes the canvas (the series panel opening) is not the reference.
    """
    previous = None
    for _ in range(100):
        stats = page.evaluate(CANVAS_STATS, pane)
        if stats and stats["lit"] > 0:
            if not settled or stats == previous:
                return dict(stats)
            previous = stats
        page.wait_for_timeout(100)
    raise AssertionError(f"pane {pane} stayed black" if previous is None else "never settled")


def _wait_for_cells(page: Any, cells: list[int], pane: int = 0) -> dict[str, Any]:
    """Wait until the pane shows the picture with these cells (as before); return its stats."""
    stats = _stats(page, pane)
    for _ in range(50):
        if stats["cells"] == cells:
            return stats
        page.wait_for_timeout(100)
        stats = _stats(page, pane)
    assert stats["cells"] == cells
    return stats


def _wait_for_change(page: Any, before: dict[str, Any], pane: int = 0) -> dict[str, Any]:
    for _ in range(100):
        stats = _stats(page, pane)
        if stats["cells"] != before["cells"]:
            return stats
        page.wait_for_timeout(100)
    raise AssertionError("the canvas did not change")


def _drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag in small steps with pauses, as a hand makes it (the tools sample moves)."""
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, 13):
        f = min(1.0, step / 10)
        page.mouse.move(start[0] + (end[0] - start[0]) * f, start[1] + (end[1] - start[1]) * f)
        page.wait_for_timeout(20)
    page.mouse.up()


def _open(page: Any, base: str, study: str, query: str = "") -> None:
    page.goto(f"{base}/viewer/{study}/{query}")
    expect(page.locator('[data-pane="0"] [data-overlay="image"]')).not_to_have_text("")


def test_ct_opens_from_my_documents_scrolls_and_windows(
    page: Any, live_server: Any, uploader: Client
) -> None:
    study = upload_study(uploader, ct_series(12, patient_name="Scroll^Sam", description="CT Chest"))
    page.goto(f"{live_server.url}/documents/{study}/")
    page.get_by_role("link", name="Open viewer").click()
    pane = page.locator('[data-pane="0"]')
    image_line = pane.locator('[data-overlay="image"]')
    expect(image_line).to_have_text("Image 1 of 12")
    expect(pane.locator('[data-overlay="patient"]')).to_have_text("Scroll Sam")
    expect(pane.locator('[data-overlay="window"]')).to_have_text("W 400 L 40")
    first = _wait_for_image(page, settled=True)

    # Keys, wheel, scrollbar: each moves through the stack; the overlay tells where we are.
    pane.locator("[data-viewport]").click()
    page.keyboard.press("ArrowDown")
    expect(image_line).to_have_text("Image 2 of 12")
    page.keyboard.press("End")
    expect(image_line).to_have_text("Image 12 of 12")
    expect(pane.locator('[data-overlay="location"]')).to_have_text("Location 11.0 mm")
    page.keyboard.press("Home")
    expect(image_line).to_have_text("Image 1 of 12")
    pane.locator("[data-viewport]").hover()
    for _ in range(4):
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(50)
    expect(image_line).to_have_text("Image 5 of 12")
    pane.locator(".pane-scrollbar").fill("8")
    expect(image_line).to_have_text("Image 9 of 12")

    # Window/level by dragging changes the overlay and the pixels.
    page.keyboard.press("Home")
    expect(image_line).to_have_text("Image 1 of 12")
    # The overlay changes when the image is set, the canvas when it is drawn: wait for it.
    before = _wait_for_cells(page, first["cells"])
    box = pane.locator("[data-viewport]").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 120, cy + 60, steps=8)
    page.mouse.up()
    expect(pane.locator('[data-overlay="window"]')).not_to_have_text("W 400 L 40")
    _wait_for_change(page, before)

    # A preset sets a known window; the pixels change again.
    windowed = _stats(page)
    page.locator("[data-preset]").select_option("lung")
    expect(pane.locator('[data-overlay="window"]')).to_have_text("W 1,500 L -600")
    _wait_for_change(page, windowed)
    assert not page.errors, page.errors


def test_view_tools_change_the_pixels_and_reset_restores_them(
    page: Any, live_server: Any, uploader: Client
) -> None:
    study = upload_study(uploader, ct_series(3))
    _open(page, live_server.url, study)
    pane = page.locator('[data-pane="0"]')
    original = _wait_for_image(page, settled=True)

    zoom_line = pane.locator('[data-overlay="zoom"]')
    fitted = zoom_line.inner_text()
    page.keyboard.press("z")  # the zoom tool on the left button
    expect(page.locator('[data-tool="Zoom"]')).to_have_attribute("aria-pressed", "true")
    box = pane.locator("[data-viewport]").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    _drag(page, (cx, cy), (cx, cy - 150))
    expect(zoom_line).not_to_have_text(fitted)
    zoomed = _wait_for_change(page, original)
    page.keyboard.press("p")  # pan
    _drag(page, (cx, cy), (cx + 80, cy + 40))
    page.get_by_role("button", name="Fit").click()
    expect(zoom_line).to_have_text(fitted)
    _wait_for_cells(page, original["cells"])
    assert zoomed["cells"] != original["cells"]
    page.keyboard.press("w")

    page.get_by_role("button", name="Invert").click()
    expect(pane).to_have_attribute("data-invert", "true")
    inverted = _wait_for_change(page, original)
    assert inverted["sum"] != original["sum"]

    page.get_by_role("button", name="Rotate").click()
    rotated = _wait_for_change(page, inverted)
    page.get_by_role("button", name="Flip H").click()
    flipped = _wait_for_change(page, rotated)
    page.get_by_role("button", name="Flip V").click()
    _wait_for_change(page, flipped)

    page.get_by_role("button", name="Reset").click()
    expect(pane).to_have_attribute("data-invert", "false")
    _wait_for_cells(page, original["cells"])
    assert not page.errors, page.errors


def _measure_half_width(page: Any) -> tuple[str, float]:
    """Draw a length over half the width of a 64-pixel image; the label's unit and value."""
    viewport = page.locator('[data-pane="0"] [data-viewport]')
    page.get_by_role("button", name="Length").click()
    box = viewport.bounding_box()
    side = min(box["width"], box["height"])  # the 64-pixel image fits the shorter side
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    span = side / 2  # half the image width: 32 pixels
    _drag(page, (cx - span / 2, cy), (cx + span / 2, cy))
    label = page.locator('[data-pane="0"] svg text', has_text=re.compile(r"\d\s*(mm|px)"))
    expect(label.first).to_be_visible()
    found = re.search(r"([\d.]+)\s*(mm|px)", label.first.text_content() or "")
    assert found is not None
    return found.group(2), float(found.group(1))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("PixelSpacing, no position or orientation", ("mm", 0.7)),
        ("DX with ImagerPixelSpacing only", ("mm", 0.5)),
        ("no spacing at all", ("px", 1.0)),
    ],
)
def test_length_without_image_geometry_uses_the_spacing_there_is(
    page: Any, live_server: Any, uploader: Client, kind: str, expected: tuple[str, float]
) -> None:
    unit, per_pixel = expected
    files = ct_series(1, size=64)  # PixelSpacing 0.7 mm, no position or orientation
    if kind.startswith("DX"):
        files = projection_radiograph(files, imager_spacing=0.5)
    elif kind == "no spacing at all":
        files = [_without(files[0], "PixelSpacing")]
    _open(page, live_server.url, upload_study(uploader, files))
    _wait_for_image(page)
    measured_unit, measured = _measure_half_width(page)
    assert measured_unit == unit
    assert measured == pytest.approx(32 * per_pixel, rel=0.05)
    assert not page.errors, page.errors


def _without(data: bytes, keyword: str) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    delattr(ds, keyword)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_length_on_an_image_with_known_pixel_spacing_reads_mm(
    page: Any, live_server: Any, uploader: Client
) -> None:
    study = upload_study(uploader, with_geometry(ct_series(2, size=64)))  # PixelSpacing 0.7 mm
    _open(page, live_server.url, study)
    _wait_for_image(page)
    unit, measured = _measure_half_width(page)
    assert unit == "mm"
    assert measured == pytest.approx(32 * 0.7, rel=0.05)
    viewport = page.locator('[data-pane="0"] [data-viewport]')
    box = viewport.bounding_box()
    side = min(box["width"], box["height"])
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    span = side / 2

    # A rectangle ROI reports mean and SD in HU (the CT's rescale applied).
    page.get_by_role("button", name="Rectangle").click()
    _drag(page, (cx - span / 4, cy - span / 4), (cx + span / 4, cy + span / 4))
    expect(page.locator('[data-pane="0"] svg text', has_text="HU").first).to_be_visible()
    expect(page.locator('[data-pane="0"] svg text', has_text="mm²").first).to_be_visible()
    assert not page.errors, page.errors


def test_mr_study_windows_automatically_and_layouts_compare_series(
    page: Any, live_server: Any, uploader: Client
) -> None:
    study_uid = generate_uid()
    ct = ct_series(4)
    study = upload_study(uploader, mr_series(6, study_uid=study_uid))
    _open(page, live_server.url, study)
    pane = page.locator('[data-pane="0"]')
    expect(pane.locator('[data-overlay="image"]')).to_have_text("Image 1 of 6")
    _wait_for_image(page)
    page.keyboard.press("End")
    expect(pane.locator('[data-overlay="image"]')).to_have_text("Image 6 of 6")
    before = _stats(page)
    page.locator("[data-preset]").select_option("auto")
    expect(pane.locator('[data-overlay="window"]')).to_contain_text("W ")
    assert pane.get_attribute("data-window-width") is not None
    assert before["lit"] > 0
    assert ct  # another study: not in this viewer's series list
    expect(page.locator("[data-series-uid]")).to_have_count(1)
    expect(page.locator(".series-count")).to_have_text(re.compile(r"MR · 6 images"))
    assert not page.errors, page.errors


def test_two_series_side_by_side_and_findings_panel(
    page: Any, live_server: Any, uploader: Client
) -> None:
    from io import BytesIO

    from pydicom import dcmread

    ct = ct_series(5, description="CT and MR")
    study_uid = str(dcmread(BytesIO(ct[0])).StudyInstanceUID)
    study = upload_study(uploader, [*ct, *mr_series(3, study_uid=study_uid)])
    from tests.archive.conftest import upload_ok
    from tests.archive.factories import PDF

    upload_ok(uploader, PDF, "report.pdf", study=study)
    _open(page, live_server.url, study)
    expect(page.locator("[data-series-uid]")).to_have_count(2)
    page.locator('[data-layout="1x2"]').click()
    second = page.locator('[data-pane="1"]')
    expect(second).to_be_visible()
    expect(second.locator('[data-overlay="image"]')).to_have_text("Image 1 of 3")
    expect(page.locator('[data-pane="0"] [data-overlay="image"]')).to_have_text("Image 1 of 5")
    _wait_for_image(page, 1)
    # The active pane takes the series chosen in the panel.
    second.locator("[data-viewport]").click()
    page.locator("[data-series-uid]").first.click()
    expect(second.locator('[data-overlay="image"]')).to_have_text("Image 1 of 5")
    page.locator('[data-layout="2x2"]').click()
    expect(page.locator('[data-pane="3"]')).to_be_visible()
    page.locator('[data-layout="1x1"]').click()
    expect(page.locator('[data-pane="1"]')).to_be_hidden()

    page.get_by_role("button", name="Findings").first.click()
    frame = page.locator(".findings-frame")
    expect(frame).to_have_attribute("src", re.compile(r"/documents/.+/findings/.+\.pdf$"))
    expect(page.locator(".findings-list")).to_contain_text("report.pdf")

    page.keyboard.press("?")
    expect(page.locator("[data-help]")).to_be_visible()
    expect(page.locator("[data-help]")).to_contain_text("Keyboard shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("[data-help]")).to_be_hidden()
    assert not page.errors, page.errors


def test_multiframe_ultrasound_plays(page: Any, live_server: Any, uploader: Client) -> None:
    study = upload_study(uploader, [us_multiframe(12)])
    _open(page, live_server.url, study)
    pane = page.locator('[data-pane="0"]')
    image_line = pane.locator('[data-overlay="image"]')
    expect(image_line).to_have_text("Image 1 of 12")
    first = _wait_for_image(page)
    page.locator("[data-fps]").fill("20")
    page.get_by_role("button", name="Play").click()
    expect(pane).to_have_attribute("data-playing", "true")
    expect(image_line).not_to_have_text("Image 1 of 12")
    _wait_for_change(page, first)
    seen = {image_line.inner_text() for _ in range(20) if not page.wait_for_timeout(60)}
    assert len(seen) > 2, seen  # it keeps moving
    page.get_by_role("button", name="Play").click()
    expect(pane).to_have_attribute("data-playing", "false")
    stopped = image_line.inner_text()
    page.wait_for_timeout(300)
    assert image_line.inner_text() == stopped
    assert not page.errors, page.errors


def test_every_compressed_transfer_syntax_shows_an_image(
    page: Any, live_server: Any, uploader: Client
) -> None:
    study_uid = generate_uid()
    files = [
        recoded(name, study_uid=study_uid, series_number=n + 1)
        for n, (name, _ts) in enumerate(COMPRESSED_FILES)
    ]
    study = upload_study(uploader, files)
    _open(page, live_server.url, study)
    buttons = page.locator("[data-series-uid]")
    expect(buttons).to_have_count(len(COMPRESSED_FILES))
    pane = page.locator('[data-pane="0"]')
    for n, (_name, ts) in enumerate(COMPRESSED_FILES):
        buttons.nth(n).click()
        expect(pane.locator('[data-overlay="series"]')).to_have_text(f"#{n + 1} TS {ts}")
        expect(pane).to_have_attribute("data-complete", "true")
        expect(pane.locator(".pane-message")).to_be_hidden()
        stats = _wait_for_image(page)
        assert stats["lit"] > 100, ts
    assert not page.errors, page.errors


def test_an_undecodable_image_shows_a_message_and_the_rest_keep_working(
    page: Any, live_server: Any, uploader: Client
) -> None:
    from io import BytesIO

    from pydicom import dcmread

    good = mr_series(3)
    first = dcmread(BytesIO(good[0]))
    broken = undecodable(
        study_uid=str(first.StudyInstanceUID), series_uid=str(first.SeriesInstanceUID), index=3
    )
    study = upload_study(uploader, [*good, broken])
    _open(page, live_server.url, study)
    pane = page.locator('[data-pane="0"]')
    image_line = pane.locator('[data-overlay="image"]')
    expect(image_line).to_have_text("Image 1 of 4")
    _wait_for_image(page)
    pane.locator("[data-viewport]").click()
    page.keyboard.press("End")
    expect(image_line).to_have_text("Image 4 of 4")
    message = pane.locator(".pane-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("cannot be shown")
    page.keyboard.press("ArrowUp")
    expect(image_line).to_have_text("Image 3 of 4")
    expect(message).to_be_hidden()
    _wait_for_image(page)


def test_phone_touch_scrolls_windows_and_pinch_zooms(
    browser: Any, live_server: Any, alice: Persona, uploader: Client
) -> None:
    study = upload_study(uploader, ct_series(10))
    context = browser.new_context(
        locale="en-GB",
        viewport={"width": 390, "height": 780},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server.url, alice)
    _open(page, live_server.url, study)
    _wait_for_image(page)
    pane = page.locator('[data-pane="0"]')
    # The viewer fits the phone: no horizontal page scroll, the viewport fills the width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = pane.locator("[data-viewport]").bounding_box()
    assert box["width"] >= 380
    cdp = context.new_cdp_session(page)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def touch(kind: str, points: list[tuple[float, float]]) -> None:
        cdp.send(
            "Input.dispatchTouchEvent",
            {
                "type": kind,
                "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)],
            },
        )

    def drag(starts: list[tuple[float, float]], dx: float, dy: float) -> None:
        touch("touchStart", starts)
        for step in range(1, 11):
            touch("touchMove", [(x + dx * step / 10, y + dy * step / 10) for x, y in starts])
            page.wait_for_timeout(16)
        touch("touchEnd", [])

    page.locator('[data-tool="StackScroll"]').click()
    drag([(cx, cy)], 0, 200)
    expect(pane.locator('[data-overlay="image"]')).not_to_have_text("Image 1 of 10")

    page.locator('[data-tool="WindowLevel"]').click()
    window_line = pane.locator('[data-overlay="window"]')
    before = window_line.inner_text()
    drag([(cx, cy)], 100, 60)
    expect(window_line).not_to_have_text(before)

    zoom_line = pane.locator('[data-overlay="zoom"]')
    zoom_before = zoom_line.inner_text()
    touch("touchStart", [(cx - 40, cy), (cx + 40, cy)])
    for step in range(1, 11):
        touch("touchMove", [(cx - 40 - step * 10, cy), (cx + 40 + step * 10, cy)])
        page.wait_for_timeout(16)
    touch("touchEnd", [])
    expect(zoom_line).not_to_have_text(zoom_before)
    assert not errors, errors
    context.close()


def test_simple_mode_for_patients(page: Any, live_server: Any, uploader: Client) -> None:
    study = upload_study(uploader, ct_series(4))
    _open(page, live_server.url, study, "?mode=simple")
    pane = page.locator('[data-pane="0"]')
    expect(page.locator("[data-preset]")).to_have_count(0)  # no expert tools
    page.get_by_role("button", name="Next image").click()
    expect(pane.locator('[data-overlay="image"]')).to_have_text("Image 2 of 4")
    page.get_by_role("button", name="Previous image").click()
    expect(pane.locator('[data-overlay="image"]')).to_have_text("Image 1 of 4")
    zoom = pane.locator('[data-overlay="zoom"]')
    before = zoom.inner_text()
    page.get_by_role("button", name="Zoom in").click()
    expect(zoom).not_to_have_text(before)
    expect(page.get_by_role("link", name="Download")).to_have_attribute(
        "href", re.compile(r"download\.zip\?dicom=1$")
    )
    assert not page.errors, page.errors


def test_the_first_image_shows_as_a_preview_until_the_viewer_has_drawn_it(
    browser: Any, live_server: Any, alice: Persona, uploader: Client
) -> None:
    """The page shows the upload's JPEG of the image the viewer opens on (sorted along the slice
    normal on the server as the viewer sorts, and kept by "Keep on this device") until
    Cornerstone has drawn it; main.js then removes it."""
    base = live_server.url
    files = ct_with_geometry(3)
    study = upload_study(uploader, files)
    listed = uploader.get(f"/viewer/{study}/offline.json").json()["requests"]
    (kept,) = [r["url"] for r in listed if r["url"].endswith("/rendered")]
    last = pydicom.dcmread(io.BytesIO(files[2]))
    assert kept.endswith(f"/instances/{last.SOPInstanceUID}/frames/1/rendered")

    # No worker: a route does not see what a service worker answers.
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 800}, service_workers="block"
    )
    try:
        page = context.new_page()
        _login(page, base, alice)
        # Without the viewer bundle (a slow network, say): the preview alone, at full size.
        page.route("**/static/viewer.js", lambda route: route.abort())
        page.goto(f"{base}/viewer/{study}/")
        preview = page.locator("img[data-preview]")
        expect(preview).to_be_visible()
        assert preview.get_attribute("src") == kept
        expect(preview).to_have_attribute(
            "alt", "Preview of the first image while the viewer starts"
        )
        assert preview.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [64, 64]
        box = preview.bounding_box()
        grid = page.locator("[data-grid]").bounding_box()
        assert box is not None
        assert grid is not None
        assert (box["width"], box["height"]) == (grid["width"], grid["height"])

        # With it: the viewer draws the same image and the preview is gone.
        page.unroute("**/static/viewer.js")
        page.goto(f"{base}/viewer/{study}/")
        pane = page.locator('[data-pane="0"]')
        expect(pane.locator('[data-overlay="image"]')).to_have_text("Image 1 of 3")
        _wait_for_image(page)
        expect(page.locator("img[data-preview]")).to_have_count(0)
        expect(pane.locator('[data-overlay="location"]')).to_have_text("Location 10.0 mm")
    finally:
        context.close()
