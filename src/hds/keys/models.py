"""Session rows: keyed by SHA-256 of the session id, holding only a sealed keyring."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession, BaseSessionManager
from django.db import models
from typing_extensions import override


class SessionManager(BaseSessionManager["Session"]):
    use_in_migrations = True


class Session(AbstractBaseSession):
    """A login session. ``session_key`` is the SHA-256 hex digest of the cookie's id."""

    session_key = models.CharField(max_length=64, primary_key=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )

    objects = SessionManager()  # type: ignore[misc]

    @override
    @classmethod
    def get_session_store_class(cls) -> type:
        """Return the store that reads and writes these rows."""
        from hds.keys.sessions import SessionStore

        return SessionStore

    class Meta:
        db_table = "keys_session"
