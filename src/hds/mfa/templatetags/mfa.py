"""``{% load mfa %}``: ``{{ event|event_label }}`` names second-factor events too."""

from __future__ import annotations

from django import template

from hds.accounts.models import AuthEvent
from hds.mfa import events

register = template.Library()


@register.filter
def event_label(event: AuthEvent) -> str:
    """The event's label for the account page."""
    return events.event_label(event)
