"""Throttles that cannot be evicted, limits on everything that mails or costs Argon2id work
without a login, and the global login failure budget with proof of work (docs/security.md,
Throttling)."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.cache import caches
from django.db import DatabaseError
from django.test import Client, RequestFactory

from hds.accounts import challenge, throttle
from hds.accounts.tokens import Purpose, make_token
from hds.core import counters
from hds.core.models import Counter
from tests.conftest import Persona, code_fields, log_in, make_persona

pytestmark = pytest.mark.django_db(transaction=True)
NOW = "2026-11-28 10:00:00+00:00"


def _fail(client: Client, email: str) -> int:
    return client.post("/login/", {"email": email, "password": "wrong password 123"}).status_code


def test_junk_failures_cannot_evict_a_victims_backoff(alice: Persona) -> None:
    """The attack that worked on the 300-entry LocMem cache: the victim stays blocked."""
    with time_machine.travel(NOW, tick=False):
        for _ in range(8):
            assert _fail(Client(), alice.email) in (200, 429)
        assert _fail(Client(), alice.email) == 429
        factory = RequestFactory()
        for i in range(420):  # junk addresses from 15 IPs, each below its IP limit
            request = factory.post("/login/", REMOTE_ADDR=f"203.0.113.{i // 28}")
            throttle.record_login_failure(f"junk{i}@example.org", request)
        for alias in ("default", "epochs"):
            caches[alias].clear()  # what a restart does to a process-memory cache
        response = Client(REMOTE_ADDR="198.51.100.7").post(
            "/login/", {"email": alice.email, "password": alice.password}
        )
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert Counter.objects.count() > 400  # rows, not cache entries


def test_counters_keep_no_address_or_ip_in_clear(alice: Persona) -> None:
    _fail(Client(REMOTE_ADDR="192.0.2.55"), alice.email)
    dump = repr(list(Counter.objects.values_list("key", "data")))
    assert "alice" not in dump
    assert "192.0.2.55" not in dump


def test_a_counter_that_cannot_be_read_refuses(
    alice: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(key: str) -> dict[str, Any]:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(counters, "read", broken)
    response = Client().post("/login/", {"email": alice.email, "password": alice.password})
    assert response.status_code == 429
    assert "cannot check this request" in response.content.decode()


def test_forgot_password_stops_mailing_one_address(alice: Persona) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        client = Client()
        for _ in range(3):
            assert client.post("/password/forgot/", {"email": alice.email}).status_code == 200
        refused = client.post("/password/forgot/", {"email": alice.email})
        assert refused.status_code == 429
        assert "Please wait" in refused.content.decode()
        assert 0 < int(refused["Retry-After"]) <= 3600
        assert len(mail.outbox) == 3
        # From another network the address is just as limited (per address, not only per IP).
        other = Client(REMOTE_ADDR="10.1.1.1")
        assert other.post("/password/forgot/", {"email": alice.email}).status_code == 429
        clock.shift(3601)
        assert client.post("/password/forgot/", {"email": alice.email}).status_code == 200
        assert len(mail.outbox) == 4


def test_one_ip_cannot_mail_many_addresses(alice: Persona) -> None:
    with time_machine.travel(NOW, tick=False):
        client = Client()
        for i in range(10):
            client.post("/password/forgot/", {"email": f"someone{i}@example.org"})
        response = client.post("/password/forgot/", {"email": alice.email})
        assert response.status_code == 429
        assert mail.outbox == []
        assert (
            Client(REMOTE_ADDR="10.2.2.2")
            .post("/password/forgot/", {"email": alice.email})
            .status_code
            == 200
        )


def test_resend_activation_and_reset_requests_share_the_address_limit(db: None) -> None:
    pending = make_persona("pending@example.org", activated=False)
    with time_machine.travel(NOW, tick=False):
        client = Client()
        client.post("/activate/resend/", {"email": pending.email})
        client.post("/activate/resend/", {"email": pending.email})
        client.post("/password/forgot/", {"email": pending.email, "forgot_code": "1"})
        assert client.post("/activate/resend/", {"email": pending.email}).status_code == 429
        assert len(mail.outbox) == 3


def _register(client: Client, email: str) -> int:
    return client.post(
        "/register/patient/",
        {
            "email": email,
            "password": "a long enough passphrase 99",
            "gender": "female",
            "birth_date": "1970-01-01",
            "accept_terms": "on",
        },
    ).status_code


def test_registration_is_limited_per_ip_and_per_address(db: None) -> None:
    with time_machine.travel(NOW, tick=False):
        client = Client()
        for i in range(10):
            assert _register(client, f"new{i}@example.org") == 302
        assert _register(client, "eleventh@example.org") == 429
        again = Client(REMOTE_ADDR="10.3.3.3")
        for _ in range(2):  # the address new0 got one mail already: 2 more, then no more
            assert _register(again, "new0@example.org") == 302
        assert _register(again, "new0@example.org") == 429


def test_unlock_tries_are_limited_per_ip(db: None) -> None:
    with time_machine.travel(NOW, tick=False):
        client = Client()
        for _ in range(10):
            assert client.post("/unlock/", {"token": "forged"}).status_code == 200
        response = client.post("/unlock/", {"token": "forged"})
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0


def test_activation_code_failures_are_limited_per_ip_across_accounts(db: None) -> None:
    people = [make_persona(f"p{i}@example.org") for i in range(3)]
    wrong = {"new_password": "another long passphrase 77", **code_fields("Z" * 16)}
    with time_machine.travel(NOW, tick=False):
        client = Client()
        statuses = [
            client.post("/recover/", {"token": token, **wrong}).status_code
            for token in (make_token(p.account, Purpose.RECOVER) for p in people)
            for _ in range(4)  # below the 5 per account
        ]
        assert statuses[:10] == [200] * 10
        assert statuses[10:] == [429, 429]
        # The right code from this IP waits too; from elsewhere it works.
        token = make_token(people[2].account, Purpose.RECOVER)
        form = {
            "token": token,
            "new_password": "another long passphrase 77",
            **code_fields(people[2].activation_code),
        }
        assert client.post("/recover/", form).status_code == 429
        assert Client(REMOTE_ADDR="10.4.4.4").post("/recover/", form).status_code == 302


def _spend_global_budget(settings: Any, budget: int = 20) -> None:
    settings.LOGIN_GLOBAL_BUDGET = budget
    factory = RequestFactory()
    for i in range(budget + 1):
        request = factory.post("/login/", REMOTE_ADDR=f"198.18.{i // 200}.{i % 200}")
        throttle.record_login_failure(f"spray{i}@example.org", request)


def test_past_the_global_budget_every_login_needs_proof_of_work(
    alice: Persona, settings: Any
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        client = Client()
        assert 'name="pow_challenge"' not in client.get("/login/").content.decode()
        _spend_global_budget(settings)

        page = client.get("/login/").content.decode()
        assert "data-pow=" in page
        refused = client.post("/login/", {"email": alice.email, "password": alice.password})
        assert refused.status_code == 429
        assert "security check" in refused.content.decode()
        assert refused["Retry-After"]

        issued = challenge.issue()
        nonce = challenge.solve(issued)
        wrong = str(int(nonce) + 1)
        bad = client.post(
            "/login/",
            {
                "email": alice.email,
                "password": alice.password,
                "pow_challenge": issued,
                "pow_nonce": wrong if not challenge.verify(issued, wrong) else "x",
            },
        )
        assert bad.status_code == 429
        good = {
            "email": alice.email,
            "password": alice.password,
            "pow_challenge": issued,
            "pow_nonce": nonce,
        }
        assert client.post("/login/", good).status_code == 302
        # A solution counts once.
        replay = Client()
        assert replay.post("/login/", good).status_code == 429
        # Nobody is locked out for good: when the failures age out, logins are plain again.
        clock.shift(5 * 60 + 31)
        log_in(Client(), alice)


def test_challenges_are_signed_fresh_and_hard_enough(db: None, settings: Any) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        issued = challenge.issue()
        nonce = challenge.solve(issued)
        forged = issued[:-2] + ("AA" if not issued.endswith("AA") else "BB")
        assert not challenge.verify(forged, nonce)
        assert not challenge.verify("", nonce)
        clock.shift(11 * 60)
        assert not challenge.verify(issued, nonce)  # too old
    settings.LOGIN_POW_BITS = 12
    harder = challenge.issue()
    assert challenge.bits_of(harder) == 12
    solution = challenge.solve(harder)
    assert challenge.verify(harder, solution)
