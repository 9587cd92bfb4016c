"""Change password, recover with the activation code (data kept), reset (data lost), delete."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client, RequestFactory

from hds.accounts import services
from hds.accounts.models import Account, AuthEvent
from hds.crypto.accountkeys import derive_account_keys
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.grants import new_dek, open_grant, seal_grant
from hds.keys.models import Session
from tests.conftest import Persona, code_fields, log_in, mail_link

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "another long passphrase 77"
STUDY = b"0123456789abcdef"


def _ams(persona: Persona, password: str) -> bytes:
    request = RequestFactory().post("/login/")
    _account, ams = services.log_in(
        email=persona.email, password=password, ip_hash="t", request=request
    )
    return ams


def _seal_study_key(account: Account) -> tuple[bytes, bytes]:
    """What the archive will do: seal a study key to the account's public key."""
    dek = new_dek()
    sealed = seal_grant(
        dek,
        bytes(account.x25519_public),
        study_id=STUDY,
        kind="account",
        principal_id=str(account.pk).encode(),
        key_version=account.key_version,
    )
    return dek, sealed


def _open(account: Account, ams: bytes, sealed: bytes, key_version: int) -> bytes:
    return open_grant(
        sealed,
        derive_account_keys(ams).x25519_private,
        study_id=STUDY,
        kind="account",
        principal_id=str(account.pk).encode(),
        key_version=key_version,
    )


def test_change_password_keeps_keys_and_ends_other_sessions(client: Client, alice: Persona) -> None:
    ams_before = _ams(alice, alice.password)
    other = Client()
    log_in(other, alice)
    log_in(client, alice)
    wrap_before = bytes(Account.objects.get().wrap_pw)
    response = client.post(
        "/account/password/",
        {"current_password": alice.password, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/documents/").status_code == 200  # this session goes on
    assert other.get("/documents/").status_code == 302  # the other one ended
    account = Account.objects.get()
    assert bytes(account.wrap_pw) != wrap_before
    assert _ams(alice, NEW_PASSWORD) == ams_before
    with pytest.raises(services.LoginFailed):
        _ams(alice, alice.password)
    assert any("password was changed" in m.subject for m in mail.outbox)


def test_change_password_needs_the_current_one(alice_client: Client) -> None:
    response = alice_client.post(
        "/account/password/",
        {"current_password": "not it at all 99", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "current password is not correct" in response.content.decode()


def test_forgot_password_with_activation_code_keeps_data(client: Client, alice: Persona) -> None:
    ams = _ams(alice, alice.password)
    dek, sealed = _seal_study_key(alice.account)
    logged_in_elsewhere = Client()
    log_in(logged_in_elsewhere, alice)

    response = client.post("/password/forgot/", {"email": alice.email, "recover": "1"})
    assert "Check your e-mail" in response.content.decode()
    _url, token = mail_link(mail.outbox[-1], "/recover/")
    response = client.post(
        "/recover/",
        {"token": token, "new_password": NEW_PASSWORD, **code_fields(alice.activation_code)},
    )
    assert response.status_code == 302
    assert logged_in_elsewhere.get("/documents/").status_code == 302  # all sessions ended

    new_ams = _ams(alice, NEW_PASSWORD)
    assert new_ams == ams  # byte-identical master secret, so every study key still opens
    account = Account.objects.get()
    assert _open(account, new_ams, sealed, account.key_version) == dek
    with pytest.raises(services.LoginFailed):
        _ams(alice, alice.password)
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.RECOVERED).count() == 1
    # The link is single-use.
    again = client.post(
        "/recover/",
        {
            "token": token,
            "new_password": "third passphrase here 5",
            **code_fields(alice.activation_code),
        },
    )
    assert "invalid, has expired or was used" in again.content.decode()


def test_recovery_with_wrong_code_changes_nothing(client: Client, alice: Persona) -> None:
    client.post("/password/forgot/", {"email": alice.email})
    _url, token = mail_link(mail.outbox[-1], "/recover/")
    response = client.post(
        "/recover/", {"token": token, "new_password": NEW_PASSWORD, **code_fields("Z" * 16)}
    )
    assert "does not belong to this account" in response.content.decode()
    _ams(alice, alice.password)


def test_forgot_password_for_unknown_address_looks_the_same(client: Client, alice: Persona) -> None:
    known = client.post("/password/forgot/", {"email": alice.email})
    unknown = client.post("/password/forgot/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_account_reset_loses_data_by_construction(client: Client, alice: Persona) -> None:
    old_ams = _ams(alice, alice.password)
    dek, sealed = _seal_study_key(alice.account)
    old_public = bytes(alice.account.x25519_public)
    old_wrap_ac = bytes(alice.account.wrap_ac)

    response = client.post("/password/forgot/", {"email": alice.email, "forgot_code": "1"})
    assert "reset the account" in response.content.decode()
    reset_mail = mail.outbox[-1]
    assert "permanently" in reset_mail.body
    _url, token = mail_link(reset_mail, "/reset/")

    refused = client.post("/reset/", {"token": token, "new_password": NEW_PASSWORD})
    assert refused.status_code == 200  # the loss must be confirmed
    assert bytes(Account.objects.get().x25519_public) == old_public

    response = client.post(
        "/reset/", {"token": token, "new_password": NEW_PASSWORD, "understand": "on"}
    )
    assert response.status_code == 302
    page = client.get("/register/code/").content.decode()
    new_code = re.search(r'data-testid="activation-code">([0-9A-Z-]{19})<', page)
    assert new_code
    assert "new keys" in page

    account = Account.objects.get()
    assert bytes(account.x25519_public) != old_public
    assert bytes(account.wrap_ac) != old_wrap_ac
    assert account.key_version == 2
    new_ams = _ams(alice, NEW_PASSWORD)
    assert new_ams != old_ams
    with pytest.raises(InvalidCiphertext):
        _open(account, new_ams, sealed, 1)  # what was sealed to the old key cannot be opened
    assert _open(account, old_ams, sealed, 1) == dek  # only the lost secret could
    # The old activation code opens nothing any more; the new one does.
    with pytest.raises(services.WrongActivationCode):
        services._unwrap_with_code(account, alice.activation_code)
    assert services._unwrap_with_code(account, new_code.group(1)) == new_ams


def test_regenerate_activation_code_keeps_data(alice_client: Client, alice: Persona) -> None:
    ams = _ams(alice, alice.password)
    response = alice_client.post("/account/activation-code/", {"password": alice.password})
    assert response.status_code == 302
    page = alice_client.get("/register/code/").content.decode()
    code = re.search(r'data-testid="activation-code">([0-9A-Z-]{19})<', page)
    assert code
    account = Account.objects.get()
    assert services._unwrap_with_code(account, code.group(1)) == ams
    with pytest.raises(services.WrongActivationCode):
        services._unwrap_with_code(account, alice.activation_code)


def test_delete_account_needs_password_and_confirmation(
    alice_client: Client, alice: Persona
) -> None:
    no_confirm = alice_client.post("/account/delete/", {"password": alice.password})
    assert no_confirm.status_code == 200
    wrong = alice_client.post(
        "/account/delete/", {"password": "wrong password 12", "understand": "on"}
    )
    assert "not correct" in wrong.content.decode()
    assert Account.objects.filter(pk=alice.account.pk).exists()

    response = alice_client.post(
        "/account/delete/", {"password": alice.password, "understand": "on"}
    )
    assert response.status_code == 302
    assert not Account.objects.filter(pk=alice.account.pk).exists()
    assert not AuthEvent.objects.filter(account_id=alice.account.pk).exists()
    assert not Session.objects.filter(account_id=alice.account.pk).exists()
    assert alice_client.get("/account/").status_code == 302
    assert any("deleted" in m.subject for m in mail.outbox)


def test_language_preference_changes_pages_and_mails(alice_client: Client, alice: Persona) -> None:
    alice_client.post("/account/language/", {"language": "de"})
    assert Account.objects.get().language == "de"
    page = alice_client.get("/account/").content.decode()
    assert "Mein Konto" in page
    alice_client.post(
        "/account/password/", {"current_password": alice.password, "new_password": NEW_PASSWORD}
    )
    assert "Passwort" in mail.outbox[-1].subject


def test_account_language_follows_the_account_across_requests(
    client: Client, alice: Persona
) -> None:
    Account.objects.filter(pk=alice.account.pk).update(language="de")
    log_in(client, alice)
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "de"
    assert "Mein Konto" in page.content.decode()
    # The header's language switch changes the account's language and returns to the page.
    response = client.post("/account/language/", {"language": "en", "next": "/documents/"})
    assert response["Location"] == "/documents/"
    assert "My documents" in client.get("/documents/").content.decode()
    assert Account.objects.get(pk=alice.account.pk).language == "en"
