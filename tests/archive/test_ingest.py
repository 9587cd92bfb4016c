"""Upload, My documents, study page, previews, findings, duplicates, bad files, quota, delete."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG2MPML

from hds.accounts.models import Account
from hds.archive.models import Blob, Holding, Item, Study
from tests.archive.conftest import blob_files, upload, upload_ok
from tests.archive.factories import PDF, ct_series
from tests.conftest import Persona, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def _refused(client: Client, data: bytes, name: str) -> dict[str, Any]:
    """Upload one file that is refused: a 422 whose detail names it; its single result."""
    response = upload(client, data, name)
    assert response.status_code == 422, response.content
    assert name in response.json()["detail"]
    result: dict[str, Any] = response.json()["results"][0]
    return result


def _study_id(result: dict[str, object]) -> str:
    match = re.search(r"/documents/([0-9a-f-]{36})/", str(result["study_url"]))
    assert match
    return match.group(1)


def test_series_upload_shows_in_my_documents_with_preview(alice_client: Client) -> None:
    files = ct_series(4, patient_name="Musterfrau^Erika", description="CT Abdomen")
    results = [upload_ok(alice_client, data, f"CD/IMG{i}") for i, data in enumerate(files)]
    assert [r["status"] for r in results] == ["stored"] * 4
    study_id = _study_id(results[0])
    assert {_study_id(r) for r in results} == {study_id}

    page = alice_client.get("/documents/").content.decode()
    assert "Musterfrau Erika" in page
    assert "CT Abdomen" in page
    assert "4 images" in page
    assert "1 series" in page

    study = alice_client.get(f"/documents/{study_id}/").content.decode()
    assert "Axial 1mm" in study
    thumb = re.search(r'src="(/documents/[^"]+/thumbnail\.jpg)"', study)
    assert thumb
    response = alice_client.get(thumb.group(1))
    assert response["Content-Type"] == "image/jpeg"
    image = Image.open(BytesIO(response.content))
    assert max(image.size) <= 160
    frame = alice_client.get(thumb.group(1).replace("thumbnail.jpg", "frames/1.jpg"))
    assert Image.open(BytesIO(frame.content)).size == (64, 64)


def test_same_instance_twice_is_stored_once(alice_client: Client) -> None:
    data = ct_series(1)[0]
    assert upload_ok(alice_client, data)["status"] == "stored"
    blobs = len(blob_files())
    again = upload_ok(alice_client, data)
    assert again["status"] == "duplicate"
    assert Item.objects.count() == 1
    assert len(blob_files()) == blobs
    assert Holding.objects.get().bytes == len(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello, this is a text file" * 20, "not a DICOM file"),
        (b"", "not a DICOM file"),
        (b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00", "truncated or corrupt"),
        (PDF[:40], "PDF file is truncated or corrupt"),
    ],
)
def test_bad_files_get_a_clear_error_and_store_nothing(
    alice_client: Client, data: bytes, message: str
) -> None:
    result = _refused(alice_client, data, "bad.bin")
    assert result["status"] == "error"
    assert message in result["message"]
    assert not Study.objects.exists()
    assert blob_files() == []


def test_truncated_pixel_data_is_refused_while_good_files_are_kept(alice_client: Client) -> None:
    good, cut = ct_series(2)
    assert upload_ok(alice_client, good)["status"] == "stored"
    result = _refused(alice_client, cut[: len(cut) - 500], "cut.dcm")
    assert result["status"] == "error"
    assert "truncated" in result["message"]
    assert Item.objects.count() == 1


def test_findings_standalone_and_attached(alice_client: Client) -> None:
    standalone = upload_ok(alice_client, PDF, "Befund.pdf")
    assert standalone["status"] == "stored"
    series = upload_ok(alice_client, ct_series(1)[0])
    study_id = _study_id(series)
    attached = upload_ok(alice_client, PDF + b"%more", "report.pdf", study=study_id)
    assert _study_id(attached) == study_id
    page = alice_client.get(f"/documents/{study_id}/").content.decode()
    assert "report.pdf" in page
    link = re.search(r'href="(/documents/[^"]+/findings/[^"]+\.pdf)"', page)
    assert link
    pdf = alice_client.get(link.group(1))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content == PDF + b"%more"
    assert "Befund.pdf" in alice_client.get("/documents/").content.decode()


def test_truncated_pdf_is_refused(alice_client: Client) -> None:
    result = _refused(alice_client, PDF[:-8], "broken.pdf")
    assert result["status"] == "error"
    assert "PDF" in result["message"]


def test_quota_refuses_before_storing_and_says_how_much_is_missing(
    alice_client: Client, alice: Persona
) -> None:
    files = ct_series(3)
    Account.objects.filter(pk=alice.account.pk).update(quota_bytes=len(files[0]) + 10)
    check = alice_client.post(
        "/api/v1/uploads/check",
        {"total_bytes": 3 * 1024 * 1024, "file_count": 3},
        content_type="application/json",
    )
    assert check.status_code == 413
    assert "3.0 MB more space is needed" in check.json()["detail"]
    assert upload_ok(alice_client, files[0])["status"] == "stored"
    refused = upload(alice_client, files[1])
    assert refused.status_code == 413
    assert "more space is needed" in refused.json()["detail"]
    assert Item.objects.count() == 1
    assert len(blob_files()) == 2  # the first instance and its rendering only


def test_delete_removes_study_and_blobs_and_frees_space(alice_client: Client) -> None:
    result = upload_ok(alice_client, ct_series(1)[0])
    study_id = _study_id(result)
    assert blob_files()
    confirm = alice_client.get(f"/documents/{study_id}/delete/")
    assert "irrevocably" in confirm.content.decode()
    assert alice_client.post(f"/documents/{study_id}/delete/").status_code == 302
    assert not Study.objects.exists()
    assert not Blob.objects.exists()
    assert blob_files() == []
    assert "0\xa0bytes of" in alice_client.get("/documents/").content.decode()
    assert alice_client.get(f"/documents/{study_id}/").status_code == 404


def test_search_filter_and_pagination(alice_client: Client) -> None:
    upload_ok(alice_client, ct_series(1, description="CT Knie links")[0])
    upload_ok(alice_client, ct_series(1, description="CT Schulter", patient_name="Roe^Rick")[0])
    page = alice_client.get("/documents/?q=knie").content.decode()
    assert "CT Knie links" in page
    assert "CT Schulter" not in page
    assert "Roe Rick" in alice_client.get("/documents/?q=rick").content.decode()
    assert "Nothing matches" in alice_client.get("/documents/?modality=MR").content.decode()


def test_outsider_gets_404_everywhere(alice_client: Client, charlie: Persona) -> None:
    result = upload_ok(alice_client, ct_series(1)[0])
    study_id = _study_id(result)
    finding = upload_ok(alice_client, PDF, "f.pdf", study=study_id)
    assert finding["status"] == "stored"
    item = Item.objects.filter(kind="instance").get()
    pdf_item = Item.objects.filter(kind="finding").get()
    outsider = Client()
    log_in(outsider, charlie)
    for path in (
        f"/documents/{study_id}/",
        f"/documents/{study_id}/delete/",
        f"/documents/{study_id}/download.zip",
        f"/documents/download.zip?study={study_id}",
        f"/documents/{study_id}/items/{item.id}/thumbnail.jpg",
        f"/documents/{study_id}/items/{item.id}/frames/1.jpg",
        f"/documents/{study_id}/findings/{pdf_item.id}.pdf",
    ):
        assert outsider.get(path).status_code == 404, path
    assert outsider.post(f"/documents/{study_id}/delete/").status_code == 404
    attach = upload(outsider, PDF, "x.pdf", study=study_id)
    assert attach.status_code == 404
    assert Study.objects.filter(pk=study_id).exists()


def test_api_needs_login_and_unlocked_keys(client: Client, alice: Persona) -> None:
    assert upload(client, ct_series(1)[0]).status_code == 401
    log_in(client, alice)
    from django.conf import settings

    del client.cookies[settings.KEYRING_COOKIE_NAME]
    response = upload(client, ct_series(1)[0])
    assert response.status_code == 401
    assert "locked" in response.json()["detail"]


def test_account_deletion_removes_its_studies_and_blobs(
    alice_client: Client, alice: Persona
) -> None:
    upload_ok(alice_client, ct_series(2)[0])
    alice_client.post("/account/delete/", {"password": alice.password, "understand": "on"})
    assert not Study.objects.exists()
    assert blob_files() == []


def test_no_preview_reason_is_shown_in_the_readers_language(
    alice_client: Client, alice: Persona
) -> None:
    ds = dcmread(BytesIO(ct_series(1)[0]))
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    result = upload_ok(alice_client, out.getvalue(), "video.dcm")
    assert result["status"] == "stored"
    assert result["message"] == (
        "Stored, but no preview: No decoder for MPEG2 Main Profile / Main Level here"
    )
    Account.objects.filter(pk=alice.account.pk).update(language="de")
    page = alice_client.get(result["study_url"]).content.decode()
    assert "Kein Decoder für MPEG2 Main Profile / Main Level vorhanden" in page


def test_an_upload_above_the_size_limit_gets_a_clear_413_unread(
    alice_client: Client, settings: Any
) -> None:
    settings.MAX_UPLOAD_FILE_BYTES = 1024
    response = upload(alice_client, b"\0" * 200_000, "big.dcm")
    assert response.status_code == 413
    assert response.json()["detail"] == "This file is larger than the server accepts."
    small_enough = upload(alice_client, b"\0" * 2000, "medium.dcm")  # passes the framing margin
    assert small_enough.status_code == 413  # ... and the view's exact per-file check refuses it
    assert not Item.objects.exists()


def _upload_many(client: Client, files: list[tuple[str, bytes]], **fields: str) -> Any:
    return client.post(
        "/api/v1/uploads",
        {
            "file": [SimpleUploadedFile(name.rsplit("/", 1)[-1], data) for name, data in files],
            "path": [name for name, _ in files],
            **fields,
        },
    )


def test_several_files_in_one_request_get_one_result_each_in_order(
    alice_client: Client,
) -> None:
    a, b, c = ct_series(3)
    files = [
        ("CD/DICOM/IM1", a),
        ("CD/readme.txt", b"Thank you for choosing our radiology"),
        ("CD/DICOM/IM2", b),
        ("CD/Befund.pdf", PDF),
        ("CD/DICOM/IM1-copy", a),
        ("CD/DICOM/IM3", c),
    ]
    response = _upload_many(alice_client, files)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["name"], r["status"]) for r in results] == [
        ("CD/DICOM/IM1", "stored"),
        ("CD/readme.txt", "error"),
        ("CD/DICOM/IM2", "stored"),
        ("CD/Befund.pdf", "stored"),
        ("CD/DICOM/IM1-copy", "duplicate"),
        ("CD/DICOM/IM3", "stored"),
    ]
    assert results[1]["message"] == "This is not a DICOM file."
    assert Item.objects.filter(kind="instance").count() == 3
    assert Item.objects.filter(kind="finding").count() == 1
    assert len(blob_files()) == 3 * 2 + 1


def test_a_request_that_outgrows_the_quota_says_what_was_stored(
    alice_client: Client, alice: Persona
) -> None:
    files = ct_series(3)
    Account.objects.filter(pk=alice.account.pk).update(quota_bytes=len(files[0]) + 100)
    response = _upload_many(alice_client, [(f"IM{n}", f) for n, f in enumerate(files)])
    assert response.status_code == 413
    body = response.json()
    assert "more space is needed" in body["detail"]
    assert [r["status"] for r in body["results"]] == ["stored", "error", "error"]
    assert Item.objects.count() == 1
    assert len(blob_files()) == 2
