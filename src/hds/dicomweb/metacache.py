"""Instance metadata kept ready: each instance's DICOM JSON, sealed in its item row.

Building an instance's metadata means decrypting the start of its blob, parsing the header with
pydicom and converting every element (about 1 ms per instance), which made a viewer wait for
its series' metadata before the first image. The first metadata request of an instance stores
the result as ``Item.dicom_json_ct``, sealed with the study's metadata key and bound to the item
(its own AAD, so it cannot pass for ``meta_ct`` or for another item); later requests open it.

The stored document is a *template*: bulk data URIs are relative to the instance
(``bulkdata/7FE00010``) and get the instance's absolute URL as the request reached us when sent.
A template that does not open (a key rotated, a row tampered with) is rebuilt from the blob.
"""

from __future__ import annotations

import json
from typing import Final

from hds.archive.keys import OpenStudy
from hds.archive.models import Item
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.records import open_record, seal_record
from hds.dicomweb.dicomjson import JsonDict

BULK_PREFIX: Final = "bulkdata/"
MAX_TEMPLATE_BYTES: Final = 256 * 1024  # bigger headers (rare) are parsed each time


def _aad(item_id: object) -> bytes:
    return f"hds/v1/item-dicom-json|{item_id}".encode()


def open_template(opened: OpenStudy, item: Item) -> JsonDict | None:
    """The item's stored template, or None when there is none or it does not open."""
    sealed = item.dicom_json_ct
    if not sealed:
        return None
    try:
        template: JsonDict = json.loads(open_record(opened.meta_key, bytes(sealed), _aad(item.id)))
    except (InvalidCiphertext, ValueError):
        return None
    return template


def seal_templates(opened: OpenStudy, pairs: list[tuple[Item, JsonDict]]) -> None:
    """Store templates for items of one study (one UPDATE per item, in one batch)."""
    changed = []
    for item, template in pairs:
        raw = json.dumps(template, separators=(",", ":")).encode()
        if len(raw) > MAX_TEMPLATE_BYTES:
            continue
        item.dicom_json_ct = seal_record(opened.meta_key, raw, _aad(item.id))
        changed.append(item)
    if changed:
        # Rows deleted in the meantime are simply not updated.
        Item.objects.bulk_update(changed, ["dicom_json_ct"], batch_size=100)


def resolve(template: JsonDict, instance_url: str) -> JsonDict:
    """The template with absolute bulk data URIs (they occur at the top level only)."""
    out: JsonDict = {}
    for key, value in template.items():
        uri = value.get("BulkDataURI") if isinstance(value, dict) else None
        if isinstance(uri, str) and uri.startswith(BULK_PREFIX):
            out[key] = {**value, "BulkDataURI": f"{instance_url}/{uri}"}
        else:
            out[key] = value
    return out
