"""Logging filters: secrets and codes never reach a log line (SECURITY.md §3.12, Logs)."""

from __future__ import annotations

import logging
import re

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
    """Replace messages of DICOM libraries by their level only.

    pydicom's and pynetdicom's warnings quote element values ("Invalid value for VR PN:
    'Doe^Jane'"), which are patient data; the log keeps that something happened, not what.
    """

    LIBRARIES = ("pydicom", "pynetdicom", "pylibjpeg", "PIL")

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message in place; never drop the record."""
        if record.name.split(".", 1)[0] in self.LIBRARIES:
            record.msg = "%s reported a problem with a file (details withheld: may quote data)"
            record.args = (record.name,)
            record.exc_info = record.exc_text = None
        return True
