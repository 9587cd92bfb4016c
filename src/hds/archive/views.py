"""Archive pages: My documents, a study, previews, findings, deletion, upload, download."""

from __future__ import annotations

import json

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_safe

from hds.accounts.models import Account
from hds.accounts.views import unlocked_required
from hds.archive.display import display_date
from hds.archive.download import StudyZip, plan_zip
from hds.archive.keys import OpenStudy
from hds.archive.models import Item
from hds.archive.reads import (
    item_by_id,
    open_item_record,
    open_study_for_request,
    read_summary,
    study_contents,
)
from hds.archive.renderpool import isolated
from hds.archive.selectors import catalogue, group_by_patient, modalities_of, study_title
from hds.archive.services import delete_study_for, used_bytes
from hds.archive.storage import reader
from hds.archive.ziplayout import parse_range_header
from hds.core.errors import NotFound
from hds.dicom import rendering
from hds.keys.keyring import load_keyring

PAGE_SIZE = 20


def _account(request: HttpRequest) -> Account:
    user = request.user
    assert isinstance(user, Account)
    return user


def _ams(request: HttpRequest) -> bytes:
    return load_keyring(request).require("ams")


def _open(request: HttpRequest, study_id: str) -> OpenStudy:
    return open_study_for_request(request, study_id)[1]


def _item(opened: OpenStudy, item_id: str) -> Item:
    try:
        return item_by_id(opened, item_id)
    except NotFound:
        raise Http404 from None


@unlocked_required
@require_safe
def documents(request: HttpRequest) -> HttpResponse:
    """My documents: studies grouped by patient, with search, modality filter and pages."""
    account = _account(request)
    entries = catalogue(account, _ams(request))
    query = request.GET.get("q", "").strip()[:100]
    modality = request.GET.get("modality", "").strip()[:16]
    shown = [e for e in entries if e.matches(query, modality)]
    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "archive/documents.html",
        {
            "account": account,
            "used_bytes": used_bytes(account),
            "groups": group_by_patient(list(page.object_list)),
            "page": page,
            "query": query,
            "modality": modality,
            "modalities": modalities_of(entries),
            "total": len(entries),
        },
    )


@unlocked_required
@require_safe
def study(request: HttpRequest, study_id: str) -> HttpResponse:
    """A study: its series with previews, its findings, download and delete."""
    holding, opened = open_study_for_request(request, study_id)
    summary = read_summary(holding, _ams(request))
    series, findings = study_contents(opened)
    return render(
        request,
        "archive/study.html",
        {
            "study": opened.study,
            "holding": holding,
            "summary": summary,
            "title": study_title(summary),
            "date_display": display_date(str(summary.get("study_date", ""))),
            "patient_display": str(summary.get("patient_name", "")).replace("^", " ").strip(),
            "series": series,
            "findings": findings,
            "upload_labels": upload_labels(),
        },
    )


@unlocked_required
@require_safe
def thumbnail(request: HttpRequest, study_id: str, item_id: str) -> HttpResponse:
    """A small preview of an instance's first frame."""
    opened = _open(request, study_id)
    item = _item(opened, item_id)
    record = open_item_record(opened, item)
    if item.rendering is None or not record.jpeg:
        raise Http404
    offset, length, _crc = record.jpeg[0]
    jpeg = reader(opened, item.rendering).read_range(offset, offset + length)
    try:
        return HttpResponse(isolated(rendering.make_thumbnail, jpeg), content_type="image/jpeg")
    except rendering.RenderError:
        raise Http404 from None


@unlocked_required
@require_safe
def frame(request: HttpRequest, study_id: str, item_id: str, number: int) -> HttpResponse:
    """The JPEG rendering of one frame of an instance (1-based frame number)."""
    opened = _open(request, study_id)
    item = _item(opened, item_id)
    frames = open_item_record(opened, item).jpeg
    if item.rendering is None or not 1 <= number <= len(frames):
        raise Http404
    offset, length, _crc = frames[number - 1]
    jpeg = reader(opened, item.rendering).read_range(offset, offset + length)
    return HttpResponse(jpeg, content_type="image/jpeg")


@unlocked_required
@require_safe
@xframe_options_sameorigin
@csp_replace({"frame-ancestors": ["'self'"]})  # type: ignore[arg-type]  # typed for views without URL arguments
def finding(request: HttpRequest, study_id: str, item_id: str) -> HttpResponse:
    """A finding (PDF), streamed from its encrypted blob; our own pages may frame it (the
    viewer's findings panel), other sites may not."""
    opened = _open(request, study_id)
    item = _item(opened, item_id)
    if item.kind != Item.Kind.FINDING:
        raise Http404
    data = reader(opened, item.blob).read_range(0, item.size)
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="finding.pdf"'
    return response


@unlocked_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, study_id: str) -> HttpResponse:
    """Delete a study from the account, after confirmation; irrevocable."""
    holding, opened = open_study_for_request(request, study_id)
    if request.method == "POST":
        delete_study_for(_account(request), opened.study)
        messages.success(request, _("Deleted irrevocably."))
        return redirect("archive:documents")
    return render(
        request,
        "archive/delete.html",
        {"study": opened.study, "title": study_title(read_summary(holding, _ams(request)))},
    )


def upload_labels() -> str:
    """Translated texts for the upload script (JSON for data-labels)."""
    return json.dumps(
        {
            "preparing": _("Preparing…"),
            "uploading": _("Uploading %(current)s of %(total)s files…"),
            "done": _("Upload finished."),
            "stored": _("Stored"),
            "duplicate": _("Already there"),
            "error": _("Failed"),
            "retry": _("Connection problem, trying again in %(seconds)s s…"),
            "summary": _("%(stored)s stored, %(duplicates)s already there, %(errors)s failed"),
            "leave": _("The upload is still running. Leave anyway?"),
            "connection": _("Connection lost. Try again."),
            "dicomdir_fallback": _(
                "The DICOMDIR of this CD could not be read; all files are uploaded instead."
            ),
            "files_selected": _("%(count)s files, %(size)s"),
            "hidden_results": _("%(count)s earlier lines not shown (errors stay listed)."),
            "no_files": _("There are no files to upload."),
            "unexpected": _("Unexpected answer from the server. Reload the page and try again."),
        }
    )


@unlocked_required
@require_safe
def upload(request: HttpRequest) -> HttpResponse:
    """Upload files, folders or a patient CD."""
    account = _account(request)
    return render(
        request,
        "archive/upload.html",
        {
            "account": account,
            "used_bytes": used_bytes(account),
            "upload_labels": upload_labels(),
            "max_file_bytes": settings.MAX_UPLOAD_FILE_BYTES,
        },
    )


def _zip_response(request: HttpRequest, plan: StudyZip) -> HttpResponseBase:
    total = plan.layout.total_size
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range and if_range != plan.etag:
        range_header = None  # the archive changed since the first part: send it whole
    try:
        wanted = parse_range_header(range_header, total)
    except ValueError:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{total}"
        return refused
    start, end = wanted if wanted is not None else (0, total)
    response = StreamingHttpResponse(
        plan.layout.iter_range(start, end),
        content_type="application/zip",
        status=206 if wanted else 200,
    )
    response["Content-Length"] = str(end - start)
    if wanted is not None:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = plan.etag
    response["Content-Disposition"] = f'attachment; filename="{plan.filename}"'
    return response


@unlocked_required
@require_safe
def download(request: HttpRequest, study_id: str) -> HttpResponseBase:
    """One study as a ZIP (JPEG, and DICOM with DICOMDIR when ``dicom=1``); resumable."""
    holding, opened = open_study_for_request(request, study_id)
    summary = read_summary(holding, _ams(request))
    plan = plan_zip([(opened, summary)], with_dicom=request.GET.get("dicom") == "1")
    return _zip_response(request, plan)


@unlocked_required
@require_safe
def download_selection(request: HttpRequest) -> HttpResponseBase:
    """Several studies (``?study=<id>&study=<id>``) in one ZIP."""
    ids = request.GET.getlist("study")[:200]
    if not ids:
        raise Http404
    studies = []
    for study_id in dict.fromkeys(ids):
        holding, opened = open_study_for_request(request, study_id)
        studies.append((opened, read_summary(holding, _ams(request))))
    plan = plan_zip(studies, with_dicom=request.GET.get("dicom") == "1")
    return _zip_response(request, plan)
