"""Frames, metadata and transcoding for the transfer syntaxes files arrive in."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from django.test import Client
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import ExplicitVRLittleEndian, SegmentationStorage, generate_uid

from hds.archive.renderpool import render_pool
from hds.archive.sandbox import RenderPool
from hds.dicomweb.multipart import iter_parts
from tests.dicomweb.conftest import STOW_CONTENT_TYPE, TokenPersona, multipart_body, pydicom_file

pytestmark = pytest.mark.django_db(transaction=True)


def _store(client: Client, token: TokenPersona, data: bytes) -> str:
    response = client.post(
        "/dicomweb/studies",
        multipart_body([data]),
        content_type=STOW_CONTENT_TYPE,
        headers=token.headers,
    )
    assert response.status_code == 200, response.content
    ds = dcmread(io.BytesIO(data), stop_before_pixels=True)
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


def _parts(response: Any) -> list[tuple[str | None, bytes]]:
    assert response.status_code == 200, response.content
    boundary = response["Content-Type"].rsplit("boundary=", 1)[1]
    body = io.BytesIO(response.getvalue())
    return [(p.content_type, p.data) for p in iter_parts(body.read, boundary)]


def _frames(client: Client, token: TokenPersona, path: str, accept: str | None = None) -> Any:
    headers = {**token.headers, **({"Accept": accept} if accept else {})}
    return client.get(path, headers=headers)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_bigendian.dcm",  # 16-bit OW, big endian: swapped to little endian
        "SC_rgb_small_odd_big_endian.dcm",  # 8-bit RGB in big endian OW, odd length
        "ExplVR_BigEnd.dcm",  # 8-bit RGB in big endian OB: nothing to swap
        "MR_small_implicit.dcm",
        "image_dfl.dcm",  # deflated: read whole
        "CT_small.dcm",
    ],
)
def test_native_frames_are_little_endian(
    name: str, client: Client, alice_token: TokenPersona
) -> None:
    data = pydicom_file(name)
    ds = dcmread(io.BytesIO(data))
    path = _store(client, alice_token, data)
    parts = _parts(_frames(client, alice_token, f"{path}/frames/1"))
    assert parts[0][0] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    if ds.get("PlanarConfiguration") == 1:
        expected = bytes(ds.PixelData[: ds.Rows * ds.Columns * 3])  # OB: as stored
    else:
        array = ds.pixel_array
        expected = array.astype(array.dtype.newbyteorder("<")).tobytes()
    assert parts[0][1] == expected
    metadata = json.loads(client.get(f"{path}/metadata", headers=alice_token.headers).getvalue())
    assert metadata[0]["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010")
    assert metadata[0]["00280010"]["Value"] == [ds.Rows]


@pytest.mark.parametrize("name", ["MR_small_implicit.dcm", "image_dfl.dcm"])
def test_instances_transcode_to_explicit_little_endian(
    name: str, client: Client, alice_token: TokenPersona
) -> None:
    data = pydicom_file(name)
    path = _store(client, alice_token, data)
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
    response = client.get(path, headers={**alice_token.headers, "Accept": accept})
    ((content_type, body),) = _parts(response)
    assert content_type == "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"
    assert "Content-Length" not in response
    converted, original = dcmread(io.BytesIO(body)), dcmread(io.BytesIO(data))
    assert converted.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(converted.pixel_array, original.pixel_array)
    as_stored = client.get(path, headers=alice_token.headers)
    assert _parts(as_stored)[0][1] == data


def test_rle_multiframe_stored_and_decoded(client: Client, alice_token: TokenPersona) -> None:
    data = pydicom_file("SC_rgb_rle_2frame.dcm")
    ds = dcmread(io.BytesIO(data))
    path = _store(client, alice_token, data)
    stored = list(generate_frames(ds.PixelData, number_of_frames=2))
    rle = _frames(
        client, alice_token, f"{path}/frames/2,1", 'multipart/related; type="image/dicom-rle"'
    )
    rle_parts = _parts(rle)
    assert [p[1] for p in rle_parts] == [stored[1], stored[0]]
    assert rle_parts[0][0] == "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"
    decoded = _parts(_frames(client, alice_token, f"{path}/frames/1,2"))
    assert [p[1] for p in decoded] == [ds.pixel_array[0].tobytes(), ds.pixel_array[1].tobytes()]
    all_frames = _parts(_frames(client, alice_token, f"{path}/bulkdata/7FE00010"))
    assert [p[1] for p in all_frames] == [p[1] for p in decoded]
    assert _frames(client, alice_token, f"{path}/frames/3").status_code == 404
    assert _frames(client, alice_token, f"{path}/frames/0").status_code == 400


def test_bit_packed_frames_start_at_bit_zero(client: Client, alice_token: TokenPersona) -> None:
    """1-bit frames of 3x3 pixels share bytes; each answer starts at its own first bit."""
    masks = [
        np.eye(3, dtype=np.uint8),
        np.ones((3, 3), np.uint8),
        np.fliplr(np.eye(3, dtype=np.uint8)),
    ]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SegmentationStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SegmentationStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "SEG"
    ds.Rows = ds.Columns = 3
    ds.NumberOfFrames = 3
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 1
    ds.HighBit = 0
    ds.PixelRepresentation = 0
    bits = np.concatenate([m.ravel() for m in masks])
    ds.PixelData = np.packbits(bits, bitorder="little").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    path = _store(client, alice_token, buffer.getvalue())
    parts = _parts(_frames(client, alice_token, f"{path}/frames/1,2,3"))
    for (_type, frame), mask in zip(parts, masks, strict=True):
        unpacked = np.unpackbits(np.frombuffer(frame, np.uint8), bitorder="little")[:9]
        assert np.array_equal(unpacked, mask.ravel())


def test_large_binary_values_become_bulk_data(client: Client, alice_token: TokenPersona) -> None:
    ds = dcmread(io.BytesIO(pydicom_file("CT_small.dcm")))
    block = ds.private_block(0x0011, "HDS TEST", create=True)
    large, small = f"{block.get_tag(0x10):08X}", f"{block.get_tag(0x11):08X}"
    block.add_new(0x10, "OB", b"\x01\x02" * 1000)
    block.add_new(0x11, "OB", b"small")
    buffer = io.BytesIO()
    ds.save_as(buffer)
    path = _store(client, alice_token, buffer.getvalue())
    metadata = json.loads(client.get(f"{path}/metadata", headers=alice_token.headers).getvalue())[0]
    uri = metadata[large]["BulkDataURI"]
    assert metadata[small]["InlineBinary"]
    assert uri.endswith(f"/bulkdata/{large}")
    ((content_type, value),) = _parts(
        _frames(client, alice_token, uri.removeprefix("http://testserver"))
    )
    assert content_type == "application/octet-stream"
    assert value == b"\x01\x02" * 1000
    assert _frames(client, alice_token, f"{path}/bulkdata/00100010").status_code == 404


@pytest.fixture
def worker_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions the web process hands to the render workers (the real
    pool still runs them)."""
    pool = render_pool()
    assert pool is not None, "the tests run with render workers"
    calls: list[str] = []
    real_call = RenderPool.call

    def call(self: RenderPool, function: Any, *args: Any) -> Any:
        calls.append(function.__name__)
        return real_call(self, function, *args)

    monkeypatch.setattr(RenderPool, "call", call)
    return calls


def test_decoding_for_wado_rs_runs_in_the_render_workers(
    client: Client, alice_token: TokenPersona, worker_calls: list[str]
) -> None:
    """docs/security.md, Render sandbox: decoders get stored files only in the isolated workers,
    also when a
    client asks for decoded frames, a transcoded instance or a thumbnail."""
    data = pydicom_file("SC_rgb_rle_2frame.dcm")
    ds = dcmread(io.BytesIO(data))
    path = _store(client, alice_token, data)
    worker_calls.clear()  # ingest rendered in the workers too; this is about reading

    decoded = _parts(_frames(client, alice_token, f"{path}/frames/1,2"))
    assert [p[1] for p in decoded] == [ds.pixel_array[0].tobytes(), ds.pixel_array[1].tobytes()]
    assert worker_calls == ["decode_frame", "decode_frame"]

    accept = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
    ((_type, body),) = _parts(client.get(path, headers={**alice_token.headers, "Accept": accept}))
    assert np.array_equal(dcmread(io.BytesIO(body)).pixel_array, ds.pixel_array)
    assert worker_calls[-1] == "transcode"

    thumbnail = client.get(f"{path}/thumbnail", headers={**alice_token.headers, "Accept": "*/*"})
    assert thumbnail.status_code == 200
    assert thumbnail["Content-Type"] == "image/jpeg"
    assert worker_calls[-1] == "make_thumbnail"


def test_a_frame_the_decoder_refuses_is_a_404_and_its_stored_bytes_still_come(
    client: Client, alice_token: TokenPersona
) -> None:
    """An RLE frame cut to half its length: stored as it came; the stored frame is served, a
    decoded one is not (a 404, not a broken body); the other frame decodes."""
    original = dcmread(io.BytesIO(pydicom_file("SC_rgb_rle_2frame.dcm")))
    ds = dcmread(io.BytesIO(pydicom_file("SC_rgb_rle_2frame.dcm")))
    frames = list(generate_frames(ds.PixelData, number_of_frames=2))
    broken = frames[0][: len(frames[0]) // 4 * 2]  # even: no padding byte
    ds.PixelData = encapsulate([broken, frames[1]])
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    path = _store(client, alice_token, out.getvalue())

    decoded = _frames(client, alice_token, f"{path}/frames/1")
    assert decoded.status_code == 404
    rle = 'multipart/related; type="image/dicom-rle"'
    as_stored = _frames(client, alice_token, f"{path}/frames/1", rle)
    assert _parts(as_stored)[0][1] == broken
    second = _parts(_frames(client, alice_token, f"{path}/frames/2"))
    assert second[0][1] == original.pixel_array[1].tobytes()
