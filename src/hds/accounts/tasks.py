"""Jobs of the accounts app (imported by the worker so they are registered)."""

from hds.accounts.services import purge_unactivated_accounts

__all__ = ["purge_unactivated_accounts"]
