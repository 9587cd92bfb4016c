"""The one way to a study: ``access_study_by_id`` (STYLE.md §2), and for pages
``open_study_for_request``, which also opens its key.

Missing and forbidden look the same (``NotFound``, a 404 on pages), so study ids cannot be
probed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest

from hds.accounts.models import Account
from hds.archive.errors import StudyLocked
from hds.archive.keys import OpenStudy, open_study
from hds.archive.models import Holding
from hds.core.errors import NotFound
from hds.keys.keyring import load_keyring


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


def open_study_for_request(request: HttpRequest, study_id: UUID | str) -> tuple[Holding, OpenStudy]:
    """The logged-in user's holding of the study and its opened key (the key ring of the
    request's session unlocks it); a study that is missing, not the user's or locked is a 404."""
    user = request.user
    try:
        holding = access_study_by_id(user, study_id)
        assert isinstance(user, Account)
        return holding, open_study(holding.study, user, load_keyring(request).require("ams"))
    except (NotFound, StudyLocked):
        raise Http404 from None
