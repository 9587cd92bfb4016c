"""End to end with dicomweb-client against a live server and a personal token."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import requests
from dicomweb_client import DICOMwebClient
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames

from tests.archive.factories import ct_series, ct_slice
from tests.dicomweb.conftest import TokenPersona, pydicom_file

pytestmark = pytest.mark.django_db(transaction=True)

UNCOMPRESSED = "1.2.840.10008.1.2.1"
Connect = Callable[[TokenPersona], DICOMwebClient]


@pytest.fixture
def connect(live_server: Any) -> Iterator[Connect]:
    """Make clients; their HTTP sessions are closed after the test, so that the live server's
    keep-alive threads end and give back their database connections (PostgreSQL refuses to
    drop a test database that is still in use)."""
    sessions: list[requests.Session] = []

    def make(token: TokenPersona) -> DICOMwebClient:
        session = requests.Session()
        sessions.append(session)
        return DICOMwebClient(
            url=f"{live_server.url}/dicomweb", headers=token.headers, session=session
        )

    yield make
    for session in sessions:
        session.close()


def _value(result: dict[str, Any], tag: str) -> Any:
    return result[tag]["Value"][0]


def _uids(results: list[dict[str, Any]], tag: str = "0020000D") -> set[str]:
    return {_value(r, tag) for r in results}


def _read(data: bytes) -> Dataset:
    return dcmread(io.BytesIO(data))


@pytest.fixture
def stored(live_server: Any, alice_token: TokenPersona, connect: Connect) -> dict[str, Any]:
    """A 3-slice CT of Jane Doe (2026) and a second study of John Roe (2019), stored by STOW."""
    client = connect(alice_token)
    ct = ct_series(3, patient_name="Doe^Jane", description="CT Thorax")
    other = ct_series(1, patient_name="Roe^John", patient_id="PID-2", description="Knee")
    other_ds = _read(other[0])
    other_ds.StudyDate = "20190301"
    other_ds.Modality = "MR"
    buffer = io.BytesIO()
    other_ds.save_as(buffer, enforce_file_format=True)
    other = [buffer.getvalue()]
    response = client.store_instances([_read(f) for f in ct + other])
    assert len(response.ReferencedSOPSequence) == 4
    assert "FailedSOPSequence" not in response
    first = _read(ct[0])
    return {
        "client": client,
        "ct": ct,
        "other": other,
        "study": str(first.StudyInstanceUID),
        "series": str(first.SeriesInstanceUID),
        "sops": [str(_read(f).SOPInstanceUID) for f in ct],
        "other_study": str(other_ds.StudyInstanceUID),
        "url": f"{live_server.url}/dicomweb",
        "token": alice_token,
    }


def test_search_for_studies_matches_names_dates_modalities(stored: dict[str, Any]) -> None:
    client: DICOMwebClient = stored["client"]
    both = {stored["study"], stored["other_study"]}
    assert _uids(client.search_for_studies()) == both
    assert _uids(client.search_for_studies(search_filters={"PatientName": "doe*"})) == {
        stored["study"]
    }
    assert _uids(client.search_for_studies(search_filters={"PatientName": "*^J?hn"})) == {
        stored["other_study"]
    }
    in_2026 = client.search_for_studies(search_filters={"StudyDate": "20260101-20261231"})
    assert _uids(in_2026) == {stored["study"]}
    assert _uids(client.search_for_studies(search_filters={"StudyDate": "-20191231"})) == {
        stored["other_study"]
    }
    assert _uids(client.search_for_studies(search_filters={"ModalitiesInStudy": "MR"})) == {
        stored["other_study"]
    }
    by_tag = client.search_for_studies(search_filters={"00100020": "PID-2"})
    assert _uids(by_tag) == {stored["other_study"]}
    listed = f"{stored['study']},{stored['other_study']}"
    assert _uids(client.search_for_studies(search_filters={"StudyInstanceUID": listed})) == both
    assert client.search_for_studies(search_filters={"PatientName": "Nobody"}) == []

    study = next(r for r in in_2026 if _value(r, "0020000D") == stored["study"])
    assert study["00100010"]["Value"] == [{"Alphabetic": "Doe^Jane"}]
    assert _value(study, "00201206") == 1
    assert _value(study, "00201208") == 3
    assert study["00080061"]["Value"] == ["CT"]
    assert _value(study, "00081190").endswith(f"/dicomweb/studies/{stored['study']}")
    for required in ("00080020", "00080030", "00080050", "00080090", "00100030", "00100040"):
        assert required in study
    assert "00080080" not in study  # InstitutionName: only when asked for


def test_search_paging_and_includefield(stored: dict[str, Any]) -> None:
    client: DICOMwebClient = stored["client"]
    first = client.search_for_studies(limit=1)
    second = client.search_for_studies(limit=1, offset=1)
    assert len(first) == len(second) == 1
    assert _uids(first) | _uids(second) == {stored["study"], stored["other_study"]}
    assert client.search_for_studies(offset=2) == []
    assert len(client.search_for_studies(get_remaining=True)) == 2
    with_institution = client.search_for_studies(fields=["InstitutionName"], limit=1)
    assert "00080080" in with_institution[0]
    assert "00080080" in client.search_for_studies(fields=["all"], limit=1)[0]


def test_search_for_series_and_instances(stored: dict[str, Any]) -> None:
    client: DICOMwebClient = stored["client"]
    series = client.search_for_series(stored["study"])
    assert [_value(s, "0020000E") for s in series] == [stored["series"]]
    assert _value(series[0], "00080060") == "CT"
    assert _value(series[0], "00201209") == 3
    assert _value(series[0], "00200011") == 2
    assert "00100010" not in series[0]  # study attributes only when searching all series
    assert client.search_for_series(stored["study"], search_filters={"PatientID": "X"}) == []
    named = client.search_for_series(stored["study"], search_filters={"PatientName": "Doe*"})
    assert _value(named[0], "00100010") == {"Alphabetic": "Doe^Jane"}  # matching keys return
    everywhere = client.search_for_series(search_filters={"Modality": "CT"})
    assert _uids(everywhere, "0020000E") == {stored["series"]}
    assert "00100010" in everywhere[0]

    instances = client.search_for_instances(stored["study"], stored["series"])
    assert [_value(i, "00080018") for i in instances] == stored["sops"]
    assert [_value(i, "00200013") for i in instances] == [1, 2, 3]
    assert _value(instances[0], "00280010") == 64
    assert _value(instances[0], "00280008") == 1
    assert _value(instances[0], "00083002") == UNCOMPRESSED
    assert _value(instances[0], "00081190").endswith(
        f"/series/{stored['series']}/instances/{stored['sops'][0]}"
    )
    numbered = client.search_for_instances(stored["study"], search_filters={"InstanceNumber": 2})
    assert _uids(numbered, "00080018") == {stored["sops"][1]}
    assert "00080060" in numbered[0]  # a study's instances come with their series attributes
    mr = client.search_for_instances(search_filters={"ModalitiesInStudy": "MR"})
    assert len(mr) == 1
    assert _value(mr[0], "0020000D") == stored["other_study"]


def test_retrieve_is_byte_identical(stored: dict[str, Any]) -> None:
    client: DICOMwebClient = stored["client"]
    originals = {str(_read(f).SOPInstanceUID): _read(f) for f in stored["ct"]}
    study = client.retrieve_study(stored["study"])
    series = client.retrieve_series(stored["study"], stored["series"])
    for retrieved in (study, series):
        assert len(retrieved) == 3
        for ds in retrieved:
            original = originals[str(ds.SOPInstanceUID)]
            assert ds == original
            assert ds.PixelData == original.PixelData
    one = client.retrieve_instance(stored["study"], stored["series"], stored["sops"][1])
    assert one == originals[stored["sops"][1]]


def test_retrieve_metadata(stored: dict[str, Any]) -> None:
    client: DICOMwebClient = stored["client"]
    study = client.retrieve_study_metadata(stored["study"])
    assert len(study) == 3
    assert all(m["00100010"]["Value"] == [{"Alphabetic": "Doe^Jane"}] for m in study)
    instance = client.retrieve_instance_metadata(
        stored["study"], stored["series"], stored["sops"][0]
    )
    pixel = instance["7FE00010"]
    assert "BulkDataURI" in pixel
    assert "InlineBinary" not in pixel
    assert pixel["BulkDataURI"].endswith("/bulkdata/7FE00010")
    assert instance["00080018"]["Value"] == [stored["sops"][0]]
    ds = Dataset.from_json(instance, bulk_data_uri_handler=lambda *_: b"")
    assert ds.Rows == 64
    series = client.retrieve_series_metadata(stored["study"], stored["series"])
    assert {m["00080018"]["Value"][0] for m in series} == set(stored["sops"])


def test_frames_of_an_uncompressed_instance(stored: dict[str, Any]) -> None:
    client: DICOMwebClient = stored["client"]
    original = _read(stored["ct"][0])
    frames = client.retrieve_instance_frames(
        stored["study"], stored["series"], stored["sops"][0], frame_numbers=[1]
    )
    assert frames == [original.PixelData]
    octet = client.retrieve_instance_frames(
        stored["study"],
        stored["series"],
        stored["sops"][0],
        frame_numbers=[1],
        media_types=(("application/octet-stream", "*"),),
    )
    assert octet == [original.PixelData]


def test_multiframe_frames_are_sliced(alice_token: TokenPersona, connect: Connect) -> None:
    client = connect(alice_token)
    ds = _read(ct_slice(study_uid="1.2.3.4.5", series_uid="1.2.3.4.5.6", index=0, size=16))
    frames = [np.full((16, 16), n * 100, dtype=np.uint16) for n in range(3)]
    ds.NumberOfFrames = 3
    ds.PixelData = b"".join(f.tobytes() for f in frames)
    client.store_instances([ds])
    got = client.retrieve_instance_frames(
        "1.2.3.4.5", "1.2.3.4.5.6", str(ds.SOPInstanceUID), frame_numbers=[3, 1]
    )
    assert got == [frames[2].tobytes(), frames[0].tobytes()]


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("SC_rgb_jpeg_dcmtk.dcm", "image/jpeg"),
        ("MR_small_jpeg_ls_lossless.dcm", "image/jls"),
        ("MR_small_RLE.dcm", "image/x-dicom-rle"),
        ("JPEG2000.dcm", "image/jp2"),
    ],
)
def test_frames_of_compressed_instances(
    name: str, media_type: str, alice_token: TokenPersona, connect: Connect
) -> None:
    client = connect(alice_token)
    ds = _read(pydicom_file(name))
    client.store_instances([ds])
    where = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    original = next(generate_frames(ds.PixelData, number_of_frames=1))

    as_stored = client.retrieve_instance_frames(
        *where, frame_numbers=[1], media_types=(("application/octet-stream", "*"),)
    )
    assert as_stored == [original]
    as_image = client.retrieve_instance_frames(*where, frame_numbers=[1], media_types=(media_type,))
    assert as_image == [original]
    decoded = client.retrieve_instance_frames(
        *where, frame_numbers=[1], media_types=(("application/octet-stream", UNCOMPRESSED),)
    )
    assert decoded == [ds.pixel_array.tobytes()]


def test_retrieve_compressed_instance_transcoded(
    alice_token: TokenPersona, connect: Connect
) -> None:
    client = connect(alice_token)
    ds = _read(pydicom_file("MR_small_jpeg_ls_lossless.dcm"))
    client.store_instances([ds])
    where = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    stored = client.retrieve_instance(*where)
    assert stored.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    native = client.retrieve_instance(*where, media_types=(("application/dicom", UNCOMPRESSED),))
    assert native.file_meta.TransferSyntaxUID == UNCOMPRESSED
    assert np.array_equal(native.pixel_array, ds.pixel_array)


def test_rendered_and_thumbnails_are_jpegs(stored: dict[str, Any]) -> None:
    client: DICOMwebClient = stored["client"]
    where = (stored["study"], stored["series"], stored["sops"][0])
    rendered = client.retrieve_instance_rendered(*where, media_types=("image/jpeg",))
    with Image.open(io.BytesIO(rendered)) as image:
        assert image.format == "JPEG"
        assert image.size == (64, 64)
    frame = client.retrieve_instance_frames_rendered(
        *where, frame_numbers=[1], media_types=("image/jpeg",)
    )
    assert frame == rendered
    for path in (
        f"studies/{stored['study']}/thumbnail",
        f"studies/{stored['study']}/series/{stored['series']}/thumbnail",
        "studies/{}/series/{}/instances/{}/thumbnail".format(*where),
    ):
        response = requests.get(
            f"{stored['url']}/{path}",
            headers={**stored["token"].headers, "Accept": "image/*"},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["Cache-Control"] == "no-store, private"
        with Image.open(io.BytesIO(response.content)) as image:
            assert image.format == "JPEG"
