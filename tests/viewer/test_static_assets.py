"""The built assets as WhiteNoise serves them: precompressed, and hashed chunks cached for good.

Needs ``frontend/dist`` (the set-up command builds it, as for the browser tests).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

DIST = Path(settings.REPO_DIR) / "frontend" / "dist"


def _body(response: Any) -> bytes:
    """The whole body; closes the response (and WhiteNoise's file)."""
    try:
        return b"".join(response.streaming_content)
    finally:
        response.close()


@pytest.mark.parametrize(("encoding", "suffix"), [("br", ".br"), ("gzip", ".gz")])
def test_viewer_bundle_goes_compressed_to_browsers_that_accept_it(
    client: Client, encoding: str, suffix: str
) -> None:
    plain = (DIST / "viewer.js").read_bytes()
    response = client.get("/static/viewer.js", HTTP_ACCEPT_ENCODING=f"{encoding}, identity")
    assert response.status_code == 200
    assert response["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response["Vary"]
    body = _body(response)
    assert len(body) < len(plain) / 3
    assert body == (DIST / f"viewer.js{suffix}").read_bytes()
    if encoding == "gzip":
        assert gzip.decompress(body) == plain


def test_without_accept_encoding_the_bundle_is_plain(client: Client) -> None:
    response = client.get("/static/viewer.js")
    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert _body(response) == (DIST / "viewer.js").read_bytes()


def test_hashed_chunks_are_immutable_and_entries_are_not(client: Client) -> None:
    chunk = next(p for p in sorted((DIST / "chunks").iterdir()) if p.suffix == ".js")
    assert re.search(r"-[A-Za-z0-9_-]{8}\.js$", chunk.name)
    hashed = client.get(f"/static/chunks/{chunk.name}")
    assert hashed.status_code == 200
    assert "immutable" in hashed["Cache-Control"]
    assert "max-age=315360000" in hashed["Cache-Control"]
    assert _body(hashed) == chunk.read_bytes()
    entry = client.get("/static/viewer-boot.js")
    assert entry.status_code == 200
    assert "immutable" not in entry["Cache-Control"]
    assert _body(entry) == (DIST / "viewer-boot.js").read_bytes()
