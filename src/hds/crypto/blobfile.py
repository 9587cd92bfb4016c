"""A seekable, read-only file over an encrypted blob, for pydicom to parse without the whole file.

pydicom reads a header with hundreds of small reads; each would decrypt a whole segment, so the
file keeps the last decrypted window. Reading a header touches only the windows it needs, and
pixel data that is never read is never decrypted.
"""

from __future__ import annotations

import os
from typing import BinaryIO, cast

from hds.crypto.blob import SEGMENT_SIZE, BlobReader

WINDOW = SEGMENT_SIZE  # aligned with the blob's segments: one decryption a window


class BlobFile:
    """``read``/``seek``/``tell`` over the plaintext of one blob (what pydicom calls a buffer)."""

    def __init__(self, reader: BlobReader) -> None:
        self._reader = reader
        self._size = reader.plaintext_size
        self._position = 0
        self._window_start = -1
        self._window = b""

    @property
    def size(self) -> int:
        """Plaintext bytes in the blob."""
        return self._size

    def as_binary_io(self) -> BinaryIO:
        """This object typed as the binary file pydicom's signatures ask for (it reads, seeks
        and tells, which is all pydicom uses)."""
        return cast(BinaryIO, self)

    def tell(self) -> int:
        """The current position."""
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move like ``io.IOBase.seek``; positions past the end read as empty."""
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._position + offset
        elif whence == os.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError("invalid whence")
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all the rest when negative or None)."""
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        if end <= self._position:
            return b""
        if end - self._position > WINDOW:
            # Large reads (a pixel value, a frame) go straight to the reader, uncached.
            data = self._reader.read_range(self._position, end)
        else:
            data = self._read_small(self._position, end)
        self._position = end
        return data

    def _read_small(self, start: int, end: int) -> bytes:
        pieces = []
        position = start
        while position < end:
            window_start = position - position % WINDOW
            if window_start != self._window_start:
                self._window = self._reader.read_range(window_start, window_start + WINDOW)
                self._window_start = window_start
            stop = min(end, window_start + len(self._window))
            pieces.append(self._window[position - window_start : stop - window_start])
            position = stop
        return b"".join(pieces)

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Always seekable."""
        return True

    def close(self) -> None:
        """Nothing to release; the reader holds no open handle."""
