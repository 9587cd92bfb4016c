"""The server's copy of the viewer's stack order (hds.viewer.stack, KEEP IN STEP with
frontend/src/viewer/dicom.js sortInstances); the browser test
``test_the_first_image_shows_as_a_preview_until_the_viewer_has_drawn_it`` checks both agree."""

from __future__ import annotations

from typing import Any

from hds.archive.models import Item
from hds.viewer.stack import stack_order

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def _entry(number: float | None, z: float | None, **extra: Any) -> tuple[Item, dict[str, Any]]:
    meta: dict[str, Any] = {
        "sop_uid": f"1.2.{number}.{z}",
        "rows": 64,
        "instance_number": number,
        "position": [] if z is None else [0.0, 0.0, z],
        "orientation": [] if z is None else AXIAL,
        **extra,
    }
    return Item(), meta


def _numbers(entries: list[tuple[Item, dict[str, Any]]]) -> list[float | None]:
    return [meta["instance_number"] for _item, meta in entries]


def test_along_the_normal_farthest_first_whatever_the_numbers() -> None:
    entries = [_entry(1, 0.0), _entry(2, 5.0), _entry(3, 10.0)]
    assert _numbers(stack_order(entries)) == [3, 2, 1]
    # Feet first (z falling with the number): the same slice order in space.
    assert _numbers(stack_order([_entry(1, 10.0), _entry(2, 5.0), _entry(3, 0.0)])) == [1, 2, 3]
    # Equal positions: by instance number.
    assert _numbers(stack_order([_entry(2, 5.0), _entry(1, 5.0)])) == [1, 2]


def test_by_instance_number_when_one_has_no_geometry() -> None:
    entries = [_entry(3, 10.0), _entry(1, None), _entry(2, 5.0), _entry(None, 7.0)]
    assert _numbers(stack_order(entries)) == [None, 1, 2, 3]  # Number(undefined) || 0 is 0


def test_instances_without_pixels_are_left_out_and_old_records_give_no_order() -> None:
    no_pixels = _entry(1, 0.0)
    del no_pixels[1]["rows"]
    assert _numbers(stack_order([no_pixels, _entry(2, 5.0)])) == [2]
    old = _entry(3, 1.0)
    del old[1]["position"]
    assert stack_order([old, _entry(2, 5.0)]) == []
