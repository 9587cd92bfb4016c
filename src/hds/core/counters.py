"""Security counters kept as database rows (docs/security.md, Throttling).

Throttles and failure budgets must survive restarts and must not be evictable: an attacker who can
fill a size-bounded cache with junk keys would push a victim's backoff out of it. So every counter
is a row of ``hds.core.models.Counter``, updated under a row lock so concurrent processes count
every hit. Errors are not swallowed here: the callers fail closed.

Two shapes:

- a sliding window of timestamps (``hits``/``add_hit``), for "N in the last T seconds";
- counts per time bucket (``bucket_total``/``add_to_bucket``), for large global budgets where a
  list of timestamps would grow with the attack.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from hds.core.models import Counter

State = dict[str, Any]


def _expiry(ttl_seconds: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=ttl_seconds)


def read(key: str) -> State:
    """The counter's state, or an empty one when it is missing or expired."""
    row = Counter.objects.filter(key=key, expires_at__gt=timezone.now()).first()
    return dict(row.data) if row is not None else {}


def update(key: str, change: Callable[[State], State], *, ttl_seconds: float) -> State:
    """Apply ``change`` to the counter's state under a row lock; return the new state."""
    with transaction.atomic():
        row = Counter.objects.select_for_update().filter(key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Counter.objects.create(key=key, data={}, expires_at=_expiry(ttl_seconds))
            except IntegrityError:  # another process made it first: lock theirs
                row = Counter.objects.select_for_update().get(key=key)
        current = dict(row.data) if row.expires_at > timezone.now() else {}
        row.data = change(current)
        row.expires_at = _expiry(ttl_seconds)
        row.save(update_fields=["data", "expires_at"])
        return dict(row.data)


def delete(key: str) -> None:
    """Forget a counter."""
    Counter.objects.filter(key=key).delete()


def hits(key: str, window: float, now: float | None = None) -> list[float]:
    """The timestamps recorded under ``key`` within the last ``window`` seconds."""
    now = time.time() if now is None else now
    return [t for t in read(key).get("hits", []) if t > now - window]


def add_hit(key: str, window: float, *, keep: int, now: float | None = None) -> list[float]:
    """Record one hit now; return the hits within the window (at most ``keep`` are kept)."""
    at = time.time() if now is None else now

    def change(state: State) -> State:
        recent = [t for t in state.get("hits", []) if t > at - window] + [at]
        return {**state, "hits": recent[-keep:]}

    return list(update(key, change, ttl_seconds=window)["hits"])


def _bucket(at: float, size: int) -> int:
    return int(at // size)


def bucket_total(key: str, *, size: int, span: int, now: float | None = None) -> int:
    """The sum of the buckets of ``size`` seconds that overlap the last ``span`` seconds."""
    at = time.time() if now is None else now
    first = _bucket(at - span, size) + 1
    return sum(int(n) for b, n in read(key).get("buckets", {}).items() if int(b) >= first)


def add_to_bucket(key: str, *, size: int, span: int, now: float | None = None) -> int:
    """Count one event now; return the total over the last ``span`` seconds."""
    at = time.time() if now is None else now
    first = _bucket(at - span, size) + 1

    def change(state: State) -> State:
        buckets = {b: n for b, n in state.get("buckets", {}).items() if int(b) >= first}
        current = str(_bucket(at, size))
        buckets[current] = int(buckets.get(current, 0)) + 1
        return {**state, "buckets": buckets}

    state = update(key, change, ttl_seconds=span + size)
    return sum(int(n) for n in state["buckets"].values())


def purge_expired() -> int:
    """Delete expired counters; return how many."""
    deleted, _ = Counter.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
