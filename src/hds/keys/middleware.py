"""Per-request keyring cookie handling, the idle / absolute session timeouts, and clearing the
browser's stored copies when a session has ended by any way (docs/security.md, Sessions)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from hds.keys.keyring import apply_cookie

AUTH_AT = "_hds_auth_at"
SEEN_AT = "_hds_seen_at"
SEEN_WRITE_EVERY = 30  # seconds; don't rewrite the session row on every request


CLEAR_SITE_DATA = '"cache", "storage"'


def _marker_cookie() -> str:
    prefix = "__Host-" if settings.SESSION_COOKIE_SECURE else ""
    return f"{prefix}hds_in"


class KeyringMiddleware:
    """Log out idle (15 min) and old (12 h) sessions; set or clear the ``K_cookie``.

    Offline copies ("Keep on this device") and cached pages must not outlive the session. An
    explicit logout clears them itself; a session that ended otherwise (idle or absolute timeout,
    ended from another device, server restart) is noticed on the browser's next request by a
    marker cookie that a logged-in browser carries: that response sends ``Clear-Site-Data``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._enforce_timeouts(request)
        response = self.get_response(request)
        apply_cookie(request, response)
        self._mark(request, response)
        return response

    @staticmethod
    def _mark(request: HttpRequest, response: HttpResponse) -> None:
        marker = _marker_cookie()
        logged_in = request.user.is_authenticated
        marked = bool(request.COOKIES.get(marker))
        if logged_in and not marked:
            response.set_cookie(
                marker,
                "1",
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
                path="/",
            )
        elif not logged_in and marked:
            response.headers.setdefault("Clear-Site-Data", CLEAR_SITE_DATA)
            response.delete_cookie(marker, path="/", samesite="Lax")

    def _enforce_timeouts(self, request: HttpRequest) -> None:
        now = int(time.time())
        session = request.session
        auth_at = int(session.get(AUTH_AT, 0))
        seen_at = int(session.get(SEEN_AT, auth_at))
        if now - auth_at > settings.SESSION_ABSOLUTE_SECONDS:
            logout(request)
            messages.info(request, _("Your session ended after 12 hours. Please log in again."))
        elif now - seen_at > settings.SESSION_IDLE_SECONDS:
            logout(request)
            messages.info(
                request,
                ngettext(
                    "You were logged out after %(minutes)d minute without activity.",
                    "You were logged out after %(minutes)d minutes without activity.",
                    settings.SESSION_IDLE_SECONDS // 60,
                )
                % {"minutes": settings.SESSION_IDLE_SECONDS // 60},
            )
        elif now - seen_at >= SEEN_WRITE_EVERY:
            session[SEEN_AT] = now
