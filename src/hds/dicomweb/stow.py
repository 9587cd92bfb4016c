"""STOW-RS: store the parts of a multipart/related request through the one ingest service.

Each part is one DICOM Part-10 file. Its UIDs are read from its header (for the response and,
for ``POST studies/{study}``, the study check); then ``ingest_files`` encrypts and stores the
parts, a batch at a time.
A full quota stops the request: that part and every later one fail with 0xA700.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from hds.archive.services import ingest_files
from hds.core.spool import Spool
from hds.dicomweb.auth import Caller
from hds.dicomweb.multipart import StreamedPart

logger = logging.getLogger(__name__)

# PS3.18 Table I.2-2 (Store Instances Response Failure Reason Values).
OUT_OF_RESOURCES: Final = 0xA700  # the account's storage is full
CANNOT_UNDERSTAND: Final = 0xC000  # not DICOM, truncated, or without its UIDs
PROCESSING_FAILURE: Final = 0x0110  # an unexpected failure while storing
# Implementation specific, in the "cannot understand" range as Table I.2-2 allows (the same
# code dcm4chee-arc uses): the instance is not of the study named in the request URL.
WRONG_STUDY: Final = 0xC409

BATCH_PARTS: Final = 50
BATCH_BYTES: Final = 64 * 1024 * 1024

_IDENTIFYING: Final = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


@dataclass(frozen=True)
class Outcome:
    """What happened to one part; ``failure`` is None when the instance is (now) stored."""

    sop_class: str
    sop_uid: str
    study_uid: str
    series_uid: str
    failure: int | None = None


@dataclass
class StowResult:
    """Outcomes in request order, and the quota message if the quota stopped the request."""

    outcomes: list[Outcome] = field(default_factory=list)
    quota_message: str | None = None

    @property
    def stored(self) -> list[Outcome]:
        """Parts that are stored (new or already there)."""
        return [o for o in self.outcomes if o.failure is None]

    @property
    def failed(self) -> list[Outcome]:
        """Parts that were not stored."""
        return [o for o in self.outcomes if o.failure is not None]


def _read_identity(file: BinaryIO) -> Dataset | None:
    """The part's identifying UIDs from its header, or None if it is no DICOM file."""
    for force in (False, True):  # files without the 128-byte preamble need force
        try:
            file.seek(0)
            ds = dcmread(file, stop_before_pixels=True, force=force, specific_tags=[*_IDENTIFYING])
        except InvalidDicomError:
            continue
        except Exception:  # a header that pydicom cannot read at all
            return None
        try:
            complete = all(str(ds.get(k, "") or "").strip() for k in _IDENTIFYING)
        except Exception:  # a UID element pydicom cannot convert (e.g. a corrupted VR)
            return None
        return ds if complete else None
    return None


def _outcome(ds: Dataset | None, failure: int | None = None) -> Outcome:
    def uid(keyword: str) -> str:
        # Only valid UIDs go into the response's UI elements (docs/security.md, "Hostile
        # uploads"): the ingest service refuses a file with any other.
        try:
            value = UID(str(ds.get(keyword, "") or "").strip()) if ds is not None else UID("")
        except Exception:  # a value pydicom cannot read
            return ""
        return str(value) if value.is_valid else ""

    return Outcome(
        sop_class=uid("SOPClassUID"),
        sop_uid=uid("SOPInstanceUID"),
        study_uid=uid("StudyInstanceUID"),
        series_uid=uid("SeriesInstanceUID"),
        failure=failure,
    )


def store_parts(
    caller: Caller, parts: Iterable[StreamedPart[Spool]], *, study_uid: str | None
) -> StowResult:
    """Store every part in the caller's account, in order (``study_uid``: the target study).

    Parts go to the ingest service in batches (``BATCH_PARTS`` parts or ``BATCH_BYTES``), so
    each batch costs one transaction per study while memory stays bounded. A part's bytes stay
    in its spool (encrypted on disk when large) until its batch goes to ingest, which gets one
    copy of them; every spool is closed when its part is done.
    """
    result = StowResult()
    batch: list[tuple[int, Dataset, Spool]] = []
    batch_bytes = 0

    def flush() -> None:
        nonlocal batch_bytes
        if not batch:
            return
        files = [(f"{_outcome(ds).sop_uid}.dcm", spool.getvalue()) for _, ds, spool in batch]
        for _, _ds, spool in batch:
            spool.close()
        try:
            stored = ingest_files(caller.account, caller.ams, files)
        except Exception as exc:
            # Messages of library errors may quote file contents: log the type only.
            logger.warning("STOW-RS batch failed: %s", type(exc).__name__)
            for index, ds, _ in batch:
                result.outcomes[index] = _outcome(ds, PROCESSING_FAILURE)
        else:
            for (index, ds, _), outcome in zip(batch, stored, strict=True):
                if outcome.missing_bytes:
                    result.quota_message = result.quota_message or outcome.message
                    result.outcomes[index] = _outcome(ds, OUT_OF_RESOURCES)
                elif outcome.status == "error":
                    result.outcomes[index] = _outcome(ds, CANNOT_UNDERSTAND)
        batch.clear()
        batch_bytes = 0

    try:
        for part in parts:
            spool = part.body
            with spool.open() as file:
                ds = _read_identity(file)
            if result.quota_message is not None:
                result.outcomes.append(_outcome(ds, OUT_OF_RESOURCES))
            elif ds is None:
                result.outcomes.append(_outcome(None, CANNOT_UNDERSTAND))
            elif study_uid is not None and _outcome(ds).study_uid != study_uid:
                result.outcomes.append(_outcome(ds, WRONG_STUDY))
            else:
                result.outcomes.append(_outcome(ds))  # stored, unless its batch says otherwise
                batch.append((len(result.outcomes) - 1, ds, spool))
                batch_bytes += spool.size
                if len(batch) >= BATCH_PARTS or batch_bytes >= BATCH_BYTES:
                    flush()
                continue
            spool.close()
        flush()
    finally:
        for _, _ds, spool in batch:
            spool.close()
    return result
