"""Session authentication backend: loads the account for a session, never checks passwords.

Passwords are checked by ``hds.accounts.services.log_in``, which must also unwrap the account
master secret in the same step (docs/security.md, Keys and wraps), something a Django backend
cannot hand back.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from hds.accounts.models import Account

BACKEND_PATH = "hds.accounts.backends.AccountBackend"


class AccountBackend:
    """Return the account of a session; ``authenticate`` always declines."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        """Decline: see ``hds.accounts.services.log_in``."""
        return None

    def get_user(self, user_id: Any) -> Account | None:
        """Return an activated, unlocked account by id."""
        try:
            account = Account.objects.get(pk=user_id)
        except (Account.DoesNotExist, ValueError, ValidationError):
            return None
        if not account.is_activated or account.locked_at is not None:
            return None
        return account
