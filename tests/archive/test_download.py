"""ZIP downloads: JPEG for people, DICOM + DICOMDIR for viewers, byte-identical, resumable."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO

import pydicom
import pytest
from django.test import Client
from PIL import Image

from hds.archive.api import referenced_files
from tests.archive.conftest import upload_ok
from tests.archive.factories import PDF, ct_series

pytestmark = pytest.mark.django_db(transaction=True)


def _content(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


@pytest.fixture
def study(alice_client: Client) -> tuple[str, list[bytes]]:
    files = ct_series(3, patient_name="Müller^Jürgen")
    result = {}
    for i, data in enumerate(files):
        result = upload_ok(alice_client, data, f"IMG{i}.dcm")
    study_id = re.search(r"/documents/([0-9a-f-]{36})/", str(result["study_url"]))
    assert study_id
    upload_ok(alice_client, PDF, "Befund.pdf", study=study_id.group(1))
    return study_id.group(1), files


def test_zip_with_dicom_opens_and_holds_the_uploaded_bytes(
    alice_client: Client, study: tuple[str, list[bytes]]
) -> None:
    study_id, files = study
    response = alice_client.get(f"/documents/{study_id}/download.zip?dicom=1")
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    body = _content(response)
    assert int(response["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(BytesIO(body))
    assert archive.testzip() is None
    names = archive.namelist()
    assert "DICOMDIR" in names
    dicom_names = [n for n in names if n.startswith("DICOM/")]
    assert sorted(archive.read(n) for n in dicom_names) == sorted(files)
    jpegs = [n for n in names if n.startswith("JPEG/") and n.endswith(".jpg")]
    assert len(jpegs) == 3
    assert Image.open(BytesIO(archive.read(jpegs[0]))).format == "JPEG"
    assert [n for n in names if n.startswith("FINDINGS/")] == ["FINDINGS/Befund.pdf"]
    assert archive.read("FINDINGS/Befund.pdf") == PDF

    dicomdir = pydicom.dcmread(BytesIO(archive.read("DICOMDIR")))
    assert set(referenced_files(dicomdir)) == set(dicom_names)
    patients = [r for r in dicomdir.DirectoryRecordSequence if r.DirectoryRecordType == "PATIENT"]
    assert str(patients[0].PatientName) == "Müller^Jürgen"


def test_zip_without_dicom_has_only_jpegs_and_findings(
    alice_client: Client, study: tuple[str, list[bytes]]
) -> None:
    study_id, _files = study
    archive = zipfile.ZipFile(
        BytesIO(_content(alice_client.get(f"/documents/{study_id}/download.zip")))
    )
    assert all(n.startswith(("JPEG/", "FINDINGS/")) for n in archive.namelist())


def test_interrupted_download_resumes_with_range(
    alice_client: Client, study: tuple[str, list[bytes]]
) -> None:
    study_id, _files = study
    url = f"/documents/{study_id}/download.zip?dicom=1"
    full = alice_client.get(url)
    whole = _content(full)
    cut = len(whole) // 3
    rest = alice_client.get(url, HTTP_RANGE=f"bytes={cut}-", HTTP_IF_RANGE=full["ETag"])
    assert rest.status_code == 206
    assert rest["Content-Range"] == f"bytes {cut}-{len(whole) - 1}/{len(whole)}"
    assert whole[:cut] + _content(rest) == whole
    # A changed archive (other ETag) is sent whole again instead of a mismatching tail.
    stale = alice_client.get(url, HTTP_RANGE=f"bytes={cut}-", HTTP_IF_RANGE='"other"')
    assert stale.status_code == 200
    bad = alice_client.get(url, HTTP_RANGE=f"bytes={len(whole) + 5}-")
    assert bad.status_code == 416


def test_selection_of_two_studies_in_one_zip(alice_client: Client) -> None:
    first = upload_ok(alice_client, ct_series(1, description="CT one")[0])
    second = upload_ok(alice_client, ct_series(1, description="CT two")[0])
    ids = []
    for result in (first, second):
        match = re.search(r"/documents/([0-9a-f-]{36})/", str(result["study_url"]))
        assert match
        ids.append(match.group(1))
    response = alice_client.get(f"/documents/download.zip?study={ids[0]}&study={ids[1]}&dicom=1")
    archive = zipfile.ZipFile(BytesIO(_content(response)))
    folders = {n.split("/")[0] for n in archive.namelist() if n.endswith(".jpg")}
    assert folders == {"20260115 CT one", "20260115 CT two"}
    assert len([n for n in archive.namelist() if n.startswith("DICOM/")]) == 2
