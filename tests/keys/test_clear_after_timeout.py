"""Offline copies and cached pages do not outlive the session: whichever way it ended, the
browser's next request clears them (docs/security.md, Sessions)."""

from __future__ import annotations

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from hds.keys.middleware import CLEAR_SITE_DATA
from hds.keys.sessions import end_sessions_of
from tests.conftest import Persona, log_in

pytestmark = pytest.mark.django_db(transaction=True)
MARKER = ("__Host-" if settings.SESSION_COOKIE_SECURE else "") + "hds_in"


def _cleared(response: object) -> bool:
    return getattr(response, "headers", {}).get("Clear-Site-Data") == CLEAR_SITE_DATA


def test_the_next_page_after_an_idle_timeout_clears_site_data(
    client: Client, alice: Persona
) -> None:
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False) as clock:
        log_in(client, alice)
        first = client.get("/documents/")
        assert not _cleared(first)
        assert MARKER in client.cookies
        clock.shift(15 * 60 + 1)
        response = client.get("/documents/")
        assert response.status_code == 302
        assert _cleared(response)
        assert client.cookies[MARKER].value == ""  # cleared once, not on every page after
        assert not _cleared(client.get("/login/"))


def test_the_next_page_after_the_absolute_timeout_clears_site_data(
    client: Client, alice: Persona
) -> None:
    with time_machine.travel("2026-11-28 08:00:00+00:00", tick=False) as clock:
        log_in(client, alice)
        for _ in range(12 * 6):
            clock.shift(10 * 60)
            assert not _cleared(client.get("/account/"))
        clock.shift(60)
        assert _cleared(client.get("/account/"))


def test_a_session_ended_elsewhere_clears_on_the_next_page(client: Client, alice: Persona) -> None:
    log_in(client, alice)
    client.get("/documents/")
    end_sessions_of(alice.account.pk)  # e.g. a password change on another device
    assert _cleared(client.get("/login/"))


def test_visitors_who_never_logged_in_are_not_cleared(client: Client) -> None:
    assert not _cleared(client.get("/"))
    assert not _cleared(client.get("/login/"))
    assert MARKER not in client.cookies
