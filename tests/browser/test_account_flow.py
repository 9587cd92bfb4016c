"""A person in a real browser: register, activate, log in, change password, log out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from hds.accounts.models import Account
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_PASSWORD = "violet harbor lantern 2031"
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


def test_register_activate_login_change_password_logout(
    browser: Any, live_server: Any, tmp_path: Path, settings: Any
) -> None:
    settings.BASE_URL = live_server.url  # links in mails point at this server
    context = browser.new_context(accept_downloads=True, locale="en-GB")
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    base = live_server.url

    page.goto(f"{base}/register/")
    page.get_by_role("link", name="Register as a patient").click()
    page.get_by_label("E-mail address").fill("browser@example.org")
    page.get_by_label("Password").fill("abc")
    expect(page.locator("#strength .strength-label")).to_have_text("Too weak")
    page.get_by_label("Password").fill(PASSWORD)
    # (no wait_for_function: our CSP forbids the eval it needs, which is the point of the CSP)
    expect(page.locator("#strength")).to_have_class(re.compile(r"\bstrength-[34]\b"))
    page.get_by_label("Gender").select_option("female")
    page.get_by_label("Date of birth").fill("1956-04-01")
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="Create account").click()

    code = page.get_by_test_id("activation-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download passport (PDF)").click()
    pdf = tmp_path / "passport.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    page.get_by_role("button", name="I have saved my activation code").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()

    link = re.search(r"(http\S+/activate/#t=\S+)", str(mail.outbox[0].body))
    assert link
    page.goto(link.group(1))
    assert "#" not in page.url  # the token left the address bar
    # Paste the whole code into the first group: it fills all four.
    first = page.locator(".code-group").first
    first.focus()
    page.evaluate(
        """code => {
            const dt = new DataTransfer(); dt.setData('text/plain', code);
            const paste = new ClipboardEvent(
                'paste', {clipboardData: dt, bubbles: true, cancelable: true});
            document.activeElement.dispatchEvent(paste);
        }""",
        code.lower(),
    )
    values = [page.locator(".code-group").nth(i).input_value() for i in range(4)]
    assert "-".join(values) == code
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="My documents").wait_for()
    assert Account.objects.get().is_activated
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "documents.png"), full_page=True)

    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Your password is changed").wait_for()

    page.get_by_role("navigation").get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out.").wait_for()
    cookies = {c["name"] for c in context.cookies()}
    assert "__Host-hds_k" not in cookies

    page.get_by_label("E-mail address").fill("browser@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("E-mail address or password is not correct.").wait_for()
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My documents").wait_for()
    assert not console_errors, console_errors
    context.close()


def test_phone_sized_login_page_has_working_menu(browser: Any, live_server: Any) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # nothing forces sideways scrolling on a phone
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible():
        toggle.tap()
        page.get_by_role("navigation").get_by_role("link", name="Register").wait_for()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "login-phone.png"), full_page=True)
    context.close()
