"""Mail end to end through a real SMTP server (aiosmtpd on loopback), and EMAIL_URL parsing."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from hds.accounts.models import Account
from hds.settings import _email_settings
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.smtp, pytest.mark.django_db(transaction=True)]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_registration_mail_arrives_over_smtp(
    smtp_server: tuple[Inbox, int], client: Client
) -> None:
    inbox, port = smtp_server
    with override_settings(**_email_settings(f"smtp://127.0.0.1:{port}")):
        response = client.post(
            "/register/patient/",
            {
                "email": "smtp@example.org",
                "password": PASSWORD,
                "gender": "diverse",
                "birth_date": "1980-01-01",
                "accept_terms": "on",
            },
        )
    assert response.status_code == 302
    deadline = time.monotonic() + 5
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["smtp@example.org"]
    assert message["Subject"] == "Activate your HDS account"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert b"/activate/#t=" in body


def test_smtp_server_down_keeps_the_account_and_says_nothing_secret(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()  # nothing listens here
    with override_settings(**_email_settings(f"smtp://127.0.0.1:{port}")):
        response = client.post(
            "/register/patient/",
            {
                "email": "down@example.org",
                "password": PASSWORD,
                "gender": "male",
                "birth_date": "1980-01-01",
                "accept_terms": "on",
            },
        )
    assert response.status_code == 302
    assert Account.objects.filter(email="down@example.org").exists()
    assert "mail activation could not be sent: ConnectionRefusedError" in caplog.text
    assert "#t=" not in caplog.text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("console:", {"EMAIL_BACKEND": "hds.notifications.backends.MaskingConsoleBackend"}),
        (
            "smtp+starttls://user%40x:p%3Ass@mail.example.org:587",
            {
                "EMAIL_HOST": "mail.example.org",
                "EMAIL_PORT": 587,
                "EMAIL_HOST_USER": "user@x",
                "EMAIL_HOST_PASSWORD": "p:ss",
                "EMAIL_USE_TLS": True,
                "EMAIL_USE_SSL": False,
            },
        ),
        ("smtps://mail.example.org", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True}),
        ("file:///srv/mails", {"EMAIL_FILE_PATH": "/srv/mails"}),
    ],
)
def test_email_url_parsing(url: str, expected: dict[str, object]) -> None:
    parsed = _email_settings(url)
    for key, value in expected.items():
        assert parsed[key] == value


@pytest.mark.parametrize("url", ["smtp://", "pop3://x", "smtp://host:notaport"])
def test_bad_email_url_fails_clearly(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        _email_settings(url)
