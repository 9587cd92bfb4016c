"""Reading stored instances for WADO-RS: the header, single frames, and a transcoded copy.

The header is parsed from a ``SourceFile`` (the encrypted blob through
``hds.crypto.blobfile.BlobFile``, or ``MemoryFile`` at ingest) up to the pixel data, whose
position is remembered: a native frame is then one ranged read, a compressed frame is found
through the Basic (or Extended) Offset Table. Only a deflated file is read whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any, BinaryIO, Final, Protocol

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate, get_frame
from pydicom.filereader import read_partial
from pydicom.pixels.utils import pixel_array
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian

from hds.dicom.decode import can_decode
from hds.dicom.media import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    is_encapsulated,
)


class SourceFile(Protocol):
    """What frame reading needs of a stored file: ``read``/``seek``/``tell``, its size and
    itself typed as the binary file pydicom's signatures ask for. The caller opens it (this
    package never reads the blob store)."""

    @property
    def size(self) -> int: ...

    def as_binary_io(self) -> BinaryIO: ...

    def tell(self) -> int: ...

    def seek(self, offset: int, whence: int = ..., /) -> int: ...

    def read(self, size: int | None = ..., /) -> bytes: ...


class MemoryFile(BytesIO):
    """A whole file in memory as a ``SourceFile`` (ingest has the plaintext at hand)."""

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return len(self.getbuffer())

    def as_binary_io(self) -> BinaryIO:
        """This object as a binary file."""
        return self


PIXEL_TAGS: Final = {0x7FE00010: "OW", 0x7FE00008: "OF", 0x7FE00009: "OD"}
_LONG_LENGTH_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR"})
_UNDEFINED: Final = 0xFFFFFFFF
# The Image Pixel module (PS3.3 C.7.6.3): what a decoder needs besides the pixel data.
_PIXEL_MODULE: Final = (
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
)


class FrameError(Exception):
    """The frame cannot be read from the stored file (bad header, out of range)."""


@dataclass(frozen=True)
class PixelElement:
    """Where the pixel data element's value starts, its VR and its length (None: undefined)."""

    tag: int
    vr: str
    offset: int
    length: int | None


@dataclass
class Header:
    """An instance's dataset up to (without) its pixel data, and where the pixel data is."""

    dataset: FileDataset
    transfer_syntax: str
    pixel: PixelElement | None
    random_access: bool  # False for deflated files: offsets refer to the inflated stream

    @property
    def frame_count(self) -> int:
        """NumberOfFrames (1 when absent or 0)."""
        try:
            return max(1, int(self.dataset.get("NumberOfFrames", 1) or 1))
        except (TypeError, ValueError):
            return 1


def read_header(file: SourceFile) -> Header:
    """Parse the instance up to its pixel data (which stays undecrypted)."""
    found: list[tuple[int, str | None, int]] = []

    def at_pixel_data(tag: BaseTag, vr: str | None, length: int) -> bool:
        if int(tag) in PIXEL_TAGS:
            found.append((int(tag), vr, length))
            return True
        return False

    file.seek(0)
    dataset = read_partial(file.as_binary_io(), stop_when=at_pixel_data, force=True)
    transfer_syntax = str(getattr(dataset.file_meta, "TransferSyntaxUID", "") or "")
    if not transfer_syntax:
        is_implicit, is_little = dataset.original_encoding
        transfer_syntax = IMPLICIT_VR_LITTLE_ENDIAN if is_implicit else EXPLICIT_VR_BIG_ENDIAN
        if not is_implicit and is_little:
            transfer_syntax = str(ExplicitVRLittleEndian)
    random_access = transfer_syntax != DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
    pixel = None
    if found:
        tag, vr, length = found[0]
        is_implicit = bool(dataset.original_encoding[0])
        start = file.tell()  # pydicom rewinds to the element's first byte when it stops
        head = 8 if is_implicit or vr not in _LONG_LENGTH_VRS else 12
        pixel = PixelElement(
            tag=tag,
            vr=vr or PIXEL_TAGS[tag],
            offset=start + head,
            length=None if length == _UNDEFINED else length,
        )
    return Header(dataset, transfer_syntax, pixel, random_access)


# Where ingest records the pixel data of native little endian files (``pixel_locator``), so a
# frame request reads the frame without parsing the header: these syntaxes, these keywords.
_LOCATABLE: Final = frozenset({IMPLICIT_VR_LITTLE_ENDIAN, str(ExplicitVRLittleEndian)})
_LOCATOR_MODULE: Final = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "PhotometricInterpretation",
    "NumberOfFrames",
)
_PIXEL_DATA_TAG_BYTES: Final = b"\xe0\x7f\x10\x00"  # (7FE0,0010) little endian


def pixel_locator(ds: Dataset) -> dict[str, Any] | None:
    """At ingest, for a file parsed from its stored bytes: where its native little endian pixel
    data is and what frames it holds (None for other files: they are parsed when read)."""
    file_meta = getattr(ds, "file_meta", None)
    ts = str(getattr(file_meta, "TransferSyntaxUID", "") or "") if file_meta is not None else ""
    if ts not in _LOCATABLE or "PixelData" not in ds:
        return None
    element = ds["PixelData"]
    offset = getattr(element, "file_tell", None)
    value = element.value
    if not isinstance(offset, int) or offset < 8 or not isinstance(value, bytes | bytearray):
        return None
    module: dict[str, int | str] = {}
    try:
        for keyword in _LOCATOR_MODULE:
            if keyword not in ds or ds[keyword].value in (None, ""):
                continue
            item = ds[keyword].value
            module[keyword] = str(item) if keyword == "PhotometricInterpretation" else int(item)
    except (TypeError, ValueError):
        return None  # a value that is not what its tag says: parse when read
    frame_bits = _native_frame_bits(ds)
    frames = max(1, _int(ds, "NumberOfFrames", 1))
    if frame_bits <= 0 or frame_bits % 8 or frames * frame_bits // 8 > len(value):
        return None
    return {
        "ts": ts,
        "offset": offset,
        "length": len(value),
        "vr": str(element.VR),
        "module": module,
    }


def header_from_locator(file: SourceFile, locator: Any) -> Header | None:
    """The frame-reading part of a ``Header`` from a recorded ``pixel_locator``, without
    parsing; None when there is none or the stored file does not have the pixel data element
    exactly there (then the caller parses)."""
    if not isinstance(locator, dict):
        return None
    try:
        ts, offset, length = str(locator["ts"]), int(locator["offset"]), int(locator["length"])
        vr, module = str(locator["vr"]), dict(locator["module"])
    except (KeyError, TypeError, ValueError):
        return None
    implicit = ts == IMPLICIT_VR_LITTLE_ENDIAN
    if ts not in _LOCATABLE or (not implicit and vr not in ("OB", "OW")):
        return None
    head = 8 if implicit else 12
    file.seek(offset - head)
    element = file.read(head)
    expected = _PIXEL_DATA_TAG_BYTES + (b"" if implicit else vr.encode() + b"\0\0")
    if element[:-4] != expected or int.from_bytes(element[-4:], "little") != length:
        return None
    dataset = FileDataset("", Dataset(), file_meta=FileMetaDataset(), preamble=None)
    dataset.file_meta.TransferSyntaxUID = UID(ts)
    try:
        for keyword, value in module.items():
            setattr(dataset, keyword, value)
    except (TypeError, ValueError):
        return None
    pixel = PixelElement(tag=0x7FE00010, vr=vr, offset=offset, length=length)
    return Header(dataset, ts, pixel, random_access=True)


def _int(ds: Dataset, keyword: str, default: int) -> int:
    try:
        return int(ds.get(keyword, default) or default)
    except (TypeError, ValueError):
        return default


def _native_frame_bits(ds: Dataset) -> int:
    rows, columns = _int(ds, "Rows", 0), _int(ds, "Columns", 0)
    samples, bits = _int(ds, "SamplesPerPixel", 1), _int(ds, "BitsAllocated", 8)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "YBR_FULL_422":
        return rows * columns * 2 * bits  # two samples a pixel after subsampling (C.7.6.3.1.2)
    return rows * columns * samples * bits


def _swap_width(header: Header) -> int:
    """Bytes per swapped unit when native big endian pixel data must become little endian
    (1: nothing to swap). 8-bit samples in OW are swapped in pairs, as PS3.5 7.3 words."""
    if header.transfer_syntax != EXPLICIT_VR_BIG_ENDIAN or header.pixel is None:
        return 1
    bits = _int(header.dataset, "BitsAllocated", 8)
    if header.pixel.vr == "OW" and bits <= 16:
        return 2
    return max(1, bits // 8)


def _read_exact(file: SourceFile, start: int, end: int) -> bytes:
    file.seek(start)
    data = file.read(end - start)
    if len(data) != end - start:
        raise FrameError("truncated pixel data")
    return data


def _native_frame(file: SourceFile, header: Header, index: int) -> bytes:
    pixel = header.pixel
    assert pixel is not None
    frame_bits = _native_frame_bits(header.dataset)
    if frame_bits <= 0:
        raise FrameError("frame size unknown")
    start_bit = index * frame_bits
    first = pixel.offset + start_bit // 8
    end = pixel.offset + math.ceil((start_bit + frame_bits) / 8)
    limit = pixel.offset + pixel.length if pixel.length is not None else end
    if end > limit:
        raise FrameError("frame beyond the pixel data")
    if start_bit % 8 or frame_bits % 8:
        # Bit-packed (BitsAllocated 1) frames need not start on a byte: repack from bit 0.
        data = _read_exact(file, first, end)
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        shift = start_bit % 8
        return np.packbits(bits[shift : shift + frame_bits], bitorder="little").tobytes()
    width = _swap_width(header)
    if width == 1:
        return _read_exact(file, first, end)
    # Swap whole units: widen the range to unit boundaries, swap, then cut the frame out.
    lead = (first - pixel.offset) % width
    tail = min(limit, end + (-(end - pixel.offset)) % width)
    data = _read_exact(file, first - lead, tail)
    data = data[: len(data) - len(data) % width]
    swapped = np.frombuffer(data, dtype=f">u{width}").astype(f"<u{width}").tobytes()
    return swapped[lead : lead + end - first]


def _whole_dataset(file: SourceFile) -> Dataset:
    file.seek(0)
    return dcmread(BytesIO(file.read()), force=True)


def stored_frame(file: SourceFile, header: Header, index: int) -> bytes:
    """Frame ``index`` (0-based) as stored: compressed frames as-is, native ones little endian."""
    if header.pixel is None:
        raise FrameError("no pixel data")
    if not 0 <= index < header.frame_count:
        raise FrameError("no such frame")
    if not header.random_access:
        ds = _whole_dataset(file)
        frame_bytes = _native_frame_bits(ds) // 8
        return bytes(ds.PixelData[index * frame_bytes : (index + 1) * frame_bytes])
    if header.pixel.length is not None:  # a defined length: native pixel data
        return _native_frame(file, header, index)
    file.seek(header.pixel.offset)
    ds = header.dataset
    extended = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        extended = (bytes(ds.ExtendedOffsetTable), bytes(ds.ExtendedOffsetTableLengths))
    try:
        return get_frame(
            file.as_binary_io(),
            index,
            number_of_frames=header.frame_count,
            extended_offsets=extended,
        )
    except (ValueError, KeyError, EOFError) as exc:
        raise FrameError("frame not found") from exc


def can_decode_frames(header: Header) -> bool:
    """Whether compressed frames of this instance can be decoded here."""
    return header.pixel is not None and can_decode(header.transfer_syntax)


def pixel_module(header: Header) -> Dataset:
    """What a decoder needs of the instance besides a frame: the Image Pixel module and the
    transfer syntax."""
    module = Dataset()
    for keyword in _PIXEL_MODULE:
        if keyword in header.dataset:
            module[keyword] = header.dataset[keyword]
    module.file_meta = header.dataset.file_meta
    return module


def decode_frame(compressed: bytes, module: Dataset) -> bytes:
    """One compressed frame decoded to native little endian bytes, as ``Dataset.pixel_array``
    gives them (YBR colour converted to RGB). Decoders are C code fed with stored files: this
    runs in a render worker (``hds.archive.renderpool.isolated``)."""
    single = Dataset()
    single.update(module)
    single.file_meta = module.file_meta
    single.NumberOfFrames = 1
    single.PixelData = encapsulate([compressed])
    array = pixel_array(single)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


Decoder = Callable[[bytes, Dataset], bytes]


def iter_frames(
    file: SourceFile, header: Header, indices: list[int], *, decode: Decoder | None
) -> Iterator[bytes]:
    """The requested frames (0-based), as stored, or decoded by ``decode`` (``decode_frame``
    run where it is safe to; it raises ``FrameError`` for a frame it cannot decode)."""
    if decode is None:
        for index in indices:
            yield stored_frame(file, header, index)
        return
    module = pixel_module(header)
    for index in indices:
        yield decode(stored_frame(file, header, index), module)


def can_transcode(transfer_syntax: str) -> bool:
    """Whether we can send an instance of this syntax as Explicit VR Little Endian."""
    if transfer_syntax == EXPLICIT_VR_BIG_ENDIAN:
        return False  # retired; pydicom does not swap pixel data on write
    return not is_encapsulated(transfer_syntax) or can_decode(transfer_syntax)


def transcode(data: bytes) -> bytes:
    """A Part-10 file re-encoded as Explicit VR Little Endian (decompressed if need be). This
    decodes a stored file: it runs in a render worker (``hds.archive.renderpool.isolated``)."""
    ds = dcmread(BytesIO(data), force=True)
    if is_encapsulated(str(getattr(ds.file_meta, "TransferSyntaxUID", ""))):
        ds.decompress()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = BytesIO()
    ds.save_as(out, implicit_vr=False, little_endian=True, enforce_file_format=True)
    return out.getvalue()
