"""The account's catalogue for My documents: entries, search, grouping by patient (on top of
``hds.archive.reads``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from hds.accounts.models import Account
from hds.archive.display import display_date
from hds.archive.models import Holding
from hds.archive.reads import read_summary
from hds.crypto.errors import InvalidCiphertext


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
