"""Session epoch secrets: random, RAM-only, rotated daily, kept two days (docs/security.md, Session
keys).

They live in the "epochs" cache: process memory in the embedded default, a Redis with persistence
off when several web processes share sessions. Without the epoch secret a session's keyring cannot
be opened, so an old cookie plus an old database copy is useless after two days, and a database
copy alone always is.
"""

from __future__ import annotations

import time

from django.core.cache import caches

from hds.crypto.kdf import random_bytes

EPOCH_SECONDS = 24 * 3600
KEEP_SECONDS = 2 * EPOCH_SECONDS


def current_epoch() -> int:
    """Return the number of the current epoch."""
    return int(time.time()) // EPOCH_SECONDS


def epoch_secret(epoch: int, *, create: bool) -> bytes | None:
    """Return the secret of ``epoch``; make it when ``create`` and it does not exist yet."""
    if epoch < current_epoch() - 1:
        return None  # rotated out, whatever a cache still holds
    cache = caches["epochs"]
    key = f"hds:epoch:{epoch}"
    secret = cache.get(key)
    if secret is None and create:
        cache.add(key, random_bytes(32), timeout=KEEP_SECONDS)
        secret = cache.get(key)
    return secret if isinstance(secret, bytes) else None


def forget_all_epochs() -> None:
    """Drop every epoch secret (tests; an operator's "lock every session now")."""
    caches["epochs"].clear()
