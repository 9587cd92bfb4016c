"""Personal API tokens: create, check (unlocking the account's keys), list, revoke.

Token text: ``hds_`` + base64url(token id (16 bytes) ‖ secret (32 bytes)). The server stores
SHA-256(secret) and the AMS wrapped under HKDF(secret, "hds/v1/token/wrap"), bound to account and
token id. A database copy alone opens nothing; deleting the row revokes the token for good.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from hds.accounts.models import Account, ApiToken
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


@transaction.atomic
def create_token(account: Account, ams: bytes, *, name: str) -> NewToken:
    """Make a token that unlocks ``account`` (whose AMS the caller has unlocked)."""
    token_id, secret = uuid.uuid4(), random_bytes(32)
    token = ApiToken.objects.create(
        id=token_id,
        account=account,
        name=name[:100] or "token",
        secret_hash=hashlib.sha256(secret).digest(),
        wrapped_ams=wrap_secret(_kek(secret), ams, _aad(account.pk, token_id)),
    )
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


def bearer_credentials(request: HttpRequest) -> tuple[Account, bytes] | None:
    """The account and AMS of an ``Authorization: Bearer hds_...`` request, if valid."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return None
    return check_token(value)


def revoke_token(account: Account, token_id: uuid.UUID | str) -> bool:
    """Delete one of the account's tokens; whether it existed."""
    deleted, _ = ApiToken.objects.filter(account=account, pk=token_id).delete()
    return deleted > 0
