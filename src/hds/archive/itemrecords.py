"""Sealing and opening item records (``hds.dicom.record.ItemRecord``): the one module that turns
an ``Item``'s ``meta_ct`` into a typed record and back, under the study's metadata key with the
item's id as associated data (docs/architecture.md, "The archive")."""

from __future__ import annotations

import json

from hds.archive.keys import OpenStudy
from hds.archive.models import Item
from hds.crypto.records import open_record, seal_record
from hds.dicom.record import ItemRecord


def _item_aad(item_id: object) -> bytes:
    return f"hds/v1/item|{item_id}".encode()


def open_item_record(opened: OpenStudy, item: Item) -> ItemRecord:
    """Open an item's record with the study's metadata key (any version ever written)."""
    raw = open_record(opened.meta_key, bytes(item.meta_ct), _item_aad(item.id))
    return ItemRecord.decode(json.loads(raw))


def seal_item_record(opened: OpenStudy, item: Item, record: ItemRecord) -> None:
    """Set the item's sealed record (the current version); not saved."""
    item.meta_ct = seal_record(
        opened.meta_key,
        json.dumps(record.encode(), separators=(",", ":")).encode(),
        _item_aad(item.id),
    )
