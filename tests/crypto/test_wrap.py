"""Wraps of account secrets: AAD binding, pepper, versioning (docs/security.md, Keys and wraps)."""

import hashlib
import uuid

import pytest

from hds.crypto.accountkeys import (
    ac_wrap_aad,
    activation_kek,
    new_master_secret,
    password_material,
    pw_wrap_aad,
)
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.kdf import Argon2Params, hkdf_expand, stretch
from hds.crypto.wrap import unwrap_secret, wrap_secret

FAST = Argon2Params(memory_kib=1024, iterations=1, lanes=1)
KEK = bytes(range(32))
ACCOUNT = uuid.UUID("0b5d8f3e-2a41-4c6e-9f17-3d2b1a0c9e88").bytes
OTHER_ACCOUNT = uuid.UUID("7c1e2d3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5").bytes
PEPPER_V1 = bytes([1]) * 32
PEPPER_V2 = bytes([2]) * 32
SALT = bytes(range(16))


def test_wrap_round_trip_and_format() -> None:
    secret = new_master_secret()
    wrapped = wrap_secret(KEK, secret, pw_wrap_aad(ACCOUNT))
    assert wrapped[0] == 0x01
    assert len(wrapped) == 1 + 12 + 32 + 16
    assert unwrap_secret(KEK, wrapped, pw_wrap_aad(ACCOUNT)) == secret


def test_wrap_nonces_are_random() -> None:
    nonces = {wrap_secret(KEK, b"s", b"")[1:13] for _ in range(200)}
    assert len(nonces) == 200


def test_wrap_moved_to_another_account_fails() -> None:
    wrapped = wrap_secret(KEK, new_master_secret(), pw_wrap_aad(ACCOUNT))
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(KEK, wrapped, pw_wrap_aad(OTHER_ACCOUNT))
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(KEK, wrapped, ac_wrap_aad(ACCOUNT))


def test_wrap_rejects_tampering_and_wrong_key() -> None:
    wrapped = wrap_secret(KEK, new_master_secret(), b"aad")
    for offset in range(len(wrapped)):
        changed = bytearray(wrapped)
        changed[offset] ^= 0x01
        with pytest.raises(InvalidCiphertext):
            unwrap_secret(KEK, bytes(changed), b"aad")
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(bytes(32), wrapped, b"aad")
    for cut in range(len(wrapped)):
        with pytest.raises(InvalidCiphertext):
            unwrap_secret(KEK, wrapped[:cut], b"aad")
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(KEK, b"\x02" + wrapped[1:], b"aad")


def test_wrap_requires_256_bit_key() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_secret(bytes(16), b"s", b"")
    with pytest.raises(ValueError, match="32 bytes"):
        unwrap_secret(bytes(16), bytes(40), b"")


def test_aad_labels() -> None:
    assert pw_wrap_aad(b"\x01\x02") == b"hds/v1/wrap/pw|\x01\x02"
    assert ac_wrap_aad(b"\x01\x02") == b"hds/v1/wrap/ac|\x01\x02"


def test_login_flow_unwraps_ams() -> None:
    ams = new_master_secret()
    enrol = password_material("a long passphrase", SALT, FAST, PEPPER_V1)
    wrapped = wrap_secret(enrol.kek, ams, pw_wrap_aad(ACCOUNT))
    login = password_material("a long passphrase", SALT, FAST, PEPPER_V1)
    assert login.verifier == enrol.verifier
    assert unwrap_secret(login.kek, wrapped, pw_wrap_aad(ACCOUNT)) == ams
    wrong = password_material("a long passphrasE", SALT, FAST, PEPPER_V1)
    assert wrong.verifier != enrol.verifier
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(wrong.kek, wrapped, pw_wrap_aad(ACCOUNT))


def test_other_pepper_gives_other_verifier_and_kek() -> None:
    v1 = password_material("a long passphrase", SALT, FAST, PEPPER_V1)
    v2 = password_material("a long passphrase", SALT, FAST, PEPPER_V2)
    assert v1.verifier != v2.verifier
    assert v1.kek != v2.kek
    wrapped = wrap_secret(v1.kek, new_master_secret(), pw_wrap_aad(ACCOUNT))
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(v2.kek, wrapped, pw_wrap_aad(ACCOUNT))


def test_kek_without_the_pepper_opens_nothing() -> None:
    # What an attacker with the DB but without the pepper could compute.
    material = password_material("a long passphrase", SALT, FAST, PEPPER_V1)
    wrapped = wrap_secret(material.kek, new_master_secret(), pw_wrap_aad(ACCOUNT))
    prk = stretch(b"a long passphrase", SALT, FAST, None)
    assert hashlib.sha256(hkdf_expand(prk, b"hds/v1/pw/auth")).digest() != material.verifier
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(hkdf_expand(prk, b"hds/v1/pw/wrap"), wrapped, pw_wrap_aad(ACCOUNT))
    peppered = stretch(b"a long passphrase", SALT, FAST, PEPPER_V1)
    assert hkdf_expand(peppered, b"hds/v1/pw/wrap") == material.kek


@pytest.mark.parametrize("pepper", [b"", bytes(8)])
def test_missing_pepper_is_refused(pepper: bytes) -> None:
    with pytest.raises(ValueError, match="pepper"):
        password_material("a long passphrase", SALT, FAST, pepper)


def test_verifier_is_not_the_kek() -> None:
    material = password_material("a long passphrase", SALT, FAST, PEPPER_V1)
    assert material.verifier != material.kek
    assert len(material.verifier) == len(material.kek) == 32
    assert material.kek.hex() not in repr(material)
    assert material.verifier.hex() not in repr(material)


def test_params_read_back_reproduce_the_kek() -> None:
    stored = FAST.to_dict()
    enrol = password_material("pw pw pw pw pw", SALT, FAST, PEPPER_V1)
    again = password_material("pw pw pw pw pw", SALT, Argon2Params.from_dict(stored), PEPPER_V1)
    assert again == enrol
    stronger = password_material("pw pw pw pw pw", SALT, Argon2Params(2048, 1, 1), PEPPER_V1)
    assert stronger.kek != enrol.kek


def test_activation_code_wrap() -> None:
    ams = new_master_secret()
    kek = activation_kek("0123456789ABCDEF", SALT, FAST)
    wrapped = wrap_secret(kek, ams, ac_wrap_aad(ACCOUNT))
    assert (
        unwrap_secret(activation_kek("0123456789ABCDEF", SALT, FAST), wrapped, ac_wrap_aad(ACCOUNT))
        == ams
    )
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(activation_kek("0123456789ABCDEG", SALT, FAST), wrapped, ac_wrap_aad(ACCOUNT))
    with pytest.raises(InvalidCiphertext):
        unwrap_secret(kek, wrapped, ac_wrap_aad(OTHER_ACCOUNT))
