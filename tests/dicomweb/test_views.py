"""DICOMweb through Django's test client: authentication, CSRF, outsiders, STOW-RS outcomes."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from pydicom import dcmread

from hds.accounts.apitokens import revoke_token
from hds.accounts.models import ApiToken
from hds.archive.models import Holding, Item
from tests.archive.conftest import upload_ok
from tests.archive.factories import PDF, ct_series
from tests.conftest import Persona, log_in
from tests.dicomweb.conftest import (
    BOUNDARY,
    STOW_CONTENT_TYPE,
    TokenPersona,
    multipart_body,
    pydicom_file,
)

pytestmark = pytest.mark.django_db(transaction=True)

FAILED = "00081198"
REFERENCED = "00081199"
FAILURE_REASON = "00081197"


def _stow(
    client: Client,
    files: list[bytes],
    token: TokenPersona | None = None,
    path: str = "/dicomweb/studies",
    headers: dict[str, str] | None = None,
) -> Any:
    return client.post(
        path,
        multipart_body(files),
        content_type=STOW_CONTENT_TYPE,
        headers={**(token.headers if token else {}), **(headers or {})},
    )


def _get(
    client: Client, path: str, token: TokenPersona | None = None, accept: str | None = None
) -> Any:
    headers = {**(token.headers if token else {}), **({"Accept": accept} if accept else {})}
    return client.get(path, headers=headers)


def _uids(data: bytes) -> tuple[str, str, str]:
    ds = dcmread(io.BytesIO(data))
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def _reasons(response: Any) -> list[int]:
    return [
        item[FAILURE_REASON]["Value"][0]
        for item in response.json().get(FAILED, {"Value": []})["Value"]
    ]


@pytest.fixture
def alice_study(client: Client, alice_token: TokenPersona) -> dict[str, Any]:
    files = ct_series(2)
    response = _stow(client, files, alice_token)
    assert response.status_code == 200, response.content
    study, series, sop = _uids(files[0])
    return {"files": files, "study": study, "series": series, "sop": sop}


def _object_paths(objects: dict[str, Any]) -> list[str]:
    study = f"/dicomweb/studies/{objects['study']}"
    series = f"{study}/series/{objects['series']}"
    instance = f"{series}/instances/{objects['sop']}"
    return [
        study,
        f"{study}/metadata",
        f"{study}/thumbnail",
        f"{study}/series",
        f"{study}/instances",
        series,
        f"{series}/metadata",
        f"{series}/thumbnail",
        f"{series}/instances",
        instance,
        f"{instance}/metadata",
        f"{instance}/rendered",
        f"{instance}/thumbnail",
        f"{instance}/frames/1",
        f"{instance}/frames/1/rendered",
        f"{instance}/bulkdata/7FE00010",
    ]


def test_stow_answers_with_references_and_retrieve_urls(
    client: Client, alice_token: TokenPersona
) -> None:
    files = ct_series(2)
    response = _stow(client, files, alice_token)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom+json"
    assert response["Cache-Control"] == "no-store, private"
    body = response.json()
    study, series, _sop = _uids(files[0])
    assert body["00081190"]["Value"][0] == f"http://testserver/dicomweb/studies/{study}"
    items = body[REFERENCED]["Value"]
    assert [i["00081155"]["Value"][0] for i in items] == [_uids(f)[2] for f in files]
    assert items[0]["00081150"]["Value"] == ["1.2.840.10008.5.1.4.1.1.2"]
    assert items[1]["00081190"]["Value"][0].endswith(
        f"/studies/{study}/series/{series}/instances/{_uids(files[1])[2]}"
    )
    assert FAILED not in body
    assert Item.objects.count() == 2


def test_duplicates_are_listed_as_referenced(
    client: Client, alice_token: TokenPersona, alice_study: dict[str, Any]
) -> None:
    response = _stow(client, alice_study["files"], alice_token)
    assert response.status_code == 200
    assert len(response.json()[REFERENCED]["Value"]) == 2
    assert Item.objects.count() == 2


def test_non_dicom_parts_fail_with_cannot_understand(
    client: Client, alice_token: TokenPersona
) -> None:
    response = _stow(client, [b"this is not DICOM" * 20, PDF], alice_token)
    assert response.status_code == 409
    assert _reasons(response) == [0xC000, 0xC000]
    assert REFERENCED not in response.json()
    assert not Holding.objects.exists()  # the PDF did not become a document either


def test_partial_failure_is_202(client: Client, alice_token: TokenPersona) -> None:
    files = ct_series(1)
    response = _stow(client, [files[0], b"garbage" * 50], alice_token)
    assert response.status_code == 202
    assert _reasons(response) == [0xC000]
    assert len(response.json()[REFERENCED]["Value"]) == 1


def test_stow_of_more_parts_than_one_batch_keeps_every_outcome_in_order(
    client: Client, alice_token: TokenPersona, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hds.dicomweb.stow.BATCH_PARTS", 3)
    files = ct_series(7)
    files.insert(4, b"no DICOM here" * 20)
    files.insert(6, files[1])  # a duplicate in a later batch
    response = _stow(client, files, alice_token)
    assert response.status_code == 202
    assert _reasons(response) == [0xC000]
    items = response.json()[REFERENCED]["Value"]
    expected = [_uids(f)[2] for n, f in enumerate(files) if n != 4]
    assert [i["00081155"]["Value"][0] for i in items] == expected
    assert Item.objects.count() == 7


def test_stow_to_a_study_refuses_instances_of_other_studies(
    client: Client, alice_token: TokenPersona
) -> None:
    mine, other = ct_series(1), ct_series(1)
    study = _uids(mine[0])[0]
    path = f"/dicomweb/studies/{study}"
    response = _stow(client, [mine[0], other[0]], alice_token, path=path)
    assert response.status_code == 202
    assert _reasons(response) == [0xC409]
    failed = response.json()[FAILED]["Value"][0]
    assert failed["00081155"]["Value"] == [_uids(other[0])[2]]
    assert Item.objects.count() == 1


def test_quota_stops_the_request_and_lists_the_rest_as_failed(
    client: Client, alice: Persona, alice_token: TokenPersona
) -> None:
    files = ct_series(3)
    alice.account.quota_bytes = len(files[0]) + 100
    alice.account.save()
    response = _stow(client, files, alice_token)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/dicom+json"
    assert "Not enough storage" in response["Warning"]
    assert len(response.json()[REFERENCED]["Value"]) == 1
    assert _reasons(response) == [0xA700, 0xA700]
    assert Item.objects.count() == 1


def test_stow_refuses_wrong_media_types_and_large_bodies(
    client: Client, alice_token: TokenPersona, settings: Any
) -> None:
    auth = alice_token.headers
    body = multipart_body(ct_series(1))
    wrong = client.post("/dicomweb/studies", body, content_type="application/dicom", headers=auth)
    assert wrong.status_code == 415
    xml = f'multipart/related; type="application/dicom+xml"; boundary={BOUNDARY}'
    assert client.post("/dicomweb/studies", body, content_type=xml, headers=auth).status_code == 415
    no_boundary = 'multipart/related; type="application/dicom"'
    response = client.post("/dicomweb/studies", body, content_type=no_boundary, headers=auth)
    assert response.status_code == 400
    truncated = body[: len(body) // 2]
    response = client.post(
        "/dicomweb/studies", truncated, content_type=STOW_CONTENT_TYPE, headers=auth
    )
    assert response.status_code == 400
    empty = f"--{BOUNDARY}--".encode()
    response = client.post("/dicomweb/studies", empty, content_type=STOW_CONTENT_TYPE, headers=auth)
    assert response.status_code == 400
    settings.MAX_UPLOAD_FILE_BYTES = len(body) // 2  # UIDs vary in length: leave a margin
    assert _stow(client, ct_series(1), alice_token).status_code == 413
    assert not Item.objects.exists()


def test_chunked_bodies_are_read_when_the_server_decoded_them(
    client: Client, alice_token: TokenPersona, settings: Any
) -> None:
    """gunicorn decodes chunked bodies and says so with wsgi.input_terminated; Django's
    development server does not, and gets a 411 instead of an empty body."""
    body = multipart_body(ct_series(2))

    def post(**environ: Any) -> Any:
        return client.post(
            "/dicomweb/studies",
            body,  # only for the test client's Content-Type; the length is taken away below
            content_type=STOW_CONTENT_TYPE,
            headers=alice_token.headers,
            CONTENT_LENGTH="",
            HTTP_TRANSFER_ENCODING="chunked",
            **environ,
        )

    assert post().status_code == 411
    decoded = {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}
    settings.MAX_UPLOAD_FILE_BYTES = len(body) // 2  # UIDs vary in length: leave a margin
    assert post(**decoded).status_code == 413
    settings.MAX_UPLOAD_FILE_BYTES = len(body)
    decoded["wsgi.input"] = io.BytesIO(body)
    assert post(**decoded).status_code == 200
    assert Item.objects.count() == 2


def test_stow_tolerates_preamble_quoted_boundary_and_headerless_parts(
    client: Client, alice_token: TokenPersona
) -> None:
    files = ct_series(2)
    body = (
        b"preamble to be ignored\r\n"
        + f"--{BOUNDARY}\r\n\r\n".encode()  # a part without headers
        + files[0]
        + f"\r\n--{BOUNDARY}  \r\nContent-Type: application/dicom\r\nX-Other: 1\r\n\r\n".encode()
        + files[1]
        + f"\r\n--{BOUNDARY}--\r\nepilogue".encode()
    )
    content_type = f'multipart/related; boundary="{BOUNDARY}"; type="application/dicom"'
    response = client.post(
        "/dicomweb/studies",
        body,
        content_type=content_type,
        headers=alice_token.headers,
    )
    assert response.status_code == 200, response.content
    assert Item.objects.count() == 2


def test_wado_multipart_is_what_the_viewer_parses(
    client: Client, alice_token: TokenPersona, alice_study: dict[str, Any]
) -> None:
    path = "/dicomweb/studies/{study}/series/{series}/instances/{sop}".format(**alice_study)
    response = _get(client, path, alice_token)
    assert response.status_code == 200
    match = re.fullmatch(
        r'multipart/related; type="application/dicom"; boundary=(\w+)', response["Content-Type"]
    )
    assert match
    boundary = match.group(1)
    body = response.getvalue()
    assert int(response["Content-Length"]) == len(body)
    head = f"--{boundary}\r\nContent-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1"
    assert body.startswith(f"{head}\r\n\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--".encode())
    assert alice_study["files"][0] in body

    frame = _get(client, f"{path}/frames/1", alice_token)
    frame_boundary = frame.content.split(b"\r\n", 1)[0]  # what Cornerstone reads
    assert frame_boundary == b"--" + frame["Content-Type"].rsplit("=", 1)[1].encode()
    assert (
        b"\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n"
        in frame.content
    )
    assert frame["Content-Length"] == str(len(frame.content))


def test_cornerstone_accept_header_gets_the_stored_frame(
    client: Client, alice_token: TokenPersona
) -> None:
    data = pydicom_file("SC_rgb_jpeg_dcmtk.dcm")
    assert _stow(client, [data], alice_token).status_code == 200
    study, series, sop = _uids(data)
    path = f"/dicomweb/studies/{study}/series/{series}/instances/{sop}/frames/1"
    accept = "multipart/related; type=application/octet-stream; transfer-syntax=*"
    response = _get(client, path, alice_token, accept=accept)
    assert response.status_code == 200
    assert (
        b"Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.50\r\n"
        in response.content
    )
    image = _get(client, path, alice_token, accept='multipart/related; type="image/*"')
    assert b"Content-Type: image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50" in image.content


def test_unsatisfiable_accept_is_406(
    client: Client, alice_token: TokenPersona, alice_study: dict[str, Any]
) -> None:
    base = "/dicomweb/studies/{study}/series/{series}/instances/{sop}".format(**alice_study)
    cases = [
        ("/dicomweb/studies", "application/dicom+xml"),
        (f"{base}/metadata", "multipart/related; type=application/dicom"),
        (f"{base}/frames/1", 'multipart/related; type="image/jpeg"'),
        (
            f"{base}/frames/1",
            "multipart/related; type=application/octet-stream; "
            "transfer-syntax=1.2.840.10008.1.2.4.50",
        ),
        (
            base,
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
        ),
        (f"{base}/rendered", "image/png"),
    ]
    for path, accept in cases:
        assert _get(client, path, alice_token, accept=accept).status_code == 406, accept


def test_bad_search_parameters_are_400(client: Client, alice_token: TokenPersona) -> None:
    for query in ("PatientNmae=Doe", "limit=ten", "StudyDate=last-week", "includefield=Nope"):
        response = _get(client, f"/dicomweb/studies?{query}", alice_token)
        assert response.status_code == 400, query
    ok = _get(client, "/dicomweb/studies?fuzzymatching=true&OtherPatientIDs=X", alice_token)
    assert ok.status_code == 200
    assert "OtherPatientIDs" in ok["Warning"]


def test_documents_are_not_dicom_studies(
    client: Client, alice: Persona, alice_token: TokenPersona
) -> None:
    log_in(client, alice)
    upload_ok(client, PDF, "finding.pdf")
    assert _get(Client(), "/dicomweb/studies", alice_token).json() == []


def test_session_login_works_for_reading(
    client: Client, alice: Persona, alice_study: dict[str, Any]
) -> None:
    log_in(client, alice)
    found = client.get("/dicomweb/studies")
    assert found.status_code == 200
    assert found.json()[0]["0020000D"]["Value"] == [alice_study["study"]]
    metadata = client.get("/dicomweb/studies/{study}/metadata".format(**alice_study))
    assert metadata.status_code == 200
    assert len(json.loads(metadata.getvalue())) == 2


def test_session_stow_needs_the_csrf_token(alice: Persona) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/").content.decode()
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert form_token
    credentials = {"email": alice.email, "password": alice.password}
    login = client.post("/login/", {**credentials, "csrfmiddlewaretoken": form_token.group(1)})
    assert login.status_code == 302
    refused = _stow(client, ct_series(1))
    assert refused.status_code == 403
    assert not Item.objects.exists()
    page = client.get("/upload/").content.decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token
    accepted = _stow(client, ct_series(1), headers={"X-CSRFToken": token.group(1)})
    assert accepted.status_code == 200
    assert Item.objects.count() == 1


def test_token_requests_need_no_csrf_token(alice_token: TokenPersona) -> None:
    client = Client(enforce_csrf_checks=True)
    assert _stow(client, ct_series(1), alice_token).status_code == 200


def test_missing_wrong_and_revoked_tokens_are_401(
    client: Client, alice: Persona, alice_token: TokenPersona, alice_study: dict[str, Any]
) -> None:
    for auth in (
        {},
        {"Authorization": "Bearer hds_" + "A" * 64},
        {"Authorization": "Basic eDp5"},
    ):
        response = client.get("/dicomweb/studies", headers=auth)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="HDS"'
        assert "detail" in response.json()
    assert revoke_token(alice.account, ApiToken.objects.get().pk)
    assert _get(client, "/dicomweb/studies", alice_token).status_code == 401
    assert _stow(client, ct_series(1), alice_token).status_code == 401
    # A bad token does not fall back to a logged-in session.
    log_in(client, alice)
    response = client.get("/dicomweb/studies", headers=alice_token.headers)
    assert response.status_code == 401


def test_every_object_url_needs_credentials(client: Client, alice_study: dict[str, Any]) -> None:
    searches = ["/dicomweb/studies", "/dicomweb/series", "/dicomweb/instances"]
    for path in [*searches, *_object_paths(alice_study)]:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_outsider_gets_404_for_alices_objects_and_finds_nothing(
    client: Client, charlie_token: TokenPersona, alice_study: dict[str, Any]
) -> None:
    for path in _object_paths(alice_study):
        assert _get(client, path, charlie_token).status_code == 404, path
    for search in ("studies", "series", "instances"):
        response = _get(client, f"/dicomweb/{search}", charlie_token)
        assert response.status_code == 200
        assert response.json() == []
    listed = _get(
        client, f"/dicomweb/studies?StudyInstanceUID={alice_study['study']}", charlie_token
    )
    assert listed.json() == []


def test_charlie_storing_the_same_study_does_not_reach_alices_copy(
    client: Client, charlie_token: TokenPersona, alice_study: dict[str, Any]
) -> None:
    response = _stow(client, alice_study["files"][:1], charlie_token)
    assert response.status_code == 200
    theirs = _get(
        client, "/dicomweb/studies/{study}/instances".format(**alice_study), charlie_token
    )
    assert [i["00080018"]["Value"][0] for i in theirs.json()] == [alice_study["sop"]]


def test_no_patient_data_in_logs(
    client: Client,
    alice_token: TokenPersona,
    alice_study: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        _stow(client, [*alice_study["files"], b"garbage" * 40], alice_token)
        _get(client, "/dicomweb/studies?PatientName=Doe*", alice_token)
        path = "/dicomweb/studies/{study}/metadata".format(**alice_study)
        _get(client, path, alice_token).getvalue()
    assert "Doe" not in caplog.text
    assert "PID-1" not in caplog.text


def test_every_dicomweb_url_is_tested_here() -> None:
    (dicomweb,) = [
        r
        for r in get_resolver().url_patterns
        if isinstance(r, URLResolver) and r.namespace == "dicomweb"
    ]
    names = {p.name for p in dicomweb.url_patterns if isinstance(p, URLPattern)}
    paths = _object_paths({"study": "1", "series": "2", "sop": "3"})
    assert len(names) == len(paths) + 3  # the three searches across all studies
    assert names == {resolve(p).url_name for p in paths} | {
        "studies",
        "all_series",
        "all_instances",
    }
