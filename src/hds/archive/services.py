"""Archive writes: ingest files into encrypted studies, delete, and the quota.

One ingest path serves every entry point (browser upload, JSON API, later STOW-RS and the
gateway). A file is either stored completely (blobs written, then rows in one transaction) or not
at all; the same SOP Instance UID twice is stored once.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from pydicom.dataset import Dataset

from hds.accounts.models import Account
from hds.archive.dicom import read_dataset, refusing_unreadable
from hds.archive.display import render_error_text
from hds.archive.errors import IngestError, QuotaExceeded, StudyLocked
from hds.archive.itemrecords import seal_item_record
from hds.archive.keys import OpenStudy, grant_study, open_study
from hds.archive.models import Blob, Grant, Holding, Item, Study
from hds.archive.reads import dicom_json_aad, read_summary, summary_aad
from hds.archive.renderpool import render_pool
from hds.archive.storage import delete_objects_after_commit, get_store, write_blob
from hds.core.jobs import periodic
from hds.crypto.blob import BlobKind
from hds.crypto.grants import key_commitment, new_dek
from hds.crypto.records import (
    account_catalog_key,
    account_index_key,
    blind_index,
    seal_record,
)
from hds.dicom import rendering
from hds.dicom.record import ItemRecord
from hds.dicom.template import template_of_file

logger = logging.getLogger(__name__)

T = TypeVar("T")
_INGEST_THREADS = 2
Status = Literal["stored", "duplicate", "error"]


@dataclass(frozen=True)
class IngestResult:
    """What happened to one uploaded file."""

    name: str
    status: Status
    message: str
    study_id: UUID | None = None
    missing_bytes: int = 0  # set when the file did not fit into the quota


# ---------------------------------------------------------------------------------- records


def _seal_summary(holding: Holding, ams: bytes, summary: dict[str, Any]) -> None:
    holding.summary_ct = seal_record(
        account_catalog_key(ams),
        json.dumps(summary, separators=(",", ":")).encode(),
        summary_aad(holding.account_id, holding.study_id),
    )


def seal_dicom_json(opened: OpenStudy, item: Item, raw: bytes) -> None:
    """Set the item's sealed DICOM JSON template (``hds.dicom.template``); not saved."""
    item.dicom_json_ct = seal_record(opened.meta_key, raw, dicom_json_aad(item.id))


# ------------------------------------------------------------------------------------ quota


def used_bytes(account: Account) -> int:
    """Bytes of the account's quota in use."""
    total = Holding.objects.filter(account=account).aggregate(total=Sum("bytes"))["total"]
    return int(total or 0)


def _megabytes(n: int) -> str:
    return f"{max(n, 1) / 1024**2:.1f} MB" if n < 1024**3 else f"{n / 1024**3:.2f} GB"


def check_quota(account: Account, incoming_bytes: int) -> None:
    """Refuse (``QuotaExceeded``) when ``incoming_bytes`` more would not fit."""
    free = account.quota_bytes - used_bytes(account)
    if incoming_bytes > free:
        missing = incoming_bytes - free
        raise QuotaExceeded(_quota_message(missing), missing_bytes=missing)


def _quota_message(missing: int) -> str:
    return _(
        "Not enough storage: %(missing)s more space is needed. Delete older data or "
        "get more storage."
    ) % {"missing": _megabytes(missing)}


# ----------------------------------------------------------------------------------- ingest


def _patient_summary(record: ItemRecord) -> dict[str, Any]:
    """The patient and study fields of a new study's summary, as its first instance names them."""
    return {
        "patient_name": record.patient_name,
        "patient_id": record.patient_id,
        "birth_date": record.birth_date,
        "sex": record.sex,
        "study_uid": record.study_uid,
        "study_date": record.study_date,
        "study_time": record.study_time,
        "description": record.description,
        "accession": record.accession,
        "referring": record.referring,
        "institution": record.institution,
    }


def _new_study(
    account: Account, ams: bytes, *, kind: str, index: str, summary: dict[str, Any]
) -> OpenStudy:
    dek = new_dek()
    study = Study(kind=kind)
    study.kcv = key_commitment(dek, study.id.bytes)
    study.save()
    grant_study(study, dek, account)
    holding = Holding(account=account, study=study, study_index=index)
    _seal_summary(holding, ams, summary)
    holding.save()
    return OpenStudy(study=study, dek=dek)


def _study_for_record(account: Account, ams: bytes, record: ItemRecord) -> OpenStudy:
    index = blind_index(account_index_key(ams), record.study_uid)
    holding = (
        Holding.objects.filter(account=account, study_index=index).select_related("study").first()
    )
    if holding is not None:
        return open_study(holding.study, account, ams)
    summary = {
        "v": 1,
        "kind": "imaging",
        **_patient_summary(record),
        "modalities": [],
        "series": {},
        "instances": 0,
        "findings": 0,
        "thumb": None,
    }
    try:
        with transaction.atomic():
            return _new_study(account, ams, kind=Study.Kind.IMAGING, index=index, summary=summary)
    except IntegrityError:
        # A parallel upload of the same study created it first: use that one.
        holding = Holding.objects.select_related("study").get(account=account, study_index=index)
        return open_study(holding.study, account, ams)


def _render(
    ds: Dataset, data: bytes, record: ItemRecord
) -> tuple[list[bytes], ItemRecord, bytes | None]:
    """The preview frames, the item record with what it says about them, and the instance's
    DICOM JSON template (``hds.dicom.template``; made in the render worker when there is one)."""
    if "PixelData" not in ds:
        return [], record, template_of_file(data)
    pool = render_pool()
    try:
        if pool is None:
            template = template_of_file(data)
            result = rendering.render_dataset(ds)
        else:
            prepared = pool.prepare(data)
            template = prepared.template
            result = prepared.rendering()
    except rendering.RenderError as exc:
        return [], record.with_render_error(exc.reason, exc.params), template
    window = (result.window_center, result.window_width)
    record = record.with_preview(result.frames, result.width, result.height, window)
    return result.frames, record, template


def _merge_instance(summary: dict[str, Any], record: ItemRecord, item: Item) -> None:
    series = summary.setdefault("series", {})
    entry = series.setdefault(
        record.series_uid,
        {
            "n": 0,
            "modality": record.modality,
            "number": record.series_number,
            "description": record.series_description,
        },
    )
    entry["n"] += 1
    summary["instances"] = int(summary.get("instances", 0)) + 1
    summary["images"] = int(summary.get("images", 0)) + record.frames
    if record.modality and record.modality not in summary.setdefault("modalities", []):
        summary["modalities"].append(record.modality)
    if summary.get("thumb") is None and record.has_preview:
        summary["thumb"] = str(item.id)


def _store_finding(
    account: Account,
    ams: bytes,
    opened: OpenStudy,
    *,
    dedupe: str,
    data: bytes,
    record: ItemRecord,
) -> Literal["stored", "duplicate"]:
    """Store one PDF finding: blob first, then its rows in one transaction."""
    if Item.objects.filter(study=opened.study, dedupe_index=dedupe).exists():
        return "duplicate"
    check_quota(account, len(data))
    blob = write_blob(opened, BlobKind.FINDING, [data])
    try:
        with transaction.atomic():
            holding = Holding.objects.select_for_update().get(account=account, study=opened.study)
            check_quota(account, len(data))
            blob.save()
            item = Item(
                study=opened.study,
                kind=Item.Kind.FINDING,
                dedupe_index=dedupe,
                blob=blob,
                size=len(data),
            )
            seal_item_record(opened, item, record)
            item.save()
            summary = read_summary(holding, ams)
            summary["findings"] = int(summary.get("findings", 0)) + 1
            _seal_summary(holding, ams, summary)
            holding.bytes += len(data)
            holding.updated_at = timezone.now()
            holding.save()
            Study.objects.filter(pk=opened.study.pk).update(
                size_bytes=F("size_bytes") + len(data), updated_at=timezone.now()
            )
    except IntegrityError:
        _delete_objects_now([str(blob.id)])
        return "duplicate"  # a parallel upload stored the same finding a moment earlier
    except BaseException:
        _delete_objects_now([str(blob.id)])
        raise
    return "stored"


def _delete_objects_now(keys: list[str]) -> None:
    store = get_store()
    for key in keys:
        try:
            store.delete(key)
        except Exception:
            logger.exception("could not remove an unused blob")


def ingest_file(
    account: Account, ams: bytes, *, name: str, data: bytes, attach_to: Study | None = None
) -> IngestResult:
    """Store one uploaded file (DICOM instance or PDF finding) encrypted in the account.

    Raises ``QuotaExceeded`` when the file does not fit; nothing is stored then.
    """
    if data.startswith(b"%PDF-"):
        try:
            return _ingest_finding(account, ams, name=name, data=data, attach_to=attach_to)
        except (IngestError, StudyLocked) as exc:
            return IngestResult(name, "error", str(exc))
    (result,) = ingest_files(account, ams, [(name, data)])
    if result.missing_bytes:
        raise QuotaExceeded(result.message, missing_bytes=result.missing_bytes)
    return result


@dataclass
class _Prepared:
    """A parsed, rendered and encrypted instance whose rows are not written yet."""

    position: int
    name: str
    size: int
    opened: OpenStudy
    dedupe: str
    record: ItemRecord
    blob: Blob | None = None
    rendering: Blob | None = None
    template: bytes | None = None  # DICOM JSON template, sealed into the item at commit

    @property
    def blob_keys(self) -> list[str]:
        return [str(b.id) for b in (self.blob, self.rendering) if b is not None]


def ingest_files(
    account: Account, ams: bytes, files: Sequence[tuple[str, bytes]]
) -> list[IngestResult]:
    """Store DICOM files (``(name, data)`` pairs) encrypted in the account, one result each.

    Each file is parsed, rendered and its blobs written first; then the rows of each study go
    in with one transaction, one quota check and one update of the study summary, which is what
    makes a STOW-RS request of many instances fast. A file that would exceed the quota, and every
    file after it, gets an error result with ``missing_bytes`` set and leaves nothing behind.
    """
    results: list[IngestResult | None] = [None] * len(files)
    studies: dict[str, OpenStudy] = {}
    pending: dict[UUID, list[_Prepared]] = {}
    seen: set[tuple[UUID, str]] = set()
    free = account.quota_bytes - used_bytes(account)
    reserved = 0
    inflight: deque[tuple[_Prepared, Future[tuple[Blob, Blob | None]]]] = deque()

    def collect() -> None:
        prepared, future = inflight.popleft()
        prepared.blob, prepared.rendering = future.result()
        pending.setdefault(prepared.opened.study.id, []).append(prepared)

    # Rendering and encrypting run in threads (numpy, Pillow, AES-GCM and fsync release the
    # GIL) while the next file is parsed; the database is only used from this thread.
    with ThreadPoolExecutor(max_workers=_INGEST_THREADS, thread_name_prefix="ingest") as pool:
        try:
            for position, (name, data) in enumerate(files):
                if reserved + len(data) > free:
                    results[position:] = [
                        _quota_result(n, reserved + len(d) - free) for n, d in files[position:]
                    ]
                    break
                try:
                    ds = read_dataset(data)
                    with refusing_unreadable():  # every value ingest reads, before any write
                        record = ItemRecord.from_dataset(ds, data, name)
                    study_uid = record.study_uid
                    opened = studies.get(study_uid)
                    if opened is None:
                        opened = studies[study_uid] = _study_for_record(account, ams, record)
                    dedupe = blind_index(opened.index_key, record.sop_uid)
                    if (opened.study.id, dedupe) in seen or Item.objects.filter(
                        study=opened.study, dedupe_index=dedupe
                    ).exists():
                        results[position] = _duplicate(name, opened)
                        continue
                except (IngestError, StudyLocked) as exc:
                    results[position] = IngestResult(name, "error", str(exc))
                    continue
                seen.add((opened.study.id, dedupe))
                reserved += len(data)
                prepared = _Prepared(position, name, len(data), opened, dedupe, record)
                inflight.append((prepared, pool.submit(_render_and_write, prepared, ds, data)))
                del ds
                while len(inflight) > 2 * _INGEST_THREADS:
                    collect()
            while inflight:
                collect()
        except BaseException:
            # Wait for what is still running, then remove every object this call wrote.
            written = [k for batch in pending.values() for p in batch for k in p.blob_keys]
            for _prepared, future in inflight:
                with contextlib.suppress(BaseException):
                    written += [str(b.id) for b in future.result() if b is not None]
            _delete_objects_now(written)
            raise
    for batch in pending.values():
        for prepared, result in zip(batch, _commit_instances(account, ams, batch), strict=True):
            results[prepared.position] = result
    return [r for r in results if r is not None]


def _render_and_write(prepared: _Prepared, ds: Dataset, data: bytes) -> tuple[Blob, Blob | None]:
    """Render the instance (into ``prepared.record``) and write its encrypted blobs."""
    frames, prepared.record, prepared.template = _render(ds, data, prepared.record)
    blob = write_blob(prepared.opened, BlobKind.INSTANCE, [data])
    try:
        rendered = write_blob(prepared.opened, BlobKind.RENDERING, frames) if frames else None
    except BaseException:
        _delete_objects_now([str(blob.id)])
        raise
    return blob, rendered


def _duplicate(name: str, opened: OpenStudy) -> IngestResult:
    return IngestResult(name, "duplicate", _("Already in your documents."), opened.study.id)


def _quota_result(name: str, missing: int) -> IngestResult:
    return IngestResult(name, "error", _quota_message(missing), missing_bytes=missing)


def _stored(prepared: _Prepared) -> IngestResult:
    message = _("Stored.")
    if prepared.record.render_error:
        message = _("Stored, but no preview: %(reason)s") % {
            "reason": render_error_text(prepared.record)
        }
    return IngestResult(prepared.name, "stored", message, prepared.opened.study.id)


def _commit_instances(account: Account, ams: bytes, batch: list[_Prepared]) -> list[IngestResult]:
    """Write the rows of prepared instances of one study; remove the blobs of what is not kept."""
    opened = batch[0].opened
    try:
        with transaction.atomic():
            holding = Holding.objects.select_for_update().get(account=account, study=opened.study)
            existing = set(
                Item.objects.filter(
                    study=opened.study, dedupe_index__in=[p.dedupe for p in batch]
                ).values_list("dedupe_index", flat=True)
            )
            kept = [p for p in batch if p.dedupe not in existing]
            incoming = sum(p.size for p in kept)
            free = account.quota_bytes - used_bytes(account)
            if incoming > free:
                _delete_objects_now([k for p in batch for k in p.blob_keys])
                return [_quota_result(p.name, incoming - free) for p in batch]
            Blob.objects.bulk_create(
                [b for p in kept for b in (p.blob, p.rendering) if b is not None]
            )
            summary = read_summary(holding, ams)
            items = []
            for p in kept:
                item = Item(
                    study=opened.study,
                    kind=Item.Kind.INSTANCE,
                    dedupe_index=p.dedupe,
                    blob=p.blob,
                    rendering=p.rendering,
                    size=p.size,
                )
                seal_item_record(opened, item, p.record)
                if p.template is not None:
                    seal_dicom_json(opened, item, p.template)
                _merge_instance(summary, p.record, item)
                items.append(item)
            Item.objects.bulk_create(items)
            _seal_summary(holding, ams, summary)
            holding.bytes += incoming
            holding.updated_at = timezone.now()
            holding.save()
            Study.objects.filter(pk=opened.study.pk).update(
                size_bytes=F("size_bytes") + incoming, updated_at=timezone.now()
            )
    except IntegrityError:
        # A parallel upload stored some of these a moment earlier: go one by one.
        if len(batch) == 1:
            _delete_objects_now(batch[0].blob_keys)
            return [_duplicate(batch[0].name, opened)]
        return [r for p in batch for r in _commit_instances(account, ams, [p])]
    except BaseException:
        _delete_objects_now([k for p in batch for k in p.blob_keys])
        raise
    _delete_objects_now([k for p in batch if p.dedupe in existing for k in p.blob_keys])
    return [_stored(p) if p.dedupe not in existing else _duplicate(p.name, opened) for p in batch]


def _ingest_finding(
    account: Account, ams: bytes, *, name: str, data: bytes, attach_to: Study | None
) -> IngestResult:
    if b"%%EOF" not in data[-2048:]:
        raise IngestError(_("The PDF file is truncated or corrupt."))
    safe_name = name.rsplit("/", 1)[-1][:200] or "finding.pdf"
    if attach_to is not None:
        opened = open_study(attach_to, account, ams)
    else:
        today = timezone.localdate()
        summary = {
            "v": 1,
            "kind": "document",
            "title": safe_name,
            "study_date": today.strftime("%Y%m%d"),
            "modalities": ["DOC"],
            "series": {},
            "instances": 0,
            "findings": 0,
            "thumb": None,
        }
        with transaction.atomic():
            opened = _new_study(account, ams, kind=Study.Kind.DOCUMENT, index="", summary=summary)
    dedupe = blind_index(opened.index_key, "pdf:" + hashlib.sha256(data).hexdigest())
    record = ItemRecord.finding(safe_name, data)
    status = _store_finding(account, ams, opened, dedupe=dedupe, data=data, record=record)
    if status == "duplicate":
        return _duplicate(name, opened)
    return IngestResult(name, "stored", _("Stored."), opened.study.id)


# ----------------------------------------------------------------------------------- delete


@transaction.atomic
def delete_study_for(account: Account, study: Study) -> None:
    """Remove the study from the account irrevocably; delete its blobs when nobody holds it."""
    Holding.objects.filter(account=account, study=study).delete()
    Grant.objects.filter(account=account, study=study).delete()
    if not Holding.objects.filter(study=study).exists():
        keys = [str(k) for k in Blob.objects.filter(study=study).values_list("id", flat=True)]
        Item.objects.filter(study=study).delete()
        study.delete()
        delete_objects_after_commit(keys)


def delete_all_for(account: Account) -> None:
    """Delete every study the account holds (account deletion and reset)."""
    for holding in Holding.objects.filter(account=account).select_related("study"):
        delete_study_for(account, holding.study)


@periodic(every=datetime.timedelta(hours=6))
def collect_orphan_blobs() -> None:
    """Delete blob objects that no row names and that are older than an hour (crash leftovers)."""
    store = get_store()
    cutoff = timezone.now() - datetime.timedelta(hours=1)
    removed = 0
    for key, modified in store.iter_keys():
        if modified >= cutoff:
            continue
        try:
            UUID(key)
        except ValueError:
            continue
        if not Blob.objects.filter(pk=key).exists():
            store.delete(key)
            removed += 1
    if removed:
        logger.info("removed %s orphan blobs", removed)
