"""The multipart/related reader and writer, without Django."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hds.dicomweb.multipart import (
    MultipartError,
    body_length,
    iter_body,
    iter_parts,
    new_boundary,
)

BOUNDARY = "b0undary"


def _reader(body: bytes, step: int | None = None) -> Callable[[int], bytes]:
    stream = io.BytesIO(body)
    if step is None:
        return stream.read
    return lambda size: stream.read(min(size, step))


def _contents(body: bytes, step: int | None = None, boundary: str = BOUNDARY) -> list[bytes]:
    return [part.data for part in iter_parts(_reader(body, step), boundary)]


def test_written_body_has_the_exact_layout_viewers_parse() -> None:
    body = b"".join(iter_body("B", [("application/dicom", [b"ab", b"c"]), ("x/y", [b""])]))
    assert body == (
        b"--B\r\nContent-Type: application/dicom\r\n\r\nabc\r\n"
        b"--B\r\nContent-Type: x/y\r\n\r\n\r\n"
        b"--B--"
    )
    assert body_length("B", [("application/dicom", 3), ("x/y", 0)]) == len(body)


@given(
    parts=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
    step=st.integers(min_value=1, max_value=64),
)
def test_reading_what_was_written_gives_the_parts_back(parts: list[bytes], step: int) -> None:
    boundary = new_boundary()
    body = b"".join(iter_body(boundary, [("application/dicom", [p]) for p in parts]))
    read = list(iter_parts(_reader(body, step), boundary))
    assert [p.data for p in read] == parts
    assert all(p.content_type == "application/dicom" for p in read)


def test_preamble_padding_headers_and_epilogue() -> None:
    body = (
        b"This is a preamble.\r\n"
        b"--b0undary \t\r\n"
        b"Content-Type: application/dicom\r\n"
        b"Content-Location: x\r\n"
        b"  continued\r\n"
        b"\r\n"
        b"first\r\n--b0undaryX not a delimiter\r\n"
        b"--b0undary\r\n\r\nsecond"
        b"\r\n--b0undary--\r\nepilogue\r\n--b0undary\r\n\r\nignored"
    )
    parts = list(iter_parts(_reader(body, 3), BOUNDARY))
    assert [p.data for p in parts] == [b"first\r\n--b0undaryX not a delimiter", b"second"]
    assert parts[0].headers == {
        "content-type": "application/dicom",
        "content-location": "x continued",
    }
    assert parts[1].headers == {}


def test_dicomweb_client_style_leading_crlf() -> None:
    body = b"\r\n--b0undary\r\nContent-Type: application/dicom\r\n\r\nDATA\r\n--b0undary--"
    assert _contents(body) == [b"DATA"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no boundary at all",
        b"--b0undary\r\nContent-Type: a/b\r\n\r\ntruncated part",
        b"--b0undary\r\nContent-Type: a/b",
        b"--b0undary\r\nBroken header line\r\n\r\ndata\r\n--b0undary--",
    ],
)
def test_malformed_bodies_raise(body: bytes) -> None:
    with pytest.raises(MultipartError):
        _contents(body)


def test_an_empty_body_has_no_parts() -> None:
    assert _contents(b"--b0undary--") == []


def test_bad_boundaries_are_refused() -> None:
    with pytest.raises(MultipartError):
        _contents(b"--\r\n\r\nx\r\n----", boundary="")
    with pytest.raises(MultipartError):
        _contents(b"", boundary="x" * 71)
