"""ZK-1/ZK-2 for studies: after upload, listing, previews and a ZIP download, neither the database,
the blob store, the logs nor temp folders hold the patient's name, id, birth date or pixels."""

from __future__ import annotations

import base64
import logging
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.accounts.test_at_rest import _database_dump, _folder_dump
from tests.archive.conftest import upload_ok
from tests.archive.factories import PDF, ct_series

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "ZZCANARY^Qx7f3a"
PID = "CANARY-PID-481516"
DESCRIPTION = "CANARYSTUDY"
MARKER = b"PIXELCANARY-64-bytes-marker-0123456789abcdefghijklmnopqrstuvwxyz"[:64]


def _variants(text: str) -> list[bytes]:
    forms = {text, text.replace("^", " "), text.upper(), text.lower()}
    out: list[bytes] = []
    for form in forms:
        raw = form.encode()
        out += [raw, form.encode("utf-16-le"), raw.hex().encode()]
        for shift in range(3):
            encoded = base64.b64encode(raw[shift:]).rstrip(b"=")
            out.append(encoded[2:-2] if len(encoded) > 8 else encoded)
    return out


def test_nothing_readable_at_rest_after_a_full_session(
    alice_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    temp_before = set(Path(tempfile.gettempdir()).iterdir())
    files = ct_series(
        2,
        patient_name=NAME,
        patient_id=PID,
        birth_date="19010203",
        description=DESCRIPTION,
        marker=MARKER,
    )
    results = [upload_ok(alice_client, data, f"{NAME}.dcm") for data in files]
    assert {r["status"] for r in results} == {"stored"}
    study_url = str(results[0]["study_url"])
    upload_ok(alice_client, PDF.replace(b"%%EOF", b"%CANARYSTUDY\n%%EOF"), "x.pdf")
    assert NAME.replace("^", " ") in alice_client.get("/documents/").content.decode()
    page = alice_client.get(study_url).content.decode()
    assert DESCRIPTION in page
    zip_response = alice_client.get(study_url + "download.zip?dicom=1")
    assert MARKER in b"".join(zip_response.streaming_content)  # type: ignore[attr-defined]

    haystacks = {
        "database": _database_dump(),
        "data folder (blobs, sqlite, secrets, mail)": _folder_dump(settings.DATA_DIR),
        "logs": "\n".join(r.getMessage() for r in caplog.records).encode(),
        "new temp files": b"\n".join(
            p.read_bytes()
            for p in set(Path(tempfile.gettempdir()).iterdir()) - temp_before
            if p.is_file()
        ),
    }
    needles = {
        "patient name": _variants(NAME),
        "patient id": _variants(PID),
        "study description": _variants(DESCRIPTION),
        "birth date": [b"19010203", b"1901-02-03", b"03.02.1901"],
        "pixel marker": [MARKER, MARKER.hex().encode(), base64.b64encode(MARKER)[4:-4]],
    }
    assert len(haystacks["data folder (blobs, sqlite, secrets, mail)"]) > 10_000
    for where, data in haystacks.items():
        for what, forms in needles.items():
            for form in forms:
                assert form not in data, f"{what} found in {where}"
