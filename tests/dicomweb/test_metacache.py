"""Instance metadata sealed in its item row (metacache); multi-frame headers parsed once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client
from pydicom import dcmread
from pydicom.encaps import generate_frames
from pydicom.uid import RLELossless

from hds.archive.models import Item
from hds.archive.renderpool import render_pool
from hds.dicom import template
from hds.dicom.frames import MemoryFile, header_from_locator, pixel_locator, read_header
from hds.dicomweb import retrieve
from tests.archive.factories import ct_series
from tests.dicomweb.conftest import (
    STOW_CONTENT_TYPE,
    TokenPersona,
    multipart_body,
    pydicom_file,
)
from tests.viewer.factories import us_multiframe

pytestmark = pytest.mark.django_db

SOP_UID = "00080018"
PATIENT_NAME = "00100010"


@pytest.fixture
def series(client: Client, alice_token: TokenPersona) -> dict[str, Any]:
    return _stow_series(client, alice_token)


def _stow_series(client: Client, alice_token: TokenPersona) -> dict[str, Any]:
    files = ct_series(4, patient_name="Cache^Carla")
    response = client.post(
        "/dicomweb/studies",
        multipart_body(files),
        content_type=STOW_CONTENT_TYPE,
        headers=alice_token.headers,
    )
    assert response.status_code == 200, response.content
    ds = dcmread(io.BytesIO(files[0]))
    url = f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/metadata"
    return {"url": url, "sops": {str(dcmread(io.BytesIO(f)).SOPInstanceUID) for f in files}}


def _metadata(client: Client, token: TokenPersona, url: str, host: str = "testserver") -> bytes:
    response = client.get(
        url, headers={**token.headers, "Accept": "application/dicom+json"}, HTTP_HOST=host
    )
    assert response.status_code == 200
    return bytes(response.getvalue())


def _no_header_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the header was parsed although a template was stored")

    monkeypatch.setattr(retrieve, "instance_header", refuse)


@pytest.mark.parametrize("render_workers", [2, 0], ids=["render worker", "in process"])
def test_ingest_stores_templates_so_no_request_parses_a_header(
    client: Client,
    alice_token: TokenPersona,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    render_workers: int,
) -> None:
    settings.RENDER_WORKERS = render_workers
    render_pool.cache_clear()
    try:
        assert (render_pool() is None) == (render_workers == 0)
        series = _stow_series(client, alice_token)
    finally:
        pool = render_pool()
        if pool is not None:
            pool.close()
        render_pool.cache_clear()
    stored = list(Item.objects.filter(kind=Item.Kind.INSTANCE))
    assert len(stored) == 4
    assert all(item.dicom_json_ct for item in stored)
    # Sealed: the patient's name is nowhere in the stored bytes.
    assert not any(b"Cache" in bytes(item.dicom_json_ct or b"") for item in stored)

    with monkeypatch.context() as patch:
        _no_header_reads(patch)
        from_ingest = _metadata(client, alice_token, series["url"])
    instances = json.loads(from_ingest)
    assert {i[SOP_UID]["Value"][0] for i in instances} == series["sops"]
    assert instances[0][PATIENT_NAME]["Value"][0]["Alphabetic"] == "Cache^Carla"

    # What ingest stored is exactly what the view builds from the encrypted blob.
    Item.objects.update(dicom_json_ct=None)
    assert _metadata(client, alice_token, series["url"]) == from_ingest
    assert all(item.dicom_json_ct for item in Item.objects.filter(kind=Item.Kind.INSTANCE))
    with monkeypatch.context() as patch:
        _no_header_reads(patch)
        assert _metadata(client, alice_token, series["url"]) == from_ingest


def test_bulk_data_uris_follow_the_host_of_each_request(
    client: Client, alice_token: TokenPersona, series: dict[str, Any], settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "hds.example.org"]
    _metadata(client, alice_token, series["url"])  # stores the templates
    for host in ("testserver", "hds.example.org"):
        instances = json.loads(_metadata(client, alice_token, series["url"], host=host))
        for instance in instances:
            uri = instance["7FE00010"]["BulkDataURI"]
            assert uri.startswith(f"http://{host}/dicomweb/studies/")
            assert uri.endswith(f"/instances/{instance[SOP_UID]['Value'][0]}/bulkdata/7FE00010")


def test_a_template_moved_to_another_item_is_not_trusted(
    client: Client, alice_token: TokenPersona, series: dict[str, Any]
) -> None:
    first = json.loads(_metadata(client, alice_token, series["url"]))
    a, b = Item.objects.filter(kind=Item.Kind.INSTANCE)[:2]
    # Someone with database access gives b the sealed metadata of a.
    Item.objects.filter(pk=b.pk).update(dicom_json_ct=a.dicom_json_ct)
    again = json.loads(_metadata(client, alice_token, series["url"]))
    assert again == first  # b's own metadata, rebuilt from its blob
    b.refresh_from_db()
    assert bytes(b.dicom_json_ct or b"") != bytes(a.dicom_json_ct or b"")  # and sealed anew


def test_templates_above_the_size_limit_are_not_stored(
    client: Client,
    alice_token: TokenPersona,
    series: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _metadata(client, alice_token, series["url"])
    Item.objects.update(dicom_json_ct=None)  # as for instances stored before templates existed
    monkeypatch.setattr(template, "MAX_TEMPLATE_BYTES", 100)
    assert _metadata(client, alice_token, series["url"]) == first
    assert not Item.objects.exclude(dicom_json_ct=None).exists()
    assert _metadata(client, alice_token, series["url"]) == first


# ------------------------------------------------------------ headers of multi-frame instances

FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _frame_url(data: bytes, frame: int) -> str:
    ds = dcmread(io.BytesIO(data))
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{frame}"
    )


def _payload(response: Any) -> bytes:
    """The one part's bytes of a single-frame multipart answer (boundaries differ per answer)."""
    content = bytes(response.content)
    return content.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]


def _count_header_reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []

    def counting(file: Any) -> Any:
        calls.append(file)
        return read_header(file)

    monkeypatch.setattr(retrieve, "read_header", counting)
    return calls


def _stow(client: Client, token: TokenPersona, files: list[bytes]) -> None:
    response = client.post(
        "/dicomweb/studies",
        multipart_body(files),
        content_type=STOW_CONTENT_TYPE,
        headers=token.headers,
    )
    assert response.status_code == 200


def test_native_frames_are_read_where_ingest_found_them_without_a_parse(
    client: Client, alice_token: TokenPersona, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = us_multiframe(6)
    ct = ct_series(2)
    _stow(client, alice_token, [loop, *ct])
    calls = _count_header_reads(monkeypatch)
    headers = {**alice_token.headers, "Accept": FRAME_ACCEPT}
    frames = [_payload(client.get(_frame_url(loop, n), headers=headers)) for n in range(1, 7)]
    assert frames == [bytes(f.tobytes()) for f in dcmread(io.BytesIO(loop)).pixel_array]
    for data in ct:
        ds = dcmread(io.BytesIO(data))
        assert _payload(client.get(_frame_url(data, 1), headers=headers)) == ds.PixelData
    assert calls == []


def test_a_multi_frame_header_is_parsed_once_for_all_its_frames(
    client: Client,
    alice_token: TokenPersona,
    charlie_token: TokenPersona,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files without a pixel locator (compressed, big endian, deflated): the parsed header of a
    multi-frame instance serves all its frames for a while."""
    loop = pydicom_file("SC_rgb_rle_2frame.dcm")
    ct = [
        _recoded(data, RLELossless) for data in ct_series(2)
    ]  # compressed single frames: parsed each time
    _stow(client, alice_token, [loop, *ct])
    calls = _count_header_reads(monkeypatch)
    headers = {**alice_token.headers, "Accept": FRAME_ACCEPT}
    stored = list(generate_frames(dcmread(io.BytesIO(loop)).PixelData, number_of_frames=2))
    bodies = [client.get(_frame_url(loop, n), headers=headers) for n in (1, 2, 1)]
    assert [b.status_code for b in bodies] == [200] * 3
    assert [_payload(b) for b in bodies] == [stored[0], stored[1], stored[0]]
    assert len(calls) == 1
    # The outsider still gets 404: access is checked before the cache is asked.
    outsider = {**charlie_token.headers, "Accept": FRAME_ACCEPT}
    assert client.get(_frame_url(loop, 2), headers=outsider).status_code == 404
    # Single-frame instances are not kept: each request reads its own header.
    for data in ct:
        assert client.get(_frame_url(data, 1), headers=headers).status_code == 200
    assert len(calls) == 3
    # After the time limit the header is read again.
    monkeypatch.setattr(retrieve.HeaderCache, "TTL_SECONDS", -1.0)
    assert _payload(client.get(_frame_url(loop, 2), headers=headers)) == stored[1]
    assert len(calls) == 4


def _recoded(data: bytes, syntax: str) -> bytes:
    ds = dcmread(io.BytesIO(data))
    ds.compress(syntax, encoding_plugin="pydicom")
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_a_locator_the_stored_file_disagrees_with_is_not_used() -> None:
    data = ct_series(1)[0]
    ds = dcmread(io.BytesIO(data))
    locator = pixel_locator(ds)
    assert locator is not None
    header = header_from_locator(MemoryFile(data), locator)
    assert header is not None
    assert header.pixel is not None
    assert header.frame_count == 1
    start, length = header.pixel.offset, header.pixel.length or 0
    assert data[start : start + length] == ds.PixelData
    for wrong in ({"offset": locator["offset"] + 2}, {"length": locator["length"] + 2}):
        assert header_from_locator(MemoryFile(data), {**locator, **wrong}) is None
    assert header_from_locator(MemoryFile(data), None) is None
    assert header_from_locator(MemoryFile(data), {"offset": "x"}) is None
    # Compressed or big endian files get none: they are parsed when read.
    assert pixel_locator(dcmread(io.BytesIO(_recoded(data, RLELossless)))) is None
    assert pixel_locator(dcmread(io.BytesIO(pydicom_file("MR_small_bigendian.dcm")))) is None
