"""A received file's bytes: in memory while small, then in an encrypted, unlinked temporary file.

Plaintext never reaches the disk (docs/security.md, Upload memory and spool): above
``HDS_UPLOAD_SPOOL_BYTES`` the bytes go through ``hds.crypto.spool.EncryptedSpool`` (a key only
in memory) into a file that has no name (``O_TMPFILE``, or unlinked right after creation), so
nothing is left behind when the process ends, however it ends.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from typing_extensions import override

from hds.crypto.spool import SEGMENT_SIZE, EncryptedSpool

Buffer = bytes | bytearray | memoryview


def spool_directory() -> Path:
    """The folder of the (nameless) spool files; created on first use."""
    directory = Path(settings.UPLOAD_SPOOL_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


class Spool:
    """Write the bytes of one file, ``finish``, then read them with ``getvalue`` or ``open``."""

    def __init__(self, *, threshold: int | None = None) -> None:
        """An empty spool that moves to disk above ``threshold`` bytes (default: the setting)."""
        self._threshold = settings.UPLOAD_SPOOL_BYTES if threshold is None else threshold
        self._memory: io.BytesIO | None = io.BytesIO()
        self._disk: EncryptedSpool | None = None
        self.size = 0
        self._finished = False

    @property
    def on_disk(self) -> bool:
        """Whether the bytes went to the encrypted file."""
        return self._disk is not None

    def write(self, data: Buffer) -> None:
        """Append bytes; past the threshold everything moves to the encrypted file."""
        self.size += len(data)
        if self._disk is None and self.size > self._threshold:
            # Unnamed from the start (O_TMPFILE where the file system has it, else unlinked at
            # once): a crash leaves no file, and no other process can open it by name.
            self._disk = EncryptedSpool(tempfile.TemporaryFile(dir=spool_directory()))  # noqa: SIM115
            assert self._memory is not None
            with self._memory.getbuffer() as held:
                self._disk.write(held)
            self._memory = None
        if self._disk is not None:
            self._disk.write(data)
        else:
            assert self._memory is not None
            self._memory.write(data)

    def finish(self) -> None:
        """No more bytes; reading may start."""
        if self._disk is not None:
            self._disk.finish()
        self._finished = True

    def getvalue(self) -> bytes:
        """All bytes as one ``bytes`` object, without a second copy.

        In memory: the buffer itself (CPython's ``BytesIO.getvalue`` hands out its own buffer).
        On disk: decrypted segment by segment into a buffer of the exact size, handed out the
        same way. Each call on a disk spool makes a new copy: keep the result, not the call.
        """
        if self._memory is not None:
            return self._memory.getvalue()
        disk = self._require_disk()
        out = io.BytesIO()
        if self.size:
            # One allocation of the final size (plus one byte), filled in place below.
            out.seek(self.size - 1)
            out.write(b"\0")
            out.seek(0)
            for offset in range(0, self.size, SEGMENT_SIZE):
                out.write(disk.read_at(offset, SEGMENT_SIZE))
        return out.getvalue()

    def open(self) -> BinaryIO:
        """A seekable, read-only file over the bytes (decrypting as it is read)."""
        if self._memory is not None:
            return io.BytesIO(self._memory.getvalue())
        return io.BufferedReader(_DiskReader(self._require_disk()), buffer_size=65536)

    def _require_disk(self) -> EncryptedSpool:
        if not self._finished or self._disk is None:
            raise ValueError("the spool is not finished")
        return self._disk

    def close(self) -> None:
        """Free the bytes (closing, and so deleting, the file)."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None
        self._memory = None


class _DiskReader(io.RawIOBase):
    """``RawIOBase`` over a finished ``EncryptedSpool``."""

    def __init__(self, spool: EncryptedSpool) -> None:
        super().__init__()
        self._spool = spool
        self._position = 0

    @override
    def readable(self) -> bool:
        return True

    @override
    def seekable(self) -> bool:
        return True

    @override
    def tell(self) -> int:
        return self._position

    @override
    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._spool.size}
        self._position = max(0, base[whence] + offset)
        return self._position

    @override
    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._spool.read_at(self._position, len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
