"""Ed25519 signing (RFC 8032 vector) and the canonical directory record."""

import pytest

from hds.crypto.signing import (
    directory_record,
    private_key_from_seed,
    public_bytes,
    sign,
    verify,
)

# RFC 8032 §7.1, TEST 1 (empty message).
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

X_PUB = bytes.fromhex("9f704a1e810b7bd2aab76189cba9dbd136308047f80c94cc50b451cedce5f473")
ED_PUB = bytes.fromhex("99fcb4ceb55d9f62990b1e881667a4ecb85d5db7bb03716fb089f1ee4372e82c")
PRINCIPAL = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
KAT_DIRECTORY_RECORD = bytes.fromhex(
    "6864732f76312f6469726563746f727900"  # b"hds/v1/directory\0"
    "00000007"
    "6163636f756e74"  # kind "account"
    "00000010"
    "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # principal id
    "00000008"
    "0000000000000002"  # key version 2
    "00000020"
    "9f704a1e810b7bd2aab76189cba9dbd136308047f80c94cc50b451cedce5f473"
    "00000020"
    "99fcb4ceb55d9f62990b1e881667a4ecb85d5db7bb03716fb089f1ee4372e82c"
    "00000008"
    "000000006955b900"  # 2026-01-01T00:00:00Z
)


def _record(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "kind": "account",
        "principal_id": PRINCIPAL,
        "key_version": 2,
        "x25519_public": X_PUB,
        "ed25519_public": ED_PUB,
        "created_at": 1767225600,
    }
    fields.update(changes)
    return directory_record(**fields)  # type: ignore[arg-type]


def test_rfc8032_vector() -> None:
    private = private_key_from_seed(RFC8032_SEED)
    assert public_bytes(private) == RFC8032_PUBLIC
    assert sign(private, b"") == RFC8032_SIGNATURE
    assert verify(RFC8032_PUBLIC, b"", RFC8032_SIGNATURE)


def test_verify_rejects_wrong_inputs() -> None:
    private = private_key_from_seed(RFC8032_SEED)
    signature = sign(private, b"message")
    assert verify(RFC8032_PUBLIC, b"message", signature)
    assert not verify(RFC8032_PUBLIC, b"messagE", signature)
    assert not verify(ED_PUB, b"message", signature)
    assert not verify(RFC8032_PUBLIC, b"message", signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not verify(RFC8032_PUBLIC[:31], b"message", signature)
    assert not verify(RFC8032_PUBLIC, b"message", signature[:63])
    assert not verify(b"", b"message", b"")


def test_seed_length_is_checked() -> None:
    with pytest.raises(ValueError, match="seed"):
        private_key_from_seed(bytes(31))


def test_directory_record_known_answer() -> None:
    record = _record()
    assert record == KAT_DIRECTORY_RECORD
    assert record.startswith(b"hds/v1/directory")


def test_directory_record_binds_every_field() -> None:
    base = _record()
    variants = [
        _record(kind="group"),
        _record(principal_id=bytes(16)),
        _record(principal_id=PRINCIPAL + b"\x00"),
        _record(key_version=3),
        _record(x25519_public=ED_PUB),
        _record(ed25519_public=X_PUB),
        _record(created_at=1767225601),
        # Moving a byte from one field to the next must change the encoding.
        _record(kind="accoun", principal_id=b"t" + PRINCIPAL),
    ]
    assert len({base, *variants}) == len(variants) + 1


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": ""},
        {"kind": "kïnd"},
        {"principal_id": b""},
        {"key_version": -1},
        {"created_at": 1 << 64},
        {"x25519_public": bytes(31)},
        {"ed25519_public": bytes(33)},
    ],
)
def test_directory_record_rejects_bad_fields(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        _record(**changes)


def test_directory_record_signature_round_trip() -> None:
    private = private_key_from_seed(RFC8032_SEED)
    record = _record()
    signature = sign(private, record)
    assert verify(RFC8032_PUBLIC, record, signature)
    assert not verify(RFC8032_PUBLIC, _record(key_version=3), signature)
