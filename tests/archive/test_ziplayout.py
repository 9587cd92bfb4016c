"""ZipLayout: archives that zipfile and Info-ZIP accept, byte ranges, ZIP64, Range headers."""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typing_extensions import override

from hds.archive.ziplayout import ZipEntry, ZipLayout, parse_range_header

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

WHEN = datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC)
GIB = 1 << 30
PATTERN = bytes(range(256))


def memory_entry(name: str, data: bytes, modified: datetime = WHEN) -> ZipEntry:
    def read(offset: int, length: int) -> bytes:
        return data[offset : offset + length]

    return ZipEntry(name, len(data), zlib.crc32(data), modified, read)


def pattern_read(offset: int, length: int) -> bytes:
    """Generated content: PATTERN repeated, so a huge member needs no memory."""
    start = offset % len(PATTERN)
    repeated = PATTERN * ((start + length) // len(PATTERN) + 1)
    return repeated[start : start + length]


def assemble(layout: ZipLayout) -> bytes:
    return b"".join(layout.iter_range())


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package: unzip); this check needs it")
    return path


class ArchiveView(io.RawIOBase):
    """A seekable read-only file over ZipLayout.iter_range that materialises only what is read."""

    def __init__(self, layout: ZipLayout) -> None:
        self._layout = layout
        self._position = 0
        self.bytes_served = 0

    @override
    def readable(self) -> bool:
        return True

    @override
    def seekable(self) -> bool:
        return True

    @override
    def tell(self) -> int:
        return self._position

    @override
    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._layout.total_size}
        self._position = base[whence] + offset
        return self._position

    @override
    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self._position + len(view), self._layout.total_size)
        if end <= self._position:
            return 0
        data = b"".join(self._layout.iter_range(self._position, end))
        view[: len(data)] = data
        self._position = end
        self.bytes_served += len(data)
        return len(data)


name_components = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc"], exclude_characters="/\\:"),
    min_size=1,
    max_size=12,
).filter(lambda part: part not in {".", ".."})
names = st.lists(name_components, min_size=1, max_size=4).map("/".join)


@dataclass(frozen=True)
class Spec:
    name: str
    size: int
    seed: int


specs = st.lists(
    st.builds(
        Spec,
        name=names,
        size=st.one_of(st.just(0), st.integers(0, 200_000), st.integers(0, 300)),
        seed=st.integers(0, 2**32),
    ),
    max_size=8,
    unique_by=lambda spec: spec.name,
)


def make_entries(specs: Sequence[Spec]) -> dict[str, bytes]:
    return {spec.name: random.Random(spec.seed).randbytes(spec.size) for spec in specs}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=specs, cut=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_random_archives_open_in_zipfile_and_every_range_matches(
    specs: list[Spec], cut: tuple[float, float]
) -> None:
    contents = make_entries(specs)
    layout = ZipLayout([memory_entry(name, data) for name, data in contents.items()])
    full = assemble(layout)
    assert len(full) == layout.total_size

    with zipfile.ZipFile(io.BytesIO(full)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == list(contents)
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.flag_bits & 0x800  # UTF-8 names
            assert archive.read(info) == contents[info.filename]

    start, end = sorted(round(fraction * layout.total_size) for fraction in cut)
    assert b"".join(layout.iter_range(start, end)) == full[start:end]


@settings(max_examples=60, deadline=None)
@given(
    specs=specs,
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    chunk_size=st.integers(1, 70_000),
)
def test_ranges_read_only_overlapping_content_in_bounded_chunks(
    specs: list[Spec], cut: tuple[float, float], chunk_size: int
) -> None:
    contents = make_entries(specs)
    calls: list[tuple[str, int, int]] = []

    def spying_entry(name: str, data: bytes) -> ZipEntry:
        def read(offset: int, length: int) -> bytes:
            calls.append((name, offset, length))
            return data[offset : offset + length]

        return ZipEntry(name, len(data), zlib.crc32(data), WHEN, read)

    layout = ZipLayout([spying_entry(name, data) for name, data in contents.items()])
    full = assemble(layout)
    start, end = sorted(round(fraction * layout.total_size) for fraction in cut)
    calls.clear()

    chunks = list(layout.iter_range(start, end, chunk_size=chunk_size))

    assert b"".join(chunks) == full[start:end]
    assert all(len(chunk) == chunk_size for chunk in chunks[:-1])
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    data_start = content_offsets(full)
    overlap = sum(
        max(0, min(end, data_start[name] + len(data)) - max(start, data_start[name]))
        for name, data in contents.items()
    )
    assert sum(length for _, _, length in calls) == overlap
    for name, offset, length in calls:
        assert start <= data_start[name] + offset
        assert data_start[name] + offset + length <= end


def content_offsets(full: bytes) -> dict[str, int]:
    """Where each member's content starts, from the central directory and local headers."""
    offsets = {}
    with zipfile.ZipFile(io.BytesIO(full)) as archive:
        for info in archive.infolist():
            name_length, extra_length = struct.unpack_from("<HH", full, info.header_offset + 26)
            offsets[info.filename] = info.header_offset + 30 + name_length + extra_length
    return offsets


def test_unzip_tests_an_archive_with_nested_unicode_and_empty_members(tmp_path: Path) -> None:
    unzip = require_tool("unzip")
    layout = ZipLayout(
        [
            memory_entry("DICOMDIR", b"D" * 1000),
            memory_entry("DICOM/S0001/I0001", random.Random(1).randbytes(70_000)),
            memory_entry("JPEG/Müller Jürgen/Übersicht 1.jpg", random.Random(2).randbytes(5000)),
            memory_entry("JPEG/empty.jpg", b""),
            memory_entry("日本語/ファイル.txt", "こんにちは".encode()),
        ]
    )
    path = tmp_path / "study.zip"  # synthetic test data, never health data
    path.write_bytes(assemble(layout))

    result = subprocess.run([unzip, "-t", str(path)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout
    assert "JPEG/Müller Jürgen/Übersicht 1.jpg" in result.stdout


def test_more_than_4_gib_uses_zip64_without_materialising_the_content() -> None:
    big_size = 5 * GIB + 12_345
    big = ZipEntry("DICOM/S0001/I0001", big_size, 0x12345678, WHEN, pattern_read)
    small_data = b"after the 4 GiB mark"
    layout = ZipLayout([big, memory_entry("DICOMDIR", small_data)])
    assert layout.is_zip64
    view = ArchiveView(layout)

    with zipfile.ZipFile(view) as archive:
        first, second = archive.infolist()
        assert (first.file_size, first.compress_size, first.CRC) == (big_size, big_size, 0x12345678)
        assert first.header_offset == 0
        assert second.header_offset > 4 * GIB
        assert archive.read("DICOMDIR") == small_data  # zipfile checks the CRC
        with archive.open(first) as member:
            assert member.read(1 << 20) == pattern_read(0, 1 << 20)

    # The local header of the big member: sizes are 0xFFFFFFFF, the real ones in the ZIP64 field.
    header = b"".join(layout.iter_range(0, 200))
    assert header[:4] == b"PK\x03\x04"
    version, crc, compressed, uncompressed = struct.unpack_from("<H8xIII", header, 4)
    assert (version, crc, compressed, uncompressed) == (45, 0x12345678, 0xFFFFFFFF, 0xFFFFFFFF)
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    extra = header[30 + name_length : 30 + name_length + extra_length]
    assert struct.unpack_from("<HHQQ", extra) == (1, 16, big_size, big_size)
    # The tail: ZIP64 end record, locator and classic end record with 0xFFFFFFFF offset.
    tail = b"".join(layout.iter_range(layout.total_size - 22 - 20 - 56))
    assert tail[:4] == b"PK\x06\x06"
    assert tail[56:60] == b"PK\x06\x07"
    assert struct.unpack_from("<IHHHHII", tail, 76)[-1] == 0xFFFFFFFF
    assert view.bytes_served < 4 << 20
    # A range straddling the 4 GiB boundary inside the big member.
    start = 4 * GIB - 10
    assert b"".join(layout.iter_range(start, start + 20)) == pattern_read(
        start - 30 - 17 - 20 - 9, 20
    )


MANY = 70_000


@pytest.fixture(scope="module")
def many_members() -> tuple[ZipLayout, bytes]:
    """An archive of 70,000 three-byte members: more than the 16-bit count field holds."""
    layout = ZipLayout(
        [
            memory_entry(f"DICOM/S{i // 1000:04d}/I{i:07d}", i.to_bytes(3, "big"))
            for i in range(MANY)
        ]
    )
    return layout, assemble(layout)


def test_70000_members_use_the_zip64_end_record_and_open(
    many_members: tuple[ZipLayout, bytes],
) -> None:
    layout, full = many_members
    assert layout.is_zip64
    with zipfile.ZipFile(io.BytesIO(full)) as archive:
        infos = archive.infolist()
        assert len(infos) == MANY
        for i in (0, 1, 65_534, 65_535, 65_536, MANY - 1):
            assert archive.read(infos[i]) == i.to_bytes(3, "big")
        assert archive.testzip() is None
    assert struct.unpack_from("<HH", full, len(full) - 22 + 8) == (0xFFFF, 0xFFFF)


def test_unzip_tests_the_70000_member_archive(
    many_members: tuple[ZipLayout, bytes], tmp_path: Path
) -> None:
    unzip = require_tool("unzip")
    path = tmp_path / "many.zip"  # synthetic test data
    path.write_bytes(many_members[1])
    result = subprocess.run([unzip, "-tq", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"No errors detected in compressed data of {path}" in result.stdout


def test_small_archives_keep_the_classic_end_record() -> None:
    layout = ZipLayout([memory_entry("a", b"x")])
    full = assemble(layout)
    assert not layout.is_zip64
    assert b"PK\x06\x06" not in full
    assert full[-22:-18] == b"PK\x05\x06"


def test_empty_archive_is_just_the_end_record() -> None:
    layout = ZipLayout([])
    full = assemble(layout)
    assert layout.total_size == 22
    with zipfile.ZipFile(io.BytesIO(full)) as archive:
        assert archive.namelist() == []


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/etc/passwd",
        "../escape",
        "a/../../escape",
        "..",
        "a/./b",
        "a//b",
        "dir/",
        "a\\b",
        "C:/Windows",
        "nul\x00byte",
        "new\nline",
        "del\x7f",
        "c1\x85control",
        "lone\ud800surrogate",
        "x" * 70_000,
    ],
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="entry 1"):
        ZipLayout([memory_entry("ok", b""), memory_entry(name, b"")])


def test_errors_do_not_quote_the_name() -> None:
    with pytest.raises(ValueError, match="control character") as excinfo:
        ZipLayout([memory_entry("JPEG/Müller\x00.jpg", b"")])
    assert "Müller" not in str(excinfo.value)  # names may carry patient data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": -1}, "negative size"),
        ({"crc32": -1}, "CRC-32"),
        ({"crc32": 2**32}, "CRC-32"),
        ({"modified": datetime(2024, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_invalid_entries_are_refused(change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "name": "a",
        "size": 0,
        "crc32": 0,
        "modified": WHEN,
        "read": pattern_read,
    }
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        ZipLayout([ZipEntry(**fields)])  # type: ignore[arg-type]


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        ZipLayout([memory_entry("DICOM/I1", b"a"), memory_entry("DICOM/I1", b"b")])


def test_a_short_read_aborts_instead_of_corrupting_the_stream() -> None:
    short: Callable[[int, int], bytes] = lambda offset, length: b"\x00" * (length - 1)  # noqa: E731
    layout = ZipLayout([ZipEntry("a", 10, 0, WHEN, short)])
    with pytest.raises(RuntimeError, match="9 bytes instead of 10"):
        assemble(layout)


@pytest.mark.parametrize(("start", "end"), [(-1, None), (0, 10_000), (5, 4)])
def test_ranges_outside_the_archive_are_refused(start: int, end: int | None) -> None:
    layout = ZipLayout([memory_entry("a", b"abc")])
    with pytest.raises(ValueError, match="outside"):
        layout.iter_range(start, end)


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        ZipLayout([]).iter_range(chunk_size=0)


@pytest.mark.parametrize(
    ("modified", "expected"),
    [
        (datetime(2024, 5, 6, 7, 8, 11, tzinfo=UTC), (2024, 5, 6, 7, 8, 10)),
        (
            datetime(2024, 5, 6, 9, 8, 11, tzinfo=timezone(timedelta(hours=2))),
            (2024, 5, 6, 9, 8, 10),
        ),
        (datetime(1970, 1, 1, tzinfo=UTC), (1980, 1, 1, 0, 0, 0)),
        (datetime(2200, 1, 1, tzinfo=UTC), (2107, 12, 31, 23, 59, 58)),
    ],
)
def test_dos_times_are_the_wall_clock_clamped_to_the_dos_range(
    modified: datetime, expected: tuple[int, ...]
) -> None:
    full = assemble(ZipLayout([memory_entry("a", b"x", modified)]))
    with zipfile.ZipFile(io.BytesIO(full)) as archive:
        assert archive.infolist()[0].date_time == expected


@pytest.mark.parametrize(
    ("header", "total", "expected"),
    [
        (None, 100, None),
        ("bytes=0-99", 100, (0, 100)),
        ("bytes=0-0", 100, (0, 1)),
        ("bytes=10-19", 100, (10, 20)),
        ("bytes=10-", 100, (10, 100)),
        ("bytes=99-", 100, (99, 100)),
        ("bytes=50-1000", 100, (50, 100)),
        ("bytes=-10", 100, (90, 100)),
        ("bytes=-1000", 100, (0, 100)),
        ("BYTES = 5-6", 100, (5, 7)),
        ("bytes=5-6,", 100, (5, 7)),
        ("bytes= 5-6 ", 100, (5, 7)),
        ("items=0-5", 100, None),
        ("bytes=-5", 0, None),
    ],
)
def test_range_headers_are_parsed(
    header: str | None, total: int, expected: tuple[int, int] | None
) -> None:
    assert parse_range_header(header, total) == expected


@pytest.mark.parametrize(
    ("header", "total"),
    [
        ("bytes=100-", 100),
        ("bytes=100-200", 100),
        ("bytes=-0", 100),
        ("bytes=0-", 0),
        ("bytes=0-1,5-6", 100),
        ("bytes=5-4", 100),
        ("bytes=-", 100),
        ("bytes=", 100),
        ("bytes=a-b", 100),
        ("bytes=1-2-3", 100),
        ("bytes=+1-2", 100),
        ("bytes=\u0661-\u0662", 100),  # Arabic-Indic digits: str.isdigit() would say yes
        ("bytes 0-5", 100),
        ("", 100),
    ],
)
def test_bad_or_unsatisfiable_range_headers_raise(header: str, total: int) -> None:
    with pytest.raises(ValueError, match=r"range|Range"):
        parse_range_header(header, total)
