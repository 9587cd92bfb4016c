"""multipart/related bodies (RFC 2387, RFC 2046 5.1): written as a stream, read as a stream.

Written parts look exactly like ``--BOUNDARY\\r\\nContent-Type: TYPE\\r\\n\\r\\nBYTES\\r\\n`` and
the body ends with ``--BOUNDARY--``: Cornerstone's loader takes the boundary from the body's
first line and looks for the header spelled ``Content-Type:`` (docs/design.md, Viewer build
pitfalls).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

READ_CHUNK: Final = 1 << 20
MAX_HEADER_BYTES: Final = 16 * 1024
MAX_PREAMBLE_BYTES: Final = 64 * 1024


def new_boundary() -> str:
    """A boundary no DICOM file will contain by chance (a token: never needs quotes)."""
    return uuid.uuid4().hex


def content_type(boundary: str, part_type: str) -> str:
    """The response's Content-Type for parts of ``part_type``."""
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


def _part_head(boundary: str, part_type: str) -> bytes:
    return f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode("latin-1")


def _closing(boundary: str) -> bytes:
    return f"--{boundary}--".encode("latin-1")


def body_length(boundary: str, parts: Iterable[tuple[str, int]]) -> int:
    """Bytes of a body with parts of these (type, length), for Content-Length."""
    total = len(_closing(boundary))
    for part_type, length in parts:
        total += len(_part_head(boundary, part_type)) + length + 2
    return total


def iter_body(boundary: str, parts: Iterable[tuple[str, Iterable[bytes]]]) -> Iterator[bytes]:
    """The body, one piece at a time; each part's content is consumed lazily."""
    for part_type, chunks in parts:
        yield _part_head(boundary, part_type)
        yield from chunks
        yield b"\r\n"
    yield _closing(boundary)


# ------------------------------------------------------------------------------------ reading


class MultipartError(ValueError):
    """The body is not a well-formed multipart body for the given boundary."""


@dataclass(frozen=True)
class Part:
    """One body part: its headers (names lower-cased) and content."""

    headers: dict[str, str]
    data: bytes

    @property
    def content_type(self) -> str | None:
        """The part's own Content-Type, if it has one."""
        return self.headers.get("content-type")


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = None
    for line in block.decode("latin-1").split("\r\n"):
        if not line:
            continue
        if line[0] in " \t" and last is not None:  # a folded line continues the last header
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise MultipartError("A part header is malformed.")
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


class _Reader:
    """The state of one pass over a body."""

    def __init__(self, read: Callable[[int], bytes], boundary: str) -> None:
        if not boundary or len(boundary) > 70:
            raise MultipartError("The boundary is missing or too long.")
        self._read = read
        self.delimiter = b"\r\n--" + boundary.encode("latin-1")
        # A body that starts with the delimiter has no CRLF before it: pretend it had one.
        self.buffer = bytearray(b"\r\n")
        self.eof = False

    def fill(self) -> bool:
        """Read more of the body; False at its end."""
        if self.eof:
            return False
        chunk = self._read(READ_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def next_delimiter(
        self, *, limit: int | None = None, sink: Callable[[memoryview], object] | None = None
    ) -> tuple[int, int, bool]:
        """Find the next delimiter line in the buffer, reading on as needed.

        Returns (delimiter index, index after its line, whether it is the closing one).
        ``limit`` bounds how far to look (for the preamble). With ``sink``, bytes that cannot
        belong to a delimiter are handed to it and dropped once ``READ_CHUNK`` of them gather,
        so the buffer stays small however long the content is.
        """
        search = 0
        while True:
            index = self.buffer.find(self.delimiter, search)
            if index < 0:
                if limit is not None and len(self.buffer) > limit:
                    raise MultipartError("No boundary where the body should start.")
                safe = len(self.buffer) - len(self.delimiter) + 1
                if sink is not None and safe >= READ_CHUNK:
                    with memoryview(self.buffer) as view, view[:safe] as head:
                        sink(head)
                    del self.buffer[:safe]
                    search = 0
                search = max(search, len(self.buffer) - len(self.delimiter) + 1)
                if not self.fill():
                    raise MultipartError("The body ends before its closing boundary.")
                continue
            after = index + len(self.delimiter)
            line = self._delimiter_line(after)
            if line is None:  # need more bytes to decide
                if not self.fill():
                    raise MultipartError("The body ends before its closing boundary.")
                search = index
                continue
            if line < 0:  # the boundary text inside content: not a delimiter
                search = index + 1
                continue
            return index, line, self.buffer[after : after + 2] == b"--"

    def _delimiter_line(self, after: int) -> int | None:
        """Index after the delimiter's line; -1 if this is no delimiter; None: need more."""
        buffer = self.buffer
        if len(buffer) < after + 2:
            return None
        if buffer[after : after + 2] == b"--":
            return after + 2
        position = after
        while position < len(buffer) and buffer[position] in b" \t":  # transport padding
            position += 1
        if len(buffer) < position + 2:
            return None
        return position + 2 if buffer[position : position + 2] == b"\r\n" else -1

    def headers_end(self, start: int) -> int:
        """Index of the CRLFCRLF that ends a part's headers (``start`` is the delimiter line's
        CRLF, so a part without headers ends them right there)."""
        while True:
            index = self.buffer.find(b"\r\n\r\n", start)
            if index >= 0:
                return index
            if len(self.buffer) - start > MAX_HEADER_BYTES:
                raise MultipartError("A part's headers are too long.")
            if not self.fill():
                raise MultipartError("The body ends inside a part's headers.")


def iter_parts(read: Callable[[int], bytes], boundary: str) -> Iterator[Part]:
    """Yield the body's parts as they arrive, each content as bytes; a preamble and an epilogue
    are skipped.

    ``iter_streamed_parts`` with an in-memory sink: holds one part (plus a read chunk) at a time.
    Raises ``MultipartError`` when the body is malformed; parts yielded before that were complete.
    """
    for part in iter_streamed_parts(read, boundary, _Collected):
        yield Part(headers=part.headers, data=bytes(part.body.data))


class _Collected:
    """A sink that keeps a part's content in memory (``iter_parts``)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: memoryview, /) -> object:
        """Append the piece."""
        self.data += data
        return None

    def finish(self) -> None:
        """Nothing to do: the content is complete in ``data``."""

    def close(self) -> None:
        """Drop the content."""
        self.data.clear()


class Sink(Protocol):
    """Where a streamed part's content goes (``hds.core.spool.Spool``); it must copy what
    ``write`` gets."""

    def write(self, data: memoryview, /) -> object:
        """Take the next piece of content."""

    def finish(self) -> None:
        """The content is complete."""

    def close(self) -> None:
        """Drop what was taken (the part is abandoned)."""


SinkT = TypeVar("SinkT", bound=Sink)


@dataclass(frozen=True)
class StreamedPart(Generic[SinkT]):
    """One body part: its headers (names lower-cased) and the sink that holds its content."""

    headers: dict[str, str]
    body: SinkT


def iter_streamed_parts(
    read: Callable[[int], bytes], boundary: str, new_sink: Callable[[], SinkT]
) -> Iterator[StreamedPart[SinkT]]:
    """Like ``iter_parts``, but each part's content goes into a new sink as it arrives: memory
    holds a read chunk or two, never a whole part. The caller owns (and closes) yielded sinks;
    a part cut off by an error is closed here."""
    reader = _Reader(read, boundary)
    _index, line_end, closing = reader.next_delimiter(limit=MAX_PREAMBLE_BYTES)
    while not closing:
        head_end = reader.headers_end(line_end - 2)
        headers = _parse_headers(bytes(reader.buffer[line_end:head_end]))
        del reader.buffer[: head_end + 4]
        sink = new_sink()
        try:
            index, next_line_end, closing = reader.next_delimiter(sink=sink.write)
            with memoryview(reader.buffer) as view, view[:index] as content:
                sink.write(content)
            sink.finish()
        except BaseException:
            sink.close()
            raise
        del reader.buffer[:index]
        yield StreamedPart(headers=headers, body=sink)
        line_end = next_line_end - index
