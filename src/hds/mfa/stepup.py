"""Step-up: sensitive changes need a password (and second-factor) check of the last 10 minutes."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

RECENT_AUTH = "_hds_recent_auth"
RECENT_AUTH_SECONDS = 10 * 60


def mark_recent_auth(request: HttpRequest) -> None:
    """Record that this session's holder just proved the password (and second factor)."""
    request.session[RECENT_AUTH] = int(time.time())


def has_recent_auth(request: HttpRequest) -> bool:
    """Whether the last password or second-factor check is younger than 10 minutes."""
    try:
        at = int(request.session.get(RECENT_AUTH, 0))
    except (TypeError, ValueError):
        return False
    return 0 <= time.time() - at < RECENT_AUTH_SECONDS


def _return_to(request: HttpRequest) -> str:
    """Where to come back after confirming: this page, or for a POST the page it came from."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = str(request.META.get("HTTP_REFERER", ""))
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return reverse("accounts:account")


def confirm_url(next_url: str) -> str:
    """The re-authentication page that returns to ``next_url``."""
    return f"{reverse('mfa:confirm')}?{urlencode({'next': next_url})}"


def recent_auth_required(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Require a login and a password check of the last 10 minutes, else ask for one."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not has_recent_auth(request):
            return redirect(confirm_url(_return_to(request)))
        return view(request, *args, **kwargs)

    return wrapper
