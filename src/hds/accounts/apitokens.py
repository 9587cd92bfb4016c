"""Personal API tokens: create, check (unlocking the account's keys), list, revoke.

Token text: ``hds_`` + base64url(token id (16 bytes) ‖ secret (32 bytes)). The server stores
SHA-256(secret) and the AMS wrapped under HKDF(secret, "hds/v1/token/wrap"), bound to account and
token id. A database copy alone opens nothing; deleting the row revokes the token for good.

A token is a key to the whole account, so (docs/security.md, API tokens): it is made only after
the password was typed again, it expires (90 days by default, at most a year), its holder gets a
mail and a security event for each new one, and a password change, recovery, account reset or
deletion revokes every token of the account.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from hds.accounts.models import Account, ApiToken, AuthEvent
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.kdf import hkdf, random_bytes
from hds.crypto.wrap import unwrap_secret, wrap_secret

PREFIX = "hds_"


@dataclass(frozen=True)
class NewToken:
    """A created token and its text, shown once."""

    token: ApiToken
    text: str


def _aad(account_id: object, token_id: uuid.UUID) -> bytes:
    return f"hds/v1/token|{account_id}|{token_id}".encode()


def _kek(secret: bytes) -> bytes:
    return hkdf(secret, salt=None, info=b"hds/v1/token/wrap")


def valid_days(days: int) -> int:
    """``days`` if it is a lifetime a token may have; ``ValueError`` otherwise."""
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValueError(f"a token lives 1 to {settings.API_TOKEN_MAX_DAYS} days")
    return days


@transaction.atomic
def create_token(
    account: Account, ams: bytes, *, name: str, days: int | None = None, ip_hash: str = ""
) -> NewToken:
    """Make a token that unlocks ``account`` (whose AMS the caller has unlocked with the password
    just typed); record the event and mail the holder."""
    from hds.accounts.services import mail_after_commit  # services imports this module

    lifetime = valid_days(settings.API_TOKEN_DEFAULT_DAYS if days is None else days)
    token_id, secret = uuid.uuid4(), random_bytes(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        id=token_id,
        account=account,
        name=name[:100] or "token",
        secret_hash=hashlib.sha256(secret).digest(),
        wrapped_ams=wrap_secret(_kek(secret), ams, _aad(account.pk, token_id)),
        created_at=now,
        expires_at=now + datetime.timedelta(days=lifetime),
    )
    AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.TOKEN_CREATED, ip_hash=ip_hash)
    mail_after_commit("token_created", account, name=token.name, expires_at=token.expires_at.date())
    text = PREFIX + base64.urlsafe_b64encode(token_id.bytes + secret).decode().rstrip("=")
    return NewToken(token=token, text=text)


def _parse(text: str) -> tuple[uuid.UUID, bytes] | None:
    if not text.startswith(PREFIX):
        return None
    body = text[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 48:
        return None
    return uuid.UUID(bytes=raw[:16]), raw[16:]


def check_token(text: str) -> tuple[Account, bytes] | None:
    """The account and its AMS for a valid token; None otherwise (same for every failure)."""
    parsed = _parse(text.strip())
    if parsed is None:
        return None
    token_id, secret = parsed
    token = ApiToken.objects.select_related("account").filter(pk=token_id).first()
    if token is None or not hmac.compare_digest(
        hashlib.sha256(secret).digest(), bytes(token.secret_hash)
    ):
        return None
    if token.is_expired:
        return None
    account = token.account
    if not account.is_activated or account.locked_at is not None:
        return None
    try:
        ams = unwrap_secret(_kek(secret), bytes(token.wrapped_ams), _aad(account.pk, token_id))
    except InvalidCiphertext:
        return None
    if token.last_used_at is None or (timezone.now() - token.last_used_at).total_seconds() > 300:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return account, ams


_CHECKED = "_hds_bearer_credentials"


def bearer_credentials(request: HttpRequest) -> tuple[Account, bytes] | None:
    """The account and AMS of an ``Authorization: Bearer hds_...`` request, if valid.

    Checked once per request: the upload intake and the view's authentication both ask.
    """
    if hasattr(request, _CHECKED):
        return getattr(request, _CHECKED)  # type: ignore[no-any-return]
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    credentials = check_token(value) if scheme.lower() == "bearer" and value else None
    setattr(request, _CHECKED, credentials)
    return credentials


@transaction.atomic
def revoke_token(account: Account, token_id: uuid.UUID | str) -> bool:
    """Delete one of the account's tokens; whether it existed."""
    deleted, _ = ApiToken.objects.filter(account=account, pk=token_id).delete()
    if deleted:
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.TOKEN_REVOKED)
    return deleted > 0


def revoke_all(account: Account) -> int:
    """Delete every token of the account (password change, recovery, reset); how many."""
    deleted, _ = ApiToken.objects.filter(account=account).delete()
    if deleted:
        AuthEvent.objects.create(account=account, kind=AuthEvent.Kind.TOKENS_REVOKED)
    return deleted


def purge_expired() -> int:
    """Delete tokens past their expiry (they are refused already); how many."""
    deleted, _ = ApiToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
