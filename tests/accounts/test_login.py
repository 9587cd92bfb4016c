"""Login, logout, throttling and lockout (docs/security.md, Throttling)."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client

from hds.accounts.models import Account, AuthEvent
from tests.conftest import Persona, log_in, mail_link, stable_html

pytestmark = pytest.mark.django_db(transaction=True)


def _fail(client: Client, email: str) -> int:
    return client.post("/login/", {"email": email, "password": "wrong password 123"}).status_code


def test_login_unlocks_keyring_and_lands_on_documents(client: Client, alice: Persona) -> None:
    response = client.post("/login/", {"email": "ALICE@example.org", "password": alice.password})
    assert response.status_code == 302
    assert response["Location"] == "/documents/"
    assert client.get("/documents/").status_code == 200
    assert AuthEvent.objects.filter(account=alice.account, kind=AuthEvent.Kind.LOGIN).exists()


def test_login_follows_only_local_next(client: Client, alice: Persona) -> None:
    ok = client.post(
        "/login/", {"email": alice.email, "password": alice.password, "next": "/account/"}
    )
    assert ok["Location"] == "/account/"
    client.post("/logout/")
    evil = client.post(
        "/login/",
        {"email": alice.email, "password": alice.password, "next": "https://evil.example/"},
    )
    assert evil["Location"] == "/documents/"


def test_wrong_password_and_unknown_address_look_the_same(client: Client, alice: Persona) -> None:
    wrong = client.post("/login/", {"email": alice.email, "password": "wrong password 123"})
    unknown = client.post(
        "/login/", {"email": "nobody@example.org", "password": "wrong password 123"}
    )
    assert wrong.status_code == unknown.status_code == 200
    page = stable_html(wrong.content)
    assert "E-mail address or password is not correct." in page
    assert page.replace(alice.email, "X") == stable_html(unknown.content).replace(
        "nobody@example.org", "X"
    )


def test_backoff_after_five_failures_doubles_and_resets_on_success(
    client: Client, alice: Persona
) -> None:
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False) as clock:
        for _ in range(4):
            assert _fail(client, alice.email) == 200
        assert _fail(client, alice.email) == 200  # 5th failure starts a 1 minute wait
        blocked = client.post("/login/", {"email": alice.email, "password": alice.password})
        assert blocked.status_code == 429
        assert blocked["Retry-After"] == "60"
        assert "wait 1 minute and" in blocked.content.decode()
        clock.shift(61)
        assert _fail(client, alice.email) == 200  # 6th: 2 minutes
        clock.shift(61)
        assert (
            client.post("/login/", {"email": alice.email, "password": alice.password}).status_code
            == 429
        )
        clock.shift(60)
        log_in(client, alice)
        client.post("/logout/")
        assert _fail(client, alice.email) == 200  # counter was reset by the success


def test_unknown_address_is_throttled_the_same_way(client: Client) -> None:
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False):
        for _ in range(5):
            _fail(client, "nobody@example.org")
        assert _fail(client, "nobody@example.org") == 429


def test_ip_is_blocked_after_thirty_failures_in_fifteen_minutes(
    client: Client, alice: Persona
) -> None:
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False) as clock:
        for i in range(30):
            _fail(client, f"user{i}@example.org")
        response = client.post("/login/", {"email": alice.email, "password": alice.password})
        assert response.status_code == 429
        assert "from your network" in response.content.decode()
        other_ip = Client(REMOTE_ADDR="10.9.9.9")
        log_in(other_ip, alice)
        clock.shift(15 * 60 + 1)
        log_in(client, alice)


def test_ten_failures_mail_the_holder_and_hundred_lock_until_unlock_link(
    client: Client, alice: Persona
) -> None:
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False) as clock:
        for _ in range(100):
            _fail(Client(REMOTE_ADDR=f"10.0.{_ // 250}.{_ % 250}"), alice.email)
            clock.shift(3601)
        assert any("Failed logins" in m.subject for m in mail.outbox)
        alice.account.refresh_from_db()
        assert alice.account.locked_at is not None
        locked = client.post("/login/", {"email": alice.email, "password": alice.password})
        assert "locked" in locked.content.decode()
        unlock_mail = next(m for m in mail.outbox if "locked" in m.subject)
        _url, token = mail_link(unlock_mail, "/unlock/")
        assert client.post("/unlock/", {"token": token}).status_code == 302
        log_in(client, alice)
        # The link is single-use.
        client.post("/logout/")
        response = client.post("/unlock/", {"token": token}, follow=True)
        assert "invalid, expired or was used" in response.content.decode()


def test_logout_ends_session_and_clears_browser_data(alice_client: Client) -> None:
    response = alice_client.post("/logout/")
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    # Not "cookies" (docs/security.md): the response itself deletes the session and key cookies.
    for name in (settings.SESSION_COOKIE_NAME, settings.KEYRING_COOKIE_NAME):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["max-age"] == 0
    assert alice_client.get("/documents/").status_code == 302


def test_logout_needs_post(alice_client: Client) -> None:
    assert alice_client.get("/logout/").status_code == 405
    assert alice_client.get("/documents/").status_code == 200


def test_idle_timeout_after_fifteen_minutes(client: Client, alice: Persona) -> None:
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False) as clock:
        log_in(client, alice)
        clock.shift(14 * 60)
        assert client.get("/documents/").status_code == 200  # activity keeps it alive
        clock.shift(14 * 60)
        assert client.get("/documents/").status_code == 200
        clock.shift(15 * 60 + 1)
        response = client.get("/documents/")
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_absolute_timeout_after_twelve_hours(client: Client, alice: Persona) -> None:
    with time_machine.travel("2026-11-28 08:00:00+00:00", tick=False) as clock:
        log_in(client, alice)
        for _ in range(12 * 6):
            clock.shift(10 * 60)
            assert client.get("/account/").status_code == 200  # active all the time
        clock.shift(60)
        assert time.time() - 1795852800 == 12 * 3600 + 60
        assert client.get("/account/").status_code == 302


def test_locked_account_holder_cannot_use_old_session(client: Client, alice: Persona) -> None:
    log_in(client, alice)
    Account.objects.filter(pk=alice.account.pk).update(locked_at="2026-11-28T10:00:00Z")
    assert client.get("/account/").status_code == 302
