"""Template context shared by every page."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _


def site(request: HttpRequest) -> dict[str, object]:
    """Expose the site name and limits that templates show."""
    return {
        "SITE_NAME": "HDS",
        "PASSWORD_MIN_LENGTH": settings.PASSWORD_MIN_LENGTH,
        "STRENGTH_LABELS_JSON": json.dumps(
            [_("Too weak"), _("Weak"), _("Fair"), _("Good"), _("Strong")]
        ),
    }
