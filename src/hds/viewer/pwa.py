"""The installable web app: manifest, icons, service worker and offline page (docs/pwa.md).

None of these responses carries user data, so they answer anonymous requests too; they still
get the core middleware's ``Cache-Control: no-store`` like every response outside ``/static/``
(the service worker must be re-checked on every navigation anyway, and the others are small).
"""

from __future__ import annotations

import io
import json
from functools import lru_cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from PIL import Image, ImageDraw

from hds.viewer.offline import KEPT_CACHE_PREFIX, SHELL_CACHE_PREFIX, shell

ICON_SIZES = (192, 512)
THEME_COLOR = "#0b5a8e"  # --primary in frontend/src/pages.css
BACKGROUND_COLOR = "#f4f6f9"  # --bg
ICON_COLOR = (0x1F, 0x5F, 0x8B)  # the favicon's (src/hds/core/static/favicon.svg)


@require_safe
def manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest (W3C Web Application Manifest), in the request's language."""
    data = {
        "id": "/",
        "name": "HDS",
        "short_name": "HDS",
        "description": _("Your medical images and findings, stored encrypted."),
        "lang": translation.get_language(),
        "dir": "ltr",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {
                "src": reverse("viewer:icon", args=[size]),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any",
            }
            for size in ICON_SIZES
        ]
        + [{"src": static("favicon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    return HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=1),
        content_type="application/manifest+json; charset=utf-8",
    )


@lru_cache(maxsize=len(ICON_SIZES))
def _icon_png(size: int) -> bytes:
    """The favicon's drawing (an H on a rounded square, 32 units) as a PNG, drawn four times
    larger and scaled down for smooth edges; made on demand so no binary is committed."""
    scale = size * 4 / 32
    big = Image.new("RGBA", (size * 4, size * 4), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    draw.rounded_rectangle(
        (0, 0, size * 4 - 1, size * 4 - 1), radius=round(7 * scale), fill=ICON_COLOR
    )
    width = 3.2 * scale
    for (x0, y0), (x1, y1) in (((9, 8), (9, 24)), ((23, 8), (23, 24)), ((9, 16), (23, 16))):
        draw.line(
            (x0 * scale, y0 * scale, x1 * scale, y1 * scale), fill="white", width=round(width)
        )
        for x, y in ((x0, y0), (x1, y1)):  # round line caps
            r = width / 2
            draw.ellipse((x * scale - r, y * scale - r, x * scale + r, y * scale + r), fill="white")
    out = io.BytesIO()
    big.resize((size, size), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()


@require_safe
def icon(request: HttpRequest, size: int) -> HttpResponse:
    """The app icon as a PNG of 192 or 512 pixels."""
    if size not in ICON_SIZES:
        raise Http404
    return HttpResponse(_icon_png(size), content_type="image/png")


def _offline_urls() -> dict[str, str]:
    """The offline page once per language; the worker picks by the browser's languages."""
    base = reverse("viewer:offline_page")
    return {code: f"{base}?lang={code}" for code, _name in settings.LANGUAGES}


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker at the site root, so its scope is the whole site.

    Its configuration (cache names, the shell to precache) is written into the script: a new
    deploy changes the script's bytes, which is what makes browsers install the new worker.
    """
    app_shell = shell()
    version = app_shell.version
    config = {
        "version": version,
        "shellCache": f"{SHELL_CACHE_PREFIX}{version}",
        "shellPrefix": SHELL_CACHE_PREFIX,
        "keptPrefix": KEPT_CACHE_PREFIX,
        "staticUrl": settings.STATIC_URL,
        "precache": list(app_shell.urls),
        "offline": _offline_urls(),
        "defaultLanguage": settings.LANGUAGE_CODE,
    }
    source = render_to_string("viewer/sw.js", {"config": json.dumps(config, indent=1)})
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_safe
def offline_page(request: HttpRequest) -> HttpResponse:
    """What the service worker shows for a page that is not kept when the network is gone: no
    user data, no CSRF token (it is stored in the shell cache). ``?lang=`` picks the language."""
    lang = request.GET.get("lang", "")
    if lang not in dict(settings.LANGUAGES):
        lang = translation.get_language()
    with translation.override(lang):
        return render(request, "viewer/offline.html")
