"""DICOMweb views: QIDO-RS search, WADO-RS retrieve, STOW-RS store (PS3.18 8, 10).

Views parse the request, find objects through ``hds.archive.reads`` (one 404 for missing and
forbidden) and stream answers; instances are decrypted while they are sent, never held whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from hds.archive import reads
from hds.archive.models import Item
from hds.archive.reads import Instance, StudyAccess
from hds.archive.selectors import catalogue
from hds.core.errors import NotFound
from hds.core.spool import Spool
from hds.crypto.blobfile import BlobFile
from hds.dicom.dicomjson import BINARY_VRS, JsonDict, element
from hds.dicom.frames import (
    PIXEL_TAGS,
    FrameError,
    Header,
    can_decode_frames,
    can_transcode,
    iter_frames,
)
from hds.dicom.media import (
    DICOM,
    DICOM_JSON,
    EXPLICIT_VR_LITTLE_ENDIAN,
    JPEG,
    OCTET_STREAM,
    FrameChoice,
    accepts,
    choose_frames,
    choose_instance,
    parse_accept,
    parse_media_range,
)
from hds.dicomweb import metacache, retrieve
from hds.dicomweb import query as qido
from hds.dicomweb.auth import Caller, dicomweb_view, error
from hds.dicomweb.multipart import (
    MultipartError,
    body_length,
    content_type,
    iter_body,
    iter_streamed_parts,
    new_boundary,
)
from hds.dicomweb.stow import StowResult, store_parts

MAX_FRAMES_PER_REQUEST: Final = 10_000


# ------------------------------------------------------------------------------- helpers


class Urls:
    """Absolute URLs of this service's resources, as the request reached us."""

    def __init__(self, request: HttpRequest) -> None:
        self.root = request.build_absolute_uri(reverse("dicomweb:studies")).removesuffix("/studies")

    def study(self, study_uid: str) -> str:
        """A study's URL."""
        return f"{self.root}/studies/{study_uid}"

    def series(self, study_uid: str, series_uid: str) -> str:
        """A series' URL."""
        return f"{self.study(study_uid)}/series/{series_uid}"

    def instance(self, study_uid: str, series_uid: str, sop_uid: str) -> str:
        """An instance's URL."""
        return f"{self.series(study_uid, series_uid)}/instances/{sop_uid}"


def _dicom_json(data: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, separators=(",", ":")), content_type=DICOM_JSON, status=status
    )


def _wants_json(request: HttpRequest) -> bool:
    ranges = parse_accept(request.headers.get("Accept"))
    return accepts(ranges, DICOM_JSON) or accepts(ranges, "application/json")


def _not_acceptable() -> HttpResponse:
    return error(406, _("None of the media types in the Accept header can be sent."))


# ----------------------------------------------------------------------------------- QIDO


def _search(
    request: HttpRequest,
    level: qido.Level,
    parent: qido.Level | None,
    results: Callable[[qido.Query], Iterable[tuple[qido.Record, str]]],
) -> HttpResponse:
    """Parse, match and answer a search; ``results`` yields candidate (record, retrieve URL)."""
    if not _wants_json(request):
        return _not_acceptable()
    try:
        query = qido.parse_query(request.GET, level)
    except qido.QueryError as exc:
        return error(400, str(exc))
    matching = [(record, url) for record, url in results(query) if query.accepts(record, level)]
    returned = query.returned(parent)
    response = _dicom_json([qido.to_json(r, returned, url) for r, url in query.page(matching)])
    if query.unsupported:
        names = ", ".join(n.encode("ascii", "replace").decode()[:64] for n in query.unsupported)
        # PS3.18 8.3.4.1: say which keys were not used for matching.
        response["Warning"] = f'299 HDS: "These attributes were not used for matching: {names}"'
    return response


def _imaging_summaries(caller: Caller) -> Iterator[dict[str, Any]]:
    for entry in catalogue(caller.account, caller.ams):
        if entry.summary.get("kind", "imaging") == "imaging" and entry.summary.get("study_uid"):
            yield entry.summary


def _series_of(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    series = list((summary.get("series") or {}).items())
    return sorted(
        series, key=lambda s: (s[1].get("number") is None, float(s[1].get("number") or 0), s[0])
    )


def _series_records(
    study: qido.Record, summary: dict[str, Any], query: qido.Query
) -> Iterator[qido.Record]:
    """The study's series that pass the series-level keys, by series number."""
    for series_uid, entry in _series_of(summary):
        record = qido.series_record(study, series_uid, entry)
        if query.accepts(record, qido.Level.SERIES):
            yield record


@dicomweb_view("GET", "POST")
def studies(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """GET: search for studies (QIDO-RS). POST: store instances (STOW-RS)."""
    if request.method == "POST":
        return _store(request, caller, study_uid=None)
    urls = Urls(request)

    def results(_query: qido.Query) -> Iterator[tuple[qido.Record, str]]:
        for summary in _imaging_summaries(caller):
            yield qido.study_record(summary), urls.study(str(summary["study_uid"]))

    return _search(request, qido.Level.STUDY, None, results)


@dicomweb_view("GET")
def all_series(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """Search for series in all of the caller's studies."""
    urls = Urls(request)

    def results(query: qido.Query) -> Iterator[tuple[qido.Record, str]]:
        for summary in _imaging_summaries(caller):
            study = qido.study_record(summary)
            if not query.accepts(study, qido.Level.STUDY):
                continue
            for record in _series_records(study, summary, query):
                uid = str(summary["study_uid"])
                yield record, urls.series(uid, str(record["SeriesInstanceUID"][0]))

    return _search(request, qido.Level.SERIES, None, results)


@dicomweb_view("GET")
def study_series(request: HttpRequest, caller: Caller, study: str) -> HttpResponseBase:
    """Search for the series of one study (from its summary; the study is not opened)."""
    _holding, summary = reads.holding_by_uid(caller, study)
    urls = Urls(request)

    def results(query: qido.Query) -> Iterator[tuple[qido.Record, str]]:
        record = qido.study_record(summary)
        for series in _series_records(record, summary, query):
            yield series, urls.series(study, str(series["SeriesInstanceUID"][0]))

    return _search(request, qido.Level.SERIES, qido.Level.STUDY, results)


def _instance_search(
    request: HttpRequest,
    caller: Caller,
    summaries: Iterable[dict[str, Any]],
    parent: qido.Level | None,
    series_uid: str | None = None,
) -> HttpResponse:
    """Instances of the studies (and series) that pass the higher levels' keys: only those
    studies are opened."""
    urls = Urls(request)

    def results(query: qido.Query) -> Iterator[tuple[qido.Record, str]]:
        for summary in summaries:
            study = qido.study_record(summary)
            if not query.accepts(study, qido.Level.STUDY):
                continue
            wanted = {
                str(record["SeriesInstanceUID"][0]): record
                for record in _series_records(study, summary, query)
                if series_uid is None or record["SeriesInstanceUID"][0] == series_uid
            }
            if not wanted:
                continue
            study_uid = str(summary["study_uid"])
            try:
                access = reads.study_by_uid(caller, study_uid)
            except NotFound:
                continue
            for found in reads.instances(access, series_uid):
                series_record = wanted.get(found.series_uid)
                if series_record is not None:
                    url = urls.instance(study_uid, found.series_uid, found.sop_uid)
                    yield qido.instance_record(series_record, found.record), url

    return _search(request, qido.Level.INSTANCE, parent, results)


@dicomweb_view("GET")
def all_instances(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """Search for instances in all of the caller's studies."""
    return _instance_search(request, caller, _imaging_summaries(caller), None)


@dicomweb_view("GET")
def study_instances(request: HttpRequest, caller: Caller, study: str) -> HttpResponseBase:
    """Search for the instances of one study."""
    _holding, summary = reads.holding_by_uid(caller, study)
    return _instance_search(request, caller, [summary], qido.Level.STUDY)


@dicomweb_view("GET")
def series_instances(
    request: HttpRequest, caller: Caller, study: str, series: str
) -> HttpResponseBase:
    """Search for the instances of one series."""
    _holding, summary = reads.holding_by_uid(caller, study)
    if series not in (summary.get("series") or {}):
        raise NotFound("series")
    return _instance_search(request, caller, [summary], qido.Level.SERIES, series_uid=series)


# ------------------------------------------------------------------------------ WADO-RS


def _retrieve(
    request: HttpRequest, study: StudyAccess, instances: list[Instance]
) -> HttpResponseBase:
    """Instances as ``multipart/related; type="application/dicom"``, decrypted as they go."""
    ranges = parse_accept(request.headers.get("Accept"))
    choices = []
    for instance in instances:
        ts = instance.transfer_syntax
        choice = choose_instance(ranges, ts, can_transcode=can_transcode(ts))
        if choice is None:
            return _not_acceptable()
        choices.append(choice)
    boundary = new_boundary()
    typed = [
        (f"{DICOM}; transfer-syntax={c.transfer_syntax}", i, c)
        for i, c in zip(instances, choices, strict=True)
    ]
    response = StreamingHttpResponse(
        iter_body(
            boundary,
            ((t, retrieve.instance_chunks(study, i, transcode=c.transcode)) for t, i, c in typed),
        ),
        content_type=content_type(boundary, DICOM),
    )
    if not any(c.transcode for c in choices):
        response["Content-Length"] = str(
            body_length(boundary, [(t, i.item.size) for t, i, _c in typed])
        )
    return response


@dicomweb_view("GET", "POST")
def study(request: HttpRequest, caller: Caller, study: str) -> HttpResponseBase:
    """GET: retrieve the study's instances. POST: store instances into this study."""
    if request.method == "POST":
        return _store(request, caller, study_uid=study)
    access = reads.study_by_uid(caller, study)
    return _retrieve(request, access, reads.instances(access))


@dicomweb_view("GET")
def series(request: HttpRequest, caller: Caller, study: str, series: str) -> HttpResponseBase:
    """Retrieve the series' instances."""
    access = reads.study_by_uid(caller, study)
    return _retrieve(request, access, reads.instances(access, series))


@dicomweb_view("GET")
def instance(
    request: HttpRequest, caller: Caller, study: str, series: str, sop: str
) -> HttpResponseBase:
    """Retrieve one instance."""
    access = reads.study_by_uid(caller, study)
    return _retrieve(request, access, [reads.instance_by_uid(access, series, sop)])


# -------------------------------------------------------------------------------- metadata


def _metadata_response(
    request: HttpRequest, study: StudyAccess, instances: list[Instance]
) -> HttpResponseBase:
    if not _wants_json(request):
        return _not_acceptable()
    urls = Urls(request)

    def body() -> Iterator[bytes]:
        yield b"["
        for n, (instance, template) in enumerate(retrieve.instance_templates(study, instances)):
            if n:
                yield b","
            url = urls.instance(study.study_uid, instance.series_uid, instance.sop_uid)
            yield json.dumps(metacache.resolve(template, url), separators=(",", ":")).encode()
        yield b"]"

    return StreamingHttpResponse(body(), content_type=DICOM_JSON)


@dicomweb_view("GET")
def study_metadata(request: HttpRequest, caller: Caller, study: str) -> HttpResponseBase:
    """The metadata of every instance of the study."""
    access = reads.study_by_uid(caller, study)
    return _metadata_response(request, access, reads.instances(access))


@dicomweb_view("GET")
def series_metadata(
    request: HttpRequest, caller: Caller, study: str, series: str
) -> HttpResponseBase:
    """The metadata of every instance of the series."""
    access = reads.study_by_uid(caller, study)
    return _metadata_response(request, access, reads.instances(access, series))


@dicomweb_view("GET")
def instance_metadata(
    request: HttpRequest, caller: Caller, study: str, series: str, sop: str
) -> HttpResponseBase:
    """The metadata of one instance."""
    access = reads.study_by_uid(caller, study)
    return _metadata_response(request, access, [reads.instance_by_uid(access, series, sop)])


# ---------------------------------------------------------------------------------- frames


def _frame_numbers(text: str) -> list[int] | None:
    try:
        numbers = [int(n) for n in text.split(",")]
    except ValueError:
        return None
    if not numbers or len(numbers) > MAX_FRAMES_PER_REQUEST or min(numbers) < 1:
        return None
    return numbers


def _frames_response(
    request: HttpRequest, file: BlobFile, header: Header, numbers: list[int]
) -> HttpResponseBase:
    if header.pixel is None or max(numbers) > header.frame_count:
        raise NotFound("frame")
    ranges = parse_accept(request.headers.get("Accept"))
    choice: FrameChoice | None = choose_frames(
        ranges, header.transfer_syntax, can_decode=can_decode_frames(header)
    )
    if choice is None:
        return _not_acceptable()
    indices = [n - 1 for n in numbers]
    decoder = retrieve.decode_isolated if choice.decode else None
    boundary = new_boundary()
    part_type = choice.content_type
    if len(indices) == 1:
        # One frame (what viewers ask for): read it first, so a failure is a status, not a
        # broken body, and the length is known.
        try:
            frame = next(iter_frames(file, header, indices, decode=decoder))
        except FrameError:
            raise NotFound("frame") from None
        response = HttpResponse(
            b"".join(iter_body(boundary, [(part_type, [frame])])),
            content_type=content_type(boundary, choice.media_type),
        )
        return response
    frames = iter_frames(file, header, indices, decode=decoder)
    return StreamingHttpResponse(
        iter_body(boundary, ((part_type, [frame]) for frame in frames)),
        content_type=content_type(boundary, choice.media_type),
    )


@dicomweb_view("GET")
def frames(
    request: HttpRequest, caller: Caller, *, study: str, series: str, sop: str, frames: str
) -> HttpResponseBase:
    """Frames of an instance (1-based list): stored bytes or decoded, as the Accept asks."""
    numbers = _frame_numbers(frames)
    if numbers is None:
        return error(400, _("Frame numbers start at 1."))
    access = reads.study_by_uid(caller, study)
    found = reads.instance_by_uid(access, series, sop)
    file, header = retrieve.frame_header(access, found)
    return _frames_response(request, file, header, numbers)


@dicomweb_view("GET")
def bulkdata(
    request: HttpRequest, caller: Caller, *, study: str, series: str, sop: str, tag: str
) -> HttpResponseBase:
    """A top-level bulk data value named by a metadata BulkDataURI (pixel data: all frames)."""
    access = reads.study_by_uid(caller, study)
    found = reads.instance_by_uid(access, series, sop)
    file, header = retrieve.instance_header(access, found)
    number = int(tag, 16)
    if number in PIXEL_TAGS:
        if header.pixel is None or header.pixel.tag != number:
            raise NotFound("bulkdata")
        return _frames_response(request, file, header, list(range(1, header.frame_count + 1)))
    if number not in header.dataset:
        raise NotFound("bulkdata")
    elem = header.dataset[number]
    if elem.VR not in BINARY_VRS or not isinstance(elem.value, bytes):
        raise NotFound("bulkdata")
    ranges = parse_accept(request.headers.get("Accept"))
    if choose_frames(ranges, EXPLICIT_VR_LITTLE_ENDIAN, can_decode=False) is None:
        return _not_acceptable()
    boundary = new_boundary()
    return HttpResponse(
        b"".join(iter_body(boundary, [(OCTET_STREAM, [elem.value])])),
        content_type=content_type(boundary, OCTET_STREAM),
    )


# -------------------------------------------------------------------- rendered, thumbnails


def _image(request: HttpRequest, data: bytes) -> HttpResponse:
    if not accepts(parse_accept(request.headers.get("Accept")), JPEG):
        return _not_acceptable()
    return HttpResponse(data, content_type=JPEG)


def _thumbnail(request: HttpRequest, study: StudyAccess, instance: Instance) -> HttpResponse:
    return _image(request, retrieve.thumbnail(study, instance))


@dicomweb_view("GET")
def instance_rendered(
    request: HttpRequest, caller: Caller, study: str, series: str, sop: str
) -> HttpResponseBase:
    """The instance's first frame as JPEG (from the rendering made at upload)."""
    access = reads.study_by_uid(caller, study)
    return _image(
        request, retrieve.rendered_frame(access, reads.instance_by_uid(access, series, sop), 1)
    )


@dicomweb_view("GET")
def frames_rendered(
    request: HttpRequest, caller: Caller, *, study: str, series: str, sop: str, frames: str
) -> HttpResponseBase:
    """One frame as JPEG."""
    numbers = _frame_numbers(frames)
    if numbers is None or len(numbers) != 1:
        return error(400, _("Ask for one frame at a time."))
    access = reads.study_by_uid(caller, study)
    return _image(
        request,
        retrieve.rendered_frame(access, reads.instance_by_uid(access, series, sop), numbers[0]),
    )


@dicomweb_view("GET")
def study_thumbnail(request: HttpRequest, caller: Caller, study: str) -> HttpResponseBase:
    """A small JPEG of the study (the instance its summary chose)."""
    access = reads.study_by_uid(caller, study)
    thumb = access.summary.get("thumb")
    if not thumb:
        raise NotFound("rendering")
    item = (
        Item.objects.filter(study=access.study, pk=str(thumb)).select_related("rendering").first()
    )
    if item is None:
        raise NotFound("rendering")
    return _thumbnail(request, access, Instance(item, reads.open_item_record(access.opened, item)))


@dicomweb_view("GET")
def series_thumbnail(
    request: HttpRequest, caller: Caller, study: str, series: str
) -> HttpResponseBase:
    """A small JPEG of the series (its middle instance with a rendering)."""
    access = reads.study_by_uid(caller, study)
    rendered = [i for i in reads.instances(access, series) if i.jpeg_frames]
    if not rendered:
        raise NotFound("rendering")
    return _thumbnail(request, access, rendered[len(rendered) // 2])


@dicomweb_view("GET")
def instance_thumbnail(
    request: HttpRequest, caller: Caller, study: str, series: str, sop: str
) -> HttpResponseBase:
    """A small JPEG of the instance's first frame."""
    access = reads.study_by_uid(caller, study)
    return _thumbnail(request, access, reads.instance_by_uid(access, series, sop))


# --------------------------------------------------------------------------------- STOW-RS


def _stow_json(result: StowResult, urls: Urls, study_uid: str | None) -> JsonDict:
    stored_studies = {o.study_uid for o in result.stored}
    study_url = None
    if study_uid is not None and stored_studies:
        study_url = urls.study(study_uid)
    elif len(stored_studies) == 1:
        study_url = urls.study(stored_studies.pop())
    body: JsonDict = {"00081190": element("UR", [study_url])}
    if result.failed:
        body["00081198"] = {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": element("UI", [o.sop_class]),
                    "00081155": element("UI", [o.sop_uid]),
                    "00081197": element("US", [o.failure]),
                }
                for o in result.failed
            ],
        }
    if result.stored:
        body["00081199"] = {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": element("UI", [o.sop_class]),
                    "00081155": element("UI", [o.sop_uid]),
                    "00081190": element(
                        "UR", [urls.instance(o.study_uid, o.series_uid, o.sop_uid)]
                    ),
                }
                for o in result.stored
            ],
        }
    return body


def _stow_boundary(request: HttpRequest) -> tuple[str, HttpResponse | None]:
    """The request's boundary, or a refusal of its Content-Type (415, 400)."""
    media = parse_media_range(request.META.get("CONTENT_TYPE", ""))
    if media is None or media.media_type != "multipart/related":
        return "", error(415, _('Send multipart/related; type="application/dicom".'))
    if media.part_type not in (None, DICOM):
        return "", error(415, _("Only application/dicom parts can be stored."))
    boundary = media.params.get("boundary", "")
    if not boundary:
        return "", error(400, _("The Content-Type has no boundary."))
    return boundary, None


def _stow_response(result: StowResult, urls: Urls, study_uid: str | None) -> HttpResponse:
    """200 all stored, 202 some failed, 409 none stored, 413 the quota stopped the request."""
    if not result.outcomes:
        return error(400, _("The request contains no instances."))
    body = _stow_json(result, urls, study_uid)
    if result.quota_message is not None:
        response = _dicom_json(body, status=413)
        # The user's message travels as a PS3.18 8.6 warning; the body stays DICOM JSON.
        response["Warning"] = '299 HDS: "{}"'.format(result.quota_message.replace('"', "'"))
        return response
    if not result.failed:
        return _dicom_json(body, status=200)
    return _dicom_json(body, status=202 if result.stored else 409)


def _store(request: HttpRequest, caller: Caller, *, study_uid: str | None) -> HttpResponseBase:
    """STOW-RS (PS3.18 10.5): parse the body part by part and store every part."""
    boundary, refusal = _stow_boundary(request)
    if refusal is not None:
        return refusal
    try:
        read = retrieve.body_reader(request)
        # Each part goes into a spool as it arrives (encrypted on disk above
        # HDS_UPLOAD_SPOOL_BYTES): the body is never held whole (docs/security.md, Upload memory
        # and spool).
        parts = iter_streamed_parts(read, boundary, Spool)
        result = store_parts(caller, parts, study_uid=study_uid)
    except retrieve.BodyTooLarge:
        return error(413, _("The request is larger than the server accepts."))
    except retrieve.LengthRequired:
        return error(411, _("Send a Content-Length."))
    except MultipartError as exc:
        return error(400, str(exc))
    return _stow_response(result, Urls(request), study_uid)
