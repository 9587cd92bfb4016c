"""The key directory: public keys signed with the server's directory key (docs/security.md, Key
directory).

A database writer who swaps an account's public key cannot make the signature match, so code that
seals a study key to an account calls ``verify_account_keys`` first and refuses on mismatch.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings

from hds.crypto.signing import directory_record, private_key_from_seed, public_bytes, sign, verify


class KeyHolder(Protocol):
    """What the directory signs: any principal with versioned public keys."""

    @property
    def pk(self) -> object: ...

    key_version: int
    x25519_public: bytes | memoryview
    ed25519_public: bytes | memoryview


def _principal_bytes(holder: KeyHolder) -> bytes:
    return str(holder.pk).encode("ascii")


def _record(kind: str, holder: KeyHolder, created_at: int) -> bytes:
    return directory_record(
        kind=kind,
        principal_id=_principal_bytes(holder),
        key_version=holder.key_version,
        x25519_public=bytes(holder.x25519_public),
        ed25519_public=bytes(holder.ed25519_public),
        created_at=created_at,
    )


def directory_public_key() -> bytes:
    """The directory's Ed25519 public key (published so clients can verify records)."""
    return public_bytes(private_key_from_seed(settings.HDS_DIRECTORY_KEY))


def sign_keys(kind: str, holder: KeyHolder, created_at: int) -> bytes:
    """Sign the holder's current public keys."""
    private = private_key_from_seed(settings.HDS_DIRECTORY_KEY)
    return sign(private, _record(kind, holder, created_at))


def verify_keys(kind: str, holder: KeyHolder, created_at: int, signature: bytes) -> bool:
    """Whether ``signature`` is the directory's signature over the holder's public keys."""
    return verify(directory_public_key(), _record(kind, holder, created_at), signature)
