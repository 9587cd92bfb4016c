"""Archive reads for the pages: the account's catalogue and a study's series and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from hds.accounts.models import Account
from hds.archive.itemrecords import open_item_record
from hds.archive.keys import OpenStudy
from hds.archive.models import Holding, Item
from hds.archive.services import display_date, read_summary, render_error_text
from hds.crypto.errors import InvalidCiphertext
from hds.dicom.record import ItemRecord


def study_title(summary: dict[str, Any]) -> str:
    """What to call a study (from its summary): its description, else its modalities."""
    text = summary.get("description") or summary.get("title")
    if text:
        return str(text)
    modalities = ", ".join(summary.get("modalities", []))
    return _("%(modalities)s study") % {"modalities": modalities} if modalities else _("Study")


@dataclass
class Entry:
    """One study or document in My documents."""

    holding: Holding
    summary: dict[str, Any]

    @property
    def study_id(self) -> str:
        """The study's id for URLs."""
        return str(self.holding.study_id)

    @property
    def date_display(self) -> str:
        """The study date for people."""
        return display_date(str(self.summary.get("study_date", "")))

    @property
    def title(self) -> str:
        """What to call it in a list."""
        return study_title(self.summary)

    @property
    def image_count(self) -> int:
        """Images (frames) in the study."""
        return int(self.summary.get("images") or self.summary.get("instances") or 0)

    @property
    def series_count(self) -> int:
        """How many series."""
        return len(self.summary.get("series", {}))

    def matches(self, query: str, modality: str) -> bool:
        """Whether it fits the search text and modality filter."""
        if modality and modality not in self.summary.get("modalities", []):
            return False
        if not query:
            return True
        haystack = " ".join(
            str(self.summary.get(k, ""))
            for k in (
                "patient_name",
                "patient_id",
                "description",
                "title",
                "accession",
                "institution",
            )
        )
        haystack += " " + " ".join(self.summary.get("modalities", []))
        return query.casefold() in haystack.replace("^", " ").casefold()


@dataclass
class PatientGroup:
    """Studies of one patient (name and birth date), newest first."""

    name: str
    birth_date: str
    entries: list[Entry] = field(default_factory=list)


def catalogue(account: Account, ams: bytes) -> list[Entry]:
    """All studies and documents of the account, newest study date first."""
    entries = []
    for holding in Holding.objects.filter(account=account).order_by("-updated_at"):
        try:
            summary = read_summary(holding, ams)
        except InvalidCiphertext:
            continue  # sealed to keys this session does not hold (cannot happen after a reset)
        entries.append(Entry(holding=holding, summary=summary))
    entries.sort(
        key=lambda e: (str(e.summary.get("study_date", "")), e.holding.created_at), reverse=True
    )
    return entries


def modalities_of(entries: list[Entry]) -> list[str]:
    """Every modality present, for the filter."""
    return sorted({m for e in entries for m in e.summary.get("modalities", [])})


def group_by_patient(entries: list[Entry]) -> list[PatientGroup]:
    """Group entries by patient, keeping the order of each patient's newest study."""
    groups: dict[tuple[str, str], PatientGroup] = {}
    for entry in entries:
        name = str(entry.summary.get("patient_name", "")).replace("^", " ").strip()
        birth = str(entry.summary.get("birth_date", ""))
        key = (name, birth)
        if key not in groups:
            groups[key] = PatientGroup(name=name, birth_date=display_date(birth))
        groups[key].entries.append(entry)
    return list(groups.values())


@dataclass
class SeriesView:
    """One series of a study page."""

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
    """A study's series (ordered by series number) and its findings."""
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
        view.items.sort(key=lambda pair: (pair[1].instance_number or 0, pair[1].sop_uid))
    ordered = sorted(series.values(), key=lambda s: (s.number is None, s.number or 0, s.uid))
    return ordered, findings
