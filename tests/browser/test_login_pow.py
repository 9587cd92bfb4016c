"""Under a password-guessing attack the login page's script solves the server's proof of work
by itself, and a person logs in as usual (docs/security.md, Throttling)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from hds.accounts import throttle
from hds.accounts.models import AuthEvent
from hds.core.models import Counter
from tests.conftest import Persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_login_page_solves_the_proof_of_work(
    browser: Any, live_server: Any, alice: Persona, settings: Any
) -> None:
    settings.LOGIN_GLOBAL_BUDGET = 5
    settings.LOGIN_POW_BITS = 14  # about 16,000 SHA-256 in the page: well under a second
    factory = RequestFactory()
    for i in range(6):
        throttle.record_login_failure(
            f"spray{i}@example.org", factory.post("/", REMOTE_ADDR="1.2.3.4")
        )
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/login/")
    form = page.locator("form[data-pow]")
    assert form.count() == 1
    page.get_by_label("E-mail address").fill(alice.email)
    page.get_by_label("Password").fill(alice.password)
    # Clicked before or after the check finishes: the form waits for it, then submits.
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My documents").wait_for()
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.LOGIN).count() == 1
    assert Counter.objects.filter(key__startswith="hds:pow:").count() == 1  # one challenge spent
    assert not errors, errors
    context.close()
