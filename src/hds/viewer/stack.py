"""The image the viewer opens a series on, known to the server, so the viewer page can show
its JPEG (made at upload) while the viewer bundle loads, and "Keep on this device" can store it.

KEEP IN STEP with frontend/src/viewer/dicom.js (``stackInstances``, ``sortInstances``): the
instances with pixel data, in the series metadata's order (the study's image order,
``hds.archive.reads.image_order``: instance number, then SOP Instance UID), sorted along the
slice normal of the first one, farthest first, when every one has an image position and
orientation, else by instance number. Both read the same values: the
viewer from the DICOM JSON, this from the item record, which holds them for instances stored
since ingest recorded them (older ones have no preview).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from hds.archive.models import Item
from hds.archive.reads import SeriesView, image_order
from hds.dicom.record import ItemRecord

# The record of an entry: an ``ItemRecord``, or its JSON form (golden vectors, tests).
R = TypeVar("R", bound=ItemRecord | Mapping[str, Any])


def _record(value: ItemRecord | Mapping[str, Any]) -> ItemRecord:
    return value if isinstance(value, ItemRecord) else ItemRecord.decode(value)


def _number(record: ItemRecord) -> float:
    """``Number(InstanceNumber) || 0``."""
    return image_order(record)[0]


def stack_order(items: Sequence[tuple[Item, R]]) -> list[tuple[Item, R]]:
    """The series' instances with pixel data in the viewer's order; ``[]`` when an item record
    predates the geometry fields (the order cannot be known without reading every file)."""
    typed = [(entry, _record(entry[1])) for entry in items]
    stack = [(entry, r) for entry, r in typed if r.has_pixels and r.sop_uid]
    if any(not r.has_geometry_fields for _entry, r in stack):
        return []
    stack.sort(key=lambda pair: image_order(pair[1]))  # the study's order (hds.archive.reads)
    with_geometry = all(
        len(r.position or ()) == 3 and len(r.orientation or ()) == 6 for _entry, r in stack
    )
    if not with_geometry or len(stack) < 2:
        return [entry for entry, _r in sorted(stack, key=lambda pair: _number(pair[1]))]
    o = stack[0][1].orientation or ()
    normal = (o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3])

    def distance(record: ItemRecord) -> float:
        p = record.position or ()
        return float(p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2])

    ordered = sorted(stack, key=lambda pair: (-distance(pair[1]), _number(pair[1])))
    return [entry for entry, _r in ordered]


def first_image(series: SeriesView) -> ItemRecord | None:
    """The item record of the instance the viewer opens the series on, if that instance has a
    JPEG preview (frame 1)."""
    stack = stack_order(series.items)
    if not stack:
        return None
    item, record = stack[0]
    return record if record.has_preview and item.rendering_id is not None else None
