"""Synthetic MR and ultrasound series, pydicom's compressed test files under fresh UIDs, and
an image that cannot be decoded: test data for the viewer."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import numpy as np
from django.test import Client
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    MRImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from tests.archive.conftest import upload_ok
from tests.archive.factories import ct_series

# pydicom test files by transfer syntax: (file, transfer syntax UID, what it is).
COMPRESSED_FILES: list[tuple[str, str]] = [
    ("SC_rgb_dcmtk_+eb+cr.dcm", "1.2.840.10008.1.2.4.50"),  # JPEG baseline, RGB
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),  # JPEG extended, 12 bit
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", "1.2.840.10008.1.2.4.70"),  # JPEG lossless SV1
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),  # JPEG-LS lossless
    ("693_J2KR.dcm", "1.2.840.10008.1.2.4.90"),  # JPEG 2000 lossless
    ("693_J2KI.dcm", "1.2.840.10008.1.2.4.91"),  # JPEG 2000
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),  # RLE lossless
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99"),  # deflated explicit VR little endian
    ("SC_rgb_expb.dcm", "1.2.840.10008.1.2.2"),  # explicit VR big endian (retired)
]


def _meta(sop_class: str, sop_uid: str, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    return meta


def _patient(ds: Dataset, *, study_uid: str, series_uid: str, description: str) -> None:
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = "Viewer^Vera"
    ds.PatientID = "PID-V"
    ds.PatientBirthDate = "19700517"
    ds.StudyDate = "20260201"
    ds.StudyTime = "090000"
    ds.StudyDescription = description
    ds.AccessionNumber = "ACC-V"


def _save(ds: Dataset, *, enforce_file_format: bool = True) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=enforce_file_format)
    return buffer.getvalue()


def mr_series(
    count: int = 5, *, study_uid: str | None = None, size: int = 64, description: str = "MR Knee"
) -> list[bytes]:
    """An MR series (signed 16 bit, no stored window: the viewer windows it automatically)."""
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    out = []
    for index in range(count):
        sop_uid = generate_uid()
        ds = Dataset()
        ds.file_meta = _meta(MRImageStorage, sop_uid, ExplicitVRLittleEndian)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = sop_uid
        _patient(ds, study_uid=study_uid, series_uid=series_uid, description=description)
        ds.Modality = "MR"
        ds.SeriesNumber = 3
        ds.SeriesDescription = "T1 sag"
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(index * 4)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.SliceLocation = float(index * 4)
        ds.SliceThickness = 4.0
        ds.PixelSpacing = [0.5, 0.5]
        yy, xx = np.mgrid[0:size, 0:size]
        disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 3) ** 2
        ds.set_pixel_data(np.where(disc, 800 + index * 50, 100).astype(np.int16), "MONOCHROME2", 16)
        out.append(_save(ds))
    return out


def us_multiframe(
    frames: int = 12, *, study_uid: str | None = None, size: int = 64, description: str = "US Heart"
) -> bytes:
    """A multi-frame ultrasound loop (RGB): a bright bar moves one step per frame."""
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = _meta(UltrasoundMultiFrameImageStorage, sop_uid, ExplicitVRLittleEndian)
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID = sop_uid
    _patient(
        ds,
        study_uid=study_uid or generate_uid(),
        series_uid=generate_uid(),
        description=description,
    )
    ds.Modality = "US"
    ds.SeriesNumber = 1
    ds.SeriesDescription = "Loop"
    ds.InstanceNumber = 1
    ds.NumberOfFrames = frames
    ds.FrameTime = 50.0
    ds.CineRate = 20
    video = np.zeros((frames, size, size, 3), dtype=np.uint8)
    width = max(2, size // frames)
    for f in range(frames):
        video[f, :, f * width : (f + 1) * width, :] = 255
    ds.set_pixel_data(video, "RGB", 8)  # also sets NumberOfFrames
    return _save(ds)


def recoded(name: str, *, study_uid: str, series_number: int) -> bytes:
    """A pydicom test file in its own series of ``study_uid`` (pixel data untouched)."""
    path = get_testdata_file(name)
    assert path is not None, name
    ds = dcmread(path)
    sop_uid = generate_uid()
    _patient(ds, study_uid=study_uid, series_uid=generate_uid(), description="Codecs")
    ds.SOPInstanceUID = sop_uid
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = f"TS {ds.file_meta.TransferSyntaxUID}"
    if "Modality" not in ds:
        ds.Modality = "OT"
    return _save(ds, enforce_file_format=False)


def undecodable(*, study_uid: str, series_uid: str | None = None, index: int = 0) -> bytes:
    """A JPEG baseline image whose compressed frame is garbage: stored fine, never decoded."""
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = _meta(MRImageStorage, sop_uid, JPEGBaseline8Bit)
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid
    _patient(ds, study_uid=study_uid, series_uid=series_uid or generate_uid(), description="Broken")
    ds.Modality = "MR"
    ds.SeriesNumber = 9
    ds.SeriesDescription = "Broken"
    ds.InstanceNumber = index + 1
    ds.Rows = ds.Columns = 32
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xe0" + b"\x13\x37" * 64 + b"\xff\xd9"])
    ds["PixelData"].VR = "OB"
    return _save(ds)


def with_geometry(files: list[bytes], *, spacing: float = 1.0) -> list[bytes]:
    """Slices with the position and orientation a real CT carries (PS3.3 C.7.6.2, type 1),
    which the viewer needs to measure in mm."""
    out = []
    for index, data in enumerate(files):
        ds = dcmread(BytesIO(data))
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [0.0, 0.0, -float(index) * spacing]
        ds.SliceThickness = spacing
        out.append(_save(ds))
    return out


def projection_radiograph(files: list[bytes], *, imager_spacing: float) -> list[bytes]:
    """The slices as digital X-rays: no position or orientation (a projection has none) and
    only ImagerPixelSpacing, the spacing at the detector, as many DX and CR files carry."""
    out = []
    for data in files:
        ds = dcmread(BytesIO(data))
        ds.SOPClassUID = DigitalXRayImageStorageForPresentation
        ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
        ds.Modality = "DX"
        del ds.PixelSpacing
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "SliceLocation"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.ImagerPixelSpacing = [imager_spacing, imager_spacing]
        out.append(_save(ds))
    return out


def ct_with_geometry(count: int = 3) -> list[bytes]:
    """A CT series with image positions, whose instance numbers run against the slice normal:
    the viewer opens on the last instance by number (the farthest along the normal)."""
    out = []
    for index, data in enumerate(ct_series(count)):
        ds = dcmread(BytesIO(data))
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, 5.0 * index]
        ds.SliceLocation = 5.0 * index
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def upload_study(client: Client, files: list[bytes]) -> str:
    """Upload files with a logged-in client; the id of the (last) study they went into."""
    study = ""
    for data in files:
        result: dict[str, Any] = upload_ok(client, data)
        study = str(result["study_url"]).split("/")[2]
    return study
