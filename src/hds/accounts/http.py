"""Small request helpers shared by the account pages and the MFA pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from hds.accounts.models import Account


def posted(request: HttpRequest) -> Any:
    """Form data of a POST (even an empty one, so it shows "required" errors), else None."""
    return request.POST if request.method == "POST" else None


def current_account(request: HttpRequest) -> Account:
    """The logged-in account of a view behind ``login_required``."""
    user = request.user
    assert isinstance(user, Account)
    return user
