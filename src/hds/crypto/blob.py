"""Segmented streaming AEAD blobs with random access (docs/security.md, Blob format).

Layout (v1)::

    header (72 B) = "HDSB" | ver=1 | alg=1 | log2(seg)=16 | kind
                    | study_id (16) | blob_id (16) | salt (32)
    K_blob        = HKDF-SHA256(ikm=DEK, salt=salt, info="hds/v1/blob|" ‖ study_id ‖ blob_id ‖ kind)
    segment i     = AES-256-GCM(K_blob, nonce = i (11 B BE) ‖ last flag, segment_i, aad=header)
    blob          = header ‖ seg_0 ‖ … ‖ seg_{n-1}

Every segment but the last holds exactly 64 KiB of plaintext; the last holds 1..64 KiB, or 0 bytes
only when the whole plaintext is empty. The model is age's STREAM and Tink's AES-GCM-HKDF streaming.
"""

import struct
from collections.abc import Callable, Iterable, Iterator
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hds.crypto.errors import InvalidCiphertext
from hds.crypto.kdf import hkdf, random_bytes


class BlobKind(IntEnum):
    """What a blob holds; bound into its key and header."""

    INSTANCE = 1
    RENDERING = 2
    MANIFEST = 3
    FINDING = 4
    THUMBNAIL = 5


_HEADER = struct.Struct(">4sBBBB16s16s32s")
HEADER_SIZE = _HEADER.size
MAGIC = b"HDSB"
FORMAT_VERSION = 1
ALG_AES256GCM_HKDF_SHA256 = 1
SEGMENT_LOG2 = 16
SEGMENT_SIZE = 1 << SEGMENT_LOG2
TAG_SIZE = 16
SEALED_SEGMENT_SIZE = SEGMENT_SIZE + TAG_SIZE
SALT_SIZE = 32
ID_SIZE = 16
DEK_SIZE = 32
_COUNTER_BYTES = 11
# Non-last segments fetched per read() call: one store round trip per MiB instead of per 64 KiB.
_READ_BATCH_SEGMENTS = 16

Buffer = bytes | bytearray | memoryview
ReadFn = Callable[[int, int], Buffer]


def _check_binding(dek: bytes, study_id: bytes, blob_id: bytes) -> None:
    if len(dek) != DEK_SIZE:
        raise ValueError("DEK must be 32 bytes")
    if len(study_id) != ID_SIZE or len(blob_id) != ID_SIZE:
        raise ValueError("study_id and blob_id must be 16 bytes (UUID.bytes)")


def _blob_key(dek: bytes, salt: bytes, study_id: bytes, blob_id: bytes, kind: BlobKind) -> bytes:
    info = b"hds/v1/blob|" + study_id + blob_id + bytes([kind])
    return hkdf(dek, salt=salt, info=info)


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(_COUNTER_BYTES, "big") + (b"\x01" if last else b"\x00")


def _segment_count(plaintext_size: int) -> int:
    return max(1, -(-plaintext_size // SEGMENT_SIZE))


def ciphertext_size(plaintext_size: int) -> int:
    """Return the size of the blob that encrypts ``plaintext_size`` bytes."""
    if plaintext_size < 0:
        raise ValueError("size must not be negative")
    return HEADER_SIZE + plaintext_size + _segment_count(plaintext_size) * TAG_SIZE


def plaintext_size(ciphertext_size: int) -> int:
    """Return the plaintext size for a blob size, or raise InvalidCiphertext if none fits."""
    body = ciphertext_size - HEADER_SIZE
    if body < TAG_SIZE:
        raise InvalidCiphertext
    segments = -(-body // SEALED_SEGMENT_SIZE)
    last = body - (segments - 1) * SEALED_SEGMENT_SIZE
    # An empty last segment only exists when the whole plaintext is empty.
    if last < TAG_SIZE or (last == TAG_SIZE and segments > 1):
        raise InvalidCiphertext
    return body - segments * TAG_SIZE


def encrypt_stream(
    dek: bytes,
    *,
    study_id: bytes,
    blob_id: bytes,
    kind: BlobKind,
    chunks: Iterable[Buffer],
    salt: bytes | None = None,
) -> Iterator[bytes]:
    """Yield the header and then each sealed segment of the blob encrypting ``chunks``.

    Chunks may have any size, including zero; memory use is one segment plus the current chunk.
    ``salt`` exists for known-answer tests only; production callers leave it to ``os.urandom``.
    """
    _check_binding(dek, study_id, blob_id)
    kind = BlobKind(kind)
    if salt is None:
        salt = random_bytes(SALT_SIZE)
    elif len(salt) != SALT_SIZE:
        raise ValueError("salt must be 32 bytes")
    header = _HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        ALG_AES256GCM_HKDF_SHA256,
        SEGMENT_LOG2,
        kind,
        study_id,
        blob_id,
        salt,
    )
    aead = AESGCM(_blob_key(dek, salt, study_id, blob_id, kind))
    return _seal_segments(aead, header, chunks)


def _seal_segments(aead: AESGCM, header: bytes, chunks: Iterable[Buffer]) -> Iterator[bytes]:
    yield header
    buffer = bytearray(SEGMENT_SIZE)
    filled = 0
    index = 0
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        pos, size = 0, len(view)
        while pos < size:
            # A full buffer is sealed only once more data arrives: only then is it known not to
            # be the last segment.
            if filled == SEGMENT_SIZE:
                yield aead.encrypt(_nonce(index, False), buffer, header)
                index += 1
                filled = 0
            if filled == 0 and size - pos > SEGMENT_SIZE:
                # More than a segment left in this chunk: seal straight from it, no copy.
                yield aead.encrypt(_nonce(index, False), view[pos : pos + SEGMENT_SIZE], header)
                index += 1
                pos += SEGMENT_SIZE
                continue
            take = min(SEGMENT_SIZE - filled, size - pos)
            buffer[filled : filled + take] = view[pos : pos + take]
            filled += take
            pos += take
    yield aead.encrypt(_nonce(index, True), memoryview(buffer)[:filled], header)


def encrypt_bytes(
    dek: bytes,
    plaintext: bytes,
    *,
    study_id: bytes,
    blob_id: bytes,
    kind: BlobKind,
    salt: bytes | None = None,
) -> bytes:
    """Return the whole blob encrypting ``plaintext`` (for small objects and tests)."""
    return b"".join(
        encrypt_stream(
            dek, study_id=study_id, blob_id=blob_id, kind=kind, chunks=(plaintext,), salt=salt
        )
    )


class BlobReader:
    """Random-access, authenticated reader over a blob stored elsewhere.

    The constructor reads and checks the header against the expected study id, blob id and kind,
    and authenticates the last segment, so a reader only exists for a blob of the right length
    whose header is authentic. ``size`` must be the stored object's real length (from the store,
    not from a client). ``read(offset, length)`` must return exactly ``length`` bytes of
    ciphertext; any shortfall or failed tag raises ``InvalidCiphertext``. Non-last segments are
    fetched up to 16 at a time (1 MiB), decrypted and yielded one by one.
    """

    def __init__(
        self,
        dek: bytes,
        *,
        study_id: bytes,
        blob_id: bytes,
        kind: BlobKind,
        size: int,
        read: ReadFn,
    ) -> None:
        """Read and verify the header and the last segment of the blob."""
        _check_binding(dek, study_id, blob_id)
        kind = BlobKind(kind)
        self._read = read
        self._plaintext_size = plaintext_size(size)
        self._last_index = _segment_count(self._plaintext_size) - 1
        header = bytes(self._fetch(0, HEADER_SIZE))
        magic, version, alg, seg_log2, h_kind, h_study, h_blob, salt = _HEADER.unpack(header)
        if (
            magic != MAGIC
            or version != FORMAT_VERSION
            or alg != ALG_AES256GCM_HKDF_SHA256
            or seg_log2 != SEGMENT_LOG2
            or h_kind != kind
            or h_study != study_id
            or h_blob != blob_id
        ):
            raise InvalidCiphertext
        self._header = header
        self._aead = AESGCM(_blob_key(dek, salt, study_id, blob_id, kind))
        last_offset = HEADER_SIZE + self._last_index * SEALED_SEGMENT_SIZE
        sealed_last = self._fetch(last_offset, size - last_offset)
        self._last_plaintext = self._open(self._last_index, sealed_last)

    @property
    def plaintext_size(self) -> int:
        """Return the number of plaintext bytes in the blob."""
        return self._plaintext_size

    def _fetch(self, offset: int, length: int) -> Buffer:
        data = self._read(offset, length)
        if len(data) != length:
            raise InvalidCiphertext
        return data

    def _open(self, index: int, sealed: Buffer) -> bytes:
        try:
            return self._aead.decrypt(
                _nonce(index, index == self._last_index), sealed, self._header
            )
        except InvalidTag:
            raise InvalidCiphertext from None

    def read_range(self, start: int, end: int) -> bytes:
        """Return plaintext[start:end], decrypting only the segments it touches."""
        return b"".join(self.iter_plaintext(start, end))

    def iter_plaintext(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield plaintext[start:end] one authenticated segment at a time.

        ``end`` is clamped to the plaintext size, like a slice. An error raised mid-way means the
        caller must abort its response; every piece already yielded was authentic.
        """
        if end is None:
            end = self._plaintext_size
        if start < 0 or end < 0:
            raise ValueError("range bounds must not be negative")
        end = min(end, self._plaintext_size)
        if start >= end:
            return iter(())
        return self._iter_segments(start, end)

    def _iter_segments(self, start: int, end: int) -> Iterator[bytes]:
        index, last = start // SEGMENT_SIZE, (end - 1) // SEGMENT_SIZE
        while index <= last:
            if index == self._last_index:
                yield _trim(self._last_plaintext, index, start, end)
                index += 1
                continue
            count = min(_READ_BATCH_SEGMENTS, last + 1 - index, self._last_index - index)
            offset = HEADER_SIZE + index * SEALED_SEGMENT_SIZE
            batch = memoryview(self._fetch(offset, count * SEALED_SEGMENT_SIZE))
            for k in range(count):
                sealed = batch[k * SEALED_SEGMENT_SIZE : (k + 1) * SEALED_SEGMENT_SIZE]
                yield _trim(self._open(index, sealed), index, start, end)
                index += 1


def _trim(plain: bytes, index: int, start: int, end: int) -> bytes:
    base = index * SEGMENT_SIZE
    lo, hi = max(start - base, 0), min(end - base, len(plain))
    return plain if lo == 0 and hi == len(plain) else plain[lo:hi]


def decrypt_bytes(
    dek: bytes, blob: bytes, *, study_id: bytes, blob_id: bytes, kind: BlobKind
) -> bytes:
    """Return the plaintext of a whole in-memory blob or raise ``InvalidCiphertext``."""
    view = memoryview(blob)
    reader = BlobReader(
        dek,
        study_id=study_id,
        blob_id=blob_id,
        kind=kind,
        size=len(view),
        read=lambda offset, length: view[offset : offset + length],
    )
    return reader.read_range(0, reader.plaintext_size)
