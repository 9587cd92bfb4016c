"""Grants that hand a study DEK to a principal, and the DEK commitment (docs/security.md, Study
keys and grants)."""

import hashlib
import hmac
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from hds.crypto.errors import InvalidCiphertext
from hds.crypto.kdf import random_bytes
from hds.crypto.wrap import unwrap_secret, wrap_secret

SUITE_V1 = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
DEK_SIZE = 32
STUDY_ID_SIZE = 16
PUBLIC_KEY_SIZE = 32
COMMITMENT_SIZE = 16
# HPKE enc (32) ‖ AES-256-GCM(DEK) (32) ‖ tag (16)
SEALED_GRANT_SIZE = 80
# Why the "|"-joined encodings of §3.7 are unambiguous: the study id has a fixed length (16 bytes,
# as in the blob header), kinds never contain "|" and key versions are decimal digits. So in
# "grant|" study "|" kind "|" principal "|" version the principal id is everything between the
# second "|" after the study id and the last "|", whatever bytes it holds; likewise the grant or
# share id in "ac|" id "|" study is everything before the fixed-length study id.
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MAX_PRINCIPAL_ID_SIZE = 255


def _check_study_id(value: bytes) -> None:
    if len(value) != STUDY_ID_SIZE:
        raise ValueError("study_id must be 16 bytes (UUID.bytes)")


def _check_id(value: bytes) -> None:
    if not 0 < len(value) <= _MAX_PRINCIPAL_ID_SIZE:
        raise ValueError("ids must be 1 to 255 bytes")


def _check_dek(dek: bytes) -> None:
    if len(dek) != DEK_SIZE:
        raise ValueError("DEK must be 32 bytes")


def new_dek() -> bytes:
    """Return a fresh 32-byte study data-encryption key."""
    return random_bytes(DEK_SIZE)


def grant_info(study_id: bytes, kind: str, principal_id: bytes, key_version: int) -> bytes:
    """Return the HPKE info that binds a grant to its study, principal kind, id and key version."""
    _check_study_id(study_id)
    _check_id(principal_id)
    if not _KIND_RE.fullmatch(kind):
        raise ValueError("kind must be a short lower-case ASCII word")
    if type(key_version) is not int or key_version < 0:
        raise ValueError("key_version must be a non-negative int")
    return b"|".join(
        (b"hds/v1/grant", study_id, kind.encode("ascii"), principal_id, str(key_version).encode())
    )


def seal_grant(
    dek: bytes,
    recipient_public: bytes,
    *,
    study_id: bytes,
    kind: str,
    principal_id: bytes,
    key_version: int,
) -> bytes:
    """Return the DEK sealed with HPKE (base mode, SUITE_V1) to a raw X25519 public key."""
    _check_dek(dek)
    if len(recipient_public) != PUBLIC_KEY_SIZE:
        raise ValueError("recipient public key must be 32 bytes")
    info = grant_info(study_id, kind, principal_id, key_version)
    public = X25519PublicKey.from_public_bytes(recipient_public)
    return SUITE_V1.encrypt(dek, public, info=info)


def open_grant(
    sealed: bytes,
    recipient_private: X25519PrivateKey,
    *,
    study_id: bytes,
    kind: str,
    principal_id: bytes,
    key_version: int,
) -> bytes:
    """Return the DEK inside an HPKE grant or raise ``InvalidCiphertext``."""
    info = grant_info(study_id, kind, principal_id, key_version)
    if len(sealed) != SEALED_GRANT_SIZE:
        raise InvalidCiphertext
    try:
        dek = SUITE_V1.decrypt(sealed, recipient_private, info=info)
    except (InvalidTag, ValueError):
        raise InvalidCiphertext from None
    if len(dek) != DEK_SIZE:
        raise InvalidCiphertext
    return dek


def key_commitment(dek: bytes, study_id: bytes) -> bytes:
    """Return the 16-byte commitment HMAC-SHA256(DEK, "hds/v1/kcv|" ‖ study_id)[:16]."""
    _check_dek(dek)
    _check_study_id(study_id)
    return hmac.new(dek, b"hds/v1/kcv|" + study_id, hashlib.sha256).digest()[:COMMITMENT_SIZE]


def check_commitment(dek: bytes, study_id: bytes, expected: bytes) -> None:
    """Raise ``InvalidCiphertext`` unless ``dek`` matches the study's stored commitment."""
    if not hmac.compare_digest(key_commitment(dek, study_id), expected):
        raise InvalidCiphertext


def access_code_grant_aad(grant_id: bytes, study_id: bytes) -> bytes:
    """Return the AAD of an access-code grant: "hds/v1/ac|" ‖ grant_id ‖ "|" ‖ study_id."""
    _check_id(grant_id)
    _check_study_id(study_id)
    return b"hds/v1/ac|" + grant_id + b"|" + study_id


def share_grant_aad(share_id: bytes, study_id: bytes) -> bytes:
    """Return the AAD of a share-invite grant: "hds/v1/share|" ‖ share_id ‖ "|" ‖ study_id."""
    _check_id(share_id)
    _check_study_id(study_id)
    return b"hds/v1/share|" + share_id + b"|" + study_id


def wrap_grant(kek: bytes, dek: bytes, aad: bytes) -> bytes:
    """Return the DEK wrapped under a symmetric KEK (access-code and share grants)."""
    _check_dek(dek)
    return wrap_secret(kek, dek, aad)


def unwrap_grant(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """Return the DEK from a symmetric grant or raise ``InvalidCiphertext``."""
    dek = unwrap_secret(kek, wrapped, aad)
    if len(dek) != DEK_SIZE:
        raise InvalidCiphertext
    return dek
