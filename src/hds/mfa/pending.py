"""A login between its password step and its second factor (docs/security.md, Multi-factor
authentication).

The unwrapped AMS waits in the anonymous session's keyring (sealed under the key cookie and the
epoch secret, never in the database as plaintext); the session only names the account. The state
expires after 5 minutes and after 5 wrong second factors; an account accepts 20 wrong second
factors an hour and is locked after 100 in a row.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import ngettext

from hds.accounts.models import Account
from hds.core.errors import RateLimited
from hds.keys.keyring import try_keyring, update_keyring

PENDING = "_hds_mfa_pending"
PENDING_AMS = "mfa_pending_ams"
PENDING_SECONDS = 5 * 60
MAX_FAILURES = 5
# Across pending logins (each one needs the password): 20 wrong second factors per hour.
ACCOUNT_WINDOW = 3600
ACCOUNT_MAX_FAILURES = 20
# Consecutive wrong second factors (reset by a right one) that lock the account like 100 failed
# passwords do: unlocked only through the mailed link (NIST SP 800-63B §5.2.2).
LOCK_FAILURES = 100
_STREAK_TTL = 30 * 24 * 3600


@dataclass(frozen=True)
class Pending:
    """A login waiting for its second factor."""

    account: Account
    next_url: str
    failures: int


def begin(request: HttpRequest, account: Account, ams: bytes, next_url: str) -> None:
    """Hold the password step's result until the second factor is checked."""
    update_keyring(request, **{PENDING_AMS: ams})
    request.session[PENDING] = {
        "account": str(account.pk),
        "at": int(time.time()),
        "failures": 0,
        "next": next_url,
    }


def exists(request: HttpRequest) -> bool:
    """Whether the session holds a pending login (expired or not)."""
    return PENDING in request.session


def load(request: HttpRequest) -> Pending | None:
    """The pending login, or None (none, expired, or its account gone); expired state is cleared."""
    state = request.session.get(PENDING)
    if not isinstance(state, dict):
        return None
    if time.time() - int(state.get("at", 0)) > PENDING_SECONDS:
        clear(request)
        return None
    try:
        account = Account.objects.filter(pk=UUID(str(state.get("account")))).first()
    except ValueError:
        account = None
    if account is None or account.locked_at is not None:
        clear(request)
        return None
    return Pending(account, str(state.get("next", "")), int(state.get("failures", 0)))


def record_failure(request: HttpRequest, account: Account) -> int:
    """Count a wrong second factor for this pending login and the account; return the former."""
    state = dict(request.session.get(PENDING, {}))
    state["failures"] = int(state.get("failures", 0)) + 1
    request.session[PENDING] = state
    record_account_failure(account)
    return int(state["failures"])


def record_account_failure(account: Account) -> None:
    """Count a wrong second factor against the account (logins and step-up checks alike)."""
    now = time.time()
    key = _account_key(account)
    hits = [t for t in cache.get(key, []) if t > now - ACCOUNT_WINDOW] + [now]
    cache.set(key, hits, ACCOUNT_WINDOW)
    streak_key = _account_key(account, "streak")
    streak = int(cache.get(streak_key, 0)) + 1
    cache.set(streak_key, streak, _STREAK_TTL)
    if streak >= LOCK_FAILURES and account.locked_at is None:
        from hds.accounts.services import lock_account

        lock_account(account)


def record_account_success(account: Account) -> None:
    """A right second factor ends the streak of wrong ones."""
    cache.delete(_account_key(account, "streak"))


def check_allowed(account: Account) -> None:
    """Raise ``RateLimited`` after too many wrong second factors for the account this hour."""
    now = time.time()
    hits = [t for t in cache.get(_account_key(account), []) if t > now - ACCOUNT_WINDOW]
    if len(hits) >= ACCOUNT_MAX_FAILURES:
        wait = hits[0] + ACCOUNT_WINDOW - now
        minutes = max(1, math.ceil(wait / 60))
        raise RateLimited(
            ngettext(
                "Too many wrong codes. Please wait %(minutes)d minute and try again.",
                "Too many wrong codes. Please wait %(minutes)d minutes and try again.",
                minutes,
            )
            % {"minutes": minutes},
            retry_after=math.ceil(wait),
        )


def _account_key(account: Account, kind: str = "fail") -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"mfa|{account.pk}".encode(), hashlib.sha256)
    return f"hds:mfa-{kind}:{mac.hexdigest()[:24]}"


def take_ams(request: HttpRequest) -> bytes | None:
    """Return the waiting AMS and forget the pending login."""
    keyring = try_keyring(request)
    ams = keyring.get(PENDING_AMS) if keyring else None
    clear(request)
    return ams


def clear(request: HttpRequest) -> None:
    """Forget the pending login and its AMS."""
    request.session.pop(PENDING, None)
    keyring = try_keyring(request)
    if keyring is not None and keyring.get(PENDING_AMS) is not None:
        update_keyring(request, **{PENDING_AMS: None})
