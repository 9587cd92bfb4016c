"""What reaches the log: no file contents quoted by DICOM libraries, no secrets in paths."""

from __future__ import annotations

import logging

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
