"""Upload handling that never writes plaintext to disk (SECURITY.md §3.12).

Django's default handlers spill large uploads into temporary files. This handler keeps every
uploaded file in memory (one file per request in our upload flow) up to a hard limit, so the only
thing that reaches the disk is the ciphertext the archive writes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from typing_extensions import override


class InMemoryUploadHandler(MemoryFileUploadHandler):
    """Keep uploads in memory whatever their size, up to ``MAX_UPLOAD_FILE_BYTES`` per request."""

    @override
    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        """Always take the upload in memory; refuse bodies above the hard limit."""
        if content_length > settings.MAX_UPLOAD_FILE_BYTES:
            raise StopUpload(connection_reset=True)
        self.activated = True
