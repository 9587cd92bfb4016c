"""QIDO-RS matching and Accept negotiation, without a server."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from hds.dicom.media import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    FrameChoice,
    InstanceChoice,
    choose_frames,
    choose_instance,
    parse_accept,
)
from hds.dicom.record import ItemRecord
from hds.dicomweb import query as qido

SUMMARY = {
    "patient_name": "Doe^Jane^Maria",
    "patient_id": "PID-1",
    "birth_date": "19560401",
    "sex": "F",
    "study_uid": "1.2.3",
    "study_date": "20260115",
    "study_time": "101530.25",
    "description": "CT Thorax",
    "accession": "ACC-1",
    "referring": "House^Gregory",
    "institution": "Clinic",
    "modalities": ["CT", "SR"],
    "series": {"1.2.3.4": {"n": 3, "modality": "CT", "number": 2.0, "description": "Axial"}},
    "instances": 3,
}
STUDY = qido.study_record(SUMMARY)


def _matches(
    params: str, record: qido.Record = STUDY, level: qido.Level = qido.Level.STUDY
) -> bool:
    query = qido.parse_query(QueryDict(params), level)
    return query.accepts(record, level)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("PatientName=Doe^Jane^Maria", True),
        ("PatientName=doe^jane^maria^^", True),  # case and trailing empty components
        ("PatientName=Doe", False),  # single value matching is whole-value
        ("PatientName=Doe*", True),
        ("PatientName=*jane*", True),
        ("PatientName=D?e^*", True),
        ("PatientName=Roe*", False),
        ("00100010=DOE*", True),
        ("PatientName=", True),
        ("PatientName=*", True),
        ("PatientID=pid-1", True),
        ("PatientID=PID-?", True),
        ("StudyDescription=*thorax", True),
        ("StudyInstanceUID=1.2.3", True),
        ("StudyInstanceUID=9.9,1.2.3", True),
        ("StudyInstanceUID=9.9\\1.2.3", True),
        ("StudyInstanceUID=1.2.30", False),
        ("StudyInstanceUID=1.2.*", False),  # no wildcards for UIDs
        ("StudyDate=20260115", True),
        ("StudyDate=20260116", False),
        ("StudyDate=20260101-20261231", True),
        ("StudyDate=20260116-", False),
        ("StudyDate=-20260115", True),
        ("StudyDate=2026.01.15", True),
        ("StudyTime=1015", True),
        ("StudyTime=10", True),
        ("StudyTime=1016", False),
        ("StudyTime=1000-1100", True),
        ("StudyTime=-1015", True),
        ("StudyTime=1016-", False),
        ("ModalitiesInStudy=SR", True),
        ("ModalitiesInStudy=MR,SR", True),
        ("ModalitiesInStudy=MR", False),
        ("ModalitiesInStudy=C*", True),
        ("PatientSex=F", True),
        ("PatientSex=f", False),  # CS is case-sensitive (PS3.4 C.2.2.2.1)
        ("NumberOfStudyRelatedInstances=3", True),
        ("PatientName=Doe*&StudyDate=2020-2021", False),  # every key must match
        ("ModalitiesInStudy=MR&ModalitiesInStudy=CT", True),  # repeated: any of them
    ],
)
def test_study_matching(params: str, expected: bool) -> None:
    assert _matches(params) is expected


def test_series_and_instance_matching() -> None:
    series = qido.series_record(STUDY, "1.2.3.4", SUMMARY["series"]["1.2.3.4"])  # type: ignore[index]
    assert _matches("SeriesNumber=2", series, qido.Level.SERIES)
    assert not _matches("SeriesNumber=3", series, qido.Level.SERIES)
    assert _matches("Modality=CT&SeriesDescription=ax*", series, qido.Level.SERIES)
    instance = qido.instance_record(
        series,
        ItemRecord.decode(
            {"v": 1, "sop_uid": "1.2.3.4.5", "instance_number": 7.0, "rows": 512.0, "frames": 1}
        ),
    )
    assert _matches("InstanceNumber=7&Rows=512", instance, qido.Level.INSTANCE)
    assert _matches("SOPInstanceUID=1.2.3.4.5", instance, qido.Level.INSTANCE)
    assert not _matches("InstanceNumber=1,2", instance, qido.Level.INSTANCE)


@pytest.mark.parametrize(
    "params", ["Nope=1", "limit=-1", "offset=x", "StudyDate=today", "includefield=Nope", "Rows=a"]
)
def test_invalid_parameters(params: str) -> None:
    with pytest.raises(qido.QueryError):
        qido.parse_query(QueryDict(params), qido.Level.INSTANCE)


def _returned(params: str, level: qido.Level, parent: qido.Level | None) -> set[str]:
    query = qido.parse_query(QueryDict(params), level)
    return {a.keyword for a in query.returned(parent)}


def test_returned_attributes_follow_the_search_scope() -> None:
    studies = _returned("", qido.Level.STUDY, None)
    assert {"PatientName", "StudyInstanceUID", "NumberOfStudyRelatedInstances"} <= studies
    assert "InstitutionName" not in studies
    assert "Modality" not in _returned("includefield=Modality", qido.Level.STUDY, None)
    assert "InstitutionName" in _returned("includefield=00080080", qido.Level.STUDY, None)
    assert "InstitutionName" in _returned("includefield=all", qido.Level.STUDY, None)
    in_study = _returned("", qido.Level.SERIES, qido.Level.STUDY)
    assert "PatientName" not in in_study
    assert {"StudyInstanceUID", "SeriesInstanceUID", "Modality"} <= in_study
    assert "PatientName" in _returned("", qido.Level.SERIES, None)
    assert "PatientName" in _returned("PatientName=Doe*", qido.Level.SERIES, qido.Level.STUDY)
    in_series = _returned("", qido.Level.INSTANCE, qido.Level.SERIES)
    assert "Modality" not in in_series
    assert {"SeriesInstanceUID", "SOPInstanceUID", "Rows"} <= in_series
    assert "Modality" in _returned("", qido.Level.INSTANCE, qido.Level.STUDY)


def test_json_of_a_study() -> None:
    query = qido.parse_query(QueryDict(""), qido.Level.STUDY)
    data = qido.to_json(STUDY, query.returned(None), "http://x/dicomweb/studies/1.2.3")
    assert data["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane^Maria"}]}
    assert data["00080061"] == {"vr": "CS", "Value": ["CT", "SR"]}
    assert data["00201206"] == {"vr": "IS", "Value": [1]}
    assert data["00200010"] == {"vr": "SH"}  # StudyID: required, empty
    assert data["00081190"] == {"vr": "UR", "Value": ["http://x/dicomweb/studies/1.2.3"]}
    assert list(data) == sorted(data)


JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
IMAGE_JPEG = 'multipart/related; type="image/jpeg"'
OCTETS = "multipart/related; type=application/octet-stream"


@pytest.mark.parametrize(
    ("accept", "stored", "expected"),
    [
        (
            None,
            EXPLICIT_VR_LITTLE_ENDIAN,
            ("application/octet-stream", EXPLICIT_VR_LITTLE_ENDIAN, False),
        ),
        ("*/*", JPEG_BASELINE, ("application/octet-stream", EXPLICIT_VR_LITTLE_ENDIAN, True)),
        (
            "multipart/related; type=application/octet-stream; transfer-syntax=*",
            JPEG_BASELINE,
            ("application/octet-stream", JPEG_BASELINE, False),
        ),
        (
            'multipart/related; type="image/jpeg"',
            JPEG_BASELINE,
            ("image/jpeg", JPEG_BASELINE, False),
        ),
        (
            f"{IMAGE_JPEG}, {OCTETS}",
            JPEG_BASELINE,
            ("image/jpeg", JPEG_BASELINE, False),
        ),
        (
            f"{IMAGE_JPEG}; q=0.5, {OCTETS}",
            JPEG_BASELINE,
            ("application/octet-stream", EXPLICIT_VR_LITTLE_ENDIAN, True),
        ),
        (
            'multipart/related; type="image/*"',
            "1.2.840.10008.1.2.4.80",
            ("image/jls", "1.2.840.10008.1.2.4.80", False),
        ),
        (
            'multipart/related; type="image/x-jls"',
            "1.2.840.10008.1.2.4.80",
            ("image/x-jls", "1.2.840.10008.1.2.4.80", False),
        ),
        (
            "multipart/related; type=*/*; transfer-syntax=*",
            "1.2.840.10008.1.2.5",
            ("image/dicom-rle", "1.2.840.10008.1.2.5", False),
        ),
        ('multipart/related; type="image/jpeg"', EXPLICIT_VR_LITTLE_ENDIAN, None),
        (
            f"{OCTETS}; transfer-syntax=1.2.840.10008.1.2.4.70",
            JPEG_BASELINE,
            None,
        ),
        ("application/json", EXPLICIT_VR_LITTLE_ENDIAN, None),
    ],
)
def test_frame_negotiation(
    accept: str | None, stored: str, expected: tuple[str, str, bool] | None
) -> None:
    choice = choose_frames(parse_accept(accept), stored, can_decode=True)
    assert choice == (FrameChoice(*expected) if expected else None)


def test_instance_negotiation() -> None:
    dicom = 'multipart/related; type="application/dicom"'
    assert choose_instance(
        parse_accept(dicom), JPEG_BASELINE, can_transcode=True
    ) == InstanceChoice(JPEG_BASELINE, transcode=False)
    native = f"{dicom}; transfer-syntax={EXPLICIT_VR_LITTLE_ENDIAN}"
    assert choose_instance(
        parse_accept(native), JPEG_BASELINE, can_transcode=True
    ) == InstanceChoice(EXPLICIT_VR_LITTLE_ENDIAN, transcode=True)
    assert choose_instance(parse_accept(native), JPEG_BASELINE, can_transcode=False) is None
    assert (
        choose_instance(parse_accept("application/dicom+json"), JPEG_BASELINE, can_transcode=True)
        is None
    )
