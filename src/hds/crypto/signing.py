"""Ed25519 signatures and the canonical key-directory record they cover (docs/security.md, Key
directory)."""

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64
# Label plus NUL terminator, so no other signed structure can start with the same bytes.
_DIRECTORY_LABEL = b"hds/v1/directory\x00"
_LENGTH_PREFIX = 4
_UINT64_MAX = (1 << 64) - 1


def sign(private: Ed25519PrivateKey, message: bytes) -> bytes:
    """Return the 64-byte Ed25519 signature of ``message``."""
    return private.sign(message)


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Return True only if ``signature`` is ``public``'s valid Ed25519 signature of ``message``."""
    if len(public) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Return the Ed25519 private key for a 32-byte seed."""
    if len(seed) != SEED_SIZE:
        raise ValueError("seed must be 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(private: Ed25519PrivateKey) -> bytes:
    """Return the raw 32-byte public key of ``private``."""
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(_LENGTH_PREFIX, "big") + value


def directory_record(
    *,
    kind: str,
    principal_id: bytes,
    key_version: int,
    x25519_public: bytes,
    ed25519_public: bytes,
    created_at: int,
) -> bytes:
    """Return the canonical bytes the directory key signs for one principal's public keys.

    Layout: b"hds/v1/directory\\0", then six fields each as 4-byte big-endian length ‖ value:
    kind (ASCII), principal_id, key_version (uint64 BE), x25519_public, ed25519_public,
    created_at (Unix seconds, uint64 BE).
    """
    if not kind or not kind.isascii() or not kind.isprintable():
        raise ValueError("kind must be printable ASCII")
    if not principal_id:
        raise ValueError("principal_id must not be empty")
    if len(x25519_public) != PUBLIC_KEY_SIZE or len(ed25519_public) != PUBLIC_KEY_SIZE:
        raise ValueError("public keys must be 32 bytes")
    for number in (key_version, created_at):
        if type(number) is not int or not 0 <= number <= _UINT64_MAX:
            raise ValueError("key_version and created_at must be unsigned 64-bit ints")
    return _DIRECTORY_LABEL + b"".join(
        _field(value)
        for value in (
            kind.encode("ascii"),
            principal_id,
            key_version.to_bytes(8, "big"),
            x25519_public,
            ed25519_public,
            created_at.to_bytes(8, "big"),
        )
    )
