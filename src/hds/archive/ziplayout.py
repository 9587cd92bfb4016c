"""A ZIP writer whose byte layout is fixed before any content is read, so downloads can resume.

A study download is one ZIP (``JPEG/``, ``DICOM/`` and a ``DICOMDIR``). Every member is STORED
(method 0): medical pixel data is mostly compressed already and deflating the rest costs CPU for
little gain. Because the archive stores each file's size and CRC-32 at ingest, every header is known
in advance, so :class:`ZipLayout` knows the archive's total size and the offset of every byte
without touching the content. The web server can therefore send ``Content-Length`` and answer an
HTTP ``Range`` request (an interrupted download resuming) by producing only the requested bytes,
and :meth:`ZipLayout.iter_range` calls ``entry.read`` only for the parts of members that overlap.

Why not a library: ``stream-zip`` and ``zipstream`` write ZIPs as a forward-only stream, so they
cannot start in the middle of an archive, and they use data descriptors (bit 3) because they learn
sizes and CRCs as they go. Random access needs the whole layout up front, which is this module.

Format (APPNOTE.TXT 6.3.10): a local header (no data descriptor: the CRC and sizes are in it) and
the stored bytes per member, then the central directory and the end-of-central-directory record.
ZIP64 fields (APPNOTE 4.5.3) and the ZIP64 end record and locator (4.3.14, 4.3.15) are used
exactly when a size, an offset or the member count does not fit the classic 32-bit or 16-bit
field, so archives over 4 GiB and with more than 65535 members work, and small ones stay
readable by old tools. Bit 11 (names are UTF-8) is always set. Each member also carries the
extended-timestamp extra field (0x5455, UTC seconds) next to the DOS time (local wall clock,
2-second resolution).

Nothing here writes to disk or buffers more than one chunk: the content is health data.
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ZipEntry", "ZipLayout", "parse_range_header"]

_U16_LIMIT = 0xFFFF
_U32_LIMIT = 0xFFFFFFFF

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_ZIP64_END = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")
_EXTRA_HEADER = struct.Struct("<HH")

_LOCAL_HEADER_SIGNATURE = 0x04034B50
_CENTRAL_HEADER_SIGNATURE = 0x02014B50
_ZIP64_END_SIGNATURE = 0x06064B50
_ZIP64_LOCATOR_SIGNATURE = 0x07064B50
_END_SIGNATURE = 0x06054B50

_ZIP64_EXTRA_ID = 0x0001
_TIMESTAMP_EXTRA_ID = 0x5455  # "UT": Info-ZIP extended timestamp, mtime only
_TIMESTAMP_HAS_MTIME = 0x01

_VERSION_DEFAULT = 20  # what Python's zipfile and Info-ZIP write for a plain stored file
_VERSION_ZIP64 = 45  # APPNOTE 4.4.3.2: 4.5 = uses ZIP64 format extensions
_MADE_BY = (3 << 8) | _VERSION_ZIP64  # 3 = UNIX, so external attributes carry a file mode
_FLAG_UTF8 = 1 << 11  # APPNOTE 4.4.4, bit 11: file name is UTF-8
_METHOD_STORED = 0
_UNIX_FILE_MODE = 0o100644  # regular file, rw-r--r--

_DOS_MIN = (1980, 1, 1, 0, 0, 0)
_DOS_MAX = (2107, 12, 31, 23, 59, 58)
_INT32_MAX = 2**31 - 1

# Control characters (C0, DEL, C1) and the Windows drive separator; "/" splits components.
_BAD_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\\:]")
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


@dataclass(frozen=True)
class ZipEntry:
    """One stored member: its path, size, CRC-32, time and a way to read any part of it.

    ``read(offset, length)`` must return exactly ``length`` bytes of the member's content starting
    at ``offset``; :meth:`ZipLayout.iter_range` raises ``RuntimeError`` if it does not. ``modified``
    must be timezone-aware; its wall clock becomes the DOS time, so pass it in the zone the
    recipient should see (e.g. ``timezone.localtime(...)``).
    """

    name: str
    size: int
    crc32: int
    modified: datetime
    read: Callable[[int, int], bytes]


@dataclass(frozen=True)
class _Member:
    entry: ZipEntry
    local_header: bytes
    data_offset: int


class ZipLayout:
    """The complete byte layout of a STORED ZIP archive of ``entries``, in that order.

    Raises ``ValueError`` for an unsafe or duplicate name, a negative size, a CRC outside 32 bits
    or a naive ``modified``. Messages never quote a name: names may carry patient data.
    """

    def __init__(self, entries: Sequence[ZipEntry]) -> None:
        seen: set[bytes] = set()
        members: list[_Member] = []
        central: list[bytes] = []
        offset = 0
        for index, entry in enumerate(entries):
            name = _encode_name(entry.name, index)
            if name in seen:
                raise ValueError(f"entry {index}: duplicate name")
            seen.add(name)
            if entry.size < 0:
                raise ValueError(f"entry {index}: negative size")
            if not 0 <= entry.crc32 <= _U32_LIMIT:
                raise ValueError(f"entry {index}: CRC-32 outside 0..2**32-1")
            if entry.modified.utcoffset() is None:
                raise ValueError(f"entry {index}: modified must be timezone-aware")
            local = _local_header(entry, name, offset)
            members.append(_Member(entry, local, offset + len(local)))
            central.append(_central_header(entry, name, offset))
            offset += len(local) + entry.size
        directory = b"".join(central)
        self._directory_offset = offset
        self._is_zip64 = (
            len(central) >= _U16_LIMIT or len(directory) >= _U32_LIMIT or offset >= _U32_LIMIT
        )
        self._directory = directory + _end_records(
            len(central), len(directory), offset, zip64=self._is_zip64
        )
        self._total_size = offset + len(self._directory)
        # Segment i starts at _starts[i]: the local headers, the contents and the directory.
        self._starts: list[int] = []
        self._parts: list[bytes | ZipEntry] = []
        for member in members:
            self._starts.append(member.data_offset - len(member.local_header))
            self._parts.append(member.local_header)
            if member.entry.size:
                self._starts.append(member.data_offset)
                self._parts.append(member.entry)
        self._starts.append(self._directory_offset)
        self._parts.append(self._directory)

    @property
    def total_size(self) -> int:
        """The archive's length in bytes, for ``Content-Length``."""
        return self._total_size

    @property
    def is_zip64(self) -> bool:
        """Whether the archive needed the ZIP64 end record (more than 65534 members or 4 GiB)."""
        return self._is_zip64

    def iter_range(
        self, start: int = 0, end: int | None = None, *, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Yield bytes ``[start, end)`` of the archive in chunks of at most ``chunk_size``.

        Content is read lazily, only for the members overlapping the range, and every chunk but the
        last is exactly ``chunk_size`` long, whatever mix of headers and content it spans.
        """
        if end is None:
            end = self._total_size
        if not 0 <= start <= end <= self._total_size:
            raise ValueError("range outside the archive")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        return self._generate(start, end, chunk_size)

    def _generate(self, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        buffer = bytearray()
        position = start
        index = bisect.bisect_right(self._starts, start) - 1
        while position < end:
            part = self._parts[index]
            part_start = self._starts[index]
            part_end = part_start + (len(part) if isinstance(part, bytes) else part.size)
            stop = min(part_end, end)
            while position < stop:
                length = min(stop - position, chunk_size - len(buffer))
                piece = _read_part(part, position - part_start, length)
                position += length
                if not buffer and length == chunk_size:
                    yield piece
                    continue
                buffer += piece
                if len(buffer) == chunk_size:
                    yield bytes(buffer)
                    buffer.clear()
            index += 1
        if buffer:
            yield bytes(buffer)


def parse_range_header(header: str | None, total: int) -> tuple[int, int] | None:
    """Parse an HTTP ``Range`` header (RFC 9110 §14.2) into ``(start, end_exclusive)``.

    Returns ``None`` when there is nothing to honour: no header, a unit other than ``bytes`` (which
    a server must ignore), or an empty representation (no 206 can describe a part of it). Raises
    ``ValueError`` for a malformed header, more than one range (multipart responses are not
    supported) or a range that cannot be satisfied; the caller answers 416 with
    ``Content-Range: bytes */total``.
    """
    if header is None:
        return None
    unit, equals, range_set = header.partition("=")
    if not equals:
        raise ValueError("malformed Range header")
    if unit.strip().lower() != "bytes":
        return None
    # RFC 9110 §5.6.1: a list may contain empty elements, which recipients ignore.
    specs = [spec.strip() for spec in range_set.split(",") if spec.strip()]
    if len(specs) != 1:
        raise ValueError("exactly one byte range is supported")
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None or match.group(1) == match.group(2) == "":
        raise ValueError("malformed byte range")
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0:
            raise ValueError("unsatisfiable byte range")
        if total == 0:
            return None  # satisfiable (RFC 9110 §14.1.1), but "bytes 0--1/0" is not a thing
        return max(total - suffix, 0), total
    start = int(first)
    if last != "" and int(last) < start:
        raise ValueError("malformed byte range")
    if start >= total:
        raise ValueError("unsatisfiable byte range")
    end = total if last == "" else min(int(last) + 1, total)
    return start, end


def _read_part(part: bytes | ZipEntry, offset: int, length: int) -> bytes:
    if isinstance(part, bytes):
        return part[offset : offset + length]
    data = part.read(offset, length)
    if len(data) != length:
        # The headers already promised this size; a short read would corrupt the archive.
        raise RuntimeError(f"ZipEntry.read returned {len(data)} bytes instead of {length}")
    return data


def _encode_name(name: str, index: int) -> bytes:
    problem = None
    if not name:
        problem = "empty name"
    elif name.startswith("/"):
        problem = "absolute path"
    elif _BAD_NAME_CHARS.search(name):
        problem = "backslash, colon or control character in name"
    elif any(part in {"", ".", ".."} for part in name.split("/")):
        problem = "empty, '.' or '..' path component"
    if problem is not None:
        raise ValueError(f"entry {index}: {problem}")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"entry {index}: name is not encodable as UTF-8") from None
    if len(encoded) > _U16_LIMIT:
        raise ValueError(f"entry {index}: name longer than 65535 bytes")
    return encoded


def _dos_datetime(modified: datetime) -> tuple[int, int]:
    fields = (
        modified.year,
        modified.month,
        modified.day,
        modified.hour,
        modified.minute,
        modified.second,
    )
    year, month, day, hour, minute, second = max(_DOS_MIN, min(fields, _DOS_MAX))
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def _timestamp_extra(modified: datetime) -> bytes:
    seconds = int(modified.timestamp())
    if not 0 <= seconds <= _INT32_MAX:
        return b""  # the field holds a signed 32-bit time_t; the DOS time still applies
    return _EXTRA_HEADER.pack(_TIMESTAMP_EXTRA_ID, 5) + struct.pack(
        "<Bi", _TIMESTAMP_HAS_MTIME, seconds
    )


def _local_header(entry: ZipEntry, name: bytes, offset: int) -> bytes:
    extra = _timestamp_extra(entry.modified)
    size = entry.size
    # Same "version needed" as the central header, which also counts a ZIP64 offset.
    version = _VERSION_ZIP64 if max(size, offset) >= _U32_LIMIT else _VERSION_DEFAULT
    if size >= _U32_LIMIT:
        # APPNOTE 4.5.3: in a local header the ZIP64 field holds both sizes.
        extra = _EXTRA_HEADER.pack(_ZIP64_EXTRA_ID, 16) + struct.pack("<QQ", size, size) + extra
        size = _U32_LIMIT
    dos_time, dos_date = _dos_datetime(entry.modified)
    header = _LOCAL_HEADER.pack(
        _LOCAL_HEADER_SIGNATURE,
        version,
        _FLAG_UTF8,
        _METHOD_STORED,
        dos_time,
        dos_date,
        entry.crc32,
        size,
        size,
        len(name),
        len(extra),
    )
    return header + name + extra


def _central_header(entry: ZipEntry, name: bytes, offset: int) -> bytes:
    zip64_values: list[int] = []
    size = entry.size
    if size >= _U32_LIMIT:
        # APPNOTE 4.5.3: only the fields set to 0xFFFFFFFF appear, in this order.
        zip64_values += [size, size]
        size = _U32_LIMIT
    if offset >= _U32_LIMIT:
        zip64_values.append(offset)
        offset = _U32_LIMIT
    extra = b""
    if zip64_values:
        extra = _EXTRA_HEADER.pack(_ZIP64_EXTRA_ID, 8 * len(zip64_values)) + struct.pack(
            f"<{len(zip64_values)}Q", *zip64_values
        )
    extra += _timestamp_extra(entry.modified)
    dos_time, dos_date = _dos_datetime(entry.modified)
    header = _CENTRAL_HEADER.pack(
        _CENTRAL_HEADER_SIGNATURE,
        _MADE_BY,
        _VERSION_ZIP64 if zip64_values else _VERSION_DEFAULT,
        _FLAG_UTF8,
        _METHOD_STORED,
        dos_time,
        dos_date,
        entry.crc32,
        size,
        size,
        len(name),
        len(extra),
        0,  # comment length
        0,  # disk number start
        0,  # internal attributes: binary
        _UNIX_FILE_MODE << 16,
        offset,
    )
    return header + name + extra


def _end_records(count: int, directory_size: int, directory_offset: int, *, zip64: bool) -> bytes:
    records = b""
    if zip64:
        zip64_end_offset = directory_offset + directory_size
        records = _ZIP64_END.pack(
            _ZIP64_END_SIGNATURE,
            _ZIP64_END.size - 12,  # APPNOTE 4.3.14.1: excludes the signature and this field
            _MADE_BY,
            _VERSION_ZIP64,
            0,  # this disk
            0,  # disk with the central directory
            count,
            count,
            directory_size,
            directory_offset,
        ) + _ZIP64_LOCATOR.pack(_ZIP64_LOCATOR_SIGNATURE, 0, zip64_end_offset, 1)
    # APPNOTE 4.4.1.4: a field too small for its value holds 0xFFFF(FFFF); readers then use ZIP64.
    return records + _END.pack(
        _END_SIGNATURE,
        0,
        0,
        min(count, _U16_LIMIT),
        min(count, _U16_LIMIT),
        min(directory_size, _U32_LIMIT),
        min(directory_offset, _U32_LIMIT),
        0,  # comment length
    )
