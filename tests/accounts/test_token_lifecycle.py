"""API tokens are keys to the whole account: made only with the password, they expire, their
holder hears of each new one, and password change, recovery, reset and deletion revoke them
(docs/security.md, API tokens). Each test fails on a token that survives."""

from __future__ import annotations

import datetime
import io
import re
import sys

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from hds import cli
from hds.accounts.apitokens import check_token, create_token
from hds.accounts.models import ApiToken, AuthEvent
from hds.accounts.services import unlock_master_secret
from tests.archive.factories import ct_series
from tests.conftest import Persona, code_fields, log_in, mail_link
from tests.dicomweb.conftest import BOUNDARY, multipart_body

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "another long passphrase 77"


def _token(persona: Persona, days: int | None = None) -> str:
    ams = unlock_master_secret(persona.account, persona.password)
    return create_token(persona.account, ams, name="viewer", days=days).text


def _qido(token: str) -> int:
    return Client().get("/dicomweb/studies", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def _stow(token: str) -> int:
    return (
        Client()
        .post(
            "/dicomweb/studies",
            multipart_body(ct_series(1)),
            content_type=f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_ACCEPT="application/dicom+json",
        )
        .status_code
    )


def test_a_token_works_through_qido_and_stow_until_revoked(alice: Persona) -> None:
    token = _token(alice)
    assert _qido(token) == 200
    assert _stow(token) == 200


def test_password_change_revokes_tokens(client: Client, alice: Persona) -> None:
    token = _token(alice)
    log_in(client, alice)
    page = client.get("/account/password/").content.decode()
    assert "API tokens will be revoked" in page
    response = client.post(
        "/account/password/",
        {
            "current_password": alice.password,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert _qido(token) == 401
    assert _stow(token) == 401
    assert not ApiToken.objects.exists()
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.TOKENS_REVOKED).count() == 1
    assert "API tokens were revoked" in mail.outbox[-1].body


def test_recovery_revokes_tokens(client: Client, alice: Persona) -> None:
    token = _token(alice)
    client.post("/password/forgot/", {"email": alice.email})
    _url, link = mail_link(mail.outbox[-1], "/recover/")
    response = client.post(
        "/recover/",
        {"token": link, "new_password": NEW_PASSWORD, **code_fields(alice.activation_code)},
    )
    assert response.status_code == 302
    assert _qido(token) == 401
    assert _stow(token) == 401


def test_account_reset_revokes_tokens(client: Client, alice: Persona) -> None:
    token = _token(alice)
    client.post("/password/forgot/", {"email": alice.email, "forgot_code": "1"})
    _url, link = mail_link(mail.outbox[-1], "/reset/")
    response = client.post(
        "/reset/", {"token": link, "new_password": NEW_PASSWORD, "understand": "on"}
    )
    assert response.status_code == 302
    assert _qido(token) == 401
    assert _stow(token) == 401


def test_account_deletion_revokes_tokens(client: Client, alice: Persona) -> None:
    token = _token(alice)
    log_in(client, alice)
    response = client.post("/account/delete/", {"password": alice.password, "understand": "on"})
    assert response.status_code == 302
    assert _qido(token) == 401


def test_creating_needs_the_password_and_mails_the_holder(
    alice_client: Client, alice: Persona
) -> None:
    mail.outbox.clear()
    refused = alice_client.post(
        "/account/tokens/", {"name": "x", "days": "90", "password": "not my password at all"}
    )
    assert refused.status_code == 400
    assert "password is not correct" in refused.content.decode()
    missing = alice_client.post("/account/tokens/", {"name": "x", "days": "90"})
    assert missing.status_code == 400
    assert not ApiToken.objects.exists()
    assert mail.outbox == []

    page = alice_client.post(
        "/account/tokens/", {"name": "OHIF", "days": "30", "password": alice.password}
    ).content.decode()
    assert re.search(r'data-testid="new-token">hds_', page)
    token = ApiToken.objects.get()
    expected = timezone.now() + datetime.timedelta(days=30)
    assert abs((token.expires_at - expected).total_seconds()) < 60
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.TOKEN_CREATED).count() == 1
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "OHIF" in mail.outbox[0].body
    listing = alice_client.get("/account/tokens/").content.decode()
    assert "expires" in listing
    assert "never used" in listing


@pytest.mark.parametrize("days", ["0", "400", "-1", "many"])
def test_lifetimes_beyond_a_year_are_refused(
    alice_client: Client, alice: Persona, days: str
) -> None:
    response = alice_client.post(
        "/account/tokens/", {"name": "x", "days": days, "password": alice.password}
    )
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    with pytest.raises(ValueError, match="1 to 365"):
        _token(alice, days=400)


def test_a_token_expires(alice: Persona) -> None:
    token = _token(alice, days=30)
    assert check_token(token) is not None
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
        assert check_token(token) is None
        assert _qido(token) == 401


def test_default_lifetime_is_90_days(alice: Persona) -> None:
    _token(alice)
    token = ApiToken.objects.get()
    assert (token.expires_at - token.created_at).days == 90


def test_cli_creates_lists_and_revokes(
    alice: Persona, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(alice.password + "\n"))
    assert (
        cli.main(["token", "create", "--email", alice.email, "--password-stdin", "--days", "7"])
        == 0
    )
    out = capsys.readouterr().out
    text = out.strip().splitlines()[-1]
    assert check_token(text) is not None
    token = ApiToken.objects.get()
    assert cli.main(["token", "list", "--email", alice.email]) == 0
    listing = capsys.readouterr().out
    assert str(token.pk) in listing
    assert f"expires {token.expires_at:%Y-%m-%d}" in listing
    assert "last used" in listing
    assert text not in listing

    monkeypatch.setattr(sys, "stdin", io.StringIO(alice.password + "\n"))
    too_long = ["token", "create", "--email", alice.email, "--password-stdin", "--days", "366"]
    assert cli.main(too_long) == 2

    assert cli.main(["token", "revoke", "--email", alice.email, "--id", str(token.pk)]) == 0
    assert check_token(text) is None
    assert cli.main(["token", "revoke", "--email", alice.email, "--id", str(token.pk)]) == 2
    _token(alice)
    _token(alice)
    assert cli.main(["token", "revoke", "--email", alice.email, "--all"]) == 0
    assert "revoked 2 tokens" in capsys.readouterr().out
    assert not ApiToken.objects.exists()


def test_with_a_second_factor_a_token_needs_a_recent_step_up(
    client: Client, alice: Persona
) -> None:
    from tests.mfa.conftest import enrol_totp, now_code, password_step

    form = {"name": "laptop", "days": "90", "password": alice.password}
    with time_machine.travel("2026-11-28 10:00:00+00:00", tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(30)
        password_step(client, alice)
        assert client.post("/login/verify/", {"code": now_code(secret)}).status_code == 302
        clock.shift(11 * 60)  # the login no longer counts as a recent check
        response = client.post("/account/tokens/", form)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/confirm/")
        assert not ApiToken.objects.exists()
        clock.shift(30)
        client.post(
            "/account/confirm/",
            {"password": alice.password, "code": now_code(secret), "next": "/account/tokens/"},
        )
        assert client.post("/account/tokens/", form).status_code == 200
        assert ApiToken.objects.count() == 1
