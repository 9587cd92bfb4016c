"""Reading uploaded DICOM safely: in memory, with clear reasons for what we refuse."""

from __future__ import annotations

import logging
import math
import threading
from io import BytesIO
from typing import Any

import pydicom
from django.utils.translation import gettext as _
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from typing_extensions import override

from hds.archive.errors import IngestError

REQUIRED_UIDS = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")


def read_dataset(data: bytes) -> Dataset:
    """Parse a DICOM file from memory or raise ``IngestError`` saying what is wrong."""
    if len(data) < 132 and not data.startswith(b"\x08\x00"):
        raise IngestError(_("This is not a DICOM file."))
    capture = _PydicomWarnings()
    pydicom_logger = logging.getLogger("pydicom")
    pydicom_logger.addHandler(capture)
    ds: Dataset
    try:
        ds = pydicom.dcmread(BytesIO(data))
    except InvalidDicomError:
        ds = _read_without_preamble(data)
    except (EOFError, ValueError, KeyError, TypeError, OSError, NotImplementedError):
        raise IngestError(_("The DICOM file is truncated or corrupt.")) from None
    finally:
        pydicom_logger.removeHandler(capture)
    if capture.saw_truncation:
        raise IngestError(_("The DICOM file is truncated or corrupt."))
    pixel_length = -1
    if "PixelData" in ds:
        try:
            pixel_length = len(ds.PixelData)
        except (EOFError, ValueError, OSError):
            raise IngestError(_("The DICOM file is truncated or corrupt.")) from None
    if len(ds) == 0:
        raise IngestError(_("The DICOM file is truncated or corrupt."))
    for keyword in REQUIRED_UIDS:
        value = str(ds.get(keyword, "") or "").strip()
        if not value:
            raise IngestError(_("The DICOM file has no %(field)s.") % {"field": keyword})
    if pixel_length >= 0 and not _is_encapsulated(ds):
        expected = native_pixel_bytes(ds)
        if expected is not None and pixel_length < expected:
            raise IngestError(_("The DICOM file is truncated (its pixel data is incomplete)."))
    return ds


class _PydicomWarnings(logging.Handler):
    """Collect pydicom's warnings about this thread's read (handlers are shared; threads are not).

    pydicom reports a file that ends inside an element only as a warning, and reads what is
    there; we refuse such files rather than store a silently truncated instance.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.saw_truncation = False

    @override
    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            text = record.getMessage().lower()
            if "end of file reached" in text or "truncat" in text:
                self.saw_truncation = True


def _read_without_preamble(data: bytes) -> Dataset:
    """Some old files have no 128-byte preamble; accept them only if they look like DICOM."""
    try:
        ds = pydicom.dcmread(BytesIO(data), force=True)
    except Exception:  # force=True on arbitrary bytes can fail in many ways
        raise IngestError(_("This is not a DICOM file.")) from None
    if not all(str(ds.get(k, "") or "").strip() for k in REQUIRED_UIDS):
        raise IngestError(_("This is not a DICOM file."))
    return ds


def _is_encapsulated(ds: Dataset) -> bool:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return bool(ts is not None and ts.is_encapsulated)


def native_pixel_bytes(ds: Dataset) -> int | None:
    """How many bytes uncompressed pixel data must have, or None if the header cannot say."""
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits = int(ds.BitsAllocated)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        return None
    if bits == 1:
        return math.ceil(rows * cols * samples * frames / 8)
    return rows * cols * samples * frames * math.ceil(bits / 8)


def text(ds: Dataset, keyword: str) -> str:
    """A tag's value as a plain string ('' when absent)."""
    value: Any = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def numbers(ds: Dataset, keyword: str) -> list[float]:
    """All values of a numeric tag ([] when absent or when one is not a finite number)."""
    value: Any = ds.get(keyword, None)
    if value in (None, ""):
        return []
    values = list(value) if isinstance(value, pydicom.multival.MultiValue) else [value]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return []
    return out if all(math.isfinite(v) for v in out) else []


def number(ds: Dataset, keyword: str) -> float | None:
    """A numeric tag's first value, or None."""
    value: Any = ds.get(keyword, None)
    if isinstance(value, pydicom.multival.MultiValue):
        value = value[0] if value else None
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None
