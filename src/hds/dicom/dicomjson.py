"""The DICOM JSON Model (PS3.18 Annex F): elements from plain values, and instance metadata.

Metadata keeps small values inline and gives large binary ones (pixel data above all) as a
``BulkDataURI`` (F.2.6), so a viewer's metadata request never moves pixel data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

JsonDict = dict[str, Any]

BULK_DATA_THRESHOLD: Final = 1024  # bytes; binary values above it become BulkDataURIs
BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_INTEGER_VRS: Final = frozenset({"IS", "SL", "SS", "SV", "UL", "US", "UV"})
_DECIMAL_VRS: Final = frozenset({"DS", "FD", "FL"})


def tag_key(tag: int) -> str:
    """A tag as the model's key, ``"0020000D"``."""
    return f"{tag:08X}"


def _person_name(value: str) -> JsonDict:
    groups = value.split("=")
    names = ("Alphabetic", "Ideographic", "Phonetic")
    return {name: group for name, group in zip(names, groups, strict=False) if group}


def _number(vr: str, value: Any) -> int | float | str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)  # an unparsable IS/DS travels as its text rather than getting lost
    if vr in _INTEGER_VRS or number.is_integer():
        return int(number)
    return number


def element(vr: str, values: Iterable[Any]) -> JsonDict:
    """One element of ``vr`` with these values; empty and None values are left out."""
    kept = [v for v in values if v is not None and v != ""]
    if not kept:
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [_person_name(str(v)) for v in kept]}
    if vr in _INTEGER_VRS or vr in _DECIMAL_VRS:
        return {"vr": vr, "Value": [_number(vr, v) for v in kept]}
    return {"vr": vr, "Value": [str(v) for v in kept]}


def metadata(
    ds: Dataset,
    *,
    bulk_data_uri: Callable[[int], str],
    extra: JsonDict | None = None,
) -> JsonDict:
    """The dataset (without file meta) in the JSON model, sorted by tag.

    Top-level binary values above ``BULK_DATA_THRESHOLD`` become ``BulkDataURI``s made by
    ``bulk_data_uri(tag)``; values inside sequences stay inline (they are small in practice and
    have no addressable URL here). ``extra`` adds prepared elements (e.g. pixel data read
    elsewhere).
    """
    out: JsonDict = dict(extra or {})
    tags = list(ds.keys())  # tags only: iterating the dataset would convert every value first
    for tag in tags:
        try:
            elem = ds[tag]
            out[tag_key(tag)] = _element_json(elem, bulk_data_uri)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # A value pydicom cannot convert (stored as received): leave it out rather than
            # break the whole answer; the original file still has it.
            continue
    return dict(sorted(out.items()))


def _element_json(elem: DataElement, bulk_data_uri: Callable[[int], str]) -> JsonDict:
    if elem.VR in BINARY_VRS and not elem.is_empty:
        value = elem.value
        if isinstance(value, bytes | bytearray) and len(value) > BULK_DATA_THRESHOLD:
            return {"vr": elem.VR, "BulkDataURI": bulk_data_uri(int(elem.tag))}
    # No handler: anything binary that is left is small, or nested, and goes inline.
    result: JsonDict = elem.to_json_dict(None, BULK_DATA_THRESHOLD)
    return result
