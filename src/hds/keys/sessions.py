"""A database session store that never stores a usable session id (docs/security.md, Session keys).

The row's primary key is SHA-256 of the id in the cookie, so a database dump hands out no live
sessions. The row also records the account, so "end all sessions of this account" is one DELETE.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.utils import timezone
from typing_extensions import override

from hds.keys.models import Session


def hash_session_key(session_key: str) -> str:
    """Return the stored form of a session id."""
    return hashlib.sha256(session_key.encode("ascii")).hexdigest()


class SessionStore(DbSessionStore):
    """Django's DB store with hashed keys and an account column."""

    @override
    @classmethod
    def get_model_class(cls) -> type[Session]:
        return Session

    def _get_session_from_db(self) -> Session | None:
        if self.session_key is None:
            return None
        try:
            return Session.objects.get(
                session_key=hash_session_key(self.session_key), expire_date__gt=timezone.now()
            )
        except Session.DoesNotExist:
            self._session_key = None
            return None

    @override
    def exists(self, session_key: str) -> bool:
        return Session.objects.filter(session_key=hash_session_key(session_key)).exists()

    @override
    def create_model_instance(self, data: dict[str, Any]) -> Session:
        account_id = data.get("_auth_user_id")
        return Session(
            session_key=self.hashed_key,
            session_data=self.encode(data),
            expire_date=self.get_expiry_date(),
            account_id=account_id,
        )

    @override
    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        Session.objects.filter(session_key=hash_session_key(session_key)).delete()

    @property
    def hashed_key(self) -> str:
        """SHA-256 of the current session id (what the keyring is bound to).

        A session without a row yet is created first: binding a keyring to an id that was never
        saved would make the later save an update of a missing row.
        """
        if self.session_key is None:
            self.create()
        assert self.session_key is not None
        return hash_session_key(self.session_key)


def end_sessions_of(account_id: Any, *, keep_hashed_key: str | None = None) -> int:
    """Delete every session row of an account (optionally sparing one); return how many."""
    rows = Session.objects.filter(account_id=account_id)
    if keep_hashed_key:
        rows = rows.exclude(session_key=keep_hashed_key)
    deleted, _ = rows.delete()
    return deleted
