"""The viewer page: who may open it, what it sends the script, and its headers."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from pydicom.uid import generate_uid

from tests.archive.factories import PDF, ct_series
from tests.conftest import Persona, log_in
from tests.viewer.factories import ct_with_geometry, mr_series, undecodable, upload_study

pytestmark = pytest.mark.django_db


def _config(html: str) -> dict[str, object]:
    match = re.search(r'<script id="viewer-config" type="application/json">(.*?)</script>', html)
    assert match, "no viewer config in the page"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_owner_gets_the_viewer_with_series_and_no_store(alice_client: Client) -> None:
    study = upload_study(alice_client, ct_series(3, description="CT Chest"))
    response = alice_client.get(f"/viewer/{study}/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, private"
    config = _config(response.content.decode())
    series = config["series"]
    assert isinstance(series, list)
    assert [s["images"] for s in series] == [3]
    assert series[0]["modality"] == "CT"
    assert config["mode"] == "full"
    assert str(config["dicomweb"]) == "/dicomweb"
    # Installed from the viewer too (a phone user may open a study first).
    assert '<link rel="manifest" href="/manifest.webmanifest">' in response.content.decode()


def test_csp_allows_wasm_on_the_viewer_only(alice_client: Client) -> None:
    study = upload_study(alice_client, ct_series(1))
    csp = alice_client.get(f"/viewer/{study}/")["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src
    assert "'wasm-unsafe-eval'" in script_src.group(1)
    assert "'nonce-" in script_src.group(1)
    assert "'unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", "")
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    other = alice_client.get("/documents/")["Content-Security-Policy"]
    assert "wasm-unsafe-eval" not in other


def test_series_selection_and_simple_mode(alice_client: Client) -> None:
    ct = ct_series(2)
    study = upload_study(alice_client, ct)
    from io import BytesIO

    from pydicom import dcmread

    ds = dcmread(BytesIO(ct[0]))
    extra = mr_series(2, study_uid=str(ds.StudyInstanceUID))
    upload_study(alice_client, extra)
    full = _config(alice_client.get(f"/viewer/{study}/").content.decode())
    assert isinstance(full["series"], list)
    assert len(full["series"]) == 2
    chosen = _config(
        alice_client.get(
            f"/viewer/{study}/?series={ds.SeriesInstanceUID}&mode=simple"
        ).content.decode()
    )
    assert isinstance(chosen["series"], list)
    assert [s["uid"] for s in chosen["series"]] == [str(ds.SeriesInstanceUID)]
    assert chosen["mode"] == "simple"
    page = alice_client.get(f"/viewer/{study}/?mode=simple").content.decode()
    assert "simple-tools" in page
    assert alice_client.get(f"/viewer/{study}/?series=1.2.3").status_code == 404
    assert _config(alice_client.get(f"/viewer/{study}/?mode=x").content.decode())["mode"] == "full"


def test_dicom_text_is_escaped_in_the_page(alice_client: Client) -> None:
    study = upload_study(
        alice_client, ct_series(1, patient_name="<script>alert(1)</script>", description="<b>x")
    )
    html = alice_client.get(f"/viewer/{study}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<b>x" not in html


def test_outsider_gets_404_and_anonymous_goes_to_login(
    alice_client: Client, charlie: Persona
) -> None:
    study = upload_study(alice_client, ct_series(1))
    finding = alice_client.post(
        "/api/v1/uploads",
        {"file": _pdf(), "path": "f.pdf", "study": study},
    ).json()["results"][0]
    assert finding["status"] == "stored"
    anonymous = Client()
    response = anonymous.get(f"/viewer/{study}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    outsider = Client()
    log_in(outsider, charlie)
    assert outsider.get(f"/viewer/{study}/").status_code == 404
    assert outsider.get(f"/viewer/{study}/?mode=simple").status_code == 404


def test_finding_pdf_may_be_framed_by_our_pages_only(alice_client: Client) -> None:
    study = upload_study(alice_client, ct_series(1))
    alice_client.post("/api/v1/uploads", {"file": _pdf(), "path": "f.pdf", "study": study})
    config = _config(alice_client.get(f"/viewer/{study}/").content.decode())
    findings = config["findings"]
    assert isinstance(findings, list)
    assert len(findings) == 1
    response = alice_client.get(findings[0]["url"])
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store, private"


def test_a_findings_only_study_has_no_viewer(alice_client: Client) -> None:
    response = alice_client.post("/api/v1/uploads", {"file": _pdf(), "path": "f.pdf"})
    study = str(response.json()["results"][0]["study_url"]).split("/")[2]
    assert alice_client.get(f"/viewer/{study}/").status_code == 404


def _pdf() -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("f.pdf", PDF)


def test_my_documents_links_each_imaging_study_to_its_viewer(alice_client: Client) -> None:
    study = upload_study(alice_client, ct_series(2, description="CT Chest"))
    findings_only = alice_client.post("/api/v1/uploads", {"file": _pdf(), "path": "f.pdf"})
    assert findings_only.status_code == 200
    page = alice_client.get("/documents/").content.decode()
    # A link (opens in a new tab, can be copied), not a form; findings-only studies have none.
    assert page.count('class="btn btn-secondary study-viewer-link"') == 1
    assert f'class="btn btn-secondary study-viewer-link" href="/viewer/{study}/"' in page


def _preview(html: str) -> str | None:
    match = re.search(r'<img class="viewer-preview" data-preview src="([^"]+)"', html)
    return match.group(1) if match else None


def test_the_page_shows_the_jpeg_of_the_image_the_viewer_opens_on(alice_client: Client) -> None:
    from io import BytesIO

    from pydicom import dcmread

    files = ct_with_geometry(3)
    study = upload_study(alice_client, files)
    first, last = (dcmread(BytesIO(files[i])) for i in (0, 2))
    mr = mr_series(2, study_uid=str(first.StudyInstanceUID))
    upload_study(alice_client, mr)
    series = f"/dicomweb/studies/{first.StudyInstanceUID}/series/{first.SeriesInstanceUID}"
    # Farthest along the slice normal: the last slice by number. The CT is series 2, the MR 3.
    preview = _preview(alice_client.get(f"/viewer/{study}/").content.decode())
    assert preview == f"{series}/instances/{last.SOPInstanceUID}/frames/1/rendered"
    jpeg = alice_client.get(preview, HTTP_ACCEPT="image/*")
    assert jpeg.status_code == 200
    assert jpeg.content.startswith(b"\xff\xd8")
    # With a series chosen, the preview is of that series.
    mr_uids = [dcmread(BytesIO(data)) for data in mr]
    chosen = alice_client.get(f"/viewer/{study}/?series={mr_uids[0].SeriesInstanceUID}")
    chosen_preview = str(_preview(chosen.content.decode()))
    assert f"/series/{mr_uids[0].SeriesInstanceUID}/instances/" in chosen_preview
    assert any(f"/instances/{ds.SOPInstanceUID}/" in chosen_preview for ds in mr_uids)


def test_no_preview_for_an_image_without_a_jpeg(alice_client: Client) -> None:
    study = upload_study(alice_client, [undecodable(study_uid=generate_uid())])
    page = alice_client.get(f"/viewer/{study}/")
    assert page.status_code == 200
    assert _preview(page.content.decode()) is None
    assert "data-preview" not in page.content.decode()
