"""Sending mail: one function, templates per language, nothing secret in logs.

Mails that carry a link token are sent in the request after commit, never from a job: job rows
would keep the token at rest (docs/style.md, Jobs).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation

logger = logging.getLogger(__name__)


def send_templated_mail(
    template: str, *, to: str, language: str, context: dict[str, object] | None = None
) -> None:
    """Render ``notifications/mail/<template>_subject.txt`` and ``_body.txt`` and send them."""
    ctx = {"base_url": settings.BASE_URL, "site_name": "HDS", **(context or {})}
    with translation.override(language):
        subject = " ".join(
            render_to_string(f"notifications/mail/{template}_subject.txt", ctx).split()
        )
        body = render_to_string(f"notifications/mail/{template}_body.txt", ctx)
    message = EmailMessage(subject=subject, body=body, to=[to])
    message.send(fail_silently=False)
    logger.info("mail %s sent", template)
