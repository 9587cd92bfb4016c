"""Signal receivers: the archive's part of deleting or resetting an account."""

from typing import Any

from hds.accounts.models import Account
from hds.archive.services import delete_all_for


def remove_holdings(sender: type, *, account: Account, **kwargs: Any) -> None:
    """Drop the account's studies: after a reset nothing can open them, after deletion nobody."""
    delete_all_for(account)
