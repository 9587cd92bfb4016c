"""The typed item record (``hds.dicom.record``): built from a dataset in one place, written in the
current version, and every record stored before it still opens."""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from hds.archive.itemrecords import open_item_record, seal_item_record
from hds.archive.keys import OpenStudy
from hds.archive.models import Item, Study
from hds.crypto.records import seal_record
from hds.dicom.record import VERSION, ItemRecord, RecordError

# A record exactly as ``hds.archive.services._instance_meta`` wrote it before the typed record
# (version 1), after a successful rendering (``_render`` added jpeg, jpeg_width, jpeg_height,
# window and render_error).
V1_INSTANCE: dict[str, Any] = {
    "v": 1,
    "name": "CT/IM0001.dcm",
    "sop_uid": "1.2.826.0.1.3680043.8.498.1001",
    "sop_class": "1.2.840.10008.5.1.4.1.1.2",
    "ts": "1.2.840.10008.1.2.1",
    "series_uid": "1.2.826.0.1.3680043.8.498.2001",
    "modality": "CT",
    "series_number": 3.0,
    "series_description": "Axial 5mm",
    "instance_number": 12.0,
    "slice_location": -120.5,
    "position": [-250.0, -250.0, -120.5],
    "orientation": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    "pixel": {
        "ts": "1.2.840.10008.1.2.1",
        "offset": 1234,
        "length": 524288,
        "vr": "OW",
        "module": {"Rows": 512, "Columns": 512, "BitsAllocated": 16},
    },
    "rows": 512.0,
    "columns": 512.0,
    "frames": 1,
    "pixel_spacing": [0.48828125, 0.48828125],
    "body_part": "CHEST",
    "patient_name": "Doe^Jane",
    "patient_id": "P-42",
    "birth_date": "19700101",
    "sex": "F",
    "study_uid": "1.2.826.0.1.3680043.8.498.3001",
    "study_date": "20240131",
    "study_time": "101500",
    "description": "CT Thorax",
    "accession": "A-7",
    "referring": "Who^Doctor",
    "institution": "General Hospital",
    "size": 526000,
    "crc32": 305419896,
    "render_error": None,
    "jpeg": [[0, 40000, 1111], [40000, 41000, 2222]],
    "jpeg_width": 512,
    "jpeg_height": 512,
    "window": [40.0, 400.0],
}

# A finding (PDF) of version 1, and an instance whose rendering failed.
V1_FINDING: dict[str, Any] = {"v": 1, "name": "report.pdf", "size": 2048, "crc32": 99}
V1_FAILED = {
    **{k: v for k, v in V1_INSTANCE.items() if not k.startswith(("jpeg", "window"))},
    "render_error": "No decoder for %(name)s here",
    "render_error_params": {"name": "JPEG 2000"},
    "jpeg": [],
}


def test_a_version_1_instance_record_opens_with_every_field() -> None:
    record = ItemRecord.decode(V1_INSTANCE)
    assert record.version == 1
    assert record.sop_uid == V1_INSTANCE["sop_uid"]
    assert record.series_number == 3.0
    assert record.instance_number == 12.0
    assert record.position == (-250.0, -250.0, -120.5)
    assert record.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert record.has_geometry_fields
    assert record.has_pixels
    assert record.has_preview
    assert record.pixel == V1_INSTANCE["pixel"]
    assert record.rows == 512.0
    assert record.frames == 1
    assert record.pixel_spacing == (0.48828125, 0.48828125)
    assert record.jpeg == ((0, 40000, 1111), (40000, 41000, 2222))
    assert (record.jpeg_width, record.jpeg_height, record.window) == (512, 512, (40.0, 400.0))
    assert record.render_error is None
    assert (record.patient_name, record.birth_date, record.referring) == (
        "Doe^Jane",
        "19700101",
        "Who^Doctor",
    )
    # Written again, it keeps every value under the same names, as version 2.
    encoded = record.encode()
    assert encoded["v"] == VERSION == 2
    assert {k: encoded[k] for k in V1_INSTANCE if k != "v"} == {
        k: v for k, v in V1_INSTANCE.items() if k != "v"
    }


def test_version_1_findings_failures_and_old_records_open() -> None:
    finding = ItemRecord.decode(V1_FINDING)
    assert (finding.name, finding.size, finding.crc32) == ("report.pdf", 2048, 99)
    assert finding.frames == 1
    assert not finding.has_pixels
    assert not finding.has_preview
    failed = ItemRecord.decode(V1_FAILED)
    assert failed.render_error == "No decoder for %(name)s here"
    assert failed.render_error_params == {"name": "JPEG 2000"}
    assert failed.jpeg == ()
    assert failed.jpeg_width is None
    assert failed.window is None
    # Records from before ingest kept the geometry, and frame counts of 0 or none.
    old = {k: v for k, v in V1_INSTANCE.items() if k not in ("position", "orientation")}
    assert not ItemRecord.decode(old).has_geometry_fields
    assert ItemRecord.decode({**V1_INSTANCE, "frames": 0}).frames == 1
    assert ItemRecord.decode({k: v for k, v in V1_INSTANCE.items() if k != "frames"}).frames == 1
    # A file without position has () (known to be absent), not None (not recorded).
    empty = ItemRecord.decode({**V1_INSTANCE, "position": [], "orientation": []})
    assert empty.has_geometry_fields
    assert empty.position == ()


@pytest.mark.parametrize("raw", [{"v": 3}, {"v": "1"}, []])
def test_unknown_versions_are_refused(raw: Any) -> None:
    with pytest.raises(RecordError):
        ItemRecord.decode(raw)


def test_every_version_2_record_round_trips() -> None:
    for raw in (V1_INSTANCE, V1_FINDING, V1_FAILED):
        record = ItemRecord.decode(raw)
        again = ItemRecord.decode(record.encode())
        assert again == dataclasses.replace(record, version=VERSION)


def _dataset() -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPInstanceUID = "1.2.3.4"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SeriesInstanceUID = "1.2.3"
    ds.StudyInstanceUID = "1.2"
    ds.Modality = "CT"
    ds.SeriesNumber = "2"
    ds.InstanceNumber = "7"
    ds.ImagePositionPatient = [0, 0, 5]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PatientName = "Doe^John"
    ds.Rows = 4
    ds.Columns = 4
    ds.PixelSpacing = [0.5, 0.5]
    return ds


def test_from_dataset_is_the_one_place_a_dataset_becomes_a_record() -> None:
    data = b"DICM-bytes"
    record = ItemRecord.from_dataset(_dataset(), data, "a.dcm")
    assert record.version == VERSION
    assert (record.name, record.size, record.crc32) == ("a.dcm", len(data), zlib.crc32(data))
    assert (record.sop_uid, record.series_uid, record.study_uid) == ("1.2.3.4", "1.2.3", "1.2")
    assert (record.series_number, record.instance_number) == (2.0, 7.0)
    assert record.position == (0.0, 0.0, 5.0)
    assert record.orientation == (1, 0, 0, 0, 1, 0)
    assert record.patient_name == "Doe^John"
    assert record.rows == 4.0
    assert record.frames == 1
    assert record.ts == str(ExplicitVRLittleEndian)
    assert record.pixel_spacing == (0.5, 0.5)
    # Every name version 1 wrote is still written.
    assert set(V1_INSTANCE) <= set(record.with_preview([b"x"], 4, 4, (1.0, 2.0)).encode())


def test_a_sealed_version_1_record_opens_and_a_new_one_round_trips() -> None:
    opened = OpenStudy(study=Study(kind=Study.Kind.IMAGING), dek=os.urandom(32))
    item = Item(kind=Item.Kind.INSTANCE)
    item.meta_ct = seal_record(
        opened.meta_key,
        json.dumps(V1_INSTANCE, separators=(",", ":")).encode(),
        f"hds/v1/item|{item.id}".encode(),
    )
    assert open_item_record(opened, item) == ItemRecord.decode(V1_INSTANCE)
    record = ItemRecord.decode(V1_FAILED)
    seal_item_record(opened, item, record)
    assert open_item_record(opened, item) == ItemRecord.decode(record.encode())
    assert open_item_record(opened, item).version == VERSION
