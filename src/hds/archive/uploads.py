"""Upload handling that never writes plaintext to disk (docs/security.md, Upload memory and spool).

Django's default handlers spill large uploads into temporary files in plaintext. This handler
keeps a file in memory up to ``HDS_UPLOAD_SPOOL_BYTES`` and puts larger ones into an encrypted,
nameless spool file (``hds.core.spool``), so the only thing that reaches the disk is ciphertext
(docs/security.md, Upload memory and spool). Reading an uploaded file whole gives one
copy of its bytes, not two.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from typing_extensions import override

from hds.core.spool import Spool


class SpooledUploadedFile(UploadedFile):
    """An uploaded file whose bytes are in a ``Spool``; ``read()`` hands out one copy."""

    def __init__(
        self,
        spool: Spool,
        *,
        name: str | None,
        content_type: str | None,
        charset: str | None,
        content_type_extra: dict[str, bytes] | None,
    ) -> None:
        """Wrap a finished spool."""
        super().__init__(spool.open(), name, content_type, spool.size, charset, content_type_extra)
        self.spool = spool

    @override
    def read(self, *args: Any, **kwargs: Any) -> bytes:
        """The bytes from the current position; the whole file without a second copy."""
        file = self.file
        assert file is not None
        if not args and not kwargs and file.tell() == 0:
            file.seek(0, 2)
            return self.spool.getvalue()
        data: bytes = file.read(*args, **kwargs)
        return data

    @override
    def close(self) -> None:
        """Free the bytes (an encrypted spool file is deleted with its last descriptor)."""
        try:
            super().close()
        finally:
            self.spool.close()


class SpoolingUploadHandler(FileUploadHandler):
    """Receive each file into a ``Spool``, up to about ``MAX_UPLOAD_FILE_BYTES``.

    Declared bodies above the limit never get here: ``hds.archive.intake.IntakeMiddleware``
    answers 413 for them, and the upload view checks each file's exact size. The limit here
    bounds what a body without a declared length can make us hold.
    """

    spool: Spool | None = None

    @override
    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        """Count from zero for this request."""
        self._received = 0

    @override
    def new_file(self, *args: Any, **kwargs: Any) -> None:
        """Start a spool for the next file."""
        super().new_file(*args, **kwargs)
        self._discard()
        self.spool = Spool()

    @override
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        """Spool what arrives; stop the upload (the file is dropped) above the limit."""
        self._received += len(raw_data)
        # A little over the limit still reaches the view, whose exact check says what is wrong.
        if self._received > settings.MAX_UPLOAD_FILE_BYTES + 64 * 1024:
            self._discard()
            raise StopUpload(connection_reset=True)
        if self.spool is not None:
            self.spool.write(raw_data)
        return None

    @override
    def file_complete(self, file_size: int) -> UploadedFile | None:
        """Hand the finished spool to Django as the uploaded file."""
        spool, self.spool = self.spool, None
        if spool is None:
            return None
        spool.finish()
        return SpooledUploadedFile(
            spool,
            name=self.file_name,
            content_type=self.content_type,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )

    @override
    def upload_interrupted(self) -> None:
        """Free a file that did not arrive whole."""
        self._discard()

    def _discard(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None
