"""DICOMweb test helpers: tokens, an own blob store per test, multipart bodies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest

from hds.accounts.apitokens import create_token
from hds.accounts.services import unlock_master_secret
from hds.archive.storage import get_store
from tests.conftest import Persona

BOUNDARY = "test-boundary-7d9c1e"
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


@dataclass
class TokenPersona:
    """A persona with a personal API token."""

    persona: Persona
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the token."""
        return {"Authorization": f"Bearer {self.token}"}


def token_for(persona: Persona) -> TokenPersona:
    """Create a token for the persona (as My account would)."""
    ams = unlock_master_secret(persona.account, persona.password)
    return TokenPersona(persona, create_token(persona.account, ams, name="test").text)


@pytest.fixture
def alice_token(alice: Persona) -> TokenPersona:
    return token_for(alice)


@pytest.fixture
def charlie_token(charlie: Persona) -> TokenPersona:
    return token_for(charlie)


@pytest.fixture(autouse=True)
def _own_blob_store(tmp_path: Path, settings: Any) -> Iterator[None]:
    """Each test gets an empty local blob store."""
    settings.BLOB_STORE_URL = f"file://{tmp_path / 'blobs'}"
    get_store.cache_clear()
    yield
    get_store.cache_clear()


def multipart_body(files: list[bytes], boundary: str = BOUNDARY) -> bytes:
    """A STOW-RS body with one application/dicom part per file."""
    out = bytearray()
    for data in files:
        out += f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


STOW_CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def pydicom_file(name: str) -> bytes:
    """One of pydicom's bundled test files."""
    return (TEST_FILES / name).read_bytes()
