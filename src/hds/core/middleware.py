"""Response headers that Django's SecurityMiddleware does not set (SECURITY.md §6.7), the
account's language, and the upload size limit."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(self), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)


class SecurityHeadersMiddleware:
    """Add Permissions-Policy everywhere and ``no-store`` on everything but static assets."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            # Pages can carry health data or one-time codes: never in a browser or proxy cache.
            add_never_cache_headers(response)
            response.headers["Cache-Control"] = "no-store, private"
        return response


class AccountLanguageMiddleware:
    """Speak the logged-in account's language (My account → Language), else the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = (
            getattr(request.user, "language", None) if request.user.is_authenticated else None
        )
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language:
            response.headers["Content-Language"] = language
        return response


# Room for the multipart framing around one file (boundaries, part headers, form fields).
_MULTIPART_OVERHEAD = 64 * 1024


class UploadSizeMiddleware:
    """Refuse an API upload whose declared body exceeds the per-file limit, before reading it.

    Without this, the in-memory upload handler can only stop the upload, and the client sees a
    reset connection or a missing-field error instead of a 413 that says what is wrong.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path.startswith("/api/"):
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > settings.MAX_UPLOAD_FILE_BYTES + _MULTIPART_OVERHEAD:
                return JsonResponse(
                    {"detail": gettext("This file is larger than the server accepts.")},
                    status=413,
                )
        return self.get_response(request)
