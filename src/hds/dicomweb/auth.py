"""Who is calling DICOMweb: a personal API token (Bearer) or the browser session.

Both give the account and its master secret (AMS): every answer is decrypted with the caller's
own keys. A token request carries no cookies and needs no CSRF token; a session POST must pass
Django's CSRF check like any form. No credentials, a bad token or a locked session: 401 with
``WWW-Authenticate: Bearer`` (RFC 6750), so DICOMweb clients know to send a token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from hds.accounts.apitokens import bearer_credentials
from hds.accounts.models import Account
from hds.core.errors import NotFound
from hds.keys.keyring import KeyringLocked, load_keyring

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    """The authenticated account, its AMS, and whether a token (not a session) vouched."""

    account: Account
    ams: bytes = field(repr=False)  # never in a repr, a log line or a debug page
    by_token: bool = False


class Unauthorized(Exception):
    """No usable credentials; the message is safe to show."""


def authenticate(request: HttpRequest) -> Caller:
    """The caller of this request, or ``Unauthorized``.

    A Bearer header decides on its own: a wrong token never falls back to the session (and so
    never to a session's weaker CSRF-bound trust). Other schemes (a proxy's Basic) are ignored.
    """
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    if scheme.lower() == "bearer":
        credentials = bearer_credentials(request)
        if credentials is None:
            raise Unauthorized(_("The access token is invalid or has been revoked."))
        account, ams = credentials
        return Caller(account=account, ams=ams, by_token=True)
    user = request.user
    if not isinstance(user, Account):
        raise Unauthorized(_("Please log in or send an access token."))
    try:
        ams = load_keyring(request).require("ams")
    except KeyringLocked:
        raise Unauthorized(_("Your session is locked. Please log in again.")) from None
    return Caller(account=user, ams=ams, by_token=False)


def error(status: int, detail: str) -> JsonResponse:
    """A JSON error answer ``{"detail": ...}``."""
    response = JsonResponse({"detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="HDS"'
    return response


def _csrf_refusal(request: HttpRequest) -> HttpResponseBase | None:
    """Run Django's CSRF check for a session-authenticated unsafe request."""
    checker = CsrfViewMiddleware(lambda r: None)  # type: ignore[arg-type]
    return checker.process_view(request, None, (), {})  # type: ignore[arg-type]


View = Callable[..., HttpResponseBase]


def dicomweb_view(*methods: str) -> Callable[[View], View]:
    """Wrap a view taking ``(request, caller, **kwargs)``: methods, authentication, CSRF for
    session POSTs, and one 404 for every ``NotFound`` (missing and forbidden look the same)."""
    allowed = set(methods)

    def decorate(view: View) -> View:
        @csrf_exempt  # checked below, for session requests only
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                response = error(405, _("Method not allowed."))
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                caller = authenticate(request)
            except Unauthorized as exc:
                return error(401, str(exc))
            if (
                not caller.by_token
                and request.method not in SAFE_METHODS
                and _csrf_refusal(request) is not None
            ):
                return error(403, _("The request was refused (CSRF check failed)."))
            try:
                return view(request, caller, **kwargs)
            except NotFound:
                return error(404, _("Not found."))

        return wrapper

    return decorate
