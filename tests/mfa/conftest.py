"""Helpers for the second-factor tests: enrol TOTP directly, log in through both steps."""

from __future__ import annotations

import re

from django.test import Client

from hds.mfa import services
from tests.conftest import Persona


def enrol_totp(persona: Persona) -> tuple[bytes, list[str]]:
    """Give the persona an authenticator app; return its secret and the recovery codes."""
    secret = services.new_totp_secret()
    code = services.totp_code(secret, services.current_step())
    codes = services.enable_totp(persona.account, secret, code)
    assert codes is not None
    return secret, codes


def now_code(secret: bytes) -> str:
    return services.totp_code(secret, services.current_step())


def password_step(client: Client, persona: Persona, next_url: str = "") -> None:
    data = {"email": persona.email, "password": persona.password}
    if next_url:
        data["next"] = next_url
    response = client.post("/login/", data)
    assert response.status_code == 302
    assert response["Location"] == "/login/verify/"


def error_text(content: bytes) -> str:
    return re.sub(r"\s+", " ", content.decode())
