"""ZIP downloads of studies: ``JPEG/`` for everyone, ``DICOM/`` + ``DICOMDIR`` for viewers.

The archive's whole byte layout is computed from the sealed item records (sizes and CRC-32s are
recorded at ingest), so the response has a Content-Length and answers Range requests: an
interrupted download resumes where it stopped. Content is decrypted segment by segment while it
is sent; nothing is written to disk.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from hds.archive.keys import OpenStudy
from hds.archive.models import Blob
from hds.archive.reads import study_contents
from hds.archive.storage import reader
from hds.archive.ziplayout import ZipEntry, ZipLayout
from hds.crypto.blob import BlobReader
from hds.dicom.dicomdir import DicomDirInstance, build_dicomdir, file_id_for
from hds.dicom.record import ItemRecord


def safe_name(text: str, fallback: str) -> str:
    """A file or folder name that every OS accepts (ASCII letters, digits, space, - _ .)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9 ._-]+", " ", ascii_text)
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .")[:60]
    return cleaned or fallback


class _Readers:
    """One BlobReader per blob, made on first use (each authenticates its last segment once)."""

    def __init__(self, opened: OpenStudy) -> None:
        self.opened = opened
        self._cache: dict[str, BlobReader] = {}

    def get(self, blob: Blob) -> BlobReader:
        key = str(blob.id)
        if key not in self._cache:
            self._cache[key] = reader(self.opened, blob)
        return self._cache[key]


def _slice_reader(readers: _Readers, blob: Blob, base: int) -> Callable[[int, int], bytes]:
    def read(offset: int, length: int) -> bytes:
        return readers.get(blob).read_range(base + offset, base + offset + length)

    return read


@dataclass
class StudyZip:
    """A planned download: its layout, name and a validator for resumes."""

    layout: ZipLayout
    filename: str
    etag: str


def _dicomdir_entry(record: ItemRecord, file_id: tuple[str, ...]) -> DicomDirInstance:
    def whole(value: float | None) -> int | None:
        return None if value is None else int(value)

    return DicomDirInstance(
        file_id=file_id,
        patient_id=record.patient_id,
        patient_name=record.patient_name,
        patient_birth_date=record.birth_date,
        patient_sex=record.sex,
        study_instance_uid=record.study_uid,
        study_date=record.study_date,
        study_time=record.study_time,
        study_description=record.description,
        accession_number=record.accession,
        study_id="",
        referring_physician_name=record.referring,
        series_instance_uid=record.series_uid,
        modality=record.modality,
        series_number=whole(record.series_number),
        series_description=record.series_description,
        sop_class_uid=record.sop_class,
        sop_instance_uid=record.sop_uid,
        transfer_syntax_uid=record.ts,
        instance_number=whole(record.instance_number),
    )


def plan_zip(studies: Sequence[tuple[OpenStudy, dict[str, Any]]], *, with_dicom: bool) -> StudyZip:
    """Lay out the ZIP for one or more opened studies (with their summaries)."""
    entries: list[ZipEntry] = []
    dicomdir_records: list[DicomDirInstance] = []
    fingerprint = hashlib.sha256(b"hds-zip-v1|" + (b"dicom" if with_dicom else b"jpeg"))
    series_counter = 0
    used_names: set[str] = set()

    def unique(name: str) -> str:
        base, n = name, 2
        while name.lower() in used_names:
            stem, dot, ext = base.rpartition(".")
            name = f"{stem} ({n}).{ext}" if dot else f"{base} ({n})"
            n += 1
        used_names.add(name.lower())
        return name

    for opened, summary in studies:
        readers = _Readers(opened)
        title = summary.get("description") or summary.get("title") or "Study"
        prefix = ""
        if len(studies) > 1:
            prefix = safe_name(f"{summary.get('study_date', '')} {title}", "Study") + "/"
        series, findings = study_contents(opened)
        for view in series:
            series_counter += 1
            label = safe_name(
                f"Series {int(view.number) if view.number is not None else series_counter:03d} "
                f"{view.description or view.modality}",
                f"Series {series_counter:03d}",
            )
            for index, (item, record) in enumerate(view.items, start=1):
                fingerprint.update(item.id.bytes)
                modified = timezone.localtime(item.created_at)
                for frame_no, (offset, length, crc) in enumerate(record.jpeg, start=1):
                    suffix = f"-{frame_no:03d}" if len(record.jpeg) > 1 else ""
                    assert item.rendering is not None
                    entries.append(
                        ZipEntry(
                            name=unique(f"{prefix}JPEG/{label}/image {index:04d}{suffix}.jpg"),
                            size=length,
                            crc32=crc,
                            modified=modified,
                            read=_slice_reader(readers, item.rendering, offset),
                        )
                    )
                if with_dicom:
                    file_id = file_id_for(series_counter, index)
                    entries.append(
                        ZipEntry(
                            name="/".join(file_id),
                            size=item.size,
                            crc32=record.crc32,
                            modified=modified,
                            read=_slice_reader(readers, item.blob, 0),
                        )
                    )
                    dicomdir_records.append(_dicomdir_entry(record, file_id))
        for item, finding in findings:
            fingerprint.update(item.id.bytes)
            name = safe_name((finding.name or "finding").removesuffix(".pdf"), "finding")
            entries.append(
                ZipEntry(
                    name=unique(f"{prefix}FINDINGS/{name}.pdf"),
                    size=item.size,
                    crc32=finding.crc32,
                    modified=timezone.localtime(item.created_at),
                    read=_slice_reader(readers, item.blob, 0),
                )
            )
    if dicomdir_records:
        dicomdir = build_dicomdir(dicomdir_records)
        first_modified = min(e.modified for e in entries) if entries else timezone.now()
        entries.insert(
            0,
            ZipEntry(
                name="DICOMDIR",
                size=len(dicomdir),
                crc32=zlib.crc32(dicomdir),
                modified=first_modified,
                read=lambda offset, length: dicomdir[offset : offset + length],
            ),
        )
        fingerprint.update(hashlib.sha256(dicomdir).digest())
    first = studies[0][1] if studies else {}
    date = str(first.get("study_date", ""))
    filename = safe_name(
        f"hds {date} {first.get('description') or first.get('title') or ''}".strip(), "hds-study"
    ).replace(" ", "-")
    if len(studies) > 1:
        filename = f"hds-{len(studies)}-studies"
    return StudyZip(
        layout=ZipLayout(entries),
        filename=f"{filename}.zip",
        etag='"' + fingerprint.hexdigest()[:32] + '"',
    )
