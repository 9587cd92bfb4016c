"""Account secrets: password and activation-code KEKs, the AMS and its key pairs (§3.3)."""

import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hds.crypto.kdf import Argon2Params, hkdf, hkdf_expand, random_bytes, stretch

MASTER_SECRET_SIZE = 32
_FINGERPRINT_BYTES = 16

_PW_AUTH_INFO = b"hds/v1/pw/auth"
_PW_WRAP_INFO = b"hds/v1/pw/wrap"
_AC_WRAP_INFO = b"hds/v1/ac/wrap"
_X25519_INFO = b"hds/v1/account/x25519"
_ED25519_INFO = b"hds/v1/account/ed25519"


@dataclass(frozen=True)
class PasswordMaterial:
    """What one Argon2id run over a password yields: the stored verifier and the wrap key."""

    verifier: bytes = field(repr=False)
    kek: bytes = field(repr=False)


@dataclass(frozen=True)
class AccountKeyPair:
    """The X25519 (grants) and Ed25519 (signatures) key pairs derived from an account's AMS."""

    x25519_private: X25519PrivateKey = field(repr=False, compare=False)
    x25519_public: bytes
    ed25519_private: Ed25519PrivateKey = field(repr=False, compare=False)
    ed25519_public: bytes


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # The default message would quote the offending character of the secret.
        raise ValueError("secret is not encodable as UTF-8") from None


def password_material(
    password: str, salt: bytes, params: Argon2Params, pepper: bytes
) -> PasswordMaterial:
    """Derive the login verifier and KEK_pw from a password with one Argon2id evaluation."""
    prk = stretch(_utf8(password), salt, params, pepper)
    verifier = hashlib.sha256(hkdf_expand(prk, _PW_AUTH_INFO)).digest()
    return PasswordMaterial(verifier=verifier, kek=hkdf_expand(prk, _PW_WRAP_INFO))


def activation_kek(code: str, salt: bytes, params: Argon2Params) -> bytes:
    """Derive KEK_ac from a normalised activation code; no pepper, so it survives losing it."""
    prk = stretch(_utf8(code), salt, params, None)
    return hkdf_expand(prk, _AC_WRAP_INFO)


def new_master_secret() -> bytes:
    """Return a fresh 32-byte account master secret (AMS)."""
    return random_bytes(MASTER_SECRET_SIZE)


def derive_account_keys(ams: bytes) -> AccountKeyPair:
    """Derive the account's X25519 and Ed25519 key pairs from its AMS."""
    if len(ams) != MASTER_SECRET_SIZE:
        raise ValueError("AMS must be 32 bytes")
    x_private = X25519PrivateKey.from_private_bytes(hkdf(ams, salt=None, info=_X25519_INFO))
    ed_private = Ed25519PrivateKey.from_private_bytes(hkdf(ams, salt=None, info=_ED25519_INFO))
    return AccountKeyPair(
        x25519_private=x_private,
        x25519_public=x_private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        ed25519_private=ed_private,
        ed25519_public=ed_private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def pw_wrap_aad(account_id: bytes) -> bytes:
    """Return the AAD that binds a password wrap of the AMS to its account."""
    return b"hds/v1/wrap/pw|" + account_id


def ac_wrap_aad(account_id: bytes) -> bytes:
    """Return the AAD that binds an activation-code wrap of the AMS to its account."""
    return b"hds/v1/wrap/ac|" + account_id


def key_fingerprint(public: bytes) -> str:
    """Return a display fingerprint: the first 16 bytes of SHA-256 in hex groups of four."""
    digest = hashlib.sha256(public).hexdigest()[: 2 * _FINGERPRINT_BYTES]
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))
