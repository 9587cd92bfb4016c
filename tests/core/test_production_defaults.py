"""Production refuses to start without real mail; files are private in every mode; the console
shows no link tokens; the CLI sets up a fresh database; ``hds check`` reports (docs/security.md,
Production defaults)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.mail import EmailMessage

from hds.notifications.backends import (
    FileAndConsoleBackend,
    MaskingConsoleBackend,
    PrivateFileBackend,
)
from tests.conftest import PASSWORD

TOKEN = "AbCdEf0123456789-_xyzSECRETTOKEN"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HDS_", "DATABASE_URL", "EMAIL_URL", "DJANGO_SETTINGS_MODULE"))
    }
    env.update({"HDS_DATA_DIR": str(tmp_path / "data"), "HDS_ARGON2_PASSWORD": "1024,1,1"})
    env.update(extra)
    return env


def _hds(
    tmp_path: Path, *args: str, stdin: str = "", **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hds.cli", *args],
        env=_env(tmp_path, **extra),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _production(tmp_path: Path) -> dict[str, str]:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    values = {
        "HDS_SECRET_KEY": "s" * 64,
        "HDS_PEPPER": "cGVwcGVyLXBlcHBlci1wZXBwZXItcGVwcGVyLXBlcHBlcg",
        "HDS_DIRECTORY_KEY": "ZGlyZWN0b3J5LWtleS1kaXJlY3Rvcnkta2V5LWRpcmVjdG9yeQ",
    }
    env = {"HDS_PRODUCTION": "1", "HDS_BASE_URL": "https://hds.example.org"}
    for name, value in values.items():
        path = secrets / name.lower()
        path.write_text(value)
        path.chmod(0o600)
        env[f"{name}_FILE"] = str(path)
    return env


@pytest.mark.parametrize("email_url", [None, "console:", "file:///tmp/mails", "locmem:"])
def test_production_refuses_to_start_without_smtp(tmp_path: Path, email_url: str | None) -> None:
    env = _production(tmp_path)
    if email_url:
        env["EMAIL_URL"] = email_url
    result = _hds(tmp_path, "manage", "check", **env)
    assert result.returncode != 0
    assert "EMAIL_URL is required when HDS_PRODUCTION is on" in result.stderr


def test_production_starts_with_smtp(tmp_path: Path) -> None:
    env = _production(tmp_path)
    result = _hds(tmp_path, "manage", "check", EMAIL_URL="smtps://u:p@mail.example.org", **env)
    assert result.returncode == 0, result.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_data_folder_gets_tables_and_private_modes(tmp_path: Path) -> None:
    result = _hds(
        tmp_path,
        *("account", "create", "--email", "ops@example.org", "--password-stdin"),
        *("--role", "patient", "--birth-date", "1950-01-01"),
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "no such table" not in result.stderr
    assert "created patient account" in result.stdout
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    assert _mode(data / "hds.sqlite3") == 0o600
    for secret in (data / "secrets").iterdir():
        assert _mode(secret) == 0o600
    # The next command finds the tables made and migrates nothing.
    listing = _hds(tmp_path, "token", "list", "--email", "ops@example.org")
    assert listing.returncode == 0, listing.stderr
    assert "applying migrations" not in listing.stderr


def test_an_open_data_folder_is_closed_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    assert _hds(tmp_path, "manage", "check").returncode == 0
    assert _mode(data) == 0o700


def _message() -> EmailMessage:
    body = f"Reset: https://hds.example.org/reset/#t={TOKEN}\nPassport: /activate/#ac=ABCD1234"
    return EmailMessage(subject="Reset", body=body, to=["a@example.org"])


def test_console_mails_mask_link_tokens() -> None:
    stream = io.StringIO()
    MaskingConsoleBackend(stream=stream).send_messages([_message()])
    printed = stream.getvalue()
    assert TOKEN not in printed
    assert "ABCD1234" not in printed
    assert "/reset/#t=…" in printed


def test_mail_files_are_private_and_keep_the_link(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    PrivateFileBackend(file_path=str(folder)).send_messages([_message()])
    (written,) = folder.iterdir()
    assert _mode(written) == 0o600
    assert TOKEN in written.read_text()


def test_the_embedded_default_backend_writes_the_file_and_masks_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = FileAndConsoleBackend(file_path=str(tmp_path / "mail"))
    assert backend.send_messages([_message()]) == 1
    assert TOKEN not in capsys.readouterr().out
    assert TOKEN in next((tmp_path / "mail").iterdir()).read_text()


def test_hds_check_reports_and_judges_production(tmp_path: Path) -> None:
    result = _hds(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "sandbox: rlimits: active" in out
    assert "sandbox: landlock-fs:" in out
    assert "sandbox: netns:" in out
    assert "mails go to files and the console" in out
    assert "HDS_PEPPER generated in the data folder" in out
    assert "data folder" in out
    assert "would block a production deployment" in out
    judged = _hds(tmp_path, "check", "--production", "--skip-sandbox")
    assert judged.returncode == 1
    assert "production blocker" in judged.stderr


def test_hds_check_flags_an_open_secret_file_in_the_data_folder(tmp_path: Path) -> None:
    env = _production(tmp_path)
    loose = tmp_path / "data" / "pepper"
    loose.parent.mkdir(mode=0o700)
    loose.write_text(Path(env["HDS_PEPPER_FILE"]).read_text())
    loose.chmod(0o644)
    env["HDS_PEPPER_FILE"] = str(loose)
    result = _hds(
        tmp_path, "check", "--skip-sandbox", EMAIL_URL="smtps://u:p@mail.example.org", **env
    )
    assert result.returncode == 1
    assert "HDS_PEPPER_FILE: mode 0644 (must be 0600 or stricter), inside the data folder" in (
        result.stdout
    )
    assert "HDS_SECRET_KEY from a private file outside the data folder" in result.stdout
