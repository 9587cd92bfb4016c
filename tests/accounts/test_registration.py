"""Self-registration, the once-shown activation code and passport, and activation."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from hds.accounts.models import Account, AuthEvent
from tests.conftest import PASSWORD, code_fields, mail_link, stable_html

pytestmark = pytest.mark.django_db(transaction=True)  # mails go out on commit

PATIENT = {
    "email": "Petra@Example.org",
    "password": PASSWORD,
    "gender": "female",
    "birth_date": "1956-04-01",
    "accept_terms": "on",
}
PRO = {
    "email": "dr.bob@example.org",
    "password": PASSWORD,
    "title": "Dr.",
    "first_name": "Bob",
    "last_name": "Bauer",
    "practice_kind": "radiology",
    "practice_name": "Radiologie Mitte",
    "street": "Hauptstr. 1",
    "postal_code": "10115",
    "city": "Berlin",
    "accept_terms": "on",
}


def _shown_code(client: Client) -> str:
    page = client.get("/register/code/").content.decode()
    match = re.search(r'data-testid="activation-code">([0-9A-Z-]{19})<', page)
    assert match, page
    return match.group(1)


def test_patient_registers_sees_code_once_and_activates(client: Client) -> None:
    response = client.post("/register/patient/", PATIENT)
    assert response.status_code == 302
    assert response["Location"] == "/register/code/"
    code = _shown_code(client)

    pdf = client.get("/register/passport.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Cache-Control"] == "no-store, private"
    assert pdf.content.startswith(b"%PDF")

    done = client.post("/register/code/")
    assert "Check your e-mail" in done.content.decode()
    # Shown once: afterwards neither the page nor the passport has it.
    assert client.get("/register/code/").status_code == 302
    assert client.get("/register/passport.pdf").status_code == 302

    account = Account.objects.get(email="petra@example.org")
    assert not account.is_activated
    assert account.gender == "female"
    assert str(account.birth_date) == "1956-04-01"
    assert len(mail.outbox) == 1
    assert code.replace("-", "") not in mail.outbox[0].body  # the code is never mailed
    _url, token = mail_link(mail.outbox[0], "/activate/")

    response = client.post(
        "/activate/", {"token": token, "password": PASSWORD, **code_fields(code)}
    )
    assert response.status_code == 302
    assert response["Location"] == "/documents/"
    assert Account.objects.get(pk=account.pk).is_activated
    assert client.get("/documents/").status_code == 200
    assert AuthEvent.objects.filter(account=account, kind=AuthEvent.Kind.ACTIVATED).exists()


def test_professional_registers_with_practice_details(client: Client) -> None:
    assert client.post("/register/professional/", PRO).status_code == 302
    account = Account.objects.get(email="dr.bob@example.org")
    assert account.role == "professional"
    assert account.practice_name == "Radiologie Mitte"
    assert account.practice_kind == "radiology"


def test_patient_must_give_gender_and_birth_date(client: Client) -> None:
    data = {**PATIENT, "gender": "", "birth_date": ""}
    response = client.post("/register/patient/", data)
    assert response.status_code == 200
    assert not Account.objects.exists()
    assert "This field is required." in response.content.decode()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "too short"),
        ("password1234", "too common"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused_with_reason(
    client: Client, password: str, message: str
) -> None:
    response = client.post("/register/patient/", {**PATIENT, "password": password})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Account.objects.exists()


def test_registering_a_taken_address_looks_the_same_and_warns_the_owner(
    client: Client, alice: object
) -> None:
    response = client.post("/register/patient/", {**PATIENT, "email": "alice@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/register/code/"
    decoy = _shown_code(client)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", decoy)
    assert Account.objects.filter(email="alice@example.org").count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.org"]
    assert "already have an account" in mail.outbox[0].body


def test_activation_refuses_wrong_code_and_counts_it(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    _url, token = mail_link(mail.outbox[0], "/activate/")
    response = client.post(
        "/activate/", {"token": token, "password": PASSWORD, **code_fields("0" * 16)}
    )
    assert response.status_code == 200
    assert "does not belong to this account" in response.content.decode()
    account = Account.objects.get()
    assert not account.is_activated
    assert AuthEvent.objects.filter(account=account, kind=AuthEvent.Kind.AC_FAILED).count() == 1


def test_activation_locks_code_entry_after_five_failures_and_mails(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    code = _shown_code(client)
    _url, token = mail_link(mail.outbox[0], "/activate/")
    for _ in range(5):
        client.post("/activate/", {"token": token, "password": PASSWORD, **code_fields("1" * 16)})
    response = client.post(
        "/activate/", {"token": token, "password": PASSWORD, **code_fields(code)}
    )
    assert response.status_code == 429
    assert "locked for 24 hours" in response.content.decode()
    assert not Account.objects.get().is_activated
    assert any("locked" in m.subject for m in mail.outbox)


def test_activation_with_bad_or_missing_token_is_refused(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    code = _shown_code(client)
    response = client.post(
        "/activate/", {"token": "forged:token", "password": PASSWORD, **code_fields(code)}
    )
    assert "invalid or has expired" in response.content.decode()
    response = client.post("/activate/", {"password": PASSWORD, **code_fields(code)})
    assert response.status_code == 200
    assert not Account.objects.get().is_activated


def test_activation_code_typing_is_forgiving(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    code = _shown_code(client).replace("0", "o").replace("1", "l").lower()
    _url, token = mail_link(mail.outbox[0], "/activate/")
    response = client.post(
        "/activate/", {"token": token, "password": PASSWORD, **code_fields(code)}
    )
    assert response.status_code == 302


def test_activation_with_wrong_password_is_refused(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    code = _shown_code(client)
    _url, token = mail_link(mail.outbox[0], "/activate/")
    response = client.post(
        "/activate/", {"token": token, "password": "not my password!!", **code_fields(code)}
    )
    assert "not the one you registered with" in response.content.decode()
    assert not Account.objects.get().is_activated


def test_activation_link_works_once(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    code = _shown_code(client)
    _url, token = mail_link(mail.outbox[0], "/activate/")
    client.post("/activate/", {"token": token, "password": PASSWORD, **code_fields(code)})
    other = Client()
    response = other.post("/activate/", {"token": token, "password": PASSWORD, **code_fields(code)})
    assert response.status_code == 200
    assert "invalid or has expired" in response.content.decode()


def test_resend_activation_answers_the_same_for_unknown_addresses(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    mail.outbox.clear()
    known = client.post("/activate/resend/", {"email": "petra@example.org"})
    unknown = client.post("/activate/resend/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert stable_html(known.content) == stable_html(unknown.content)
    assert [m.to for m in mail.outbox] == [["petra@example.org"]]


def test_unactivated_login_explains_what_to_do(client: Client) -> None:
    client.post("/register/patient/", PATIENT)
    response = client.post("/login/", {"email": "petra@example.org", "password": PASSWORD})
    assert response.status_code == 200
    assert "not activated yet" in response.content.decode()
