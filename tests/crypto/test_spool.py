"""The encrypted spool file: round trips, ciphertext on disk, tampering detected."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hds.crypto.errors import InvalidCiphertext
from hds.crypto.spool import SEGMENT_SIZE, EncryptedSpool

MARKER = b"SPOOL-PLAINTEXT-MARKER-4711"


def spool_of(data: bytes, piece: int = 1000) -> EncryptedSpool:
    spool = EncryptedSpool(tempfile.TemporaryFile())  # noqa: SIM115 - the spool closes it
    for start in range(0, len(data), piece):
        spool.write(data[start : start + piece])
    spool.finish()
    return spool


@settings(max_examples=25, deadline=None)
@given(
    size=st.sampled_from(
        [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE]
    ),
    piece=st.integers(min_value=1, max_value=3 * SEGMENT_SIZE),
    offset=st.integers(min_value=0, max_value=4 * SEGMENT_SIZE),
    length=st.integers(min_value=0, max_value=4 * SEGMENT_SIZE),
)
def test_what_goes_in_comes_out_at_any_offset(
    size: int, piece: int, offset: int, length: int
) -> None:
    data = os.urandom(size)
    spool = spool_of(data, piece)
    try:
        assert spool.size == size
        assert spool.read_at(0, size) == data
        assert spool.read_at(offset, length) == data[offset : offset + length]
    finally:
        spool.close()


def test_the_file_holds_ciphertext_only() -> None:
    data = MARKER * 20_000  # about 540 KB, nine segments
    with tempfile.TemporaryFile() as file:
        spool = EncryptedSpool(file)
        spool.write(data)
        spool.finish()
        on_disk = os.pread(file.fileno(), 10 * len(data), 0)
        assert len(on_disk) == len(data) + 9 * 16  # a tag per segment, nothing else
        assert MARKER not in on_disk
        assert MARKER[:8] not in on_disk
        assert spool.read_at(0, len(data)) == data


def test_a_flipped_bit_or_a_cut_is_refused() -> None:
    data = os.urandom(3 * SEGMENT_SIZE)
    spool = spool_of(data)
    fd = spool._file.fileno()
    byte = os.pread(fd, 1, SEGMENT_SIZE + 100)
    os.pwrite(fd, bytes([byte[0] ^ 1]), SEGMENT_SIZE + 100)
    assert spool.read_at(0, 10) == data[:10]  # the first segment is intact
    with pytest.raises(InvalidCiphertext):
        spool.read_at(SEGMENT_SIZE + 10, 10)
    spool.close()

    spool = spool_of(data)
    os.ftruncate(spool._file.fileno(), 2 * (SEGMENT_SIZE + 16))
    with pytest.raises(InvalidCiphertext):
        spool.read_at(2 * SEGMENT_SIZE, 10)
    spool.close()


def test_two_spools_of_the_same_bytes_differ_on_disk() -> None:
    """Each spool has its own key: equal plaintexts give unrelated files."""
    data = MARKER * 100
    with tempfile.TemporaryFile() as a, tempfile.TemporaryFile() as b:
        for file in (a, b):
            spool = EncryptedSpool(file)
            spool.write(data)
            spool.finish()
        assert os.pread(a.fileno(), 10_000, 0) != os.pread(b.fileno(), 10_000, 0)


def test_no_reading_before_finish_and_no_writing_after() -> None:
    spool = EncryptedSpool(tempfile.TemporaryFile())  # noqa: SIM115
    spool.write(b"abc")
    with pytest.raises(ValueError, match="not finished"):
        spool.read_at(0, 3)
    spool.finish()
    with pytest.raises(ValueError, match="finished"):
        spool.write(b"d")
    spool.close()
