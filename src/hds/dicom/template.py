"""An instance's DICOM JSON template: its metadata with bulk data URIs relative to it.

The template is what ``hds.dicomweb.metacache`` keeps sealed per item and what the metadata
views send once ``resolve`` has made its bulk data URIs absolute. Ingest makes it while it has
the file in memory (in the render worker, next to the preview), so even the first viewer of a
new series gets its metadata without a header parse per instance. No Django here: render
workers import this module.
"""

from __future__ import annotations

import json
from typing import Final

from hds.dicom.dicomjson import JsonDict, element, metadata, tag_key
from hds.dicom.frames import Header, MemoryFile, read_header

BULK_PREFIX: Final = "bulkdata/"
MAX_TEMPLATE_BYTES: Final = 256 * 1024  # bigger headers (rare) are parsed at each request


def instance_template(header: Header) -> JsonDict:
    """The metadata of the instance whose header this is, bulk data URIs relative to it."""

    def bulk_data_uri(tag: int) -> str:
        return f"{BULK_PREFIX}{tag_key(tag)}"

    extra: JsonDict = {"00083002": element("UI", [header.transfer_syntax])}
    if header.pixel is not None:
        extra[tag_key(header.pixel.tag)] = {
            "vr": header.pixel.vr,
            "BulkDataURI": bulk_data_uri(header.pixel.tag),
        }
    return metadata(header.dataset, bulk_data_uri=bulk_data_uri, extra=extra)


def encode_template(template: JsonDict) -> bytes | None:
    """The template as compact JSON, or None when it is above ``MAX_TEMPLATE_BYTES``."""
    raw = json.dumps(template, separators=(",", ":")).encode()
    return raw if len(raw) <= MAX_TEMPLATE_BYTES else None


def template_of_file(data: bytes) -> bytes | None:
    """The encoded template of a whole DICOM file, or None (unreadable header, too big)."""
    try:
        header = read_header(MemoryFile(data))
        return encode_template(instance_template(header))
    except Exception:  # any parse failure: the metadata view then parses the header at
        # request time, where errors are handled per instance
        return None
