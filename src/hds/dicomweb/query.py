"""QIDO-RS queries: parameters, matching (PS3.18 8.3.4, PS3.4 C.2.2.2) and the returned attributes.

Results are flat records (keyword -> values) built from the sealed summaries and item records;
the server has no plaintext index to query, so matching runs over what the caller's keys open.

Matching, as implemented:
- single value: exact; case-insensitive for names, descriptions and IDs (PN and the text VRs);
- wildcards ``*`` and ``?`` in those and in CS values, whole-value (PN: the value with its
  ``^`` components, trailing empty components ignored);
- UI: a list of UIDs separated by ``,`` or ``\\``;
- DA and TM: single values and ranges (``20200101-20201231``, ``-20201231``, ``20200101-``);
- IS, US: numbers;
- an empty value matches everything and asks for the attribute to be returned;
- multi-valued attributes (ModalitiesInStudy) match when any value does; a key may list several
  values separated by ``,`` or ``\\`` and matches when any of them does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache
from typing import Any, Final, TypeVar

from django.http import QueryDict
from django.utils.translation import gettext as _
from pydicom.datadict import dictionary_keyword, keyword_for_tag, tag_for_keyword

from hds.dicom.dicomjson import JsonDict, element, tag_key
from hds.dicom.record import ItemRecord

Record = dict[str, list[Any]]
T = TypeVar("T")


class Level(IntEnum):
    """Query/retrieve levels, top down."""

    STUDY = 1
    SERIES = 2
    INSTANCE = 3


@dataclass(frozen=True)
class Attribute:
    """An attribute the search knows: its tag, VR, level, and whether it is returned by default."""

    keyword: str
    vr: str
    level: Level
    default: bool = True

    @property
    def key(self) -> str:
        """The JSON model key."""
        tag = tag_for_keyword(self.keyword)
        assert tag is not None
        return tag_key(tag)


# PS3.18 Tables 10.6.3-3, -4 and -5, plus a few optional keys we can answer.
ATTRIBUTES: Final = (
    Attribute("StudyDate", "DA", Level.STUDY),
    Attribute("StudyTime", "TM", Level.STUDY),
    Attribute("AccessionNumber", "SH", Level.STUDY),
    Attribute("InstanceAvailability", "CS", Level.STUDY),
    Attribute("ModalitiesInStudy", "CS", Level.STUDY),
    Attribute("ReferringPhysicianName", "PN", Level.STUDY),
    Attribute("PatientName", "PN", Level.STUDY),
    Attribute("PatientID", "LO", Level.STUDY),
    Attribute("PatientBirthDate", "DA", Level.STUDY),
    Attribute("PatientSex", "CS", Level.STUDY),
    Attribute("StudyInstanceUID", "UI", Level.STUDY),
    Attribute("StudyID", "SH", Level.STUDY),
    Attribute("StudyDescription", "LO", Level.STUDY),
    Attribute("NumberOfStudyRelatedSeries", "IS", Level.STUDY),
    Attribute("NumberOfStudyRelatedInstances", "IS", Level.STUDY),
    Attribute("InstitutionName", "LO", Level.STUDY, default=False),
    Attribute("Modality", "CS", Level.SERIES),
    Attribute("SeriesDescription", "LO", Level.SERIES),
    Attribute("SeriesNumber", "IS", Level.SERIES),
    Attribute("SeriesInstanceUID", "UI", Level.SERIES),
    Attribute("NumberOfSeriesRelatedInstances", "IS", Level.SERIES),
    Attribute("SOPClassUID", "UI", Level.INSTANCE),
    Attribute("SOPInstanceUID", "UI", Level.INSTANCE),
    Attribute("InstanceNumber", "IS", Level.INSTANCE),
    Attribute("Rows", "US", Level.INSTANCE),
    Attribute("Columns", "US", Level.INSTANCE),
    Attribute("NumberOfFrames", "IS", Level.INSTANCE),
    Attribute("AvailableTransferSyntaxUID", "UI", Level.INSTANCE),
    Attribute("BodyPartExamined", "CS", Level.INSTANCE, default=False),
    Attribute("SliceLocation", "DS", Level.INSTANCE, default=False),
)
BY_KEYWORD: Final = {a.keyword: a for a in ATTRIBUTES}
RETRIEVE_URL: Final = "00081190"
# The unique keys tie a result to its place even when the client did not ask for them.
_ALWAYS: Final = {
    Level.STUDY: ("StudyInstanceUID",),
    Level.SERIES: ("StudyInstanceUID", "SeriesInstanceUID"),
    Level.INSTANCE: ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}
_TEXT_VRS: Final = frozenset({"PN", "LO", "SH", "LT", "ST", "UC", "UT"})
_WILDCARD_VRS: Final = _TEXT_VRS | {"CS", "AE", "AS"}
_LIST_SEPARATOR: Final = re.compile(r"[,\\]")
_CONTROL_PARAMS: Final = {"limit", "offset", "includefield", "fuzzymatching", "emptyfields"}


class QueryError(ValueError):
    """A parameter of the search is invalid (HTTP 400); the message is safe to show."""


@dataclass(frozen=True)
class Condition:
    """One matching key and its values (any of which may match)."""

    attribute: Attribute
    values: tuple[str, ...]

    def matches(self, record: Record) -> bool:
        """Whether the record's values for this attribute match (C.2.2.2)."""
        stored = record.get(self.attribute.keyword, [])
        return any(_match_one(self.attribute.vr, pattern, stored) for pattern in self.values)


@dataclass
class Query:
    """A parsed QIDO-RS request."""

    level: Level
    conditions: list[Condition] = field(default_factory=list)
    included: set[str] = field(default_factory=set)  # keywords asked for by includefield
    include_all: bool = False
    limit: int | None = None
    offset: int = 0
    unsupported: list[str] = field(default_factory=list)  # valid keys we cannot match on

    def accepts(self, record: Record, level: Level) -> bool:
        """Whether a record of ``level`` passes every condition on its level and those above
        (a study record can be judged before its series are looked at)."""
        return all(c.matches(record) for c in self.conditions if c.attribute.level <= level)

    def page(self, results: list[T]) -> list[T]:
        """Apply ``offset`` and ``limit``."""
        end = None if self.limit is None else self.offset + self.limit
        return results[self.offset : end]

    def returned(self, parent: Level | None) -> list[Attribute]:
        """Attributes to return for this search within ``parent`` (None: across all studies).

        PS3.18 10.6.3.3: the attributes of each level below ``parent`` down to the result's
        (so searching all series adds the study's, a study's instances add the series'); the
        unique keys; and matching keys and includefield attributes of the result's level or
        above. ``includefield=all`` adds the optional attributes we can answer.
        """
        shown = {lvl for lvl in Level if (parent is None or lvl > parent) and lvl <= self.level}
        asked = self.included | {c.attribute.keyword for c in self.conditions}
        out = []
        for attribute in ATTRIBUTES:
            if attribute.level > self.level:
                continue  # lower-level attributes are never returned
            if (
                attribute.keyword in _ALWAYS[self.level]
                or attribute.keyword in asked
                or (attribute.level in shown and (attribute.default or self.include_all))
            ):
                out.append(attribute)
        return out


def _attribute_id(name: str) -> tuple[int, str] | None:
    """(tag, keyword) for a keyword or an 8-hex-digit tag; None if it is neither."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        tag = int(name, 16)
        return tag, keyword_for_tag(tag) or ""
    found = tag_for_keyword(name)
    if found is None:
        return None
    return found, dictionary_keyword(found)


def _int_param(params: QueryDict, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise QueryError(_("%(name)s must be a whole number.") % {"name": name})
    return int(value)


def parse_query(params: QueryDict, level: Level) -> Query:
    """Read the search parameters; ``QueryError`` for anything malformed (PS3.18 8.3.4)."""
    query = Query(level=level)
    lowered = {name.lower(): name for name in params}
    query.limit = _int_param(params, lowered.get("limit", "limit"))
    query.offset = _int_param(params, lowered.get("offset", "offset")) or 0
    for name in params:
        if name.lower() == "includefield":
            for value in params.getlist(name):
                _add_includefields(query, value)
    for name, values in params.lists():
        if name.lower() in _CONTROL_PARAMS:
            continue
        identified = None if "." in name else _attribute_id(name)
        if identified is None:
            if "." in name and all(_attribute_id(p) for p in name.split(".")):
                query.unsupported.append(name)  # a sequence path: valid, not supported
                continue
            raise QueryError(_("Unknown search parameter: %(name)s") % {"name": name[:64]})
        _tag, keyword = identified
        attribute = BY_KEYWORD.get(keyword)
        if attribute is None or attribute.level > level:
            query.unsupported.append(name)
            continue
        patterns = tuple(_check_value(attribute, v) for v in values)
        if any(p in {"", "*"} for p in patterns):
            query.included.add(keyword)  # universal matching: return the attribute only
            continue
        query.conditions.append(Condition(attribute, patterns))
    return query


def _add_includefields(query: Query, value: str) -> None:
    for item in filter(None, (v.strip() for v in value.split(","))):
        if item.lower() == "all":
            query.include_all = True
            continue
        identified = _attribute_id(item)
        if identified is None:
            raise QueryError(_("Unknown includefield: %(name)s") % {"name": item[:64]})
        query.included.add(identified[1])


def _check_value(attribute: Attribute, value: str) -> str:
    value = value.strip()
    vr = attribute.vr
    if vr in ("DA", "TM") and value and not re.fullmatch(r"[0-9:.]*(-[0-9:.]*)?", value):
        raise QueryError(_("%(name)s must be a date or a range.") % {"name": attribute.keyword})
    if (
        vr in ("IS", "US")
        and value
        and not all(re.fullmatch(r"[+-]?\d+", v.strip()) for v in _LIST_SEPARATOR.split(value))
    ):
        raise QueryError(_("%(name)s must be a number.") % {"name": attribute.keyword})
    return value


# ------------------------------------------------------------------------------- matching


@cache
def _wildcard(pattern: str, fold: bool) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if fold else 0))


def _normal_name(value: str) -> str:
    return "=".join(group.rstrip("^") for group in value.split("=")).rstrip("=")


def _time_key(value: str, fill: str) -> str:
    """A TM value as fixed-width HHMMSS.FFFFFF, missing digits filled with ``fill``."""
    value = value.replace(":", "")
    whole, _dot, fraction = value.partition(".")
    return whole.ljust(6, fill)[:6] + "." + fraction.ljust(6, fill)[:6]


def _in_range(vr: str, pattern: str, value: str) -> bool:
    low, _sep, high = pattern.partition("-")
    if vr == "DA":
        key = value.replace(".", "")[:8]
        low, high = low.replace(".", ""), high.replace(".", "")
        return len(key) == 8 and (not low or key >= low) and (not high or key <= high)
    key = _time_key(value, "0")
    return (not low or key >= _time_key(low, "0")) and (not high or key <= _time_key(high, "9"))


def _match_date_time(vr: str, pattern: str, text: str) -> bool:
    if not text:
        return False
    if vr == "DA" and "-" not in pattern:
        return text == pattern.replace(".", "")
    # A single time matches every time within its precision ("10" is 10:00 to 10:59:59).
    return _in_range(vr, pattern if "-" in pattern else f"{pattern}-{pattern}", text)


def _match_number(pattern: str, text: str) -> bool:
    try:
        return float(text) == float(pattern)
    except ValueError:
        return False


def _match_text(vr: str, pattern: str, text: str) -> bool:
    if vr == "PN":
        text, pattern = _normal_name(text), _normal_name(pattern)
    fold = vr in _TEXT_VRS
    if vr in _WILDCARD_VRS and ("*" in pattern or "?" in pattern):
        return _wildcard(pattern, fold).fullmatch(text) is not None
    return text.casefold() == pattern.casefold() if fold else text == pattern


def _match_value(vr: str, pattern: str, value: Any) -> bool:
    text = "" if value is None else str(value).strip()
    if vr in ("DA", "TM"):
        return _match_date_time(vr, pattern, text)
    if vr in ("IS", "US", "DS"):
        return _match_number(pattern, text)
    return _match_text(vr, pattern, text)


def _match_one(vr: str, pattern: str, stored: list[Any]) -> bool:
    # UIDs come as lists (PS3.18 8.3.4.1); codes and numbers may too.
    if vr in ("UI", "CS", "IS", "US"):
        alternatives = [p.strip() for p in _LIST_SEPARATOR.split(pattern)]
    else:
        alternatives = [pattern]
    return any(_match_value(vr, alt, value) for alt in alternatives for value in stored)


# ---------------------------------------------------------------------------------- output


def to_json(record: Record, attributes: Iterable[Attribute], retrieve_url: str) -> JsonDict:
    """One result in the JSON model: the chosen attributes and the level's RetrieveURL."""
    out: JsonDict = {a.key: element(a.vr, record.get(a.keyword, [])) for a in attributes}
    out[RETRIEVE_URL] = element("UR", [retrieve_url])
    return dict(sorted(out.items()))


def study_record(summary: dict[str, Any]) -> Record:
    """A study's attributes from its sealed summary."""
    series = summary.get("series") or {}
    return {
        "StudyDate": [summary.get("study_date")],
        "StudyTime": [summary.get("study_time")],
        "AccessionNumber": [summary.get("accession")],
        "InstanceAvailability": ["ONLINE"],
        "ModalitiesInStudy": list(summary.get("modalities") or []),
        "ReferringPhysicianName": [summary.get("referring")],
        "PatientName": [summary.get("patient_name")],
        "PatientID": [summary.get("patient_id")],
        "PatientBirthDate": [summary.get("birth_date")],
        "PatientSex": [summary.get("sex")],
        "StudyInstanceUID": [summary.get("study_uid")],
        "StudyID": [],  # not kept in the summary
        "StudyDescription": [summary.get("description")],
        "InstitutionName": [summary.get("institution")],
        "NumberOfStudyRelatedSeries": [len(series)],
        "NumberOfStudyRelatedInstances": [int(summary.get("instances") or 0)],
    }


def series_record(study: Record, series_uid: str, entry: dict[str, Any]) -> Record:
    """A series' attributes (from the summary's series entry) under its study's."""
    number = entry.get("number")
    return {
        **study,
        "Modality": [entry.get("modality")],
        "SeriesDescription": [entry.get("description")],
        "SeriesNumber": [None if number is None else int(number)],
        "SeriesInstanceUID": [series_uid],
        "NumberOfSeriesRelatedInstances": [int(entry.get("n") or 0)],
    }


def instance_record(series: Record, record: ItemRecord) -> Record:
    """An instance's attributes (from its sealed item record) under its series'."""

    def whole(value: float | None) -> list[Any]:
        return [None if value is None else int(value)]

    return {
        **series,
        "SOPClassUID": [record.sop_class],
        "SOPInstanceUID": [record.sop_uid],
        "InstanceNumber": whole(record.instance_number),
        "Rows": whole(record.rows),
        "Columns": whole(record.columns),
        "NumberOfFrames": whole(record.frames),
        "AvailableTransferSyntaxUID": [record.ts],
        "BodyPartExamined": [record.body_part],
        "SliceLocation": [record.slice_location],
    }
