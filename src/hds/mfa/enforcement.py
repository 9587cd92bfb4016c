"""Professionals must enrol a second factor: a banner during the grace period, then only the
set-up pages (docs/configuration.md, ``HDS_MFA_GRACE_DAYS``)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from hds.accounts.models import Account, Role
from hds.mfa.services import is_enrolled

# What a professional past the grace period without a second factor may still reach.
ALLOWED_VIEWS = frozenset(
    {
        "mfa:settings",
        "mfa:totp_enrol",
        "mfa:passkey_add",
        "mfa:confirm",
        "mfa:verify",
        "accounts:logout",
        "accounts:account_language",
        "accounts:healthz",
        "set_language",
    }
)
DEADLINE_ATTR = "hds_mfa_deadline"


def grace_deadline(account: Account) -> datetime.datetime | None:
    """When a professional without a second factor loses access; None for patients."""
    if account.role != Role.PROFESSIONAL:
        return None
    start = account.activated_at or account.created_at
    return start + datetime.timedelta(days=settings.HDS_MFA_GRACE_DAYS)


def must_enrol(account: Account) -> bool:
    """Whether this account's grace period is over and it has no second factor."""
    deadline = grace_deadline(account)
    return deadline is not None and timezone.now() >= deadline and not is_enrolled(account)


class MfaEnforcementMiddleware:
    """Set ``request.hds_mfa_deadline`` for the banner; after it, send to the MFA set-up page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        """Check a logged-in professional before the view runs."""
        user = request.user
        if not isinstance(user, Account) or user.role != Role.PROFESSIONAL:
            return None
        deadline = grace_deadline(user)
        if deadline is None or is_enrolled(user):
            return None
        if timezone.now() < deadline:
            setattr(request, DEADLINE_ATTR, deadline)
            return None
        match = request.resolver_match
        if match is not None and match.view_name in ALLOWED_VIEWS:
            return None
        messages.warning(
            request,
            _(
                "Professional accounts need two-factor authentication. Please set it up to "
                "continue."
            ),
        )
        return redirect("mfa:settings")
