"""Split-key sessions: the row alone, the cookie alone, or both without the epoch open nothing."""

from __future__ import annotations

import hashlib

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings

from hds.keys.epochs import forget_all_epochs
from hds.keys.models import Session
from tests.conftest import Persona, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def _sid(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_session_rows_hold_only_the_hash_of_the_id(alice_client: Client) -> None:
    sid = _sid(alice_client)
    assert not Session.objects.filter(session_key=sid).exists()
    assert Session.objects.filter(session_key=hashlib.sha256(sid.encode()).hexdigest()).exists()


def test_login_issues_new_session_id_and_new_cookie_key(client: Client, alice: Persona) -> None:
    client.get("/register/patient/")
    client.post("/login/", {"email": alice.email, "password": "wrong wrong wrong"})
    before = client.cookies.get(settings.SESSION_COOKIE_NAME)
    log_in(client, alice)
    assert before is None or before.value != _sid(client)
    first_key = client.cookies[settings.KEYRING_COOKIE_NAME].value
    client.post("/logout/")
    log_in(client, alice)
    assert client.cookies[settings.KEYRING_COOKIE_NAME].value != first_key


def test_session_cookie_without_key_cookie_is_an_empty_shell(alice_client: Client) -> None:
    del alice_client.cookies[settings.KEYRING_COOKIE_NAME]
    response = alice_client.get("/documents/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_key_cookie_without_session_is_anonymous(client: Client, alice: Persona) -> None:
    log_in(client, alice)
    key = client.cookies[settings.KEYRING_COOKIE_NAME].value
    stranger = Client()
    stranger.cookies[settings.KEYRING_COOKIE_NAME] = key
    assert stranger.get("/documents/").status_code == 302


def test_tampered_key_cookie_locks_the_session(alice_client: Client) -> None:
    key = alice_client.cookies[settings.KEYRING_COOKIE_NAME].value
    alice_client.cookies[settings.KEYRING_COOKIE_NAME] = ("A" if key[0] != "A" else "B") + key[1:]
    assert alice_client.get("/documents/").status_code == 302


def test_forged_session_id_is_rejected(client: Client, alice: Persona) -> None:
    log_in(client, alice)
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32
    assert client.get("/account/").status_code == 302


def test_copied_cookies_work_until_logout(client: Client, alice: Persona) -> None:
    log_in(client, alice)
    thief = Client()
    for name in (settings.SESSION_COOKIE_NAME, settings.KEYRING_COOKIE_NAME):
        thief.cookies[name] = client.cookies[name].value
    assert thief.get("/documents/").status_code == 200  # documented: a live session is a session
    client.post("/logout/")
    assert thief.get("/documents/").status_code == 302


def test_epoch_secret_gone_means_keyring_gone(alice_client: Client) -> None:
    forget_all_epochs()  # a process restart, or the two-day rotation
    assert alice_client.get("/documents/").status_code == 302


def test_keyring_survives_day_change_and_rotates_forward(client: Client, alice: Persona) -> None:
    with time_machine.travel("2026-11-28 23:55:00+00:00", tick=False) as clock:
        log_in(client, alice)
        clock.shift(10 * 60)  # next epoch
        assert client.get("/documents/").status_code == 200


def test_old_cookie_and_row_copy_fail_after_two_epochs(client: Client, alice: Persona) -> None:
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False) as clock:
        log_in(client, alice)
        copy = Client()
        for name in (settings.SESSION_COOKIE_NAME, settings.KEYRING_COOKIE_NAME):
            copy.cookies[name] = client.cookies[name].value
        Session.objects.update(expire_date="2030-01-01T00:00:00Z")
        clock.shift(2 * 86400 + 60)
        # Idle and absolute timeouts off, to test the epoch rule alone.
        with override_settings(SESSION_IDLE_SECONDS=10**7, SESSION_ABSOLUTE_SECONDS=10**7):
            assert copy.get("/documents/").status_code == 302


def test_cookies_are_host_only_secure_httponly_lax(client: Client, alice: Persona) -> None:
    response = client.post("/login/", {"email": alice.email, "password": alice.password})
    for name in (settings.SESSION_COOKIE_NAME, settings.KEYRING_COOKIE_NAME):
        assert name.startswith("__Host-")
        morsel = response.cookies[name]
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Lax"
        assert morsel["path"] == "/"
        assert not morsel["domain"]
