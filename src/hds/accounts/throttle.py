"""Throttling of password logins and activation-code attempts (SECURITY.md §3.13, rate limits).

Counters live in the default cache, keyed by an HMAC of the e-mail address (so unknown and known
addresses behave the same) and of the client IP (no plaintext IPs at rest). Numbers:

- login, per address: after 5 consecutive failures wait 1, 2, 4 ... 60 minutes; after 100 the
  account is locked until its holder follows the e-mailed unlock link (NIST SP 800-63B §5.2.2);
- login, per IP: 30 failures in 15 minutes block that IP for 15 minutes;
- activation code, per account: 5 failures in 24 hours lock code entry for 24 hours;
- Argon2id work: at most ``ARGON2_MAX_CONCURRENT`` derivations at once per process, else 429.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from hds.core.errors import RateLimited

LOGIN_FREE_FAILURES = 5
LOGIN_LOCK_FAILURES = 100
LOGIN_MAX_BACKOFF = 3600
IP_WINDOW = 15 * 60
IP_MAX_FAILURES = 30
AC_WINDOW = 24 * 3600
AC_MAX_FAILURES = 5
_COUNTER_TTL = 30 * 24 * 3600


def _digest(kind: str, value: str) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"{kind}|{value}".encode(), hashlib.sha256)
    return mac.hexdigest()[:24]


def client_ip(request: HttpRequest) -> str:
    """Return the client's IP, trusting X-Forwarded-For only from configured proxies."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if remote not in settings.HDS_TRUSTED_PROXIES:
        return remote
    forwarded = [h.strip() for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    for hop in reversed(forwarded):
        if hop and hop not in settings.HDS_TRUSTED_PROXIES:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote
    return remote


def ip_hash(request: HttpRequest) -> str:
    """A short keyed digest of the client IP, for counters and security events."""
    return _digest("ip", client_ip(request))[:16]


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


@dataclass
class LoginState:
    failures: int = 0
    blocked_until: float = 0.0


def _login_key(email: str) -> str:
    return f"hds:login:{_digest('email', email.strip().lower())}"


def _ip_key(request: HttpRequest) -> str:
    return f"hds:login-ip:{ip_hash(request)}"


def check_login_allowed(email: str, request: HttpRequest) -> None:
    """Raise ``RateLimited`` while this address or this IP must wait."""
    now = time.time()
    state = cache.get(_login_key(email))
    if isinstance(state, dict) and state.get("blocked_until", 0) > now:
        wait = state["blocked_until"] - now
        minutes = _minutes(wait)
        raise RateLimited(
            ngettext(
                "Too many failed attempts. Please wait %(minutes)d minute and try again.",
                "Too many failed attempts. Please wait %(minutes)d minutes and try again.",
                minutes,
            )
            % {"minutes": minutes},
            retry_after=math.ceil(wait),
        )
    ip_state = cache.get(_ip_key(request))
    if isinstance(ip_state, dict) and ip_state.get("blocked_until", 0) > now:
        wait = ip_state["blocked_until"] - now
        minutes = _minutes(wait)
        raise RateLimited(
            ngettext(
                "Too many failed logins from your network. Please wait %(minutes)d minute.",
                "Too many failed logins from your network. Please wait %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes},
            retry_after=math.ceil(wait),
        )


def record_login_failure(email: str, request: HttpRequest) -> int:
    """Count a failed login for address and IP; return the consecutive failures of the address."""
    now = time.time()
    key = _login_key(email)
    state = cache.get(key)
    failures = int(state.get("failures", 0)) + 1 if isinstance(state, dict) else 1
    blocked_until = 0.0
    if failures >= LOGIN_FREE_FAILURES:
        backoff = min(LOGIN_MAX_BACKOFF, 60 * 2 ** (failures - LOGIN_FREE_FAILURES))
        blocked_until = now + backoff
    cache.set(key, {"failures": failures, "blocked_until": blocked_until}, _COUNTER_TTL)

    ip_key = _ip_key(request)
    ip_state = cache.get(ip_key)
    hits = [t for t in (ip_state or {}).get("hits", []) if t > now - IP_WINDOW] + [now]
    ip_blocked = now + IP_WINDOW if len(hits) >= IP_MAX_FAILURES else 0.0
    cache.set(ip_key, {"hits": hits[-IP_MAX_FAILURES:], "blocked_until": ip_blocked}, IP_WINDOW)
    return failures


def record_login_success(email: str) -> None:
    """Reset the consecutive-failure count of an address."""
    cache.delete(_login_key(email))


def _ac_key(account_id: object) -> str:
    return f"hds:ac:{_digest('account', str(account_id))}"


def check_code_allowed(account_id: object) -> None:
    """Raise ``RateLimited`` while activation-code entry is locked for this account."""
    now = time.time()
    hits = [t for t in cache.get(_ac_key(account_id), []) if t > now - AC_WINDOW]
    if len(hits) >= AC_MAX_FAILURES:
        wait = hits[0] + AC_WINDOW - now
        hours = max(1, math.ceil(wait / 3600))
        raise RateLimited(
            ngettext(
                "The activation code was entered wrongly too often. For your safety, code entry "
                "is locked for %(hours)d hour.",
                "The activation code was entered wrongly too often. For your safety, code entry "
                "is locked for %(hours)d hours.",
                hours,
            )
            % {"hours": hours},
            retry_after=math.ceil(wait),
        )


def record_code_failure(account_id: object) -> int:
    """Count a wrong activation code; return the failures in the last 24 hours."""
    now = time.time()
    hits = [t for t in cache.get(_ac_key(account_id), []) if t > now - AC_WINDOW] + [now]
    cache.set(_ac_key(account_id), hits, AC_WINDOW)
    return len(hits)


_argon2_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


@contextmanager
def argon2_slot(wait_seconds: float | None = None) -> Iterator[None]:
    """Hold one of the process's Argon2id slots, or raise ``RateLimited`` (memory DoS guard)."""
    global _argon2_slots  # noqa: PLW0603 - one semaphore per process, made on first use
    with _slots_lock:
        if _argon2_slots is None:
            _argon2_slots = threading.BoundedSemaphore(settings.ARGON2_MAX_CONCURRENT)
        slots = _argon2_slots
    wait = settings.ARGON2_WAIT_SECONDS if wait_seconds is None else wait_seconds
    if not slots.acquire(timeout=wait):
        raise RateLimited(_("The server is busy. Please try again in a moment."), retry_after=5)
    try:
        yield
    finally:
        slots.release()
