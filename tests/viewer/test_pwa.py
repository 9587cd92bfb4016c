"""The installable web app: manifest, icons, service worker, offline page, and the list of
requests "Keep on this device" stores (docs/pwa.md)."""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset

from hds.viewer.offline import FRAME_ACCEPT, KEPT_CACHE_PREFIX, METADATA_ACCEPT, shell
from tests.archive.factories import PDF, ct_series
from tests.conftest import Persona, log_in
from tests.viewer.factories import ct_with_geometry, upload_study, us_multiframe

pytestmark = pytest.mark.django_db

FRONTEND = Path(__file__).resolve().parents[2] / "frontend/src"


def _sw_config(source: str) -> dict[str, object]:
    match = re.search(r"^const CONFIG = (\{.*?^\})$", source, re.MULTILINE | re.DOTALL)
    assert match, "no CONFIG in the service worker"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_manifest_is_linked_and_describes_a_standalone_app(client: Client) -> None:
    page = client.get("/login/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="hds-service-worker" content="/sw.js">' in page
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/manifest+json")
    data = json.loads(response.content)
    assert data["name"] == "HDS"
    assert data["short_name"] == "HDS"
    assert data["start_url"] == "/"
    assert data["scope"] == "/"
    assert data["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", data["theme_color"])
    sizes = {icon["sizes"]: icon for icon in data["icons"]}
    assert {"192x192", "512x512"} <= set(sizes)
    for size in (192, 512):
        icon = client.get(sizes[f"{size}x{size}"]["src"])
        assert icon.status_code == 200
        assert icon["Content-Type"] == "image/png"
        image = Image.open(BytesIO(icon.content))
        assert image.size == (size, size)
        assert image.getpixel((size // 2, size // 4)) != image.getpixel((size // 4, size // 2))
    assert client.get("/icons/64.png").status_code == 404


def test_manifest_description_is_translated(client: Client) -> None:
    english = json.loads(client.get("/manifest.webmanifest").content)
    german = json.loads(client.get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="de").content)
    assert german["lang"] == "de"
    assert german["description"] != english["description"]
    assert german["name"] == "HDS"


def test_service_worker_is_served_at_the_root_and_never_stored(client: Client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-store, private"
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = client.get("/login/")["Content-Security-Policy"]
    assert re.search(r"worker-src 'self'", csp)
    assert re.search(r"manifest-src 'self'", csp)


def test_service_worker_precaches_the_shell_only(client: Client) -> None:
    source = client.get("/sw.js").content.decode()
    for private in ("/api/", "/dicomweb/", "/documents/", "/viewer/", "/account"):
        assert private not in source
    config = _sw_config(source)
    precache = config["precache"]
    assert isinstance(precache, list)
    assert precache == list(shell().urls)
    assert "/static/pages.js" in precache
    assert "/static/viewer.js" in precache
    assert all(url.startswith("/static/") for url in precache)
    assert not [url for url in precache if url.endswith((".gz", ".br", ".map"))]
    offline = config["offline"]
    assert offline == {"en": "/offline/?lang=en", "de": "/offline/?lang=de"}
    version = str(config["version"])
    assert config["shellCache"] == f"hds-shell-{version}"
    assert config["keptPrefix"] == KEPT_CACHE_PREFIX
    assert _sw_config(client.get("/sw.js").content.decode())["version"] == version  # stable
    # The page script uses the same prefix for the caches it writes.
    assert f"'{KEPT_CACHE_PREFIX}'" in (FRONTEND / "pwa.js").read_text()


def test_offline_page_has_no_user_data_and_speaks_both_languages(
    alice_client: Client, alice: Persona
) -> None:
    english = alice_client.get("/offline/?lang=en")
    german = alice_client.get("/offline/?lang=de")
    assert english.status_code == german.status_code == 200
    assert english["Cache-Control"] == "no-store, private"
    assert "You are offline" in english.content.decode()
    assert 'lang="de"' in german.content.decode()
    assert "Sie sind offline" in german.content.decode()
    for response in (english, german):
        html = response.content.decode()
        assert alice.email not in html
        assert "csrf" not in html.lower()
        assert "Log out" not in html
    assert Client().get("/offline/").status_code == 200


def _bytes(ds: Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_offline_list_names_every_request_of_the_viewer(alice_client: Client) -> None:
    files = ct_series(3, description="CT Chest")
    ds = dcmread(BytesIO(files[0]))
    study = upload_study(alice_client, files)
    us = dcmread(BytesIO(us_multiframe(4, study_uid=str(ds.StudyInstanceUID))))
    upload_study(alice_client, [_bytes(us)])
    alice_client.post("/api/v1/uploads", {"file": _pdf(), "path": "f.pdf", "study": study})
    response = alice_client.get(f"/viewer/{study}/offline.json")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, private"
    data = response.json()
    assert data["cache"] == f"hds-kept-{study}"
    assert data["viewer"] == f"/viewer/{study}/"
    assert data["static"] == list(shell().urls)
    requests = data["requests"]
    assert requests[0] == {"url": f"/viewer/{study}/"}
    metadata = [r for r in requests if r["url"].endswith("/metadata")]
    assert len(metadata) == 2
    assert all(r["accept"] == METADATA_ACCEPT for r in metadata)
    rendered = [r for r in requests if r["url"].endswith("/rendered")]
    frames = [r for r in requests if "/frames/" in r["url"] and r not in rendered]
    assert len(frames) == 3 + 4
    assert all(r["accept"] == FRAME_ACCEPT for r in frames)
    prefix = f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/"
    assert f"{prefix}{ds.SOPInstanceUID}/frames/1" in {r["url"] for r in frames}
    # The first series' (the US, series 1) first image as JPEG (viewer-boot.js's preview).
    first = f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{us.SeriesInstanceUID}/instances/"
    assert rendered == [{"url": f"{first}{us.SOPInstanceUID}/frames/1/rendered"}]
    assert sum(r["url"].endswith("/thumbnail.jpg") for r in requests) == 2
    assert sum(r["url"].endswith(".pdf") for r in requests) == 1
    # The viewer's own config names the same thumbnails and findings.
    page = alice_client.get(f"/viewer/{study}/").content.decode()
    for r in requests:
        if r["url"].endswith((".jpg", ".pdf")):
            assert r["url"] in page
    # Every URL answers the owner as listed.
    for r in requests:
        headers = {"HTTP_ACCEPT": r["accept"]} if "accept" in r else {}
        assert alice_client.get(r["url"], **headers).status_code == 200, r["url"]


def test_the_kept_preview_is_of_the_image_the_viewer_opens_on(alice_client: Client) -> None:
    """Sorted along the slice normal as dicom.js sorts, not by instance number (the browser
    test checks that both pick the same URL)."""
    files = ct_with_geometry(3)
    study = upload_study(alice_client, files)
    requests = alice_client.get(f"/viewer/{study}/offline.json").json()["requests"]
    rendered = [r["url"] for r in requests if r["url"].endswith("/rendered")]
    last = dcmread(BytesIO(files[2]))
    assert len(rendered) == 1
    assert rendered[0].endswith(f"/instances/{last.SOPInstanceUID}/frames/1/rendered")


def test_offline_list_is_the_owners_only(alice_client: Client, charlie: Persona) -> None:
    study = upload_study(alice_client, ct_series(1))
    anonymous = Client().get(f"/viewer/{study}/offline.json")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/?next=")
    outsider = Client()
    log_in(outsider, charlie)
    assert outsider.get(f"/viewer/{study}/offline.json").status_code == 404
    assert outsider.get(f"/documents/{study}/").status_code == 404
    assert alice_client.post(f"/viewer/{study}/offline.json").status_code == 405


def test_study_page_offers_keep_with_the_explanation(alice_client: Client) -> None:
    study = upload_study(alice_client, ct_series(1))
    html = alice_client.get(f"/documents/{study}/").content.decode()
    assert f'data-offline-url="/viewer/{study}/offline.json"' in html
    assert "Keep on this device" in html
    assert "Delete from this device" in html
    assert "anyone using this browser profile" in html
    assert "when you log out" in html


def _pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("f.pdf", PDF)
