"""AES-256-GCM key wrapping with a version byte and a random nonce (docs/security.md, Keys and
wraps)."""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hds.crypto.errors import InvalidCiphertext
from hds.crypto.kdf import random_bytes

WRAP_VERSION = 0x01
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
# version ‖ nonce ‖ tag: the smallest wrap (of an empty secret).
WRAP_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE


def _check_key(kek: bytes) -> None:
    if len(kek) != KEY_SIZE:
        raise ValueError("key must be 32 bytes")


def wrap_secret(kek: bytes, secret: bytes, aad: bytes) -> bytes:
    """Return 0x01 ‖ nonce ‖ AES-256-GCM(kek, secret, aad) with a fresh 12-byte random nonce."""
    _check_key(kek)
    nonce = random_bytes(NONCE_SIZE)
    return bytes([WRAP_VERSION]) + nonce + AESGCM(kek).encrypt(nonce, secret, aad)


def unwrap_secret(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """Return the secret inside ``wrapped`` or raise ``InvalidCiphertext``."""
    _check_key(kek)
    if len(wrapped) < WRAP_OVERHEAD or wrapped[0] != WRAP_VERSION:
        raise InvalidCiphertext
    nonce = wrapped[1 : 1 + NONCE_SIZE]
    try:
        return AESGCM(kek).decrypt(nonce, wrapped[1 + NONCE_SIZE :], aad)
    except InvalidTag:
        raise InvalidCiphertext from None
