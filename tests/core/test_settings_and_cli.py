"""Settings fail at start with clear messages; the ``hds`` command provisions and runs jobs."""

from __future__ import annotations

import datetime
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.test import RequestFactory

from hds import cli
from hds.accounts import services
from hds.accounts.models import Account
from hds.core import jobs
from hds.core.models import Job
from tests.conftest import PASSWORD, make_persona


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HDS_", "DATABASE_URL", "EMAIL_URL"))
    }
    clean.update({"HDS_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-m", "hds.cli", "manage", "check"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HDS_HTTP_PORT": "eighty"}, "HDS_HTTP_PORT must be a whole number"),
        ({"HDS_HTTP_PORT": "70000"}, "HDS_HTTP_PORT must be at most 65535"),
        ({"HDS_DEBUG": "maybe"}, "HDS_DEBUG must be a boolean"),
        ({"HDS_PRODUCTION": "1"}, "HDS_SECRET_KEY is required"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must be sqlite"),
        ({"HDS_BASE_URL": "ftp://x"}, "HDS_BASE_URL must be an http(s) URL"),
        ({"HDS_PEPPER": "c2hvcnQ"}, "HDS_PEPPER must hold at least 32 random bytes"),
        ({"EMAIL_URL": "carrier-pigeon://"}, "EMAIL_URL must be"),
        ({"HDS_ARGON2_PASSWORD": "64,3"}, "HDS_ARGON2_PASSWORD"),
    ],
)
def test_bad_settings_stop_the_start_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = _start(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_embedded_default_generates_its_secrets_once(tmp_path: Path) -> None:
    assert _start(tmp_path).returncode == 0
    secrets_dir = tmp_path / "secrets"
    first = {p.name: p.read_text() for p in secrets_dir.iterdir()}
    assert set(first) == {"hds_secret_key", "hds_pepper", "hds_directory_key"}
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in secrets_dir.iterdir())
    assert _start(tmp_path).returncode == 0
    assert {p.name: p.read_text() for p in secrets_dir.iterdir()} == first


@pytest.mark.django_db
def test_account_create_prints_code_once_and_account_logs_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code = cli.main(
        [
            "account", "create", "--email", "Ops@Example.org", "--password-stdin",
            "--role", "professional", "--last-name", "Ops", "--practice-name", "Radiology A",
            "--practice-kind", "radiology",
        ]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "created professional account ops@example.org" in out
    assert "activation code (shown once, keep it safe): " in out
    account = Account.objects.get()
    assert account.is_activated
    services.log_in(
        email="ops@example.org", password=PASSWORD, ip_hash="t", request=RequestFactory().get("/")
    )


@pytest.mark.django_db
def test_account_create_refuses_weak_password_and_duplicates(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        *("account", "create", "--email", "p@example.org", "--password-stdin"),
        *("--role", "patient", "--birth-date", "1950-01-01", "--gender", "female"),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(args) == 2
    assert "too short" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(args) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(args) == 2
    assert "exists already" in capsys.readouterr().err


@pytest.mark.django_db
def test_patient_account_needs_birth_date(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    args = [
        "account",
        "create",
        "--email",
        "p@example.org",
        "--password-stdin",
        "--role",
        "patient",
    ]
    assert cli.main(args) == 2
    assert "date of birth" in capsys.readouterr().err


def test_demo_seeds_three_accounts_and_prints_logins(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HDS_", "DATABASE_URL"))}
    env.update({"HDS_DATA_DIR": str(tmp_path), "HDS_ARGON2_PASSWORD": "1024,1,1", "COLUMNS": "200"})
    result = subprocess.run(
        [sys.executable, "-m", "hds.cli", "demo"], env=env, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    for who in ("radiology@demo.hds.local", "doctor@demo.hds.local", "patient@demo.hds.local"):
        assert who in result.stdout
    assert cli.DEMO_PASSWORDS["patient"] in result.stdout
    # Real images were stored for each: patient 4 files + finding, doctor 2, radiology 2.
    assert re.search(r"patient@demo\.hds\.local .* 5 ", result.stdout)
    assert re.search(r"doctor@demo\.hds\.local .* 2 ", result.stdout)
    again = subprocess.run(
        [sys.executable, "-m", "hds.cli", "demo"], env=env, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    assert "(exists)" in again.stdout


@pytest.mark.django_db
def test_unactivated_accounts_are_purged_after_four_weeks_by_the_worker() -> None:
    with time_machine.travel("2026-01-01 12:00:00+00:00", tick=False) as clock:
        stale = make_persona("stale@example.org", activated=False)
        clock.shift(datetime.timedelta(days=20))
        fresh = make_persona("fresh@example.org", activated=False)
        active = make_persona("active@example.org")
        clock.shift(datetime.timedelta(days=8, minutes=1))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("django.conf.settings.JOBS_INLINE", False)
            jobs.import_job_modules()
            assert jobs.schedule_periodic() >= 1
            assert jobs.run_pending() >= 1
        assert not Account.objects.filter(pk=stale.account.pk).exists()
        assert Account.objects.filter(pk=fresh.account.pk).exists()
        assert Account.objects.filter(pk=active.account.pk).exists()
        assert Job.objects.filter(status=Job.Status.DONE).exists()
        # Not due again within the hour.
        assert jobs.schedule_periodic() == 0


@pytest.mark.django_db
def test_failing_job_is_retried_then_marked_failed() -> None:
    calls: list[int] = []

    @jobs.job
    def flaky() -> None:
        calls.append(1)
        raise RuntimeError("patient data must not reach the job row")

    with time_machine.travel("2026-01-01 12:00:00+00:00", tick=False) as clock:
        Job.objects.create(
            name=f"{flaky.__module__}.{flaky.__qualname__}", kwargs={}, max_attempts=2
        )
        assert jobs.run_pending() == 1
        row = Job.objects.get()
        assert row.status == Job.Status.QUEUED
        assert row.last_error == "RuntimeError"
        clock.shift(3600)
        jobs.run_pending()
    row = Job.objects.get()
    assert row.status == Job.Status.FAILED
    assert len(calls) == 2
