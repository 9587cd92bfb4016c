"""Second factors: TOTP, recovery codes, the login's second step, step-up (docs/security.md)."""

from __future__ import annotations

import base64
import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from hds.accounts.models import Account, AuthEvent
from hds.crypto.errors import InvalidCiphertext, InvalidCode
from hds.keys.keyring import SESSION_FIELD
from hds.keys.models import Session
from hds.mfa import pending, sealing, services
from hds.mfa.models import Passkey, RecoveryCode, TotpDevice
from tests.conftest import Persona, log_in
from tests.mfa.conftest import enrol_totp, error_text, now_code, password_step

pytestmark = pytest.mark.django_db(transaction=True)
START = "2026-11-28 10:00:00+00:00"


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# --- TOTP and recovery codes (services) ------------------------------------------------------


def test_totp_secret_rests_sealed_under_a_server_key(alice: Persona) -> None:
    secret, _codes = enrol_totp(alice)
    device = TotpDevice.objects.get(account=alice.account)
    sealed = bytes(device.sealed_secret)
    assert secret not in sealed
    assert services.totp_key_text(secret).encode() not in sealed
    assert sealing.open_totp_secret(alice.account.pk, sealed, device.key_version) == secret
    with pytest.raises(InvalidCiphertext):  # bound to the account: no copying between rows
        sealing.open_totp_secret("another-account", sealed, device.key_version)


def test_enrolment_needs_a_matching_code(alice: Persona) -> None:
    secret = services.new_totp_secret()
    with pytest.raises(InvalidCode):
        services.enable_totp(
            alice.account, secret, "000000" if now_code(secret) != "000000" else "111111"
        )
    assert not services.is_enrolled(alice.account)


def test_totp_code_is_accepted_once_per_time_step(alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        assert not services.verify_totp(alice.account, now_code(secret))  # enrolment used it
        clock.shift(30)
        code = now_code(secret)
        assert services.verify_totp(alice.account, code)
        assert not services.verify_totp(alice.account, code)  # replay in the same step
        clock.shift(30)
        assert services.verify_totp(alice.account, now_code(secret))
        assert not services.verify_totp(alice.account, "12345")
        assert not services.verify_totp(alice.account, "abcdef")


def test_totp_accepts_one_step_of_clock_drift_only(alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(300)
        step = services.current_step()
        assert not services.verify_totp(alice.account, services.totp_code(secret, step - 3))
        assert services.verify_totp(alice.account, services.totp_code(secret, step - 1))


def test_recovery_codes_are_hashed_and_single_use(alice: Persona) -> None:
    _secret, codes = enrol_totp(alice)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    rows = RecoveryCode.objects.filter(account=alice.account)
    assert rows.count() == 10
    stored = b"".join(bytes(r.code_hash) for r in rows)
    for code in codes:
        assert code.replace("-", "").encode() not in stored
    assert services.use_recovery_code(alice.account, codes[0].lower())  # typed loosely
    assert not services.use_recovery_code(alice.account, codes[0])  # used up
    assert services.status(alice.account).recovery_codes_left == 9
    assert not services.use_recovery_code(alice.account, "0000-0000-0000")


def test_new_recovery_codes_replace_the_old(alice: Persona) -> None:
    _secret, codes = enrol_totp(alice)
    new = services.regenerate_recovery_codes(alice.account)
    assert not services.use_recovery_code(alice.account, codes[1])
    assert services.use_recovery_code(alice.account, new[1])


def test_removing_the_last_factor_drops_recovery_codes(alice: Persona) -> None:
    enrol_totp(alice)
    assert services.remove_totp(alice.account)
    assert not services.is_enrolled(alice.account)
    assert not RecoveryCode.objects.filter(account=alice.account).exists()


# --- the login's second step -----------------------------------------------------------------


def test_login_with_totp_takes_a_second_step(client: Client, alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(30)
        password_step(client, alice, next_url="/account/")
        # Not logged in yet: the AMS waits sealed in the anonymous session's keyring.
        assert client.get("/documents/").status_code == 302
        row = Session.objects.get()
        assert row.account_id is None
        assert "mfa_pending_ams" not in row.session_data
        page = client.get("/login/verify/")
        assert page.status_code == 200
        assert "authenticator app" in page.content.decode()
        response = client.post("/login/verify/", {"code": now_code(secret)})
        assert response.status_code == 302
        assert response["Location"] == "/account/"
        assert client.get("/documents/").status_code == 200
        assert AuthEvent.objects.filter(account=alice.account, kind=services.SECOND_FACTOR_OK)
        # The pending state is gone; the new session holds the keyring.
        assert client.get("/login/verify/").status_code == 302
        assert SESSION_FIELD in client.session


def test_wrong_code_is_refused_and_replayed_code_too(client: Client, alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(30)
        code = now_code(secret)
        password_step(client, alice)
        wrong = client.post("/login/verify/", {"code": "000000" if code != "000000" else "111111"})
        assert wrong.status_code == 200
        assert "This code is not correct." in error_text(wrong.content)
        assert client.post("/login/verify/", {"code": code}).status_code == 302
        client.post("/logout/")
        other = Client()
        password_step(other, alice)
        replay = other.post("/login/verify/", {"code": code})
        assert replay.status_code == 200
        assert "This code is not correct." in error_text(replay.content)
        assert other.get("/documents/").status_code == 302


def test_recovery_code_logs_in_once(client: Client, alice: Persona) -> None:
    _secret, codes = enrol_totp(alice)
    mail.outbox.clear()
    password_step(client, alice)
    assert client.post("/login/verify/", {"code": codes[3]}).status_code == 302
    assert client.get("/documents/").status_code == 200
    assert any("Two-factor" in m.subject for m in mail.outbox)
    client.post("/logout/")
    password_step(client, alice)
    again = client.post("/login/verify/", {"code": codes[3]})
    assert again.status_code == 200


def test_pending_login_expires_after_five_minutes(client: Client, alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(30)
        password_step(client, alice)
        clock.shift(pending.PENDING_SECONDS + 1)
        response = client.post("/login/verify/", {"code": now_code(secret)}, follow=True)
        assert response.redirect_chain[0] == ("/login/", 302)
        assert "The login took too long." in response.content.decode()
        assert client.get("/documents/").status_code == 302
        assert pending.PENDING not in client.session


def test_five_wrong_second_factors_go_back_to_the_password(client: Client, alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(30)
        right = now_code(secret)
        wrong = "000000" if right != "000000" else "111111"
        mail.outbox.clear()
        password_step(client, alice)
        for _ in range(pending.MAX_FAILURES - 1):
            assert client.post("/login/verify/", {"code": wrong}).status_code == 200
        last = client.post("/login/verify/", {"code": wrong})
        assert last.status_code == 302
        assert last["Location"] == "/login/"
        # The right code no longer helps: the pending login is gone.
        assert client.post("/login/verify/", {"code": right})["Location"] == "/login/"
        assert client.get("/documents/").status_code == 302
        failed = AuthEvent.objects.filter(account=alice.account, kind=services.SECOND_FACTOR_FAILED)
        assert failed.count() == pending.MAX_FAILURES
        assert any("second factor" in m.subject for m in mail.outbox)


def test_second_factor_failures_are_limited_per_account(alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(30)
        wrong = "000000" if now_code(secret) != "000000" else "111111"
        for _ in range(pending.ACCOUNT_MAX_FAILURES // pending.MAX_FAILURES):
            client = Client()
            password_step(client, alice)
            for _ in range(pending.MAX_FAILURES):
                client.post("/login/verify/", {"code": wrong})
        client = Client()
        password_step(client, alice)
        blocked = client.post("/login/verify/", {"code": now_code(secret)})
        assert blocked.status_code == 302
        assert blocked["Location"] == "/login/"
        assert client.get("/documents/").status_code == 302


def test_a_hundred_wrong_second_factors_in_a_row_lock_the_account(alice: Persona) -> None:
    enrol_totp(alice)
    for _ in range(pending.LOCK_FAILURES - 1):
        pending.record_account_failure(alice.account)
    pending.record_account_success(alice.account)  # a right one ends the streak
    for _ in range(pending.LOCK_FAILURES - 1):
        pending.record_account_failure(alice.account)
    assert Account.objects.get(pk=alice.account.pk).locked_at is None
    mail.outbox.clear()
    pending.record_account_failure(alice.account)
    assert Account.objects.get(pk=alice.account.pk).locked_at is not None
    assert any("locked" in m.subject for m in mail.outbox)


def test_accounts_without_mfa_log_in_in_one_step(client: Client, alice: Persona) -> None:
    log_in(client, alice)
    assert client.get("/documents/").status_code == 200


# --- enrolment through the pages ------------------------------------------------------------


def test_enrol_totp_through_the_pages(alice_client: Client, alice: Persona) -> None:
    account_page = alice_client.get("/account/").content.decode()
    assert "Two-factor authentication is off." in account_page
    assert 'href="/account/mfa/"' in account_page
    page = alice_client.get("/account/mfa/totp/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml' in html
    key = re.search(r'data-testid="totp-key">([A-Z2-7 ]+)<', html)
    assert key
    # The unconfirmed secret waits in the session keyring, not in a table.
    assert not TotpDevice.objects.exists()
    plain = key.group(1).replace(" ", "")
    secret = base64.b32decode(plain + "=" * (-len(plain) % 8))
    mail.outbox.clear()
    wrong = alice_client.post("/account/mfa/totp/", {"code": "12"})
    assert wrong.status_code == 200
    done = alice_client.post("/account/mfa/totp/", {"code": now_code(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>", done.content.decode())
    assert len(codes) == 10
    assert TotpDevice.objects.filter(account=alice.account).exists()
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "authenticator app was set up" in str(mail.outbox[0].body)
    assert "Authenticator app set up" in alice_client.get("/account/").content.decode()
    settings_page = alice_client.get("/account/mfa/").content.decode()
    assert "Two-factor authentication is on." in settings_page
    assert "10 unused recovery codes left" in settings_page
    # The enrol page is closed now; a second app needs the first one removed.
    assert alice_client.get("/account/mfa/totp/")["Location"] == "/account/mfa/"


def test_regenerate_and_remove_through_the_pages(alice_client: Client, alice: Persona) -> None:
    _secret, old = enrol_totp(alice)
    page = alice_client.post("/account/mfa/recovery-codes/")
    assert page.status_code == 200
    new = re.findall(r"<code>([0-9A-Z-]{14})</code>", page.content.decode())
    assert len(new) == 10
    assert not set(new) & set(old)
    removed = alice_client.post("/account/mfa/totp/remove/")
    assert removed["Location"] == "/account/mfa/"
    assert not services.is_enrolled(alice.account)


def test_mails_are_german_for_german_accounts(alice: Persona) -> None:
    Account.objects.filter(pk=alice.account.pk).update(language="de")
    alice.account.refresh_from_db()
    mail.outbox.clear()
    enrol_totp(alice)
    assert "Zwei-Faktor" in mail.outbox[0].subject


# --- step-up --------------------------------------------------------------------------------


def test_step_up_asks_for_the_password_and_returns(client: Client, alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        log_in(client, alice)
        assert client.get("/account/mfa/totp/").status_code == 200  # the login counts
        clock.shift(11 * 60)
        client.get("/account/")  # still logged in (idle timeout is 15 minutes)
        clock.shift(60)
        response = client.get("/account/mfa/totp/")
        assert response.status_code == 302
        assert response["Location"] == "/account/confirm/?next=%2Faccount%2Fmfa%2Ftotp%2F"
        wrong = client.post(
            "/account/confirm/",
            {"password": "not my password 123", "next": "/account/mfa/totp/"},
        )
        assert wrong.status_code == 200
        ok = client.post(
            "/account/confirm/", {"password": alice.password, "next": "/account/mfa/totp/"}
        )
        assert ok["Location"] == "/account/mfa/totp/"
        assert client.get("/account/mfa/totp/").status_code == 200


def test_step_up_refuses_foreign_next(alice_client: Client, alice: Persona) -> None:
    ok = alice_client.post(
        "/account/confirm/", {"password": alice.password, "next": "https://evil.example/"}
    )
    assert ok["Location"] == "/account/"


def test_step_up_needs_the_second_factor_when_enrolled(client: Client, alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        secret, _codes = enrol_totp(alice)
        clock.shift(30)
        password_step(client, alice)
        assert client.post("/login/verify/", {"code": now_code(secret)}).status_code == 302
        clock.shift(11 * 60)
        response = client.post(
            "/account/mfa/totp/remove/", HTTP_REFERER="http://testserver/account/mfa/"
        )
        assert response["Location"] == "/account/confirm/?next=%2Faccount%2Fmfa%2F"
        assert TotpDevice.objects.exists()
        password_only = client.post(
            "/account/confirm/", {"password": alice.password, "next": "/account/mfa/"}
        )
        assert password_only.status_code == 200
        assert "This code is not correct." in error_text(password_only.content)
        clock.shift(30)
        ok = client.post(
            "/account/confirm/",
            {"password": alice.password, "code": now_code(secret), "next": "/account/mfa/"},
        )
        assert ok["Location"] == "/account/mfa/"
        assert client.post("/account/mfa/totp/remove/").status_code == 302
        assert not TotpDevice.objects.exists()


def test_delete_account_needs_a_recent_password(client: Client, alice: Persona) -> None:
    with time_machine.travel(START, tick=False) as clock:
        log_in(client, alice)
        clock.shift(14 * 60)
        response = client.get("/account/delete/")
        assert response["Location"] == "/account/confirm/?next=%2Faccount%2Fdelete%2F"


# --- professionals: grace period and enforcement --------------------------------------------


def test_professional_sees_a_banner_during_the_grace_period(client: Client, bob: Persona) -> None:
    log_in(client, bob)
    page = client.get("/documents/")
    assert page.status_code == 200
    assert 'data-testid="mfa-banner"' in page.content.decode()


def test_professional_without_mfa_is_held_at_the_setup_page_after_grace(
    client: Client, bob: Persona, alice: Persona
) -> None:
    later = timezone.now() + datetime.timedelta(days=15)
    with time_machine.travel(later, tick=False):
        log_in(client, bob)
        for path in ("/documents/", "/account/", "/upload/", "/account/tokens/"):
            response = client.get(path)
            assert response.status_code == 302, path
            assert response["Location"] == "/account/mfa/"
        page = client.get("/account/mfa/")
        assert page.status_code == 200
        assert "Professional accounts need two-factor authentication" in page.content.decode()
        assert client.get("/account/mfa/totp/").status_code == 200
        assert client.get("/account/mfa/passkeys/add/").status_code == 200
        assert client.post("/logout/").status_code == 302
        patient = Client()
        log_in(patient, alice)  # patients are never forced
        assert patient.get("/documents/").status_code == 200


def test_professional_with_mfa_passes_after_grace(client: Client, bob: Persona) -> None:
    secret, _codes = enrol_totp(bob)
    later = timezone.now() + datetime.timedelta(days=15)
    with time_machine.travel(later, tick=False):
        password_step(client, bob)
        assert client.post("/login/verify/", {"code": now_code(secret)}).status_code == 302
        page = client.get("/documents/")
        assert page.status_code == 200
        assert 'data-testid="mfa-banner"' not in page.content.decode()


def test_grace_days_come_from_the_setting(client: Client, bob: Persona, settings: object) -> None:
    settings.HDS_MFA_GRACE_DAYS = 0  # type: ignore[attr-defined]
    log_in(client, bob)
    assert client.get("/documents/")["Location"] == "/account/mfa/"


# --- passkeys (services; the browser test drives a real authenticator) ------------------------


def test_passkey_removal_is_per_account(alice: Persona, charlie: Persona) -> None:
    passkey = Passkey.objects.create(
        account=alice.account, name="laptop", credential_id=b"c1", public_key=b"k"
    )
    assert not services.remove_passkey(charlie.account, passkey.pk)
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    assert services.remove_passkey(alice.account, passkey.pk)


def test_bad_passkey_responses_are_refused(alice: Persona) -> None:
    Passkey.objects.create(
        account=alice.account, name="laptop", credential_id=b"c1", public_key=b"k"
    )
    for response in ("", "{}", "not json", '{"rawId": "YzE"}', '{"rawId": 5}'):
        assert not services.verify_passkey(alice.account, response, b"challenge")
    with pytest.raises(services.PasskeyError):
        services.register_passkey(alice.account, name="x", response_json="{}", challenge=b"c")


def test_rp_id_is_the_host_of_the_base_url(settings: object) -> None:
    settings.BASE_URL = "https://hds.example.org"  # type: ignore[attr-defined]
    assert services.rp_id() == "hds.example.org"
    assert services.expected_origin() == "https://hds.example.org"
