"""Key derivation: Argon2id for human secrets, HKDF-SHA256 for the rest (docs/security.md,
Primitives)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

PRK_SIZE = 32
PEPPER_MIN_SIZE = 32
# Argon2 itself accepts 8-byte salts; every HDS salt is 16 or 32 random bytes.
ARGON2_SALT_MIN_SIZE = 8
# Upper bounds keep a tampered parameter row from turning one login into a memory/CPU bomb.
_MAX_MEMORY_KIB = 4 * 1024 * 1024
_MAX_ITERATIONS = 64
_MAX_LANES = 64
_ZERO_SALT = bytes(32)


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters, stored next to every record derived with them."""

    memory_kib: int
    iterations: int
    lanes: int

    def __post_init__(self) -> None:
        """Reject parameters Argon2 refuses or that no HDS record would ever use."""
        for value in (self.memory_kib, self.iterations, self.lanes):
            if type(value) is not int:
                raise TypeError("Argon2 parameters must be int")
        if not 1 <= self.lanes <= _MAX_LANES:
            raise ValueError("Argon2 lanes out of range")
        if not 1 <= self.iterations <= _MAX_ITERATIONS:
            raise ValueError("Argon2 iterations out of range")
        if not 8 * self.lanes <= self.memory_kib <= _MAX_MEMORY_KIB:
            raise ValueError("Argon2 memory out of range")

    def to_dict(self) -> dict[str, int]:
        """Return the parameters as a JSON-ready dict."""
        return {
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "lanes": self.lanes,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, int]) -> "Argon2Params":
        """Build parameters from a dict written by ``to_dict``; unknown or missing keys fail."""
        if set(d) != {"memory_kib", "iterations", "lanes"}:
            raise ValueError("Argon2 parameter keys do not match")
        return cls(memory_kib=d["memory_kib"], iterations=d["iterations"], lanes=d["lanes"])


# RFC 9106 §4 second recommended option; used for passwords and activation codes.
PASSWORD_PARAMS = Argon2Params(memory_kib=65536, iterations=3, lanes=4)
# OWASP minimum; used for access codes and share passwords (60 bits, checked on every attempt).
CODE_PARAMS = Argon2Params(memory_kib=19456, iterations=2, lanes=1)


def stretch(secret: bytes, salt: bytes, params: Argon2Params, pepper: bytes | None) -> bytes:
    """Return the 32-byte PRK = HKDF-Extract(pepper or zeros, Argon2id(secret, salt, params))."""
    if len(salt) < ARGON2_SALT_MIN_SIZE:
        raise ValueError("salt too short")
    # An empty pepper would silently equal "no pepper" (HMAC pads keys with zeros): refuse it.
    if pepper is not None and len(pepper) < PEPPER_MIN_SIZE:
        raise ValueError("pepper too short")
    stretched = Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(secret)
    return HKDF.extract(hashes.SHA256(), pepper if pepper is not None else _ZERO_SALT, stretched)


def hkdf(ikm: bytes, *, salt: bytes | None, info: bytes, length: int = 32) -> bytes:
    """Return HKDF-SHA256(ikm, salt, info) of ``length`` bytes (RFC 5869 extract and expand)."""
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def hkdf_expand(prk: bytes, info: bytes, length: int = 32) -> bytes:
    """Return HKDF-Expand-SHA256(prk, info) of ``length`` bytes."""
    if len(prk) < PRK_SIZE:
        raise ValueError("PRK too short")
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def random_bytes(n: int) -> bytes:
    """Return ``n`` bytes from the operating system CSPRNG."""
    if n < 0:
        raise ValueError("n must not be negative")
    return os.urandom(n)
