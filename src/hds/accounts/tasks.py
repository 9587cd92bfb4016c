"""Jobs of the accounts app (imported by the worker so they are registered)."""

from __future__ import annotations

import datetime
import logging

from hds.accounts import apitokens
from hds.accounts.services import purge_unactivated_accounts
from hds.core import counters
from hds.core.jobs import periodic

logger = logging.getLogger(__name__)


@periodic(every=datetime.timedelta(hours=1))
def purge_expired_security_rows() -> None:
    """Drop expired throttle counters and expired API tokens (both refused already)."""
    rows, tokens = counters.purge_expired(), apitokens.purge_expired()
    if rows or tokens:
        logger.info("purged %s expired counters and %s expired API tokens", rows, tokens)


__all__ = ["purge_expired_security_rows", "purge_unactivated_accounts"]
