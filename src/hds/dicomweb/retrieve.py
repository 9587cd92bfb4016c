"""How DICOMweb answers are read from storage: the strategy behind the HTTP views.

A stored instance is read through ``BlobFile`` (decrypting only the segments a read touches):
frames from the pixel locator ingest recorded when the stored file agrees with it, else from a
parsed header, kept briefly for multi-frame instances (``HeaderCache``); metadata from the
sealed DICOM JSON template, made and sealed in batches when an item has none (``metacache``);
compressed frames and transcoding decoded in a render worker (``hds.archive.renderpool.isolated``,
docs/architecture.md). ``hds.dicomweb.views`` keeps the HTTP: parsing, negotiation, responses.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Final

from django.conf import settings
from django.http import HttpRequest
from pydicom.dataset import Dataset

from hds.archive.models import Item
from hds.archive.reads import Instance, StudyAccess, read_dicom_json
from hds.archive.renderpool import isolated
from hds.archive.storage import reader
from hds.core.errors import NotFound
from hds.crypto.blobfile import BlobFile
from hds.dicom import rendering
from hds.dicom.dicomjson import JsonDict
from hds.dicom.frames import FrameError, Header, decode_frame, header_from_locator, read_header
from hds.dicom.frames import transcode as transcode_file
from hds.dicom.template import instance_template
from hds.dicomweb import metacache


class HeaderCache:
    """Parsed headers of multi-frame instances, briefly, in this process's memory only.

    A viewer asks for each frame of a multi-frame instance on its own, and parsing its header
    again for each (an enhanced CT or MR header with per-frame functional groups takes tens of
    milliseconds) would dominate. Entries are keyed by blob and used only after the request
    passed the access checks; they leave after ``TTL_SECONDS`` or when ``SIZE`` newer ones came.
    """

    SIZE: Final = 16
    TTL_SECONDS: Final = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[object, tuple[float, Header]] = OrderedDict()

    def get(self, key: object) -> Header | None:
        """The header kept for ``key``, if still fresh."""
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is None or now - found[0] > self.TTL_SECONDS:
                self._entries.pop(key, None)
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: object, header: Header) -> None:
        """Keep ``header`` for ``key``."""
        with self._lock:
            self._entries[key] = (time.monotonic(), header)
            self._entries.move_to_end(key)
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)


_headers = HeaderCache()


def instance_header(
    study: StudyAccess, instance: Instance, file: BlobFile | None = None
) -> tuple[BlobFile, Header]:
    """The stored file and its parsed header (kept a while for multi-frame instances)."""
    file = file or BlobFile(reader(study.opened, instance.item.blob))
    if instance.record.frames <= 1:
        return file, read_header(file)
    key = instance.item.blob_id
    header = _headers.get(key)
    if header is None:
        header = read_header(file)
        _headers.put(key, header)
    return file, header


def frame_header(study: StudyAccess, instance: Instance) -> tuple[BlobFile, Header]:
    """What frame reads need: from the pixel locator ingest recorded when there is one and the
    stored file agrees with it (no parse), else from ``instance_header``. Not a full header:
    only for reading pixel data."""
    file = BlobFile(reader(study.opened, instance.item.blob))
    located = header_from_locator(file, instance.record.pixel)
    return (file, located) if located is not None else instance_header(study, instance, file)


# Templates made while a metadata answer streams are stored in batches of this many, so a
# client that goes away early still leaves most of them behind.
_STORE_BATCH: Final = 50


def instance_templates(
    study: StudyAccess, instances: list[Instance]
) -> Iterator[tuple[Instance, JsonDict]]:
    """Each instance with its DICOM JSON template (bulk data URIs relative to it): the sealed
    one, else parsed from the header and sealed for next time."""
    made: list[tuple[Item, JsonDict]] = []
    for instance in instances:
        template = read_dicom_json(study.opened, instance.item)
        if template is None:
            _file, header = instance_header(study, instance)
            template = instance_template(header)
            made.append((instance.item, template))
        yield instance, template
        if len(made) >= _STORE_BATCH:
            metacache.seal_templates(study.opened, made)
            made = []
    metacache.seal_templates(study.opened, made)


def instance_chunks(study: StudyAccess, instance: Instance, *, transcode: bool) -> Iterator[bytes]:
    """The stored file decrypted as it goes, or transcoded to Explicit VR Little Endian in a
    render worker."""
    blob = reader(study.opened, instance.item.blob)
    if transcode:
        yield isolated(transcode_file, blob.read_range(0, blob.plaintext_size))
    else:
        yield from blob.iter_plaintext()


def decode_isolated(compressed: bytes, module: Dataset) -> bytes:
    """A compressed frame decoded in a render worker (docs/architecture.md)."""
    try:
        return isolated(decode_frame, compressed, module)
    except rendering.RenderError:
        raise FrameError("frame cannot be decoded") from None


def rendered_frame(study: StudyAccess, instance: Instance, number: int) -> bytes:
    """The JPEG preview of frame ``number`` (1-based) made at ingest."""
    frames = instance.jpeg_frames
    if not 1 <= number <= len(frames) or instance.item.rendering is None:
        raise NotFound("rendering")
    offset, length, _crc = frames[number - 1]
    return reader(study.opened, instance.item.rendering).read_range(offset, offset + length)


def thumbnail(study: StudyAccess, instance: Instance) -> bytes:
    """A small JPEG of the first frame (made in a render worker)."""
    try:
        return isolated(rendering.make_thumbnail, rendered_frame(study, instance, 1))
    except rendering.RenderError:
        raise NotFound("rendering") from None


class BodyTooLarge(Exception):
    """A STOW-RS body above ``MAX_UPLOAD_FILE_BYTES``."""


class LengthRequired(Exception):
    """A chunked STOW-RS body the server in front did not decode."""


def body_reader(request: HttpRequest) -> Callable[[int], bytes]:
    """A ``read(n)`` over the request body, refusing bodies above MAX_UPLOAD_FILE_BYTES.

    ``request.read`` (not ``request.body``): the body is parsed as it arrives, never held
    whole. A chunked body has no Content-Length; servers that decode it (gunicorn) say so
    with ``wsgi.input_terminated``, and we count what we read.
    """
    limit = settings.MAX_UPLOAD_FILE_BYTES
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        if int(declared) > limit:
            raise BodyTooLarge
        return request.read
    if request.META.get("wsgi.input_terminated"):
        stream = request.META["wsgi.input"]
        total = 0

        def read(size: int) -> bytes:
            nonlocal total
            chunk: bytes = stream.read(size)
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge
            return chunk

        return read
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise LengthRequired
    return request.read
