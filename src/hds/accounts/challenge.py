"""Proof of work for logins while the global failure budget is spent (docs/security.md,
Throttling).

A hashcash-style challenge: the server signs ``{random, bits}`` with its secret key (Django's
signing, salted for this use); the login page's script finds a nonce such that
SHA-256(challenge ":" nonce) starts with ``bits`` zero bits and posts it with the password. The
server checks signature, age, the hash and that the challenge was not used before (a counter row),
all before any Argon2id work. Nothing of a third party is involved, and nobody is locked out: a
person's browser pays a few seconds, a guessing botnet pays for every guess.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core import signing

from hds.core import counters

_SALT = "hds.accounts.challenge"
MAX_AGE_SECONDS = 10 * 60


def issue() -> str:
    """A new signed challenge with the configured difficulty."""
    return signing.dumps({"r": secrets.token_hex(12), "b": settings.LOGIN_POW_BITS}, salt=_SALT)


def bits_of(challenge: str) -> int:
    """The difficulty a (validly signed) challenge asks for; 0 for anything else."""
    try:
        data = signing.loads(challenge, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return 0
    return int(data.get("b", 0)) if isinstance(data, dict) else 0


def _zero_bits(digest: bytes) -> int:
    count = 0
    for byte in digest:
        if byte == 0:
            count += 8
            continue
        return count + 8 - byte.bit_length()
    return count


def _digest(challenge: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()


def verify(challenge: str, nonce: str) -> bool:
    """Whether ``nonce`` solves ``challenge``, which is signed, fresh and not used before.

    A solved challenge is spent here: the same solution does not count twice.
    """
    if not challenge or not nonce or len(nonce) > 20 or len(challenge) > 300:
        return False
    bits = bits_of(challenge)
    if bits <= 0 or _zero_bits(_digest(challenge, nonce)) < bits:
        return False
    key = "hds:pow:" + hashlib.sha256(challenge.encode()).hexdigest()[:32]
    state = counters.update(
        key, lambda s: {"uses": int(s.get("uses", 0)) + 1}, ttl_seconds=MAX_AGE_SECONDS
    )
    return int(state["uses"]) == 1


def solve(challenge: str, limit: int = 1 << 28) -> str:
    """Find a solution (tests, and what the page's script does in the browser)."""
    bits = bits_of(challenge)
    for n in range(limit):
        if _zero_bits(_digest(challenge, str(n))) >= bits:
            return str(n)
    raise ValueError("no solution found within the limit")
