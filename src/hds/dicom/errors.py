"""What DICOM decoding and rendering report to their callers: ``RenderError`` and its reasons.

A reason is a short English text marked for translation, safe to show a user: it never carries
a value read from the dataset.
"""

from __future__ import annotations

from typing import Final


def gettext_noop(message: str) -> str:
    """Mark a reason for translation (Django's makemessages finds it); the web layer translates
    it when it shows it, in the reader's language. This module stays free of Django."""
    return message


ATTRIBUTES_INVALID: Final = gettext_noop("Image attributes are missing or invalid")
CORRUPT: Final = gettext_noop("Pixel data is truncated or corrupt")


class RenderError(Exception):
    """The dataset cannot be shown; the message is a short reason fit for a user.

    ``reason`` is the English text marked for translation, ``params`` fill its ``%(name)s``
    placeholders; ``str()`` gives the English sentence.
    """

    def __init__(self, reason: str, **params: str | int) -> None:
        super().__init__(reason % params if params else reason)
        self.reason = reason
        self.params = params
