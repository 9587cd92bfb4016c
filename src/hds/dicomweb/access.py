"""The caller's way to studies, series and instances by their DICOM UIDs.

Every lookup goes through the caller's own keys: a study by the blind index of its
StudyInstanceUID under the caller's index key, an instance by the blind index of its
SOPInstanceUID under the study's key. Missing, someone else's, a document (not DICOM) or
impossible to open all raise the same ``NotFound`` (STYLE.md §2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from hds.archive.errors import StudyLocked
from hds.archive.itemrecords import open_item_record
from hds.archive.keys import OpenStudy, open_study
from hds.archive.models import Holding, Item, Study
from hds.archive.services import read_summary
from hds.core.errors import NotFound
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.records import account_index_key, blind_index
from hds.dicom.record import ItemRecord, JpegFrame
from hds.dicomweb.auth import Caller

# PS3.5 9.1: digits and dots, at most 64 characters.
_UID: Final = re.compile(r"[0-9]+(\.[0-9]+)*")


def is_uid(value: str) -> bool:
    """Whether ``value`` is shaped like a UID."""
    return len(value) <= 64 and _UID.fullmatch(value) is not None


@dataclass(frozen=True)
class Instance:
    """An instance of an opened study and its decrypted item record."""

    item: Item
    record: ItemRecord

    @property
    def sop_uid(self) -> str:
        """SOPInstanceUID."""
        return self.record.sop_uid

    @property
    def series_uid(self) -> str:
        """SeriesInstanceUID."""
        return self.record.series_uid

    @property
    def transfer_syntax(self) -> str:
        """The transfer syntax it is stored in."""
        return self.record.ts or "1.2.840.10008.1.2.1"

    @property
    def frame_count(self) -> int:
        """NumberOfFrames (1 when absent)."""
        return self.record.frames

    @property
    def jpeg_frames(self) -> tuple[JpegFrame, ...]:
        """(offset, length, crc) of each frame's JPEG in the rendering blob (() if none)."""
        return self.record.jpeg if self.item.rendering_id is not None else ()

    def sort_key(self) -> tuple[float, str]:
        """Instance number, then UID."""
        return (float(self.record.instance_number or 0), self.sop_uid)


@dataclass(frozen=True)
class StudyAccess:
    """An opened study of the caller, with the caller's summary of it."""

    holding: Holding
    opened: OpenStudy
    summary: dict[str, Any]

    @property
    def study(self) -> Study:
        """The study row."""
        return self.opened.study

    @property
    def study_uid(self) -> str:
        """StudyInstanceUID."""
        return str(self.summary.get("study_uid", ""))


def holding_by_uid(caller: Caller, study_uid: str) -> tuple[Holding, dict[str, Any]]:
    """The caller's holding of an imaging study and its summary, without opening the study."""
    if not is_uid(study_uid):
        raise NotFound("study")
    holding = (
        Holding.objects.select_related("study")
        .filter(
            account=caller.account,
            study_index=blind_index(account_index_key(caller.ams), study_uid),
        )
        .first()
    )
    if holding is None or holding.study.kind != Study.Kind.IMAGING:
        raise NotFound("study")
    try:
        summary = read_summary(holding, caller.ams)
    except InvalidCiphertext:
        raise NotFound("study") from None
    return holding, summary


def access_study_by_uid(caller: Caller, study_uid: str) -> StudyAccess:
    """The caller's study with this StudyInstanceUID, opened with the caller's grant."""
    holding, summary = holding_by_uid(caller, study_uid)
    try:
        opened = open_study(holding.study, caller.account, caller.ams)
    except StudyLocked:
        raise NotFound("study") from None
    return StudyAccess(holding=holding, opened=opened, summary=summary)


def list_instances(study: StudyAccess, series_uid: str | None = None) -> list[Instance]:
    """The study's instances (of one series if given), series by number, then by instance
    number; ``NotFound`` when a requested series has none."""
    if series_uid is not None and (
        not is_uid(series_uid) or series_uid not in (study.summary.get("series") or {})
    ):
        raise NotFound("series")
    items = Item.objects.filter(study=study.study, kind=Item.Kind.INSTANCE).select_related(
        "blob", "rendering"
    )
    instances = [Instance(item, open_item_record(study.opened, item)) for item in items]
    if series_uid is not None:
        instances = [i for i in instances if i.series_uid == series_uid]
        if not instances:
            raise NotFound("series")
    series = study.summary.get("series") or {}

    def series_key(instance: Instance) -> tuple[bool, float, str]:
        number = (series.get(instance.series_uid) or {}).get("number")
        return (number is None, float(number or 0), instance.series_uid)

    return sorted(instances, key=lambda i: (series_key(i), i.sort_key()))


def access_instance_by_uid(study: StudyAccess, series_uid: str, sop_uid: str) -> Instance:
    """One instance of the study, found by the blind index of its SOPInstanceUID."""
    if not is_uid(sop_uid) or not is_uid(series_uid):
        raise NotFound("instance")
    item = (
        Item.objects.filter(
            study=study.study,
            kind=Item.Kind.INSTANCE,
            dedupe_index=blind_index(study.opened.index_key, sop_uid),
        )
        .select_related("blob", "rendering")
        .first()
    )
    if item is None:
        raise NotFound("instance")
    instance = Instance(item, open_item_record(study.opened, item))
    if instance.series_uid != series_uid or instance.sop_uid != sop_uid:
        raise NotFound("instance")
    return instance
