"""Session keyring encryption: K_sess from cookie key and epoch secret (docs/security.md, Session
keys)."""

from hds.crypto.kdf import hkdf
from hds.crypto.wrap import unwrap_secret, wrap_secret

COOKIE_KEY_SIZE = 32
EPOCH_SECRET_SIZE = 32
SESSION_HASH_SIZE = 32


def derive_session_key(k_cookie: bytes, epoch_secret: bytes, session_hash: bytes) -> bytes:
    """Return K_sess = HKDF(ikm=K_cookie, salt=epoch secret, info="hds/v1/session|" ‖ hash)."""
    if len(k_cookie) != COOKIE_KEY_SIZE or len(epoch_secret) != EPOCH_SECRET_SIZE:
        raise ValueError("cookie key and epoch secret must be 32 bytes")
    if len(session_hash) != SESSION_HASH_SIZE:
        raise ValueError("session hash must be a 32-byte SHA-256 digest")
    return hkdf(k_cookie, salt=epoch_secret, info=b"hds/v1/session|" + session_hash)


def seal_keyring(k_sess: bytes, payload: bytes, aad: bytes) -> bytes:
    """Return the keyring payload encrypted under K_sess and bound to ``aad``."""
    return wrap_secret(k_sess, payload, aad)


def open_keyring(k_sess: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Return the keyring payload or raise ``InvalidCiphertext``."""
    return unwrap_secret(k_sess, sealed, aad)
