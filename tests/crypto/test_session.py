"""Session keyring: K_sess needs cookie key, epoch secret and session id (docs/security.md, Session
keys)."""

import hashlib

import pytest

from hds.crypto.errors import InvalidCiphertext
from hds.crypto.session import derive_session_key, open_keyring, seal_keyring

COOKIE = bytes([1]) * 32
EPOCH = bytes([2]) * 32
SESSION_HASH = hashlib.sha256(b"session-id").digest()
AAD = b"user-7|" + SESSION_HASH
KAT_SESSION_KEY = "a06251b8bda11f878fbb0305b354684a40fdf7b13ada84ebe111142a10cbff2c"


def test_session_key_known_answer() -> None:
    assert derive_session_key(COOKIE, EPOCH, SESSION_HASH).hex() == KAT_SESSION_KEY


def test_keyring_round_trip() -> None:
    k_sess = derive_session_key(COOKIE, EPOCH, SESSION_HASH)
    sealed = seal_keyring(k_sess, b'{"ams": "..."}', AAD)
    again = derive_session_key(COOKIE, EPOCH, SESSION_HASH)
    assert open_keyring(again, sealed, AAD) == b'{"ams": "..."}'


@pytest.mark.parametrize(
    ("cookie", "epoch", "session_hash", "aad"),
    [
        (bytes([9]) * 32, EPOCH, SESSION_HASH, AAD),  # stolen row, other cookie
        (COOKIE, bytes([3]) * 32, SESSION_HASH, AAD),  # epoch secret rotated out
        (COOKIE, EPOCH, hashlib.sha256(b"other").digest(), AAD),  # row moved to another session
        (COOKIE, EPOCH, SESSION_HASH, b"user-8|" + SESSION_HASH),  # other user
    ],
)
def test_keyring_fails_without_every_part(
    cookie: bytes, epoch: bytes, session_hash: bytes, aad: bytes
) -> None:
    sealed = seal_keyring(derive_session_key(COOKIE, EPOCH, SESSION_HASH), b"keyring", AAD)
    with pytest.raises(InvalidCiphertext):
        open_keyring(derive_session_key(cookie, epoch, session_hash), sealed, aad)


def test_session_key_input_sizes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        derive_session_key(b"", EPOCH, SESSION_HASH)
    with pytest.raises(ValueError, match="32 bytes"):
        derive_session_key(COOKIE, b"", SESSION_HASH)
    with pytest.raises(ValueError, match="SHA-256"):
        derive_session_key(COOKIE, EPOCH, b"raw-session-id")
