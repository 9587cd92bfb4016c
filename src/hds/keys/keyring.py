"""The session keyring: the unlocked secrets of one session, sealed with a split key.

``K_cookie`` (32 random bytes) lives only in the HttpOnly ``__Host-hds_k`` cookie; the session row
holds the keyring sealed under ``HKDF(K_cookie, salt=epoch secret, info=SHA-256(session id))``
(docs/security.md, Session keys). The row alone, the cookie alone, or both after the epoch secret
has gone,
open nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hds.crypto.errors import InvalidCiphertext
from hds.crypto.kdf import random_bytes
from hds.crypto.session import derive_session_key, open_keyring, seal_keyring
from hds.keys.epochs import current_epoch, epoch_secret
from hds.keys.sessions import SessionStore

SESSION_FIELD = "_hds_kr"
ATTR_NEW_COOKIE = "_hds_new_k_cookie"
ATTR_CACHE = "_hds_keyring_cache"


class KeyringLocked(Exception):
    """The session holds no usable keyring (missing cookie, expired epoch, tampered data)."""


@dataclass
class Keyring:
    """Secrets unlocked in this session, by name (``ams``: the account master secret)."""

    items: dict[str, bytes] = field(default_factory=dict)

    def get(self, name: str) -> bytes | None:
        """Return one secret, or None."""
        return self.items.get(name)

    def require(self, name: str) -> bytes:
        """Return one secret or raise ``KeyringLocked``."""
        value = self.items.get(name)
        if value is None:
            raise KeyringLocked(name)
        return value


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(request: HttpRequest) -> bytes:
    account = str(request.session.get("_auth_user_id", "anonymous"))
    store = request.session
    assert isinstance(store, SessionStore)
    return f"hds/v1/keyring|{account}|{store.hashed_key}".encode()


def _cookie_key(request: HttpRequest) -> bytes | None:
    fresh = getattr(request, ATTR_NEW_COOKIE, None)
    if isinstance(fresh, bytes):
        return fresh
    raw = request.COOKIES.get(settings.KEYRING_COOKIE_NAME)
    if not raw:
        return None
    try:
        key = _b64d(raw)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


def _session_key(request: HttpRequest, k_cookie: bytes, epoch: int, *, create: bool) -> bytes:
    secret = epoch_secret(epoch, create=create)
    if secret is None:
        raise KeyringLocked("epoch")
    store = request.session
    assert isinstance(store, SessionStore)
    return derive_session_key(k_cookie, secret, bytes.fromhex(store.hashed_key))


def store_keyring(request: HttpRequest, keyring: Keyring, *, new_cookie_key: bool = False) -> None:
    """Seal ``keyring`` into the session; ``new_cookie_key`` starts a fresh ``K_cookie``."""
    k_cookie = None if new_cookie_key else _cookie_key(request)
    if k_cookie is None:
        k_cookie = random_bytes(32)
        setattr(request, ATTR_NEW_COOKIE, k_cookie)
    epoch = current_epoch()
    payload = json.dumps({name: _b64e(value) for name, value in keyring.items.items()}).encode()
    k_sess = _session_key(request, k_cookie, epoch, create=True)
    sealed = seal_keyring(k_sess, payload, _aad(request))
    request.session[SESSION_FIELD] = {"e": epoch, "ct": _b64e(sealed)}
    setattr(request, ATTR_CACHE, keyring)


def load_keyring(request: HttpRequest) -> Keyring:
    """Open this session's keyring or raise ``KeyringLocked``."""
    cached = getattr(request, ATTR_CACHE, None)
    if isinstance(cached, Keyring):
        return cached
    stored = request.session.get(SESSION_FIELD)
    k_cookie = _cookie_key(request)
    if not isinstance(stored, dict) or k_cookie is None:
        raise KeyringLocked("missing")
    try:
        epoch = int(stored["e"])
        sealed = _b64d(str(stored["ct"]))
        k_sess = _session_key(request, k_cookie, epoch, create=False)
        payload = json.loads(open_keyring(k_sess, sealed, _aad(request)))
        keyring = Keyring({name: _b64d(value) for name, value in payload.items()})
    except (KeyError, ValueError, TypeError, binascii.Error, InvalidCiphertext):
        raise KeyringLocked("unreadable") from None
    if epoch != current_epoch():
        store_keyring(request, keyring)  # re-seal under today's epoch secret
    setattr(request, ATTR_CACHE, keyring)
    return keyring


def try_keyring(request: HttpRequest) -> Keyring | None:
    """Return the keyring, or None when the session is locked."""
    try:
        return load_keyring(request)
    except KeyringLocked:
        return None


def update_keyring(request: HttpRequest, **changes: bytes | None) -> Keyring:
    """Add, replace (bytes) or remove (None) named secrets and re-seal."""
    keyring = try_keyring(request) or Keyring()
    for name, value in changes.items():
        if value is None:
            keyring.items.pop(name, None)
        else:
            keyring.items[name] = value
    store_keyring(request, keyring)
    return keyring


def clear_keyring(request: HttpRequest) -> None:
    """Forget the keyring of this session."""
    request.session.pop(SESSION_FIELD, None)
    setattr(request, ATTR_CACHE, Keyring())


def apply_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Set or delete the ``K_cookie`` on the response as the request left things."""
    name = settings.KEYRING_COOKIE_NAME
    fresh = getattr(request, ATTR_NEW_COOKIE, None)
    if isinstance(fresh, bytes) and SESSION_FIELD in request.session:
        response.set_cookie(
            name,
            _b64e(fresh),
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
            path="/",
        )
    elif name in request.COOKIES and SESSION_FIELD not in request.session:
        response.delete_cookie(name, path="/", samesite="Lax")
