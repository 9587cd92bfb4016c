"""Every account form refuses bad input with a message, changes nothing, and never errors (500)."""

from __future__ import annotations

import threading

import pytest
from django.test import Client, RequestFactory, override_settings

from hds.accounts import services, throttle
from hds.accounts.models import Account
from hds.crypto import accountkeys
from tests.conftest import Persona, log_in

pytestmark = pytest.mark.django_db(transaction=True)

GARBAGE = [
    {},
    {"email": "not-an-address", "password": "x"},
    {"email": "a" * 300 + "@example.org"},
    {"token": "\x00\x01", "code_1": "!!!!", "code_2": "ÄÖÜß", "code_3": "", "code_4": "1"},
    {"password": "x" * 10_000, "new_password": "y" * 10_000, "current_password": "z"},
    {"birth_date": "2999-01-01", "gender": "dragon", "practice_kind": "spaceship"},
    {"token": "a:b:c", "understand": "maybe", "language": "xx"},
]

PUBLIC_POSTS = [
    "/register/patient/",
    "/register/professional/",
    "/activate/",
    "/activate/resend/",
    "/login/",
    "/password/forgot/",
    "/recover/",
    "/reset/",
    "/unlock/",
]
PRIVATE_POSTS = [
    "/account/password/",
    "/account/activation-code/",
    "/account/delete/",
    "/account/language/",
]


def _snapshot() -> list[tuple[object, ...]]:
    return list(
        Account.objects.order_by("email").values_list(
            "email", "wrap_pw", "wrap_ac", "x25519_public", "activated_at", "language"
        )
    )


@pytest.mark.parametrize("path", PUBLIC_POSTS)
@pytest.mark.parametrize("data", GARBAGE)
def test_public_forms_refuse_garbage(
    client: Client, alice: Persona, path: str, data: dict[str, str]
) -> None:
    before = _snapshot()
    response = client.post(path, data)
    assert response.status_code in (200, 302, 400)
    if response.status_code == 200:
        page = response.content.decode()
        assert 'class="errorlist' in page or "alert" in page or "Check your e-mail" in page
    assert _snapshot() == before


@pytest.mark.parametrize("path", PRIVATE_POSTS)
@pytest.mark.parametrize("data", GARBAGE)
def test_account_forms_refuse_garbage(
    client: Client, alice: Persona, path: str, data: dict[str, str]
) -> None:
    log_in(client, alice)
    before = _snapshot()
    response = client.post(path, data)
    assert response.status_code in (200, 302)
    assert _snapshot() == before
    assert client.get("/documents/").status_code == 200  # still logged in, nothing broke


@pytest.mark.parametrize("path", PRIVATE_POSTS)
def test_account_forms_need_login(client: Client, path: str) -> None:
    response = client.post(path, {"password": "whatever it is 1"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_unknown_address_costs_the_same_argon2_work(
    alice: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = accountkeys.password_material

    def counting(*args: object, **kwargs: object) -> accountkeys.PasswordMaterial:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "password_material", counting)
    request = RequestFactory().post("/login/")
    for email in (alice.email, "nobody@example.org"):
        calls.clear()
        with pytest.raises(services.LoginFailed):
            services.log_in(
                email=email, password="wrong password 123", ip_hash="t", request=request
            )
        assert len(calls) == 1, email


@override_settings(ARGON2_MAX_CONCURRENT=1, ARGON2_WAIT_SECONDS=0)
def test_argon2_cap_answers_429_with_retry_after(client: Client, alice: Persona) -> None:
    throttle._argon2_slots = None  # made afresh with the overridden cap
    held, release = threading.Event(), threading.Event()

    def hold_slot() -> None:
        with throttle.argon2_slot():
            held.set()
            release.wait(10)

    worker = threading.Thread(target=hold_slot)
    worker.start()
    try:
        held.wait(5)
        response = client.post("/login/", {"email": alice.email, "password": alice.password})
        assert response.status_code == 429
        assert response["Retry-After"] == "5"
        assert "busy" in response.content.decode()
    finally:
        release.set()
        worker.join()
        throttle._argon2_slots = None
    log_in(client, alice)
