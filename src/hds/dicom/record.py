"""The item record: what the archive knows of one stored instance or finding without opening its
file. Sealed per item under the study's metadata key (``hds.archive.itemrecords``); this module
only builds, encodes and decodes it, and imports no Django.

``ItemRecord.from_dataset`` is the one place a dataset becomes a record. ``encode`` writes the
current version; ``ItemRecord.decode`` reads every version ever written:

- version 1 (until issue 9): a JSON object with ``"v": 1`` whose keys were optional in places
  (findings carry only ``name``, ``size``, ``crc32``; records older than the viewer lack
  ``position``/``orientation``; a failed or missing rendering has no ``jpeg_width``; a frame
  count may be missing or 0 and means 1);
- version 2: the same names, every field written, ``frames`` at least 1.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydicom.dataset import Dataset

from hds.dicom.frames import pixel_locator
from hds.dicom.values import dataset_number, dataset_numbers, dataset_text

VERSION: Final = 2

# One JPEG preview frame inside the rendering blob: (offset, length, CRC-32).
JpegFrame = tuple[int, int, int]


class RecordError(ValueError):
    """A record of a version this code does not know, or not a record at all."""


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None or not math.isfinite(number) else int(number)


def _floats(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        return ()
    out = [_float(v) for v in value]
    return tuple(v for v in out if v is not None) if None not in out else ()


def _jpeg(value: Any) -> tuple[JpegFrame, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple((int(o), int(n), int(c)) for o, n, c in value)


@dataclass(frozen=True)
class ItemRecord:
    """One item's record. Text fields are '' when the file had none; numbers None."""

    name: str
    size: int
    crc32: int
    version: int = VERSION
    # The instance (empty for a finding).
    sop_uid: str = ""
    sop_class: str = ""
    ts: str = ""  # the stored transfer syntax
    series_uid: str = ""
    modality: str = ""
    series_number: float | None = None
    series_description: str = ""
    instance_number: float | None = None
    slice_location: float | None = None
    # The viewer's stack order (``hds.viewer.stack``): () when the file has none, None when
    # the record predates them.
    position: tuple[float, ...] | None = None
    orientation: tuple[float, ...] | None = None
    # Frame requests read native frames from here without parsing (``hds.dicom.frames``).
    pixel: Mapping[str, Any] | None = None
    rows: float | None = None
    columns: float | None = None
    frames: int = 1
    pixel_spacing: tuple[float, ...] = ()
    body_part: str = ""
    # The patient and study as the file names them.
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_time: str = ""
    description: str = ""
    accession: str = ""
    referring: str = ""
    institution: str = ""
    # The preview: its frames in the rendering blob, or why there is none.
    render_error: str | None = None
    render_error_params: Mapping[str, str | int] = field(default_factory=dict)
    jpeg: tuple[JpegFrame, ...] = ()
    jpeg_width: int | None = None
    jpeg_height: int | None = None
    window: tuple[float | None, float | None] | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset, data: bytes, name: str) -> ItemRecord:
        """The record of an instance as ingest reads it (``data``: the whole file)."""
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        return cls(
            name=name,
            size=len(data),
            crc32=zlib.crc32(data),
            sop_uid=dataset_text(ds, "SOPInstanceUID"),
            sop_class=dataset_text(ds, "SOPClassUID"),
            ts=str(ts or ""),
            series_uid=dataset_text(ds, "SeriesInstanceUID"),
            modality=dataset_text(ds, "Modality"),
            series_number=dataset_number(ds, "SeriesNumber"),
            series_description=dataset_text(ds, "SeriesDescription"),
            instance_number=dataset_number(ds, "InstanceNumber"),
            slice_location=dataset_number(ds, "SliceLocation"),
            position=tuple(dataset_numbers(ds, "ImagePositionPatient")),
            orientation=tuple(dataset_numbers(ds, "ImageOrientationPatient")),
            pixel=pixel_locator(ds),
            rows=dataset_number(ds, "Rows"),
            columns=dataset_number(ds, "Columns"),
            frames=int(dataset_number(ds, "NumberOfFrames") or 1),
            pixel_spacing=tuple(float(v) for v in ds.get("PixelSpacing", []) or []),
            body_part=dataset_text(ds, "BodyPartExamined"),
            patient_name=dataset_text(ds, "PatientName"),
            patient_id=dataset_text(ds, "PatientID"),
            birth_date=dataset_text(ds, "PatientBirthDate"),
            sex=dataset_text(ds, "PatientSex"),
            study_uid=dataset_text(ds, "StudyInstanceUID"),
            study_date=dataset_text(ds, "StudyDate"),
            study_time=dataset_text(ds, "StudyTime"),
            description=dataset_text(ds, "StudyDescription"),
            accession=dataset_text(ds, "AccessionNumber"),
            referring=dataset_text(ds, "ReferringPhysicianName"),
            institution=dataset_text(ds, "InstitutionName"),
        )

    @classmethod
    def finding(cls, name: str, data: bytes) -> ItemRecord:
        """The record of a PDF finding."""
        return cls(name=name, size=len(data), crc32=zlib.crc32(data))

    def with_preview(
        self, jpeg: list[bytes], width: int, height: int, window: tuple[float | None, float | None]
    ) -> ItemRecord:
        """This record with its rendered frames (concatenated in that order in the blob)."""
        offsets, position = [], 0
        for frame in jpeg:
            offsets.append((position, len(frame), zlib.crc32(frame)))
            position += len(frame)
        return dataclasses.replace(
            self,
            render_error=None,
            render_error_params={},
            jpeg=tuple(offsets),
            jpeg_width=width,
            jpeg_height=height,
            window=window,
        )

    def with_render_error(self, reason: str, params: Mapping[str, str | int]) -> ItemRecord:
        """This record with the reason its preview could not be made (no frames)."""
        return dataclasses.replace(
            self, render_error=reason, render_error_params=dict(params), jpeg=()
        )

    @property
    def has_pixels(self) -> bool:
        """Whether the instance is an image (it has Rows)."""
        return bool(self.rows)

    @property
    def has_preview(self) -> bool:
        """Whether a JPEG preview was made."""
        return bool(self.jpeg)

    @property
    def has_geometry_fields(self) -> bool:
        """Whether the record was made since ingest records position and orientation."""
        return self.position is not None and self.orientation is not None

    # --- Encoding ---------------------------------------------------------------------

    def encode(self) -> dict[str, Any]:
        """The JSON object of the current version."""
        out: dict[str, Any] = {"v": VERSION}
        for f in dataclasses.fields(self):
            if f.name == "version":
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def decode(cls, raw: Mapping[str, Any]) -> ItemRecord:
        """A record of any version written so far (``RecordError`` for an unknown one)."""
        if not isinstance(raw, Mapping):
            raise RecordError("not a record")
        version = raw.get("v", 1)
        if version not in (1, VERSION):
            raise RecordError(f"unknown item record version {version!r}")
        # Version 2 writes every field; version 1 may lack some: the same reading serves both.
        position, orientation = raw.get("position"), raw.get("orientation")
        window = raw.get("window")
        params = raw.get("render_error_params")
        pixel = raw.get("pixel")
        error = raw.get("render_error")
        return cls(
            version=int(version),
            name=_str(raw.get("name")),
            size=int(raw.get("size") or 0),
            crc32=int(raw.get("crc32") or 0),
            sop_uid=_str(raw.get("sop_uid")),
            sop_class=_str(raw.get("sop_class")),
            ts=_str(raw.get("ts")),
            series_uid=_str(raw.get("series_uid")),
            modality=_str(raw.get("modality")),
            series_number=_float(raw.get("series_number")),
            series_description=_str(raw.get("series_description")),
            instance_number=_float(raw.get("instance_number")),
            slice_location=_float(raw.get("slice_location")),
            position=None if position is None else _floats(position),
            orientation=None if orientation is None else _floats(orientation),
            pixel=dict(pixel) if isinstance(pixel, Mapping) else None,
            rows=_float(raw.get("rows")),
            columns=_float(raw.get("columns")),
            frames=_int(raw.get("frames")) or 1,
            pixel_spacing=_floats(raw.get("pixel_spacing")),
            body_part=_str(raw.get("body_part")),
            patient_name=_str(raw.get("patient_name")),
            patient_id=_str(raw.get("patient_id")),
            birth_date=_str(raw.get("birth_date")),
            sex=_str(raw.get("sex")),
            study_uid=_str(raw.get("study_uid")),
            study_date=_str(raw.get("study_date")),
            study_time=_str(raw.get("study_time")),
            description=_str(raw.get("description")),
            accession=_str(raw.get("accession")),
            referring=_str(raw.get("referring")),
            institution=_str(raw.get("institution")),
            render_error=None if error is None else str(error),
            render_error_params=dict(params) if isinstance(params, Mapping) else {},
            jpeg=_jpeg(raw.get("jpeg")),
            jpeg_width=_int(raw.get("jpeg_width")),
            jpeg_height=_int(raw.get("jpeg_height")),
            window=(_float(window[0]), _float(window[1]))
            if isinstance(window, list | tuple) and len(window) == 2
            else None,
        )
