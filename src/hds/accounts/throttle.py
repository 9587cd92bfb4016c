"""Throttling of logins, code entry and everything that costs Argon2id work or sends a mail
(docs/security.md, Throttling).

Counters are database rows (``hds.core.counters``), never an evicting cache: filling a bounded
cache with junk keys cannot push a victim's backoff out, and a restart keeps them. Keys are keyed
digests of the e-mail address, account id or client IP (no plaintext addresses or IPs at rest), so
unknown and known addresses count the same. A counter that cannot be read or written refuses the
request (fail closed). Numbers:

- login, per address: after 5 consecutive failures wait 1, 2, 4 ... 60 minutes; after 100 the
  account is locked until its holder follows the e-mailed unlock link (NIST SP 800-63B §5.2.2);
- login, per IP: 30 failures in 15 minutes block that IP for 15 minutes;
- login, everyone: more than ``LOGIN_GLOBAL_BUDGET`` failures in 5 minutes switch every login to
  proof of work (``hds.accounts.challenge``) until the rate falls again; never a global stop;
- activation code: 5 failures in 24 hours per account lock code entry for 24 hours; 10 failures
  per hour per IP block that IP for the rest of the hour;
- mails without a login (registration, forgot password, account reset, resend activation): 3 per
  hour per address, 10 per hour per IP; registration also 10 per hour per IP;
- unlock links: 10 tries per hour per IP;
- Argon2id work: at most ``ARGON2_MAX_CONCURRENT`` derivations at once per process, else 429.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from hds.core import counters
from hds.core.errors import RateLimited

logger = logging.getLogger(__name__)

LOGIN_FREE_FAILURES = 5
LOGIN_LOCK_FAILURES = 100
LOGIN_MAX_BACKOFF = 3600
IP_WINDOW = 15 * 60
IP_MAX_FAILURES = 30
AC_WINDOW = 24 * 3600
AC_MAX_FAILURES = 5
GLOBAL_WINDOW = 5 * 60
GLOBAL_BUCKET = 30
_COUNTER_TTL = 30 * 24 * 3600
_GLOBAL_KEY = "hds:login-global"


@dataclass(frozen=True)
class Limit:
    """At most ``count`` events per ``window`` seconds for one subject in ``scope``."""

    scope: str
    count: int
    window: int


# Anything that mails or costs Argon2id work without a login (issue: unauthenticated cost).
MAIL_PER_ADDRESS = Limit("mail-address", 3, 3600)
MAIL_PER_IP = Limit("mail-ip", 10, 3600)
REGISTER_PER_IP = Limit("register-ip", 10, 3600)
UNLOCK_PER_IP = Limit("unlock-ip", 10, 3600)
CODE_FAILURES_PER_IP = Limit("ac-ip", 10, 3600)


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


@contextmanager
def _fail_closed() -> Iterator[None]:
    """A counter the database cannot give refuses the request instead of letting it pass."""
    try:
        yield
    except DatabaseError as exc:
        logger.error("security counter unavailable: %s", type(exc).__name__)
        raise RateLimited(
            _("The server cannot check this request right now. Please try again in a minute."),
            retry_after=60,
        ) from None


def _wait_message(seconds: float) -> str:
    minutes = _minutes(seconds)
    return ngettext(
        "Too many attempts. Please wait %(minutes)d minute and try again.",
        "Too many attempts. Please wait %(minutes)d minutes and try again.",
        minutes,
    ) % {"minutes": minutes}


def _limit_key(limit: Limit, subject: str) -> str:
    return f"hds:{limit.scope}:{_digest(limit.scope, subject)}"


def _refuse_if_full(limit: Limit, key: str, now: float) -> None:
    recent = counters.hits(key, limit.window, now)
    if len(recent) >= limit.count:
        wait = recent[-limit.count] + limit.window - now
        raise RateLimited(_wait_message(wait), retry_after=max(1, math.ceil(wait)))


def check(limit: Limit, subject: str) -> None:
    """Raise ``RateLimited`` while ``subject`` has used up ``limit``."""
    with _fail_closed():
        _refuse_if_full(limit, _limit_key(limit, subject), time.time())


def hit(limit: Limit, subject: str) -> None:
    """Count one event of ``subject`` against ``limit`` (e.g. a failure)."""
    with _fail_closed():
        counters.add_hit(_limit_key(limit, subject), limit.window, keep=limit.count)


def take(limit: Limit, subject: str) -> None:
    """Check and count in one step: raise ``RateLimited`` when the limit is used up."""
    check(limit, subject)
    hit(limit, subject)


def take_mail(email: str, request: HttpRequest) -> None:
    """One mail-sending request without a login: per address and per IP."""
    take(MAIL_PER_IP, client_ip(request))
    take(MAIL_PER_ADDRESS, email.strip().lower())


def _login_key(email: str) -> str:
    return f"hds:login:{_digest('email', email.strip().lower())}"


def _ip_key(request: HttpRequest) -> str:
    return f"hds:login-ip:{ip_hash(request)}"


def check_login_allowed(email: str, request: HttpRequest) -> None:
    """Raise ``RateLimited`` while this address or this IP must wait."""
    now = time.time()
    with _fail_closed():
        state = counters.read(_login_key(email))
        ip_state = counters.read(_ip_key(request))
    if state.get("blocked_until", 0) > now:
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
    if ip_state.get("blocked_until", 0) > now:
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
    """Count a failed login for address, IP and everyone; return the address's consecutive
    failures."""
    now = time.time()

    def address(state: counters.State) -> counters.State:
        failures = int(state.get("failures", 0)) + 1
        blocked_until = 0.0
        if failures >= LOGIN_FREE_FAILURES:
            backoff = min(LOGIN_MAX_BACKOFF, 60 * 2 ** min(failures - LOGIN_FREE_FAILURES, 20))
            blocked_until = now + backoff
        return {"failures": failures, "blocked_until": blocked_until}

    def network(state: counters.State) -> counters.State:
        recent = [t for t in state.get("hits", []) if t > now - IP_WINDOW] + [now]
        blocked = now + IP_WINDOW if len(recent) >= IP_MAX_FAILURES else 0.0
        return {"hits": recent[-IP_MAX_FAILURES:], "blocked_until": blocked}

    with _fail_closed():
        failures = int(
            counters.update(_login_key(email), address, ttl_seconds=_COUNTER_TTL)["failures"]
        )
        ip_state = counters.update(_ip_key(request), network, ttl_seconds=IP_WINDOW)
        total = counters.add_to_bucket(_GLOBAL_KEY, size=GLOBAL_BUCKET, span=GLOBAL_WINDOW, now=now)
    if ip_state["blocked_until"] and len(ip_state["hits"]) == IP_MAX_FAILURES:
        logger.warning("login: an IP reached %s failures in 15 minutes", IP_MAX_FAILURES)
    if total == settings.LOGIN_GLOBAL_BUDGET + 1:
        logger.warning(
            "login: more than %s failures in 5 minutes; proof of work is on for every login",
            settings.LOGIN_GLOBAL_BUDGET,
        )
    return failures


def record_login_success(email: str) -> None:
    """Reset the consecutive-failure count of an address."""
    with _fail_closed():
        counters.delete(_login_key(email))


def login_needs_proof_of_work() -> bool:
    """Whether the global failure budget is spent: every login must bring a solved challenge."""
    with _fail_closed():
        total = counters.bucket_total(_GLOBAL_KEY, size=GLOBAL_BUCKET, span=GLOBAL_WINDOW)
    return total > settings.LOGIN_GLOBAL_BUDGET


def _ac_key(account_id: object) -> str:
    return f"hds:ac:{_digest('account', str(account_id))}"


def check_code_allowed(account_id: object, ip: str | None = None) -> None:
    """Raise ``RateLimited`` while activation-code entry is locked for this account or IP."""
    if ip is not None:
        check(CODE_FAILURES_PER_IP, ip)
    now = time.time()
    with _fail_closed():
        recent = counters.hits(_ac_key(account_id), AC_WINDOW, now)
    if len(recent) >= AC_MAX_FAILURES:
        wait = recent[-AC_MAX_FAILURES] + AC_WINDOW - now
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


def record_code_failure(account_id: object, ip: str | None = None) -> int:
    """Count a wrong activation code; return the account's failures in the last 24 hours."""
    if ip is not None:
        hit(CODE_FAILURES_PER_IP, ip)
    with _fail_closed():
        return len(counters.add_hit(_ac_key(account_id), AC_WINDOW, keep=AC_MAX_FAILURES * 2))


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
