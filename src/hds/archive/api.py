"""The JSON API of the archive (django-ninja; OpenAPI at /api/v1/docs).

Used by the upload page and, later, the ``hds`` client. Authenticated by the browser session
(with CSRF); every call needs an unlocked keyring, because storing means encrypting for the
account's keys.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Form, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.files import UploadedFile
from ninja.security import HttpBearer, django_auth
from pydicom import dcmread
from pydicom.dataset import Dataset
from typing_extensions import override

from hds.accounts.apitokens import bearer_credentials
from hds.accounts.models import Account
from hds.archive.errors import QuotaExceeded
from hds.archive.reads import study_by_id
from hds.archive.services import (
    IngestResult,
    check_quota,
    ingest_file,
    ingest_files,
    used_bytes,
)
from hds.core.errors import NotFound
from hds.keys.keyring import KeyringLocked, load_keyring


class PersonalToken(HttpBearer):
    """``Authorization: Bearer hds_...``: a personal API token, which also unlocks the keys."""

    @override
    def authenticate(self, request: HttpRequest, token: str) -> Account | None:
        credentials = bearer_credentials(request)  # the intake may have checked it already
        if credentials is None:
            # A wrong token is a 401, not a fall-through to the session (and its CSRF check).
            raise AuthenticationError

        request.hds_credentials = credentials  # type: ignore[attr-defined]
        return credentials[0]


# A token first (no cookies, so no CSRF), else the browser session (django_auth checks CSRF).
api = NinjaAPI(
    title="HDS API",
    version="1",
    urls_namespace="api",
    auth=[PersonalToken(), django_auth],
    docs_url="/docs",
)


class PlanOut(Schema):
    files: list[str]


class CheckIn(Schema):
    total_bytes: int
    file_count: int = 0


class CheckOut(Schema):
    ok: bool
    free_bytes: int


class ResultOut(Schema):
    name: str
    status: str
    message: str
    study_url: str | None = None


class UploadOut(Schema):
    results: list[ResultOut]


class ErrorOut(Schema):
    detail: str


def _account_and_ams(request: HttpRequest) -> tuple[Account, bytes]:
    token_credentials = getattr(request, "hds_credentials", None)
    if token_credentials is not None:
        return token_credentials  # type: ignore[no-any-return]
    user = request.user
    if not isinstance(user, Account):
        raise HttpError(401, _("Please log in."))
    try:
        return user, load_keyring(request).require("ams")
    except KeyringLocked:
        raise HttpError(401, _("Your session is locked. Please log in again.")) from None


def referenced_files(dicomdir: Dataset) -> list[str]:
    """Paths (relative to the DICOMDIR's folder, "/"-separated) of the files a DICOMDIR lists."""
    files = set()
    for record in dicomdir.DirectoryRecordSequence:
        file_id = record.get("ReferencedFileID")
        if file_id:
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            files.add("/".join(str(p) for p in parts))
    return sorted(files)


@api.post("/uploads/plan", response={200: PlanOut, 400: ErrorOut}, tags=["uploads"])
def upload_plan(request: HttpRequest, dicomdir: File[UploadedFile]) -> Any:
    """Read a CD's DICOMDIR and list the files it references (paths relative to its folder)."""
    _account_and_ams(request)
    try:
        files = referenced_files(dcmread(BytesIO(dicomdir.read())))
    except Exception:  # anything pydicom raises on a hostile file (docs/security.md)
        return Status(400, {"detail": _("This DICOMDIR cannot be read.")})
    return Status(200, {"files": files})


@api.post("/uploads/check", response={200: CheckOut, 413: ErrorOut}, tags=["uploads"])
def upload_check(request: HttpRequest, payload: CheckIn) -> Any:
    """Say before an upload starts whether it fits into the account's storage."""
    account, _ams = _account_and_ams(request)
    try:
        check_quota(account, max(0, payload.total_bytes))
    except QuotaExceeded as exc:
        return Status(413, {"detail": str(exc)})
    return Status(200, {"ok": True, "free_bytes": account.quota_bytes - used_bytes(account)})


class UploadErrorOut(Schema):
    detail: str
    results: list[ResultOut] = Field(default_factory=list)


@api.post(
    "/uploads",
    response={200: UploadOut, 404: ErrorOut, 413: UploadErrorOut, 422: UploadErrorOut},
    tags=["uploads"],
)
def upload(
    request: HttpRequest,
    file: File[list[UploadedFile]],
    path: Form[list[str]] = [],  # noqa: B006 (ninja copies defaults)
    study: Form[str] = "",
) -> Any:
    """Store files (DICOM instances, PDF findings), encrypted: one result per file, in order.

    Send one ``file`` part per file and, in the same order, a ``path`` field each (the name
    shown in the results, e.g. the path on the CD). Several small files per request are much
    faster than one each: the DICOM files of a request are stored with one commit per study.
    ``study`` attaches PDFs to one of your studies. 413 when the files do not fit into the
    storage: ``detail`` says how much is missing and ``results`` tells what was stored.
    422 when no file was stored because each was refused (not DICOM, unreadable, ...):
    ``detail`` names the first and ``results`` says why for each.
    """
    account, ams = _account_and_ams(request)
    for upload_file in file:
        if upload_file.size is not None and upload_file.size > settings.MAX_UPLOAD_FILE_BYTES:
            return Status(413, {"detail": _("This file is larger than the server accepts.")})
    attach_to = None
    if study:
        try:
            attach_to = study_by_id(account, study).study
        except NotFound:
            return Status(404, {"detail": _("Not found.")})
    names = [
        ((path[n] if n < len(path) else "") or f.name or "file")[:500] for n, f in enumerate(file)
    ]
    contents = [f.read() for f in file]
    results: list[IngestResult | None] = [None] * len(file)
    dicom = [n for n, data in enumerate(contents) if not data.startswith(b"%PDF-")]
    for n, result in zip(
        dicom, ingest_files(account, ams, [(names[n], contents[n]) for n in dicom]), strict=True
    ):
        results[n] = result
    for n, data in enumerate(contents):
        if results[n] is None:
            try:
                results[n] = ingest_file(
                    account, ams, name=names[n], data=data, attach_to=attach_to
                )
            except QuotaExceeded as exc:
                results[n] = IngestResult(
                    names[n], "error", str(exc), missing_bytes=exc.missing_bytes
                )
    body = [
        {
            "name": result.name,
            "status": result.status,
            "message": result.message,
            "study_url": f"/documents/{result.study_id}/" if result.study_id else None,
        }
        for result in results
        if result is not None
    ]
    refused = next((r for r in results if r is not None and r.missing_bytes), None)
    if refused is not None:
        return Status(413, {"detail": refused.message, "results": body})
    errors = [r for r in results if r is not None and r.status == "error"]
    if errors and len(errors) == len(body):
        # Nothing of the request was kept (docs/security.md, "Hostile uploads").
        detail = _("Not stored: %(name)s: %(reason)s") % {
            "name": errors[0].name,
            "reason": errors[0].message,
        }
        return Status(422, {"detail": detail, "results": body})
    return Status(200, {"results": body})
