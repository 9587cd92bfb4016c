"""Server secrets: Django's secret key, the password pepper and the key-directory signing key.

In production they come from the environment (or ``NAME_FILE``). The embedded default generates
them once into ``<data dir>/secrets/`` (mode 0600), so a demo needs no set-up. The pepper and the
directory key never go into the database, so a database dump alone cannot test a password guess
(docs/security.md, Keys and wraps).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from hds.core.env import env_str


def _decode(name: str, text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} must be URL-safe base64.") from None
    if len(raw) < 32:
        raise ImproperlyConfigured(f"{name} must hold at least 32 random bytes, got {len(raw)}.")
    return raw


def _generated(path: Path, nbytes: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    value = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode().rstrip("=")
    # O_EXCL: two processes starting at once must not write two different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def load_secret_text(name: str, *, data_dir: Path, production: bool, nbytes: int = 32) -> str:
    """Return the configured secret ``name``, generating it in the data dir when not production."""
    value = env_str(name)
    if value:
        return value
    if production:
        raise ImproperlyConfigured(
            f"{name} is required when HDS_PRODUCTION is on (set {name} or {name}_FILE)."
        )
    return _generated(data_dir / "secrets" / name.lower(), nbytes)


def load_peppers(*, data_dir: Path, production: bool) -> dict[int, bytes]:
    """Parse ``HDS_PEPPER``: ``base64`` (version 1) or ``"2:base64,1:base64"`` for rotation."""
    text = load_secret_text("HDS_PEPPER", data_dir=data_dir, production=production)
    peppers: dict[int, bytes] = {}
    for item in text.split(","):
        version_text, sep, encoded = item.strip().rpartition(":")
        version = 1
        if sep:
            try:
                version = int(version_text)
            except ValueError:
                raise ImproperlyConfigured("HDS_PEPPER entries look like '2:base64'.") from None
        peppers[version] = _decode("HDS_PEPPER", encoded)
    return peppers


def load_key_bytes(name: str, *, data_dir: Path, production: bool) -> bytes:
    """Return a 32-byte key secret such as ``HDS_DIRECTORY_KEY``."""
    return _decode(name, load_secret_text(name, data_dir=data_dir, production=production))[:32]
