"""Archive test helpers: upload through the real API, blob folder inspection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from hds.archive.storage import get_store


def upload(client: Client, data: bytes, name: str = "file.dcm", **fields: str) -> Any:
    """POST one file to the upload API; return the response."""
    return client.post(
        "/api/v1/uploads",
        {"file": SimpleUploadedFile(name, data), "path": name, **fields},
    )


def upload_ok(client: Client, data: bytes, name: str = "file.dcm", **fields: str) -> dict[str, Any]:
    """Upload and return the single result (asserting a 200)."""
    response = upload(client, data, name, **fields)
    assert response.status_code == 200, response.content
    result: dict[str, Any] = response.json()["results"][0]
    return result


def blob_files() -> list[Path]:
    """Every object file in the local blob store."""
    root = Path(settings.BLOB_STORE_URL.removeprefix("file://"))
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture(autouse=True)
def _own_blob_store(tmp_path: Path, settings: Any) -> Iterator[None]:
    """Each test gets an empty local blob store, so it can count what it wrote."""
    settings.BLOB_STORE_URL = f"file://{tmp_path / 'blobs'}"
    get_store.cache_clear()
    yield
    get_store.cache_clear()
