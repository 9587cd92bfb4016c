"""Synthetic DICOM made with pydicom: small CT series with known patients and pixel patterns."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def ct_slice(
    *,
    study_uid: str,
    series_uid: str,
    index: int,
    patient_name: str = "Doe^Jane",
    patient_id: str = "PID-1",
    birth_date: str = "19560401",
    description: str = "CT Thorax",
    size: int = 64,
    marker: bytes | None = None,
) -> bytes:
    """One CT slice as DICOM Part 10 bytes; pixel values are HU-like with a gradient."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    sop_uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.PatientSex = "F"
    ds.StudyDate = "20260115"
    ds.StudyTime = "101500"
    ds.StudyDescription = description
    ds.AccessionNumber = "ACC-1"
    ds.Modality = "CT"
    ds.SeriesNumber = 2
    ds.SeriesDescription = "Axial 1mm"
    ds.InstanceNumber = index + 1
    ds.SliceLocation = float(index)
    ds.PixelSpacing = [0.7, 0.7]
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    pixels = (np.add.outer(np.arange(size), np.arange(size)) * 20 + index).astype(np.uint16)
    raw = pixels.tobytes()
    if marker:
        raw = (marker * (len(raw) // len(marker) + 1))[: len(raw)]
    ds.PixelData = raw
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_series(count: int = 3, **kwargs: object) -> list[bytes]:
    """A series of ``count`` slices of one new study."""
    study_uid, series_uid = generate_uid(), generate_uid()
    return [
        ct_slice(study_uid=study_uid, series_uid=series_uid, index=i, **kwargs)  # type: ignore[arg-type]
        for i in range(count)
    ]
