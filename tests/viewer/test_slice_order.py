"""The viewer's slice order on the server (``hds.viewer.stack``) against the golden vectors
``tests/vectors/slice_order.json``, which ``frontend/test/slice-order.test.js`` runs against
``frontend/src/viewer/dicom.js`` too (see docs/viewer.md)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from hds.archive.models import Item
from hds.viewer.stack import stack_order

VECTORS = Path(__file__).parents[1] / "vectors" / "slice_order.json"


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    return cases


def _entry(instance: dict[str, Any]) -> tuple[Item, dict[str, Any]]:
    """The item record's fields the order reads (``position`` and ``orientation``: [] if none)."""
    meta: dict[str, Any] = {
        "sop_uid": instance["sop"],
        "instance_number": instance["number"],
        "position": instance["position"],
        "orientation": instance["orientation"],
    }
    if instance["pixels"]:
        meta["rows"] = 512
    return Item(), meta


@pytest.mark.parametrize("case", _cases(), ids=lambda case: str(case["name"]))
def test_stack_order_matches_the_golden_vectors(case: dict[str, Any]) -> None:
    entries = [_entry(instance) for instance in case["instances"]]
    assert [meta["sop_uid"] for _item, meta in stack_order(entries)] == case["expected"]
    # The server sorts its item records into the metadata's order itself.
    random.Random(len(entries)).shuffle(entries)
    assert [meta["sop_uid"] for _item, meta in stack_order(entries)] == case["expected"]
