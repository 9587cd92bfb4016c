"""Media types: parsing Accept and Content-Type, and choosing what to send (PS3.18 8.7).

A WADO-RS Accept header names multipart payloads by the type of their parts, e.g.
``multipart/related; type="application/octet-stream"; transfer-syntax=*``. We send what we
store (the original bytes) whenever the client accepts it, and decode to Explicit VR Little
Endian when it asks for that instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from pydicom.uid import UID

EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: Final = "1.2.840.10008.1.2.1.99"
EXPLICIT_VR_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"

DICOM: Final = "application/dicom"
DICOM_JSON: Final = "application/dicom+json"
OCTET_STREAM: Final = "application/octet-stream"
JPEG: Final = "image/jpeg"

# PS3.18 Table 8.7.3-5: the media type of a compressed frame by its transfer syntax.
FRAME_MEDIA_TYPES: Final[dict[str, str]] = {
    "1.2.840.10008.1.2.4.50": JPEG,
    "1.2.840.10008.1.2.4.51": JPEG,
    "1.2.840.10008.1.2.4.57": JPEG,
    "1.2.840.10008.1.2.4.70": JPEG,
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}
# Other spellings clients send for the same thing (older editions, Cornerstone, dicomweb-client).
_ALIASES: Final[dict[str, str]] = {
    "image/x-jls": "image/jls",
    "image/x-dicom-rle": "image/dicom-rle",
    "image/j2c": "image/jp2",
}


def canonical(media_type: str) -> str:
    """The media type in the spelling of the current standard."""
    return _ALIASES.get(media_type, media_type)


@dataclass(frozen=True)
class MediaRange:
    """One entry of an Accept header (or a Content-Type), parameters lower-cased by name."""

    media_type: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0

    @property
    def part_type(self) -> str | None:
        """The ``type`` parameter of a multipart range, lower-cased."""
        value = self.params.get("type")
        return value.lower() if value else None

    @property
    def transfer_syntax(self) -> str | None:
        """The ``transfer-syntax`` parameter, if any."""
        return self.params.get("transfer-syntax") or None

    def matches(self, media_type: str) -> bool:
        """Whether this range covers ``media_type`` (wildcards included)."""
        if self.media_type == "*/*":
            return True
        major, _, minor = self.media_type.partition("/")
        if minor == "*":
            return media_type.split("/", 1)[0] == major
        return canonical(self.media_type) == canonical(media_type)


def _split(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside double quotes."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def parse_media_range(text: str) -> MediaRange | None:
    """One ``type/subtype; name=value`` item; None when it is not one."""
    head, *rest = _split(text, ";")
    media_type = head.strip().lower()
    if media_type.count("/") != 1:
        return None
    params: dict[str, str] = {}
    q = 1.0
    for item in rest:
        name, sep, value = item.partition("=")
        if not sep:
            continue
        name, value = name.strip().lower(), value.strip().strip('"')
        if name == "q":
            try:
                q = min(max(float(value), 0.0), 1.0)
            except ValueError:
                q = 0.0
        else:
            params[name] = value
    return MediaRange(media_type, params, q)


def parse_accept(header: str | None) -> list[MediaRange]:
    """The acceptable ranges, most preferred first; no header accepts anything (RFC 9110)."""
    if not header or not header.strip():
        return [MediaRange("*/*")]
    ranges = [r for r in map(parse_media_range, _split(header, ",")) if r is not None]
    # Stable: equal q keeps the client's order, which is how clients express preference.
    return sorted((r for r in ranges if r.q > 0), key=lambda r: -r.q)


def accepts(ranges: list[MediaRange], media_type: str) -> bool:
    """Whether a single-part response of ``media_type`` is acceptable."""
    return any(r.media_type != "multipart/related" and r.matches(media_type) for r in ranges)


def is_encapsulated(transfer_syntax: str) -> bool:
    """Whether pixel data in this transfer syntax is encapsulated (compressed); syntaxes that
    pydicom does not know (private ones) count as encapsulated: sent as stored, never sliced."""
    if not transfer_syntax:
        return False
    try:
        return bool(UID(transfer_syntax).is_encapsulated)
    except ValueError:
        return True


# ---------------------------------------------------------------------------------- choices


@dataclass(frozen=True)
class InstanceChoice:
    """How to send one instance: as stored, or transcoded to Explicit VR Little Endian."""

    transfer_syntax: str
    transcode: bool


def choose_instance(
    ranges: list[MediaRange], stored_ts: str, *, can_transcode: bool
) -> InstanceChoice | None:
    """The first acceptable way to send an instance, or None (PS3.18 8.7.3.5.2).

    ``multipart/related; type="application/dicom"`` without a transfer syntax gets the instance
    as stored: the standard's default would be Explicit VR Little Endian, but clients that omit
    the parameter (dicomweb-client, OHIF) want the file, and a lossless copy is what we keep.
    """
    for media_range in ranges:
        if media_range.media_type == "multipart/related":
            part = media_range.part_type or DICOM
        elif media_range.media_type in ("*/*", "multipart/*"):
            part = DICOM
        else:
            continue
        if not MediaRange(part).matches(DICOM):
            continue
        wanted = media_range.transfer_syntax
        if wanted in (None, "*", stored_ts):
            return InstanceChoice(stored_ts, transcode=False)
        if wanted == EXPLICIT_VR_LITTLE_ENDIAN and can_transcode:
            return InstanceChoice(EXPLICIT_VR_LITTLE_ENDIAN, transcode=True)
    return None


@dataclass(frozen=True)
class FrameChoice:
    """How to send frames: the part's media type, its transfer syntax, and whether the bytes
    are the stored ones (compressed frames as-is, native frames as little endian) or decoded."""

    media_type: str
    transfer_syntax: str
    decode: bool

    @property
    def content_type(self) -> str:
        """The part's Content-Type, naming the transfer syntax (PS3.18 8.7.3.5.2)."""
        return f"{self.media_type}; transfer-syntax={self.transfer_syntax}"


def _native_option(part: str, wanted: str | None, stored_ts: str) -> FrameChoice | None:
    # Native frames are the same bytes in every native syntax (big endian is swapped).
    native = (None, "*", EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, stored_ts)
    if MediaRange(part).matches(OCTET_STREAM) and wanted in native:
        return FrameChoice(OCTET_STREAM, EXPLICIT_VR_LITTLE_ENDIAN, decode=False)
    return None


def _octet_option(
    part: str, wanted: str | None, stored_ts: str, *, can_decode: bool
) -> FrameChoice | None:
    """Compressed frames asked for as octet-stream (or anything): as stored when the client
    accepts any syntax or names ours, decoded when it wants the default (native)."""
    if wanted in ("*", stored_ts):
        media = FRAME_MEDIA_TYPES.get(stored_ts, OCTET_STREAM) if part == "*/*" else OCTET_STREAM
        return FrameChoice(media, stored_ts, decode=False)
    if wanted in (None, EXPLICIT_VR_LITTLE_ENDIAN) and can_decode:
        return FrameChoice(OCTET_STREAM, EXPLICIT_VR_LITTLE_ENDIAN, decode=True)
    return None


def _image_option(part: str, wanted: str | None, stored_ts: str) -> FrameChoice | None:
    """Compressed frames asked for by their image media type: as stored."""
    stored_media = FRAME_MEDIA_TYPES.get(stored_ts)
    if stored_media is None or not MediaRange(part).matches(stored_media):
        return None
    if wanted not in (None, "*", stored_ts):
        return None
    # Answer in the client's spelling (image/x-jls, image/j2c ...) unless it used a wildcard.
    return FrameChoice(stored_media if "*" in part else part, stored_ts, decode=False)


def _frame_option(
    media_range: MediaRange, stored_ts: str, *, can_decode: bool
) -> FrameChoice | None:
    if media_range.media_type == "multipart/related":
        part = media_range.part_type or OCTET_STREAM
    elif media_range.media_type in ("*/*", "multipart/*"):
        part = "*/*"
    else:
        return None
    wanted = media_range.transfer_syntax
    if not is_encapsulated(stored_ts):
        return _native_option(part, wanted, stored_ts)
    if part in (OCTET_STREAM, "application/*", "*/*"):
        return _octet_option(part, wanted, stored_ts, can_decode=can_decode)
    return _image_option(part, wanted, stored_ts)


def choose_frames(
    ranges: list[MediaRange], stored_ts: str, *, can_decode: bool
) -> FrameChoice | None:
    """The first acceptable representation of an instance's frames, or None (PS3.18 8.7.3.5)."""
    for media_range in ranges:
        choice = _frame_option(media_range, stored_ts, can_decode=can_decode)
        if choice is not None:
            return choice
    return None
