"""Instance metadata kept ready: each instance's DICOM JSON template, sealed in its item row.

Building an instance's metadata means decrypting the start of its blob, parsing the header with
pydicom and converting every element (about 1 ms per instance), which made a viewer wait for
its series' metadata before the first image. Ingest stores the template
(``hds.dicom.template``) as ``Item.dicom_json_ct``, sealed with the study's metadata key and
bound to the item (its own AAD, so it cannot pass for ``meta_ct`` or for another item); a
metadata request that finds none (instances stored before, a header too big, a row tampered
with) builds it from the blob and stores it for the next request.

Bulk data URIs in a template are relative to the instance (``bulkdata/7FE00010``); ``resolve``
gives them the instance's absolute URL as the request reached us.
"""

from __future__ import annotations

from hds.archive.keys import OpenStudy
from hds.archive.models import Item
from hds.archive.services import seal_dicom_json
from hds.dicom.dicomjson import JsonDict
from hds.dicom.template import BULK_PREFIX, encode_template


def seal_templates(opened: OpenStudy, pairs: list[tuple[Item, JsonDict]]) -> None:
    """Store templates for items of one study (one UPDATE per item, in one batch)."""
    changed = []
    for item, template in pairs:
        raw = encode_template(template)
        if raw is None:
            continue
        seal_dicom_json(opened, item, raw)
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
