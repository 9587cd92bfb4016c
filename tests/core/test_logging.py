"""What reaches the log: no file contents quoted by DICOM libraries, no secrets in paths."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _console_handler() -> logging.Handler:
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "Django's LOGGING configures a console handler on the root logger"
    return handlers[0]


@pytest.mark.parametrize("name", ["pydicom", "pydicom.valuerep", "pynetdicom.acse", "PIL.Image"])
def test_dicom_library_messages_are_withheld(name: str) -> None:
    record = logging.LogRecord(
        name, logging.WARNING, __file__, 1, "Invalid value for VR PN: '%s'", ("Doe^Jane",), None
    )
    handler = _console_handler()
    assert handler.filter(record)
    line = handler.format(record)
    assert "Doe^Jane" not in line
    assert f"{name} reported a problem with a file" in line


def test_python_warnings_reach_stderr_without_their_text(tmp_path: Path) -> None:
    """A server process: pydicom-style warnings go through the log filters, not raw to stderr."""
    script = (
        "import django, warnings; django.setup(); "
        "warnings.warn(\"Invalid value for VR PN: 'ZZCANARY^Warn'\", UserWarning)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HDS_", "DATABASE_URL"))}
    env.update({"HDS_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hds.settings"})
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "ZZCANARY" not in result.stderr + result.stdout
    assert "a warning was raised (details withheld" in result.stderr


def test_own_messages_pass_and_secret_paths_are_masked() -> None:
    record = logging.LogRecord(
        "hds.archive", logging.INFO, __file__, 1, "GET %s", ("/recover/abc123#t=secret",), None
    )
    handler = _console_handler()
    assert handler.filter(record)
    line = handler.format(record)
    assert "abc123" not in line
    assert "secret" not in line
    assert "GET /recover/…" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET /dicomweb/studies/1.2.840.113619.2.55.3.604688119/series/2.25.1234/metadata",
            "GET /dicomweb/studies/…/series/…/metadata",
        ),
        ("uid=1.3.6.1.4.1.9590.100.1.2 and 0.9.2342.19200300", "uid=… and …"),
        # Not UIDs: versions, decimals, uuids, a leading zero in a component.
        ("gunicorn 27.0.1, 1.25 mm", "gunicorn 27.0.1, 1.25 mm"),
        ("/documents/3f1c2d9e-8b7a-4c1d-9e2f-0a1b2c3d4e5f/", None),
        ("1.2.03.4", None),
    ],
)
def test_dicom_uids_are_masked_in_messages(text: str, expected: str | None) -> None:
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "%s", (text,), None)
    handler = _console_handler()
    assert handler.filter(record)
    assert record.getMessage() == (expected if expected is not None else text)


def test_gunicorn_access_log_masks_uids_in_paths(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HDS_", "DATABASE_URL"))}
    env.update(HDS_DATA_DIR=str(tmp_path), HDS_WEB_THREADS="2")
    server = subprocess.Popen(
        [sys.executable, "-m", "hds.cli", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "hds web did not start"
                time.sleep(0.2)
        uid = "1.2.840.113619.2.55.3.604688119"
        response = httpx.get(f"{base}/dicomweb/studies/{uid}/metadata?x={uid}")
        assert response.status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert '"GET /dicomweb/studies/…/metadata" 401' in output
    assert uid not in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
