"""Request-body intake: refuse uploads before reading them, and bound the bytes held per process.

``IntakeMiddleware`` runs after authentication and before anything reads the body (the CSRF
check and django-ninja read it only in the view phase). For a POST to the JSON API or to STOW-RS
it checks the declared ``Content-Length`` against ``HDS_MAX_UPLOAD_FILE_BYTES`` and, for the
store endpoints, against the account's free storage, then reserves the body's bytes in a
process-wide budget (``HDS_UPLOAD_INFLIGHT_BYTES``). See docs/security.md, Upload memory and
spool.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from hds.accounts.apitokens import bearer_credentials
from hds.accounts.models import Account
from hds.archive.errors import QuotaExceeded
from hds.archive.services import check_quota

# Room for the multipart framing around one file (boundaries, part headers, form fields).
MULTIPART_OVERHEAD: Final = 64 * 1024
# A body at most this much larger than the free storage is still read: files already stored
# cost nothing (they come back as duplicates) and the server then says exactly which files fit.
# The same size as the CLI client's groups (hds.client), so a group is never refused unread.
QUOTA_SLACK_BYTES: Final = 8 * 1024 * 1024
# Bodies up to this size (JSON calls, a DICOMDIR) need no reservation.
SMALL_BODY_BYTES: Final = 64 * 1024
RETRY_AFTER_SECONDS: Final = 5

_STORE = re.compile(r"^/(?:api/v1/uploads|dicomweb/studies(?:/[0-9.]+)?)$")
_STOW = re.compile(r"^/dicomweb/studies(?:/[0-9.]+)?$")


class InflightBytes:
    """A process-wide budget of request-body bytes being held (a counting semaphore)."""

    def __init__(self) -> None:
        """An empty budget."""
        self._condition = threading.Condition()
        self._used = 0

    @property
    def used(self) -> int:
        """Bytes reserved right now."""
        return self._used

    def acquire(self, amount: int, *, capacity: int, timeout: float) -> int | None:
        """Reserve ``amount`` bytes (at most ``capacity``: a larger body runs alone), waiting up
        to ``timeout`` seconds; the reserved amount, or None when it did not fit in time."""
        amount = max(0, min(amount, capacity))
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._used + amount > capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._condition.wait(left)
            self._used += amount
            return amount

    def release(self, amount: int) -> None:
        """Give back what ``acquire`` reserved."""
        with self._condition:
            self._used -= amount
            self._condition.notify_all()


INFLIGHT = InflightBytes()


def _declared_length(request: HttpRequest) -> int | None:
    """The body's declared length; None when it has none (chunked) or it is not a number."""
    raw = request.META.get("CONTENT_LENGTH")
    if not raw:
        return None
    try:
        return max(0, int(raw))
    except ValueError:
        return None


def _account(request: HttpRequest) -> Account | None:
    """Who sends this request, as the view's authentication will see it (a Bearer token first,
    else the session); None when nobody is."""
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    if scheme.lower() == "bearer":
        credentials = bearer_credentials(request)
        return credentials[0] if credentials is not None else None
    user = request.user
    return user if isinstance(user, Account) else None


def _too_large() -> JsonResponse:
    return JsonResponse({"detail": _("This file is larger than the server accepts.")}, status=413)


def _storage_full(request: HttpRequest, exc: QuotaExceeded) -> JsonResponse:
    """413 like the upload API's own quota answer (``detail``; ``results`` empty: nothing was
    read, so nothing was stored), with the missing bytes as a number too."""
    response = JsonResponse(
        {"detail": str(exc), "missing_bytes": exc.missing_bytes, "results": []}, status=413
    )
    if _STOW.match(request.path):
        response["Warning"] = '299 HDS: "{}"'.format(str(exc).replace('"', "'"))
    return response


def _unauthenticated() -> JsonResponse:
    response = JsonResponse({"detail": _("Please log in or send an access token.")}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="HDS"'
    return response


def _busy() -> JsonResponse:
    response = JsonResponse(
        {"detail": _("The server is busy receiving other uploads. Please try again shortly.")},
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class IntakeMiddleware:
    """Size limit, quota pre-check and the in-flight budget for upload bodies (see module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal, wanted = _precheck(request)
        if refusal is not None:
            return refusal
        if not wanted:
            return self.get_response(request)
        reserved = INFLIGHT.acquire(
            wanted,
            capacity=settings.UPLOAD_INFLIGHT_BYTES,
            timeout=settings.UPLOAD_INFLIGHT_WAIT_SECONDS,
        )
        if reserved is None:
            return _busy()
        try:
            return self.get_response(request)
        finally:
            INFLIGHT.release(reserved)


def _precheck(request: HttpRequest) -> tuple[HttpResponse | None, int]:
    """A refusal that needs no body (413), or the bytes to reserve (0: none)."""
    declared = _declared_length(request)
    if not _is_upload(request, declared):
        return None, 0
    if declared is not None and declared > settings.MAX_UPLOAD_FILE_BYTES + MULTIPART_OVERHEAD:
        return _too_large(), 0
    account = _account(request)
    if account is None:
        # Every upload endpoint needs an account. Answer now: django-ninja's session auth runs
        # the CSRF check (which parses the whole body) before it looks at the user.
        return _unauthenticated(), 0
    if declared is None:
        # A chunked STOW-RS body may be any size up to the limit: it runs alone.
        return None, settings.UPLOAD_INFLIGHT_BYTES
    if _STORE.match(request.path):
        try:
            check_quota(account, declared)
        except QuotaExceeded as exc:
            if exc.missing_bytes > QUOTA_SLACK_BYTES:
                return _storage_full(request, exc), 0
    return None, declared


def _is_upload(request: HttpRequest, declared: int | None) -> bool:
    """Whether this is a POST to the API or STOW-RS whose body may be large."""
    path = request.path
    stow = bool(_STOW.match(path))
    if request.method != "POST" or not (path.startswith("/api/") or stow):
        return False
    if declared is None:
        return stow  # Django reads no form body without a declared length; STOW-RS does
    return declared > SMALL_BODY_BYTES
