"""Display formatting for pages and messages: values of sealed records as people read them, in
the active language. The templates' helpers; no reads, no writes (docs/architecture.md)."""

from __future__ import annotations

import datetime

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from hds.dicom.record import ItemRecord


def display_date(value: str) -> str:
    """A DICOM date (YYYYMMDD) in the user's locale, or the raw text if it is not a date."""
    try:
        parsed = datetime.datetime.strptime(value, "%Y%m%d").date()  # noqa: DTZ007 - a date
    except ValueError:
        return value
    return date_format(parsed, "SHORT_DATE_FORMAT")


def render_error_text(record: ItemRecord) -> str:
    """Why an instance has no preview, in the active language ("" if it has one)."""
    reason = record.render_error
    if not reason:
        return ""
    params = dict(record.render_error_params)
    try:
        return _(str(reason)) % params if params else _(str(reason))
    except (KeyError, TypeError, ValueError):
        return str(reason)
