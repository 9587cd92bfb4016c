"""Signed, expiring, single-purpose tokens for the links we e-mail.

A token names the account and a digest of the account state it was made for (for example the
password wrap), so it stops working once used: recovering the password changes the wrap, and
with it the digest. Tokens travel in the URL fragment (``#t=...``), never in a path or query,
so they reach neither access logs nor ``Referer`` headers (docs/security.md, Study keys and grants).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError

from hds.accounts.models import Account


class Purpose(StrEnum):
    ACTIVATE = "activate"
    RECOVER = "recover"
    RESET = "reset"
    UNLOCK = "unlock"


def _max_age(purpose: Purpose) -> int:
    if purpose is Purpose.ACTIVATE:
        return settings.ACTIVATION_LINK_DAYS * 86400
    if purpose is Purpose.UNLOCK:
        return 7 * 86400
    return int(settings.RECOVERY_LINK_SECONDS)


def _state(account: Account, purpose: Purpose) -> str:
    parts: list[bytes] = [purpose.value.encode(), bytes(account.ac_salt), bytes(account.pw_salt)]
    if purpose is Purpose.ACTIVATE:
        parts.append(str(account.activated_at).encode())
    if purpose is Purpose.UNLOCK:
        parts.append(str(account.locked_at).encode())
    return hashlib.sha256(b"|".join(parts)).hexdigest()[:32]


def make_token(account: Account, purpose: Purpose) -> str:
    """Return a token for ``purpose`` on ``account``."""
    return signing.dumps(
        {"a": str(account.pk), "s": _state(account, purpose)},
        salt=f"hds.accounts.{purpose.value}",
        compress=False,
    )


def check_token(token: str, purpose: Purpose) -> Account | None:
    """Return the account a valid, unexpired, unused token names, else None."""
    try:
        data = signing.loads(token, salt=f"hds.accounts.{purpose.value}", max_age=_max_age(purpose))
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    try:
        account = Account.objects.get(pk=str(data.get("a")))
    except (Account.DoesNotExist, ValueError, ValidationError):
        return None
    if data.get("s") != _state(account, purpose):
        return None
    return account
