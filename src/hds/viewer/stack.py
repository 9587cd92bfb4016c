"""The image the viewer opens a series on, known to the server, so the viewer page can show
its JPEG (made at upload) while the viewer bundle loads, and "Keep on this device" can store it.

KEEP IN STEP with frontend/src/viewer/dicom.js (``stackInstances``, ``sortInstances``): the
instances with pixel data, in the series metadata's order (instance number, then SOP Instance
UID), sorted along the slice normal of the first one, farthest first, when every one has an
image position and orientation, else by instance number. Both read the same values: the
viewer from the DICOM JSON, this from the item record, which holds them for instances stored
since ingest recorded them (older ones have no preview).
"""

from __future__ import annotations

import math
from typing import Any

from hds.archive.models import Item
from hds.archive.selectors import SeriesView


def _number(meta: dict[str, Any]) -> float:
    """``Number(InstanceNumber) || 0``."""
    value = meta.get("instance_number")
    return float(value) if isinstance(value, int | float) and not math.isnan(value) else 0.0


def stack_order(items: list[tuple[Item, dict[str, Any]]]) -> list[tuple[Item, dict[str, Any]]]:
    """The series' instances with pixel data in the viewer's order; ``[]`` when an item record
    predates the geometry fields (the order cannot be known without reading every file)."""
    stack = [(item, meta) for item, meta in items if meta.get("rows") and meta.get("sop_uid")]
    if any("position" not in meta or "orientation" not in meta for _item, meta in stack):
        return []
    stack.sort(key=lambda entry: (_number(entry[1]), str(entry[1]["sop_uid"])))
    with_geometry = all(
        len(meta["position"]) == 3 and len(meta["orientation"]) == 6 for _item, meta in stack
    )
    if not with_geometry or len(stack) < 2:
        return sorted(stack, key=lambda entry: _number(entry[1]))
    o = stack[0][1]["orientation"]
    normal = (o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3])

    def distance(meta: dict[str, Any]) -> float:
        p = meta["position"]
        return float(p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2])

    return sorted(stack, key=lambda entry: (-distance(entry[1]), _number(entry[1])))


def first_image(series: SeriesView) -> dict[str, Any] | None:
    """The item record of the instance the viewer opens the series on, if that instance has a
    JPEG preview (frame 1)."""
    stack = stack_order(series.items)
    if not stack:
        return None
    item, meta = stack[0]
    return meta if meta.get("jpeg") and item.rendering_id is not None else None
