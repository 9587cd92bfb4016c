"""Reading uploaded DICOM safely: in memory, with clear reasons for what we refuse.

A hostile or damaged file can make pydicom raise almost anything (ValueError, OverflowError,
RecursionError, struct.error, zlib.error, ...), often with the offending value in the message.
Every such failure while reading a file, or a value ingest needs, becomes an ``IngestError``
with a reason that quotes nothing from the file (docs/security.md, "Hostile uploads").
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator
from io import BytesIO

import pydicom
from django.utils.translation import gettext as _
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID
from typing_extensions import override

from hds.archive.errors import IngestError

REQUIRED_UIDS = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")
# Checked as UIDs when present (SOPClassUID too when present: STOW-RS answers with it).
CHECKED_UIDS = ("SOPClassUID", *REQUIRED_UIDS)


def _corrupt() -> IngestError:
    return IngestError(_("The DICOM file is truncated or corrupt."))


@contextlib.contextmanager
def refusing_unreadable() -> Iterator[None]:
    """Turn any failure of pydicom while reading a file's values into an ``IngestError``.

    The exception itself is dropped (``from None``): its message may quote the file.
    """
    try:
        yield
    except IngestError:
        raise
    except RecursionError:
        raise IngestError(_("The DICOM file is nested too deeply to be read.")) from None
    except (EOFError, OSError, InvalidDicomError):
        raise _corrupt() from None
    except Exception:  # ValueError, OverflowError, TypeError, AttributeError, struct.error, ...
        raise IngestError(
            _("The DICOM file has a value that cannot be read (the file is malformed).")
        ) from None


def read_dataset(data: bytes) -> Dataset:
    """Parse a DICOM file from memory or raise ``IngestError`` saying what is wrong."""
    if len(data) < 132 and not data.startswith(b"\x08\x00"):
        raise IngestError(_("This is not a DICOM file."))
    capture = _PydicomWarnings()
    pydicom_logger = logging.getLogger("pydicom")
    pydicom_logger.addHandler(capture)
    ds: Dataset
    try:
        with refusing_unreadable():
            try:
                ds = pydicom.dcmread(BytesIO(data))
            except InvalidDicomError:
                ds = _read_without_preamble(data)
            except (EOFError, ValueError, KeyError, TypeError, OSError, NotImplementedError):
                raise _corrupt() from None
    finally:
        pydicom_logger.removeHandler(capture)
    if capture.saw_truncation:
        raise _corrupt()
    with refusing_unreadable():
        _check(ds)
    return ds


def _check(ds: Dataset) -> None:
    """What ingest needs of a parsed file: its UIDs, readable pixel data, a known syntax."""
    pixel_length = -1
    if "PixelData" in ds:
        pixel_length = len(ds.PixelData)
    if len(ds) == 0:
        raise _corrupt()
    for keyword in CHECKED_UIDS:
        value = str(ds.get(keyword, "") or "").strip()
        if not value:
            if keyword in REQUIRED_UIDS:
                raise IngestError(_("The DICOM file has no %(field)s.") % {"field": keyword})
            continue
        # A UID that is not one cannot be in a DICOMweb URL: the file could not be fetched.
        if not UID(value).is_valid:
            raise IngestError(
                _("The DICOM file's %(field)s is not a valid UID.") % {"field": keyword}
            )
    ts = _transfer_syntax(ds)
    if ts is not None and not ts.is_transfer_syntax:
        raise IngestError(_("The DICOM file has an unknown transfer syntax."))
    if pixel_length >= 0 and not _is_encapsulated(ds):
        expected = native_pixel_bytes(ds)
        if expected is not None and pixel_length < expected:
            raise IngestError(_("The DICOM file is truncated (its pixel data is incomplete)."))


def _transfer_syntax(ds: Dataset) -> UID | None:
    file_meta = getattr(ds, "file_meta", None)
    value = getattr(file_meta, "TransferSyntaxUID", None) if file_meta is not None else None
    return UID(str(value)) if value else None


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
    except RecursionError:
        raise  # refusing_unreadable names it
    except Exception:  # force=True on arbitrary bytes can fail in many ways
        raise IngestError(_("This is not a DICOM file.")) from None
    try:
        has_uids = all(str(ds.get(k, "") or "").strip() for k in REQUIRED_UIDS)
    except Exception:  # values that cannot be read: this is no DICOM file we can use
        raise IngestError(_("This is not a DICOM file.")) from None
    if not has_uids:
        raise IngestError(_("This is not a DICOM file."))
    return ds


def _is_encapsulated(ds: Dataset) -> bool:
    ts = _transfer_syntax(ds)
    return bool(ts is not None and ts.is_transfer_syntax and ts.is_encapsulated)


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
