"""Archive reads: opening sealed records and finding studies, series and instances (no writes;
``hds.archive.services`` makes the changes). Archive pages, DICOMweb and the viewer all come
through here (docs/architecture.md).

- sealed records: ``read_summary`` (a holding's study summary), ``open_item_record`` (an item's
  ``ItemRecord``, from ``hds.archive.itemrecords``), ``read_dicom_json`` (its DICOM JSON
  template);
- one access function per object kind, by id and by UID, always through the caller's own keys:
  a study by id (``study_by_id``, ``open_study_for_request`` for pages) or by the blind index of
  its StudyInstanceUID (``study_by_uid``); an item by id (``item_by_id``), an instance by the
  blind index of its SOPInstanceUID (``instance_by_uid``); a study's instances, of one series if
  asked (``instances``), its series and findings (``study_contents``);
- one image order for a study (``series_order``, ``image_order``), used by the pages, the ZIP,
  DICOMweb and the viewer's stack (``hds.viewer.stack``).

Missing, someone else's, a document where an image study is asked for, and impossible to open
all look the same (``NotFound``; ``Http404`` on pages), so ids and UIDs cannot be probed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest

from hds.accounts.models import Account
from hds.archive.display import render_error_text
from hds.archive.errors import StudyLocked
from hds.archive.itemrecords import open_item_record
from hds.archive.keys import OpenStudy, open_study
from hds.archive.models import Holding, Item, Study
from hds.core.errors import NotFound
from hds.crypto.errors import InvalidCiphertext
from hds.crypto.records import account_catalog_key, account_index_key, blind_index, open_record
from hds.dicom.record import ItemRecord, JpegFrame
from hds.keys.keyring import load_keyring

__all__ = [
    "Instance",
    "Principal",
    "SeriesView",
    "StudyAccess",
    "dicom_json_aad",
    "holding_by_uid",
    "image_order",
    "instance_by_uid",
    "instances",
    "is_uid",
    "item_by_id",
    "open_item_record",
    "open_study_for_request",
    "read_dicom_json",
    "read_summary",
    "series_order",
    "study_by_id",
    "study_by_uid",
    "study_contents",
    "summary_aad",
]

# PS3.5 9.1: digits and dots, at most 64 characters.
_UID: Final = re.compile(r"[0-9]+(\.[0-9]+)*")


def is_uid(value: str) -> bool:
    """Whether ``value`` is shaped like a UID."""
    return len(value) <= 64 and _UID.fullmatch(value) is not None


class Principal(Protocol):
    """Who reads: an account and its unlocked master secret (``hds.dicomweb.auth.Caller``)."""

    @property
    def account(self) -> Account: ...

    @property
    def ams(self) -> bytes: ...


# --- Sealed records ---------------------------------------------------------------------


def summary_aad(holding_account_id: object, study_id: object) -> bytes:
    """The associated data of a holding's sealed summary."""
    return f"hds/v1/summary|{holding_account_id}|{study_id}".encode()


def dicom_json_aad(item_id: object) -> bytes:
    """The associated data of an item's sealed DICOM JSON template."""
    return f"hds/v1/item-dicom-json|{item_id}".encode()


def read_summary(holding: Holding, ams: bytes) -> dict[str, Any]:
    """Open a holding's summary with the account's catalogue key."""
    raw = open_record(
        account_catalog_key(ams),
        bytes(holding.summary_ct),
        summary_aad(holding.account_id, holding.study_id),
    )
    data: dict[str, Any] = json.loads(raw)
    return data


def read_dicom_json(opened: OpenStudy, item: Item) -> dict[str, Any] | None:
    """The item's DICOM JSON template, or None when it has none or it does not open (a row
    tampered with or moved to another item): the caller then builds it from the blob."""
    sealed = item.dicom_json_ct
    if not sealed:
        return None
    try:
        data: dict[str, Any] = json.loads(
            open_record(opened.meta_key, bytes(sealed), dicom_json_aad(item.id))
        )
    except (InvalidCiphertext, ValueError):
        return None
    return data


# --- The image order of a study ----------------------------------------------------------


def series_order(number: float | None, uid: str) -> tuple[bool, float, str]:
    """Series by number (those without one last), then UID."""
    return (number is None, float(number or 0), uid)


def image_order(record: ItemRecord) -> tuple[float, str]:
    """Instances of a series by instance number (none or not a number: 0, as the viewer's
    ``Number(InstanceNumber) || 0``), then SOP Instance UID. The viewer sorts a stack along the
    slice normal from this order (``hds.viewer.stack``)."""
    number = record.instance_number
    return (0.0 if number is None or math.isnan(number) else float(number), record.sop_uid)


# --- By id (pages) ------------------------------------------------------------------------


def study_by_id(account: Any, study_id: UUID | str) -> Holding:
    """Return the account's holding of the study, or raise ``NotFound``."""
    if not isinstance(account, Account):
        raise NotFound("study")
    try:
        key = study_id if isinstance(study_id, UUID) else UUID(str(study_id))
    except ValueError:
        raise NotFound("study") from None
    holding = Holding.objects.select_related("study").filter(account=account, study_id=key).first()
    if holding is None:
        raise NotFound("study")
    return holding


def open_study_for_request(request: HttpRequest, study_id: UUID | str) -> tuple[Holding, OpenStudy]:
    """The logged-in user's holding of the study and its opened key (the key ring of the
    request's session unlocks it); a study that is missing, not the user's or locked is a 404."""
    user = request.user
    try:
        holding = study_by_id(user, study_id)
        assert isinstance(user, Account)
        return holding, open_study(holding.study, user, load_keyring(request).require("ams"))
    except (NotFound, StudyLocked):
        raise Http404 from None


def item_by_id(opened: OpenStudy, item_id: UUID | str) -> Item:
    """An item of the opened study by its id, or ``NotFound``."""
    try:
        return Item.objects.get(study=opened.study, pk=item_id)
    except (Item.DoesNotExist, ValueError, ValidationError):
        raise NotFound("item") from None


@dataclass
class SeriesView:
    """One series of a study, its instances in the study's image order."""

    uid: str
    number: float | None
    modality: str
    description: str
    items: list[tuple[Item, ItemRecord]] = field(default_factory=list)

    @property
    def thumb_item(self) -> Item | None:
        """The middle instance that has a preview."""
        with_preview = [item for item, record in self.items if record.has_preview]
        return with_preview[len(with_preview) // 2] if with_preview else None

    @property
    def frame_count(self) -> int:
        """Images in the series (frames of multi-frame instances count each)."""
        return sum(record.frames for _, record in self.items)

    @property
    def render_errors(self) -> list[str]:
        """Why some instances have no preview."""
        return sorted({render_error_text(r) for _, r in self.items if r.render_error})


def study_contents(opened: OpenStudy) -> tuple[list[SeriesView], list[tuple[Item, ItemRecord]]]:
    """A study's series (in ``series_order``, instances in ``image_order``) and its findings."""
    series: dict[str, SeriesView] = {}
    findings = []
    for item in Item.objects.filter(study=opened.study).order_by("created_at"):
        record = open_item_record(opened, item)
        if item.kind == Item.Kind.FINDING:
            findings.append((item, record))
            continue
        view = series.setdefault(
            record.series_uid,
            SeriesView(
                uid=record.series_uid,
                number=record.series_number,
                modality=record.modality,
                description=record.series_description,
            ),
        )
        view.items.append((item, record))
    for view in series.values():
        view.items.sort(key=lambda pair: image_order(pair[1]))
    ordered = sorted(series.values(), key=lambda s: series_order(s.number, s.uid))
    return ordered, findings


# --- By UID (DICOMweb) --------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """An instance of an opened study and its item record."""

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
        """The instance's place in its series (``image_order``)."""
        return image_order(self.record)


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


def holding_by_uid(caller: Principal, study_uid: str) -> tuple[Holding, dict[str, Any]]:
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


def study_by_uid(caller: Principal, study_uid: str) -> StudyAccess:
    """The caller's study with this StudyInstanceUID, opened with the caller's grant."""
    holding, summary = holding_by_uid(caller, study_uid)
    try:
        opened = open_study(holding.study, caller.account, caller.ams)
    except StudyLocked:
        raise NotFound("study") from None
    return StudyAccess(holding=holding, opened=opened, summary=summary)


def instances(study: StudyAccess, series_uid: str | None = None) -> list[Instance]:
    """The study's instances (of one series if given) in the study's image order
    (``series_order`` of the summary's series numbers, then ``image_order``); ``NotFound``
    when a requested series has none."""
    if series_uid is not None and (
        not is_uid(series_uid) or series_uid not in (study.summary.get("series") or {})
    ):
        raise NotFound("series")
    items = Item.objects.filter(study=study.study, kind=Item.Kind.INSTANCE).select_related(
        "blob", "rendering"
    )
    found = [Instance(item, open_item_record(study.opened, item)) for item in items]
    if series_uid is not None:
        found = [i for i in found if i.series_uid == series_uid]
        if not found:
            raise NotFound("series")
    series = study.summary.get("series") or {}

    def series_key(instance: Instance) -> tuple[bool, float, str]:
        return series_order(
            (series.get(instance.series_uid) or {}).get("number"), instance.series_uid
        )

    return sorted(found, key=lambda i: (series_key(i), i.sort_key()))


def instance_by_uid(study: StudyAccess, series_uid: str, sop_uid: str) -> Instance:
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
