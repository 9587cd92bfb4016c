"""Server-side keys for second factors: derived from the pepper, never in the database.

The TOTP secret has to be checked at login before the account's keys are open, so it cannot be
sealed under the AMS. It is sealed (AES-256-GCM, AAD bound to the account) under
``HKDF(pepper, info="hds/v1/mfa/totp")``; recovery codes are kept as
``HMAC-SHA256(HKDF(pepper, info="hds/v1/mfa/recovery"), account ‖ code)``. A database dump without
the pepper opens no TOTP secret and tests no recovery-code guess (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from hds.crypto.kdf import hkdf
from hds.crypto.wrap import unwrap_secret, wrap_secret


def current_version() -> int:
    """The pepper version new seals and hashes use."""
    return max(settings.HDS_PEPPERS)


def _key(purpose: str, version: int) -> bytes:
    pepper = settings.HDS_PEPPERS.get(version)
    if pepper is None:
        raise LookupError(f"pepper version {version} is not configured")
    return hkdf(pepper, salt=None, info=f"hds/v1/mfa/{purpose}".encode())


def _aad(account_id: object) -> bytes:
    return f"hds/v1/mfa-totp|{account_id}".encode()


def seal_totp_secret(account_id: object, secret: bytes) -> tuple[bytes, int]:
    """Return (sealed secret, key version)."""
    version = current_version()
    return wrap_secret(_key("totp", version), secret, _aad(account_id)), version


def open_totp_secret(account_id: object, sealed: bytes, version: int) -> bytes:
    """Return the TOTP secret or raise ``InvalidCiphertext`` / ``LookupError``."""
    return unwrap_secret(_key("totp", version), sealed, _aad(account_id))


def recovery_code_hash(account_id: object, code: str, version: int) -> bytes:
    """The stored form of a normalised recovery code."""
    message = f"{account_id}|{code}".encode()
    return hmac.new(_key("recovery", version), message, hashlib.sha256).digest()
