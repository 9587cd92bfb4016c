"""HPKE and symmetric grants, binding and key commitment (docs/security.md, Study keys and
grants)."""

import hashlib
import hmac
import uuid

import pytest

from hds.crypto.accountkeys import derive_account_keys, new_master_secret
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.grants import (
    access_code_grant_aad,
    check_commitment,
    grant_info,
    key_commitment,
    new_dek,
    open_grant,
    seal_grant,
    share_grant_aad,
    unwrap_grant,
    wrap_grant,
)

STUDY = uuid.UUID("5f1c0e9a-7b2d-4c3e-8a6f-1b0d2c4e6a80").bytes
OTHER_STUDY = uuid.UUID("6a2d1fab-8c3e-4d4f-9b70-2c1e3d5f7b91").bytes
ACCOUNT = uuid.UUID("a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90").bytes
OTHER_ACCOUNT = uuid.UUID("b2c3d4e5-f607-1829-3a4b-5c6d7e8f90a1").bytes
RECIPIENT = derive_account_keys(bytes(range(32)))
STRANGER = derive_account_keys(bytes(range(1, 33)))

KAT_GRANT_INFO = (
    b"hds/v1/grant|_\x1c\x0e\x9a{-L>\x8ao\x1b\r,Nj\x80|account|"
    b"\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18):K\\m~\x8f\x90|3"
)
KAT_COMMITMENT = "e6adcca20199401e9748e0b4bc113baa"  # DEK = 00..1f, STUDY


def _seal(dek: bytes) -> bytes:
    return seal_grant(
        dek,
        RECIPIENT.x25519_public,
        study_id=STUDY,
        kind="account",
        principal_id=ACCOUNT,
        key_version=3,
    )


def test_grant_info_known_answer() -> None:
    assert grant_info(STUDY, "account", ACCOUNT, 3) == KAT_GRANT_INFO
    expected = b"hds/v1/grant|" + STUDY + b"|account|" + ACCOUNT + b"|3"
    assert grant_info(STUDY, "account", ACCOUNT, 3) == expected


@pytest.mark.parametrize(
    ("study_id", "kind", "principal_id", "key_version"),
    [
        (b"short", "account", ACCOUNT, 1),
        (STUDY + b"x", "account", ACCOUNT, 1),
        (STUDY, "account", b"", 1),
        (STUDY, "account", bytes(256), 1),
        (STUDY, "acc|ount", ACCOUNT, 1),
        (STUDY, "", ACCOUNT, 1),
        (STUDY, "Account", ACCOUNT, 1),
        (STUDY, "account", ACCOUNT, -1),
    ],
)
def test_grant_info_rejects_ambiguous_input(
    study_id: bytes, kind: str, principal_id: bytes, key_version: int
) -> None:
    with pytest.raises(ValueError, match="must"):
        grant_info(study_id, kind, principal_id, key_version)


def test_grant_info_is_unambiguous_for_any_principal_id() -> None:
    # Principal ids may be any bytes (e.g. str(pk).encode()), even ones containing "|".
    infos = {
        grant_info(STUDY, "account", b"42", 1),
        grant_info(STUDY, "account", b"4", 21),
        grant_info(STUDY, "account", b"42|1", 1),
        grant_info(STUDY, "account", b"42", 11),
        grant_info(STUDY, "group", b"42", 1),
        grant_info(STUDY, "account", b"account|42", 1),
    }
    assert len(infos) == 6
    assert grant_info(STUDY, "account", b"42", 1) == b"hds/v1/grant|" + STUDY + b"|account|42|1"


def test_grant_round_trip() -> None:
    dek = new_dek()
    sealed = _seal(dek)
    assert len(sealed) == 80
    opened = open_grant(
        sealed,
        RECIPIENT.x25519_private,
        study_id=STUDY,
        kind="account",
        principal_id=ACCOUNT,
        key_version=3,
    )
    assert opened == dek


def test_grants_are_randomised() -> None:
    dek = new_dek()
    assert _seal(dek) != _seal(dek)


@pytest.mark.parametrize(
    ("study_id", "kind", "principal_id", "key_version"),
    [
        (OTHER_STUDY, "account", ACCOUNT, 3),
        (STUDY, "group", ACCOUNT, 3),
        (STUDY, "account", OTHER_ACCOUNT, 3),
        (STUDY, "account", ACCOUNT, 2),
        (STUDY, "account", ACCOUNT, 4),
    ],
)
def test_grant_opened_in_another_context_fails(
    study_id: bytes, kind: str, principal_id: bytes, key_version: int
) -> None:
    sealed = _seal(new_dek())
    with pytest.raises(InvalidCiphertext):
        open_grant(
            sealed,
            RECIPIENT.x25519_private,
            study_id=study_id,
            kind=kind,
            principal_id=principal_id,
            key_version=key_version,
        )


def test_grant_for_wrong_recipient_or_tampered_fails() -> None:
    sealed = _seal(new_dek())
    context = {"study_id": STUDY, "kind": "account", "principal_id": ACCOUNT, "key_version": 3}
    with pytest.raises(InvalidCiphertext):
        open_grant(sealed, STRANGER.x25519_private, **context)  # type: ignore[arg-type]
    for offset in range(len(sealed)):
        changed = bytearray(sealed)
        changed[offset] ^= 0x80
        with pytest.raises(InvalidCiphertext):
            open_grant(bytes(changed), RECIPIENT.x25519_private, **context)  # type: ignore[arg-type]
    for cut in (0, 32, 79):
        with pytest.raises(InvalidCiphertext):
            open_grant(sealed[:cut], RECIPIENT.x25519_private, **context)  # type: ignore[arg-type]


def test_key_commitment_known_answer() -> None:
    dek = bytes(range(32))
    assert key_commitment(dek, STUDY).hex() == KAT_COMMITMENT
    expected = hmac.new(dek, b"hds/v1/kcv|" + STUDY, hashlib.sha256).digest()[:16]
    assert key_commitment(dek, STUDY) == expected


def test_substituted_dek_is_caught_by_commitment() -> None:
    # HPKE is sender-anonymous: anyone with the public key can seal *some* DEK to the recipient.
    real_dek = new_dek()
    stored_commitment = key_commitment(real_dek, STUDY)
    forged = _seal(new_dek())
    opened = open_grant(
        forged,
        RECIPIENT.x25519_private,
        study_id=STUDY,
        kind="account",
        principal_id=ACCOUNT,
        key_version=3,
    )
    with pytest.raises(InvalidCiphertext):
        check_commitment(opened, STUDY, stored_commitment)
    check_commitment(real_dek, STUDY, stored_commitment)
    with pytest.raises(InvalidCiphertext):
        check_commitment(real_dek, OTHER_STUDY, stored_commitment)
    with pytest.raises(InvalidCiphertext):
        check_commitment(real_dek, STUDY, stored_commitment[:8])


def test_symmetric_grants() -> None:
    dek, kek = new_dek(), new_master_secret()
    grant_id = uuid.uuid4().bytes
    aad = access_code_grant_aad(grant_id, STUDY)
    assert aad == b"hds/v1/ac|" + grant_id + b"|" + STUDY
    wrapped = wrap_grant(kek, dek, aad)
    assert unwrap_grant(kek, wrapped, aad) == dek
    with pytest.raises(InvalidCiphertext):
        unwrap_grant(kek, wrapped, access_code_grant_aad(grant_id, OTHER_STUDY))
    with pytest.raises(InvalidCiphertext):
        unwrap_grant(kek, wrapped, share_grant_aad(grant_id, STUDY))
    with pytest.raises(InvalidCiphertext):
        unwrap_grant(new_master_secret(), wrapped, aad)
    assert share_grant_aad(grant_id, STUDY) == b"hds/v1/share|" + grant_id + b"|" + STUDY


def test_dek_sizes_are_enforced() -> None:
    with pytest.raises(ValueError, match="DEK"):
        _seal(b"short")
    with pytest.raises(ValueError, match="DEK"):
        wrap_grant(new_master_secret(), b"short", b"")
    assert len(new_dek()) == 32
    assert new_dek() != new_dek()
