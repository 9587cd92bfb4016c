"""Personal API tokens: made in My account or by `hds token create`; they unlock the keys."""

from __future__ import annotations

import io
import re
import sys

import pytest
from django.test import Client

from hds import cli
from hds.accounts.apitokens import check_token, create_token, revoke_token
from hds.accounts.models import ApiToken
from hds.accounts.services import unlock_master_secret
from tests.archive.factories import ct_series
from tests.conftest import Persona, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_token_unlocks_the_same_keys_and_nothing_usable_is_stored(alice: Persona) -> None:
    ams = unlock_master_secret(alice.account, alice.password)
    new = create_token(alice.account, ams, name="OHIF")
    assert new.text.startswith("hds_")
    credentials = check_token(new.text)
    assert credentials is not None
    assert credentials[0] == alice.account
    assert credentials[1] == ams
    row = ApiToken.objects.get()
    secret_part = new.text[4:]
    assert secret_part.encode() not in bytes(row.secret_hash) + bytes(row.wrapped_ams)
    assert ams not in bytes(row.wrapped_ams)


@pytest.mark.parametrize(
    "text", ["", "hds_", "hds_garbage!!", "Bearer x", "hds_" + "A" * 64, "xyz_" + "A" * 64]
)
def test_bad_tokens_are_refused(text: str, alice: Persona) -> None:
    create_token(alice.account, unlock_master_secret(alice.account, alice.password), name="t")
    assert check_token(text) is None


def test_tampered_and_revoked_tokens_fail(alice: Persona) -> None:
    new = create_token(alice.account, unlock_master_secret(alice.account, alice.password), name="t")
    last = new.text[-1]
    assert check_token(new.text[:-1] + ("A" if last != "A" else "B")) is None
    assert revoke_token(alice.account, new.token.pk)
    assert check_token(new.text) is None
    assert not revoke_token(alice.account, new.token.pk)


def test_bearer_token_uploads_through_the_api_without_cookies(alice: Persona) -> None:
    new = create_token(alice.account, unlock_master_secret(alice.account, alice.password), name="t")
    client = Client(enforce_csrf_checks=True)  # no session: no CSRF needed with a token
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/api/v1/uploads",
        {"file": SimpleUploadedFile("a.dcm", ct_series(1)[0])},
        HTTP_AUTHORIZATION=f"Bearer {new.text}",
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "stored"
    wrong = client.post(
        "/api/v1/uploads",
        {"file": SimpleUploadedFile("a.dcm", ct_series(1)[0])},
        HTTP_AUTHORIZATION="Bearer hds_" + "A" * 64,
    )
    assert wrong.status_code == 401


def test_my_account_creates_shows_once_and_revokes(alice_client: Client, alice: Persona) -> None:
    page = alice_client.post(
        "/account/tokens/", {"name": "Weasis at home", "days": "90", "password": alice.password}
    ).content.decode()
    match = re.search(r'data-testid="new-token">(hds_[A-Za-z0-9_-]+)<', page)
    assert match
    assert check_token(match.group(1)) is not None
    listing = alice_client.get("/account/tokens/").content.decode()
    assert "Weasis at home" in listing
    assert match.group(1) not in listing  # shown once
    token = ApiToken.objects.get()
    assert alice_client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert check_token(match.group(1)) is None


def test_outsider_cannot_revoke_someone_elses_token(alice: Persona, charlie: Persona) -> None:
    new = create_token(alice.account, unlock_master_secret(alice.account, alice.password), name="t")
    client = Client()
    log_in(client, charlie)
    client.post(f"/account/tokens/{new.token.pk}/revoke/")
    assert check_token(new.text) is not None


def test_hds_token_create(
    alice: Persona, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(alice.password + "\n"))
    assert cli.main(["token", "create", "--email", alice.email, "--password-stdin"]) == 0
    text = capsys.readouterr().out.strip().splitlines()[-1]
    assert check_token(text) is not None
    monkeypatch.setattr(sys, "stdin", io.StringIO("wrong password here\n"))
    assert cli.main(["token", "create", "--email", alice.email, "--password-stdin"]) == 2
    assert "not correct" in capsys.readouterr().err
