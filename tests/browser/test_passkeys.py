"""Passkeys in Chromium with a virtual authenticator: register one, then log in with it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from hds.accounts.models import AuthEvent
from hds.mfa import services
from hds.mfa.models import Passkey
from tests.conftest import Persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _password_step(page: Any, base: str, persona: Persona) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail address").fill(persona.email)
    page.get_by_label("Password").fill(persona.password)
    page.get_by_role("button", name="Log in").click()


def test_register_a_passkey_and_log_in_with_it(
    browser: Any, live_server: Any, alice: Persona, settings: Any
) -> None:
    # The RP id is the host of HDS_BASE_URL and must be a domain: "localhost", never an IP.
    base = live_server.url.replace("127.0.0.1", "localhost")
    settings.BASE_URL = base
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]

    _password_step(page, base, alice)
    page.get_by_role("heading", name="My documents").wait_for()
    page.goto(f"{base}/account/")
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_test_id("mfa-status")).to_have_text("Two-factor authentication is off.")
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_label("Name of the passkey").fill("Laptop")
    page.get_by_role("button", name="Create passkey").click()

    page.get_by_role("heading", name="Recovery codes").wait_for()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    passkey = Passkey.objects.get(account=alice.account)
    assert passkey.name == "Laptop"
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    page.get_by_role("link", name="I have saved my recovery codes").click()
    expect(page.get_by_test_id("passkey")).to_contain_text("Laptop")
    expect(page.get_by_test_id("mfa-status")).to_have_text("Two-factor authentication is on.")

    page.get_by_role("navigation").get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
    _password_step(page, base, alice)
    page.get_by_role("heading", name="Two-factor authentication").wait_for()
    page.get_by_role("button", name="Use a passkey").click()
    page.get_by_role("heading", name="My documents").wait_for()
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None
    assert AuthEvent.objects.filter(account=alice.account, kind=services.SECOND_FACTOR_OK).exists()

    # Eleven minutes later, removing the passkey asks for the password and a passkey again.
    page.on("dialog", lambda dialog: dialog.accept())
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=11)):
        page.goto(f"{base}/account/mfa/")
        page.get_by_role("button", name="Remove passkey").click()
        page.get_by_role("heading", name="Confirm it is you").wait_for()
        page.get_by_label("Your password").fill(alice.password)
        page.get_by_role("button", name="Use a passkey").click()
        page.get_by_role("heading", name="Two-factor authentication").wait_for()
        assert Passkey.objects.filter(account=alice.account).exists()  # confirmed, not yet gone
        page.get_by_role("button", name="Remove passkey").click()
        expect(page.get_by_test_id("mfa-status")).to_have_text("Two-factor authentication is off.")
    assert not Passkey.objects.filter(account=alice.account).exists()
    assert errors == []
    context.close()
