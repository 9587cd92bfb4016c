"""The one way to a study: ``access_study_by_id`` (STYLE.md §2).

Missing and forbidden look the same (``NotFound``), so study ids cannot be probed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hds.accounts.models import Account
from hds.archive.models import Holding
from hds.core.errors import NotFound


def access_study_by_id(account: Any, study_id: UUID | str) -> Holding:
    """Return the account's holding of the study, or raise ``NotFound``."""
    if not isinstance(account, Account):
        raise NotFound("study")
    try:
        key = study_id if isinstance(study_id, UUID) else UUID(str(study_id))
    except ValueError:
        raise NotFound("study") from None
    holding = Holding.objects.select_related("study").filter(account=account, study_id=key).first()
    if holding is None:
        raise NotFound("study")
    return holding
