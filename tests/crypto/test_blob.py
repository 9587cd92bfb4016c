"""Blob format: round trips, random access, tampering, binding, known answers (docs/security.md,
Tests that prove it)."""

import hashlib
import itertools
import random
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hds.crypto.blob import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    BlobKind,
    BlobReader,
    ciphertext_size,
    decrypt_bytes,
    encrypt_bytes,
    encrypt_stream,
    plaintext_size,
)
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.kdf import hkdf

S = SEGMENT_SIZE
SEALED = S + TAG_SIZE
DEK = bytes(range(32))
STUDY_ID = bytes.fromhex("5f1c0e9a7b2d4c3e8a6f1b0d2c4e6a80")
BLOB_ID = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
SALT = bytes(range(100, 132))
KIND = BlobKind.INSTANCE
SIZES = [0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 5]


def _plaintext(n: int) -> bytes:
    return bytes((i * 31 + 7) % 256 for i in range(n))


def _random_plaintext(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def _encrypt(plaintext: bytes, *, kind: BlobKind = KIND, salt: bytes | None = None) -> bytes:
    return encrypt_bytes(DEK, plaintext, study_id=STUDY_ID, blob_id=BLOB_ID, kind=kind, salt=salt)


def _decrypt(
    data: bytes,
    *,
    dek: bytes = DEK,
    study_id: bytes = STUDY_ID,
    blob_id: bytes = BLOB_ID,
    kind: BlobKind = KIND,
) -> bytes:
    return decrypt_bytes(dek, data, study_id=study_id, blob_id=blob_id, kind=kind)


def _reader(data: bytes, size: int | None = None) -> BlobReader:
    return BlobReader(
        DEK,
        study_id=STUDY_ID,
        blob_id=BLOB_ID,
        kind=KIND,
        size=len(data) if size is None else size,
        read=lambda offset, length: data[offset : offset + length],
    )


def _segments(data: bytes) -> tuple[bytes, list[bytes]]:
    body = data[HEADER_SIZE:]
    return data[:HEADER_SIZE], [body[i : i + SEALED] for i in range(0, len(body), SEALED)]


def _flip(data: bytes, offset: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= 1 << bit
    return bytes(changed)


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int) -> None:
    plaintext = _random_plaintext(size, seed=size)
    data = _encrypt(plaintext)
    assert len(data) == ciphertext_size(size)
    assert plaintext_size(len(data)) == size
    assert _decrypt(data) == plaintext
    reader = _reader(data)
    assert reader.plaintext_size == size
    assert reader.read_range(0, size) == plaintext
    assert b"".join(reader.iter_plaintext()) == plaintext


@pytest.mark.parametrize("size", SIZES)
def test_segment_layout(size: int) -> None:
    header, segments = _segments(_encrypt(_plaintext(size)))
    assert len(header) == 72
    assert len(segments) == max(1, -(-size // S))
    assert all(len(segment) == SEALED for segment in segments[:-1])
    expected_last = TAG_SIZE + (size - (len(segments) - 1) * S)
    assert len(segments[-1]) == expected_last
    assert size == 0 or len(segments[-1]) > TAG_SIZE


def test_header_fields() -> None:
    data = _encrypt(b"x", kind=BlobKind.THUMBNAIL, salt=SALT)
    fields = struct.unpack(">4sBBBB16s16s32s", data[:HEADER_SIZE])
    assert fields == (b"HDSB", 1, 1, 16, 5, STUDY_ID, BLOB_ID, SALT)


def test_stream_accepts_any_chunking_including_empty_chunks() -> None:
    plaintext = _random_plaintext(3 * S + 5)
    reference = _encrypt(plaintext, salt=SALT)
    chunkings = [
        [plaintext],
        [b"", plaintext, b""],
        [plaintext[i : i + 1000] for i in range(0, len(plaintext), 1000)],
        [plaintext[i : i + S] for i in range(0, len(plaintext), S)],
        [plaintext[:S], b"", plaintext[S : S + 1], plaintext[S + 1 :]],
        [bytes([b]) for b in plaintext[: S + 3]] + [plaintext[S + 3 :]],
    ]
    for chunks in chunkings:
        out = encrypt_stream(
            DEK, study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND, chunks=iter(chunks), salt=SALT
        )
        assert b"".join(out) == reference


def test_stream_yields_header_then_one_piece_per_segment() -> None:
    plaintext = _plaintext(2 * S)
    pieces = list(
        encrypt_stream(DEK, study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND, chunks=[plaintext])
    )
    assert [len(p) for p in pieces] == [HEADER_SIZE, SEALED, SEALED]


def test_stream_seals_full_segment_only_when_more_data_arrives() -> None:
    pulled: list[int] = []

    def chunks() -> Iterator[bytes]:
        for chunk in (b"a" * S, b"b"):
            pulled.append(len(chunk))
            yield chunk

    stream = encrypt_stream(DEK, study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND, chunks=chunks())
    assert len(next(stream)) == HEADER_SIZE
    assert len(next(stream)) == SEALED  # sealed as "not last" only after b"b" arrived
    assert pulled == [S, 1]
    assert len(next(stream)) == 1 + TAG_SIZE
    assert next(stream, None) is None


@settings(max_examples=100, deadline=None, database=None)
@given(
    size=st.one_of(
        st.sampled_from([0, 1, S - 1, S, S + 1, 2 * S, 3 * S + 5]),
        st.integers(min_value=0, max_value=4 * S + 3),
    ),
    seed=st.integers(min_value=0, max_value=2**32),
    data=st.data(),
)
def test_round_trip_and_ranges_property(size: int, seed: int, data: st.DataObject) -> None:
    plaintext = _random_plaintext(size, seed)
    position = st.integers(min_value=0, max_value=size)
    cuts = data.draw(st.lists(position, max_size=8), label="cuts")
    bounds = [0, *sorted(cuts), size]
    chunks = [plaintext[a:b] for a, b in itertools.pairwise(bounds)]
    blob = b"".join(
        encrypt_stream(DEK, study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND, chunks=chunks)
    )
    assert len(blob) == ciphertext_size(size)
    reader = _reader(blob)
    assert reader.plaintext_size == size
    beyond = st.integers(min_value=0, max_value=size + 10)
    for start, end in data.draw(st.lists(st.tuples(beyond, beyond), min_size=1, max_size=6)):
        assert reader.read_range(start, end) == plaintext[start:end]
        assert b"".join(reader.iter_plaintext(start, end)) == plaintext[start:end]
    assert _decrypt(blob) == plaintext


def test_iter_plaintext_yields_segment_sized_pieces() -> None:
    plaintext = _random_plaintext(3 * S + 5)
    pieces = list(_reader(_encrypt(plaintext)).iter_plaintext(10, 3 * S + 2))
    assert [len(p) for p in pieces] == [S - 10, S, S, 2]
    assert b"".join(pieces) == plaintext[10 : 3 * S + 2]


def test_read_range_fetches_only_needed_segments() -> None:
    data = _encrypt(_random_plaintext(10 * S + 7))
    fetched: list[tuple[int, int]] = []

    def read(offset: int, length: int) -> bytes:
        fetched.append((offset, length))
        return data[offset : offset + length]

    reader = BlobReader(
        DEK, study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND, size=len(data), read=read
    )
    last_offset = HEADER_SIZE + 10 * SEALED
    assert fetched == [(0, HEADER_SIZE), (last_offset, len(data) - last_offset)]
    fetched.clear()
    reader.read_range(4 * S + 1, 4 * S + 100)
    assert fetched == [(HEADER_SIZE + 4 * SEALED, SEALED)]
    fetched.clear()
    reader.read_range(10 * S, 10 * S + 7)  # the last segment was authenticated once, up front
    assert fetched == []


def test_read_range_bounds() -> None:
    plaintext = _plaintext(S + 9)
    reader = _reader(_encrypt(plaintext))
    assert reader.read_range(5, 5) == b""
    assert reader.read_range(9, 3) == b""
    assert reader.read_range(S, 10 * S) == plaintext[S:]
    assert reader.read_range(10 * S, 11 * S) == b""
    with pytest.raises(ValueError, match="negative"):
        reader.read_range(-1, 3)


def test_size_arithmetic() -> None:
    for size in [*SIZES, 7 * S + 123]:
        assert plaintext_size(ciphertext_size(size)) == size
    impossible = [0, HEADER_SIZE, HEADER_SIZE + TAG_SIZE - 1, HEADER_SIZE + SEALED + TAG_SIZE]
    impossible += [HEADER_SIZE + 2 * SEALED + TAG_SIZE - 3]
    for size in impossible:
        with pytest.raises(InvalidCiphertext):
            plaintext_size(size)


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="DEK"):
        encrypt_bytes(b"short", b"", study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND)
    with pytest.raises(ValueError, match="16 bytes"):
        encrypt_bytes(DEK, b"", study_id=b"x", blob_id=BLOB_ID, kind=KIND)
    with pytest.raises(ValueError, match="salt"):
        encrypt_bytes(DEK, b"", study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND, salt=b"s")
    with pytest.raises(ValueError, match="BlobKind"):
        encrypt_bytes(DEK, b"", study_id=STUDY_ID, blob_id=BLOB_ID, kind=9)  # type: ignore[arg-type]


# --- known answers (format stability) --------------------------------------------------------

# Fixed DEK = 00..1f, salt = 64..83, STUDY_ID, BLOB_ID, kind INSTANCE, plaintext (31 i + 7) mod 256.
# Cross-checked against the format of docs/security.md, Blob format, when written; a change here is
# a format break.
KAT_EMPTY = bytes.fromhex(
    "48445342010110015f1c0e9a7b2d4c3e8a6f1b0d2c4e6a80a1b2c3d4e5f60718293a4b5c6d7e8f90"
    "6465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f8081828384"
    "94ddf2566b87c5aa0ae775cd2b979e"
)
KAT_FIVE = bytes.fromhex(
    "48445342010110015f1c0e9a7b2d4c3e8a6f1b0d2c4e6a80a1b2c3d4e5f60718293a4b5c6d7e8f90"
    "6465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283"
    "51ee91ce9d03208f0ad3b263af0bbcc23105eb4f4b"
)
KAT_SHA256 = {
    0: "35e3267b55b645e951beebe84a6f6e7fb9b43d67b10bc29bed81c37b5c9166ae",
    5: "8e3a83996864d963bf895388b1c1ddee696d5da88304d146041d1ec24047e249",
    S + 1: "3e037ed6e2713194735316cde20d1a7e11c9b1246d0cf6bd441cb774085cf8c9",
    3 * S + 5: "df95808e0420281991cfc2b312dca9e9e8b4f37427eedf0351814b811a7bcd1c",
}


def test_known_answer_small_blobs() -> None:
    assert _encrypt(b"", salt=SALT) == KAT_EMPTY
    assert _encrypt(_plaintext(5), salt=SALT) == KAT_FIVE
    assert _decrypt(KAT_EMPTY) == b""
    assert _decrypt(KAT_FIVE) == _plaintext(5)


@pytest.mark.parametrize(("size", "digest"), KAT_SHA256.items())
def test_known_answer_digests(size: int, digest: str) -> None:
    data = _encrypt(_plaintext(size), salt=SALT)
    assert hashlib.sha256(data).hexdigest() == digest
    assert _decrypt(data) == _plaintext(size)


# --- tampering -------------------------------------------------------------------------------

TAMPER_PLAINTEXT = _random_plaintext(3 * S + 5, seed=99)
TAMPER_BLOB = _encrypt(TAMPER_PLAINTEXT)


def _assert_rejected(
    data: bytes,
    *,
    dek: bytes = DEK,
    study_id: bytes = STUDY_ID,
    blob_id: bytes = BLOB_ID,
    kind: BlobKind = KIND,
) -> None:
    with pytest.raises(InvalidCiphertext):
        _decrypt(data, dek=dek, study_id=study_id, blob_id=blob_id, kind=kind)


def test_every_header_bit_flip_is_rejected() -> None:
    for offset in range(HEADER_SIZE):
        for bit in (0, 7):
            _assert_rejected(_flip(TAMPER_BLOB, offset, bit))


def test_header_field_edits_are_rejected_even_with_matching_expectations() -> None:
    # Rewriting the kind or ids in the header *and* asking for the new values still fails:
    # the ids and kind are in the key derivation and the AAD, not just compared.
    header, segments = _segments(TAMPER_BLOB)
    body = b"".join(segments)
    other_id = bytes(16)
    kind_edit = header[:7] + bytes([BlobKind.RENDERING]) + header[8:]
    study_edit = header[:8] + other_id + header[24:]
    blob_edit = header[:24] + other_id + header[40:]
    assert struct.unpack(">4sBBBB16s16s32s", kind_edit)[4] == BlobKind.RENDERING
    assert struct.unpack(">4sBBBB16s16s32s", study_edit)[5] == other_id
    assert struct.unpack(">4sBBBB16s16s32s", blob_edit)[6] == other_id
    _assert_rejected(kind_edit + body, kind=BlobKind.RENDERING)
    _assert_rejected(study_edit + body, study_id=other_id)
    _assert_rejected(blob_edit + body, blob_id=other_id)


def test_segment_body_and_tag_bit_flips_are_rejected() -> None:
    _, segments = _segments(TAMPER_BLOB)
    offset = HEADER_SIZE
    for segment in segments:
        for inner in (0, len(segment) // 2, len(segment) - TAG_SIZE - 1, len(segment) - 1):
            _assert_rejected(_flip(TAMPER_BLOB, offset + inner))
        offset += len(segment)


def test_range_read_of_a_tampered_middle_segment_fails() -> None:
    data = _flip(TAMPER_BLOB, HEADER_SIZE + SEALED + 100)
    reader = _reader(data)
    assert reader.read_range(0, 10) == TAMPER_PLAINTEXT[:10]
    with pytest.raises(InvalidCiphertext):
        reader.read_range(S, S + 10)
    with pytest.raises(InvalidCiphertext):
        list(reader.iter_plaintext())


def test_truncation_at_every_segment_boundary_and_mid_segment() -> None:
    boundaries = [HEADER_SIZE + k * SEALED for k in range(4)]
    cuts = {0, 1, HEADER_SIZE - 1, len(TAMPER_BLOB) - 1, len(TAMPER_BLOB) - TAG_SIZE}
    for boundary in boundaries:
        cuts |= {boundary, boundary + 1, boundary + TAG_SIZE, boundary + S // 2, boundary - 1}
    for cut in sorted(c for c in cuts if c < len(TAMPER_BLOB)):
        _assert_rejected(TAMPER_BLOB[:cut])


def test_truncated_size_given_to_reader_is_rejected() -> None:
    for k in (1, 2, 3):
        with pytest.raises(InvalidCiphertext):
            _reader(TAMPER_BLOB, size=HEADER_SIZE + k * SEALED)


def test_store_returning_fewer_bytes_than_announced_is_rejected() -> None:
    with pytest.raises(InvalidCiphertext):
        _reader(TAMPER_BLOB, size=len(TAMPER_BLOB) + SEALED)


def test_segment_reordering_is_rejected() -> None:
    header, seg = _segments(TAMPER_BLOB)
    variants = [
        [seg[0], seg[1], seg[3]],  # drop a middle segment
        [seg[1], seg[2], seg[3]],  # drop the first
        [seg[0], seg[0], seg[1], seg[2], seg[3]],  # duplicate
        [seg[0], seg[1], seg[1], seg[3]],  # duplicate in place of another
        [seg[1], seg[0], seg[2], seg[3]],  # swap
        [seg[0], seg[2], seg[1], seg[3]],  # swap
        [*seg, seg[3]],  # append the last segment again
        [*seg, seg[2]],  # append a full segment
        [*seg[:3], seg[2], seg[3]],  # extend before the last
    ]
    for segments in variants:
        _assert_rejected(header + b"".join(segments))


def test_segment_spliced_from_another_blob_is_rejected() -> None:
    other = _encrypt(TAMPER_PLAINTEXT)  # same DEK and ids, fresh salt
    header, seg = _segments(TAMPER_BLOB)
    _, other_seg = _segments(other)
    _assert_rejected(header + b"".join([seg[0], other_seg[1], seg[2], seg[3]]))
    _assert_rejected(other[:HEADER_SIZE] + b"".join(seg))


def test_blob_read_as_another_object_is_rejected() -> None:
    _assert_rejected(TAMPER_BLOB, blob_id=bytes(16))
    _assert_rejected(TAMPER_BLOB, study_id=bytes(16))
    for kind in BlobKind:
        if kind != KIND:
            _assert_rejected(TAMPER_BLOB, kind=kind)


def test_wrong_dek_is_rejected() -> None:
    _assert_rejected(TAMPER_BLOB, dek=bytes(32))
    _assert_rejected(_encrypt(b""), dek=bytes(32))


def test_error_message_is_generic() -> None:
    with pytest.raises(InvalidCiphertext) as info:
        _decrypt(TAMPER_BLOB, dek=bytes(32))
    assert str(info.value) == "ciphertext rejected"


# --- key and nonce uniqueness ----------------------------------------------------------------


def test_salts_and_blob_keys_are_unique_per_blob() -> None:
    salts = set()
    keys = set()
    count = 2000
    for _ in range(count):
        header = next(
            encrypt_stream(DEK, study_id=STUDY_ID, blob_id=BLOB_ID, kind=KIND, chunks=[b""])
        )
        salt = header[-32:]
        salts.add(salt)
        keys.add(hkdf(DEK, salt=salt, info=b"hds/v1/blob|" + STUDY_ID + BLOB_ID + bytes([KIND])))
    # Distinct keys make every (key, nonce) pair distinct, since nonces only repeat across blobs.
    assert len(salts) == count
    assert len(keys) == count
