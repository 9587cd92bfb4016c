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
    """Keep uploads in memory whatever their size, up to about ``MAX_UPLOAD_FILE_BYTES``.

    Declared bodies above the limit never get here: ``UploadSizeMiddleware`` answers 413 for
    them, and the upload view checks each file's exact size. This handler bounds what a body
    without a declared length (chunked) can make us hold.
    """

    @override
    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        """Always take the upload in memory."""
        self.activated = True
        self._received = 0

    @override
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        """Count what arrives; stop the upload (the file is dropped) above the limit."""
        self._received += len(raw_data)
        # A little over the limit still reaches the view, whose exact check says what is wrong.
        if self._received > settings.MAX_UPLOAD_FILE_BYTES + 64 * 1024:
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
