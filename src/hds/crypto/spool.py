"""An encrypted spool file: plaintext in, AES-256-GCM segments on disk, plaintext back out.

Large uploads are received into a temporary file rather than memory (docs/security.md, "Upload
memory and spool"). The key is random, lives only in this object's memory and dies with it, so
the file on disk is ciphertext nobody can open, even while the request runs. Segments of 64 KiB
are sealed with the nonce ``index (11 B) ‖ last flag`` as in ``hds.crypto.blob``; a segment out
of place, a cut-off file or a flipped bit raises ``InvalidCiphertext`` when read back.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hds.crypto.errors import InvalidCiphertext

SEGMENT_SIZE = 1 << 16
TAG_SIZE = 16
_SEALED = SEGMENT_SIZE + TAG_SIZE
_AAD = b"hds/v1/spool"

Buffer = bytes | bytearray | memoryview


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class EncryptedSpool:
    """Write plaintext with ``write``, call ``finish``, then read it back with ``read_at``.

    ``file`` must be a binary file opened for reading and writing (an unlinked temporary file);
    the spool owns it and closes it in ``close``. Memory use is one segment.
    """

    def __init__(self, file: BinaryIO) -> None:
        """Start an empty spool in ``file`` with a fresh key."""
        self._file = file
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._pending = bytearray()
        self._segments = 0
        self._size = 0
        self._finished = False

    @property
    def size(self) -> int:
        """Plaintext bytes written so far."""
        return self._size

    def write(self, data: Buffer) -> None:
        """Append plaintext; full segments are sealed and written at once."""
        if self._finished:
            raise ValueError("the spool is finished")
        view = memoryview(data).cast("B")
        self._size += len(view)
        position = 0
        while position < len(view):
            # A full segment is sealed only once more data arrives: only then is it not the last.
            if len(self._pending) == SEGMENT_SIZE:
                self._seal(last=False)
            take = min(SEGMENT_SIZE - len(self._pending), len(view) - position)
            self._pending += view[position : position + take]
            position += take

    def finish(self) -> None:
        """Seal the last segment; after this the spool is read-only."""
        if not self._finished:
            self._seal(last=True)
            self._file.flush()
            self._finished = True

    def _seal(self, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._segments, last), bytes(self._pending), _AAD)
        self._file.seek(self._segments * _SEALED)
        self._file.write(sealed)
        self._segments += 1
        self._pending.clear()

    def read_at(self, offset: int, length: int) -> bytes:
        """Plaintext ``[offset, offset + length)`` (clamped to the size), decrypting only the
        segments it touches."""
        if not self._finished:
            raise ValueError("the spool is not finished")
        end = min(offset + max(length, 0), self._size)
        if offset < 0 or offset >= end:
            return b""
        pieces = []
        for index in range(offset // SEGMENT_SIZE, (end - 1) // SEGMENT_SIZE + 1):
            plain = self._segment(index)
            base = index * SEGMENT_SIZE
            pieces.append(plain[max(offset - base, 0) : end - base])
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _segment(self, index: int) -> bytes:
        sealed = os.pread(self._file.fileno(), _SEALED, index * _SEALED)
        last = index == self._segments - 1
        try:
            return self._aead.decrypt(_nonce(index, last), sealed, _AAD)
        except InvalidTag:
            raise InvalidCiphertext from None

    def close(self) -> None:
        """Close (and so free) the file; the key goes with this object."""
        self._pending.clear()
        self._file.close()
