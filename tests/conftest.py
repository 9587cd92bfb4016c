"""Shared fixtures: personas (alice owns, bob is assigned, charlie is the outsider) and helpers."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import caches
from django.test import Client
from django.utils import translation

from hds.accounts.models import Account
from hds.accounts.services import create_account

PASSWORD = "correct horse battery staple 42"


@dataclass
class Persona:
    account: Account
    password: str
    activation_code: str

    @property
    def email(self) -> str:
        return self.account.email


def make_persona(
    email: str, *, role: str = "patient", password: str = PASSWORD, activated: bool = True
) -> Persona:
    profile: dict[str, object]
    if role == "patient":
        profile = {"gender": "female", "birth_date": datetime.date(1970, 5, 17)}
    else:
        profile = {"first_name": "Bob", "last_name": "Doctor", "practice_name": "Practice"}
    new = create_account(
        email=email, password=password, role=role, profile=profile, activated=activated
    )
    return Persona(new.account, password, new.activation_code)


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Views activate the account's language in this thread; don't let it leak into other tests."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Throttle counters and epoch secrets must not leak between tests."""
    for alias in ("default", "epochs"):
        caches[alias].clear()
    yield
    for alias in ("default", "epochs"):
        caches[alias].clear()


@pytest.fixture
def alice(db: None) -> Persona:
    return make_persona("alice@example.org")


@pytest.fixture
def bob(db: None) -> Persona:
    return make_persona("bob@example.org", role="professional")


@pytest.fixture
def charlie(db: None) -> Persona:
    return make_persona("charlie@example.org")


def log_in(client: Client, persona: Persona, password: str | None = None) -> None:
    response = client.post(
        "/login/", {"email": persona.email, "password": password or persona.password}
    )
    assert response.status_code == 302, response.content.decode()[:2000]


@pytest.fixture
def alice_client(client: Client, alice: Persona) -> Client:
    log_in(client, alice)
    return client


def mail_link(message: mail.EmailMessage, path: str) -> tuple[str, str]:
    """Return (url, token) of the first link to ``path`` in a mail body."""
    match = re.search(rf"(https?://\S+{re.escape(path)})#t=(\S+)", str(message.body))
    assert match, f"no {path} link in mail: {message.subject}"
    return match.group(1), match.group(2)


def code_fields(code: str) -> dict[str, str]:
    """Split an activation code into the four form fields."""
    plain = code.replace("-", "")
    return {f"code_{i + 1}": plain[i * 4 : i * 4 + 4] for i in range(4)}


def stable_html(content: bytes) -> str:
    """A page without its per-request CSRF tokens and CSP nonces, for comparing responses."""
    text = content.decode()
    text = re.sub(r'name="csrf-token" content="[^"]+"', "", text)
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
    return re.sub(r'nonce="[^"]+"', "", text)
