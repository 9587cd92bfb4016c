"""Logging filters: secrets and codes never reach a log line (docs/security.md, Plaintext on the
server)."""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType

from typing_extensions import override

# Paths that can carry one-time material (share links, code portal, mail-link tokens).
_MASKED_PATHS = re.compile(r"(/(?:s|code|activate|recover|reset|unlock)/)[^\s\"?#]+")
_FRAGMENT = re.compile(r"#[^\s\"]+")
# DICOM UIDs (PS3.5 9.1: root 0, 1 or 2, dot-separated numbers without leading zeros), as in
# DICOMweb paths: study, series and instance UIDs identify a patient's examination.
_DICOM_UID = re.compile(r"(?<![\w.])[0-2](?:\.(?:0|[1-9][0-9]*)){2,}(?![\w.])")


def mask_path(text: str) -> str:
    """``text`` with secret path parts, URL fragments and DICOM UIDs replaced by ``…``."""
    return _DICOM_UID.sub("…", _FRAGMENT.sub("#…", _MASKED_PATHS.sub(r"\1…", text)))


class MaskSecretsFilter(logging.Filter):
    """Mask the variable part of secret-bearing URL paths, URL fragments and DICOM UIDs."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message in place; never drop the record."""
        message = record.getMessage()
        masked = mask_path(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class WithholdFileContentsFilter(logging.Filter):
    """Replace messages of DICOM libraries by their level only, and exceptions of every record
    by their types and frames.

    pydicom's and pynetdicom's warnings quote element values ("Invalid value for VR PN:
    'Doe^Jane'"), which are patient data; the log keeps that something happened, not what.
    Exception messages can quote them too, wherever they are raised and logged.
    """

    LIBRARIES = ("pydicom", "pynetdicom", "pylibjpeg", "PIL")

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message in place; never drop the record."""
        if record.name.split(".", 1)[0] in self.LIBRARIES:
            record.msg = "%s reported a problem with a file (details withheld: may quote data)"
            record.args = (record.name,)
            record.exc_info = record.exc_text = None
        elif record.name == "py.warnings":
            # Python warnings (captured into logging in settings) quote values just the same.
            record.msg = "a warning was raised (details withheld: may quote data)"
            record.args = None
        withhold_exception_text(record)
        return True


def withhold_exception_text(record: logging.LogRecord) -> None:
    """Replace a record's exception by its types and frames, without messages or locals.

    An exception raised while reading a file may quote it ("could not convert string to float:
    'Doe^Jane'"), and so may the 500 traceback Django logs: only each exception's type and
    the file, line and function of each frame reach the log (docs/security.md, "Hostile
    uploads").
    """
    if getattr(record, "hds_exception_withheld", False):
        return  # an earlier handler's filter did it
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = withheld_traceback(record.exc_info[1])
    elif record.exc_text:
        record.exc_text = "(exception details withheld: may quote data)"
    record.exc_info = None
    record.hds_exception_withheld = True


def withheld_traceback(exc: BaseException) -> str:
    """A traceback of ``exc`` (and the exceptions it was raised from) without any message."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines: list[str] = []
    for position, error in enumerate(reversed(chain)):
        if position:
            lines.append("The above exception led to the following:")
        lines.append("Traceback (most recent call last):")
        lines.extend(_frames(error.__traceback__))
        kind = type(error)
        lines.append(f"{kind.__module__}.{kind.__qualname__} (message withheld: may quote data)")
    return "\n".join(lines)


def _frames(tb: TracebackType | None) -> list[str]:
    return [
        f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
        for frame in traceback.extract_tb(tb, limit=100)
    ]
