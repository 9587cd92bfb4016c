"""Nothing usable at rest: after registering, activating and logging in, a dump of the database,
the data folder and captured logs holds no master secret, private key, activation code or password
(docs/security.md, Tests that prove it: the at-rest canaries, account part; the archive adds
studies later)."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client, RequestFactory

from hds.accounts import services
from hds.crypto.accountkeys import derive_account_keys
from tests.conftest import PASSWORD, code_fields, mail_link

pytestmark = pytest.mark.django_db(transaction=True)


def _forms(secret: bytes) -> list[bytes]:
    """The secret raw, as hex (both cases) and base64 / base64url at all three alignments."""
    out = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for shift in range(3):
        chunk = secret[shift:]
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(chunk).rstrip(b"=")
            out.append(text[4:-4] if len(text) > 12 else text)
    return out


def _text_forms(text: str) -> list[bytes]:
    raw = text.encode()
    return [
        *_forms(raw),
        text.encode("utf-16-le"),
        text.lower().encode(),
    ]


def _database_dump() -> bytes:
    """Every row of every table, values as stored (binary columns as raw bytes)."""
    parts: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        parts.append(bytes(value))
                    elif isinstance(value, bytes):
                        parts.append(value)
                    else:
                        parts.append(str(value).encode())
    return b"\n".join(parts)


def _folder_dump(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_no_key_code_or_password_at_rest(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client.post(
        "/register/patient/",
        {
            "email": "canary@example.org",
            "password": PASSWORD,
            "gender": "male",
            "birth_date": "1901-02-03",
            "accept_terms": "on",
        },
    )
    page = client.get("/register/code/").content.decode()
    match = re.search(r'data-testid="activation-code">([0-9A-Z-]{19})<', page)
    assert match
    code = match.group(1)
    _url, token = mail_link(mail.outbox[0], "/activate/")
    assert (
        client.post(
            "/activate/", {"token": token, "password": PASSWORD, **code_fields(code)}
        ).status_code
        == 302
    )
    assert client.get("/documents/").status_code == 200

    _account, ams = services.log_in(
        email="canary@example.org",
        password=PASSWORD,
        ip_hash="t",
        request=RequestFactory().post("/login/"),
    )
    keys = derive_account_keys(ams)
    from cryptography.hazmat.primitives import serialization  # noqa: TID251 - test inspects keys

    x_private = keys.x25519_private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    ed_private = keys.ed25519_private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    cookie_key = client.cookies[settings.KEYRING_COOKIE_NAME].value

    haystacks = {
        "database": _database_dump(),
        "data folder": _folder_dump(settings.DATA_DIR),
        "logs": "\n".join(r.getMessage() for r in caplog.records).encode(),
    }
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"] not in ("", ":memory:"):
        haystacks["sqlite file"] = Path(connection.settings_dict["NAME"]).read_bytes()
    needles = {
        "master secret": _forms(ams),
        "x25519 private key": _forms(x_private),
        "ed25519 private key": _forms(ed_private),
        "activation code": [*_text_forms(code.replace("-", "")), code.encode()],
        "password": _text_forms(PASSWORD),
        "keyring cookie key": [cookie_key.encode()],
    }
    assert len(haystacks["database"]) > 1000  # the dump really holds the account
    for where, data in haystacks.items():
        for what, forms in needles.items():
            for form in forms:
                assert form not in data, f"{what} found in {where}"
