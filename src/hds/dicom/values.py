"""Reading element values of an untrusted dataset safely: wrong types and malformed numbers
give None or an empty list, never an exception."""

from __future__ import annotations

import math
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


def frame_value(ds: Dataset, index: int, sequence: str, keyword: str) -> Any:
    """A frame's value from the functional groups (PS3.3 C.7.6.16), else the top level."""
    for groups_keyword, item in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(groups_keyword)
        if not groups or len(groups) <= item:
            continue
        macro = groups[item].get(sequence)
        if macro:
            value = macro[0].get(keyword)
            if value is not None and value != "":
                return value
    return ds.get(keyword)


def first_float(value: Any) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def float_values(value: Any) -> list[float]:
    if not isinstance(value, MultiValue | list | tuple):
        return []
    numbers = [first_float(v) for v in value]
    return [n for n in numbers if n is not None] if None not in numbers else []


def int_values(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    if not isinstance(value, MultiValue | list | tuple):
        return []
    return (
        [v for v in value if isinstance(v, int)] if all(isinstance(v, int) for v in value) else []
    )


def int_attribute(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    if isinstance(value, MultiValue | list | tuple):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def signed16(value: int) -> int:
    """A US-or-SS value read as US (PS3.5 6.2): reinterpret it as SS."""
    return value - (1 << 16) if value >= 1 << 15 else value


def lut_first_mapped(value: int, ds: Dataset) -> int:
    # PS3.3 C.11.1.1.1: the first mapped value is SS when the pixels are signed.
    return signed16(value) if ds.get("PixelRepresentation") == 1 else value


def dataset_text(ds: Dataset, keyword: str) -> str:
    """A tag's value as a plain string ('' when absent)."""
    value: Any = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def dataset_numbers(ds: Dataset, keyword: str) -> list[float]:
    """All values of a numeric tag ([] when absent or when one is not a finite number)."""
    value: Any = ds.get(keyword, None)
    if value in (None, ""):
        return []
    values = list(value) if isinstance(value, MultiValue) else [value]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return []
    return out if all(math.isfinite(v) for v in out) else []


def dataset_number(ds: Dataset, keyword: str) -> float | None:
    """A numeric tag's first value, or None."""
    value: Any = ds.get(keyword, None)
    if isinstance(value, MultiValue):
        value = value[0] if value else None
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None
