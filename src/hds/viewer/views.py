"""The DICOM viewer page: a shell around the Cornerstone3D viewer built from ``frontend/``.

The page carries no pixel data: the script reads metadata and frames over our WADO-RS with the
session. What the page does carry (series list, labels) goes to the script as JSON in a
``json_script`` element, and the script puts DICOM text into the DOM with ``textContent`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from csp.decorators import csp_update
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from hds.accounts.views import unlocked_required
from hds.archive.display import display_date
from hds.archive.models import Study
from hds.archive.reads import SeriesView, open_study_for_request, read_summary, study_contents
from hds.archive.selectors import study_title
from hds.keys.keyring import load_keyring
from hds.viewer.offline import kept_cache_name, preview_url, shell, viewer_requests
from hds.viewer.stack import first_image

MAX_SELECTED_SERIES = 16
View = TypeVar("View", bound=Callable[..., HttpResponseBase])
MODES = ("full", "simple")


def _csp(decorator: Any) -> Callable[[View], View]:
    """django-csp's per-view decorators, typed for views with URL arguments too."""
    return cast("Callable[[View], View]", decorator)


def viewer_labels() -> dict[str, str]:
    """Translated texts the viewer script builds at run time (the toolbar is in the template)."""
    return {
        "images": _("%(count)s images"),
        "image": _("%(count)s image"),
        "loading": _("Loading…"),
        "loaded": _("%(loaded)s of %(total)s images loaded"),
        "image_of": _("Image %(current)s of %(total)s"),
        "slice": _("Image"),
        "slice_location": _("Location %(value)s mm"),
        "thickness": _("Thickness %(value)s mm"),
        "window": _("W %(width)s L %(center)s"),
        "zoom": _("Zoom %(value)s"),
        "decode_error": _(
            "This image cannot be shown: its format could not be decoded. The other images "
            "are not affected; you can download the study and open it in another viewer."
        ),
        "load_error": _(
            "This image could not be loaded. Check the connection and reload the page."
        ),
        "session_error": _("Your session has ended. Please log in again."),
        "no_images": _("This series has no images to show."),
        "findings": _("Findings"),
        "no_findings": _("No findings for this study."),
        "open_pdf": _("Open in a new tab"),
    }


def _series_config(study_id: str, series: list[SeriesView]) -> list[dict[str, Any]]:
    out = []
    for view in series:
        thumb = view.thumb_item
        out.append(
            {
                "uid": view.uid,
                "number": view.number,
                "modality": view.modality,
                "description": view.description,
                "images": view.frame_count,
                "instances": len(view.items),
                "thumbnail": (
                    reverse("archive:thumbnail", args=[study_id, thumb.id]) if thumb else None
                ),
            }
        )
    return out


@unlocked_required
@require_safe
@_csp(csp_update({"script-src": ["'wasm-unsafe-eval'"]}))
def study(request: HttpRequest, study_id: str) -> HttpResponse:
    """The viewer for a study, or for the series named by ``?series=<uid>`` (repeatable);
    ``?mode=simple`` gives the patients' view with big buttons."""
    holding, opened = open_study_for_request(request, study_id)
    if opened.study.kind != Study.Kind.IMAGING:
        raise Http404
    summary = read_summary(holding, load_keyring(request).require("ams"))
    wanted = request.GET.getlist("series")[:MAX_SELECTED_SERIES]
    views, findings = study_contents(opened)
    if wanted:
        views = [view for view in views if view.uid in wanted]
        if not views:
            raise Http404
    series = _series_config(str(study_id), views)
    study_uid = str(summary.get("study_uid", ""))
    first = first_image(views[0]) if views else None
    mode = request.GET.get("mode", "full")
    config = {
        "studyUid": study_uid,
        "dicomweb": reverse("dicomweb:studies").removesuffix("/studies"),
        "mode": mode if mode in MODES else "full",
        "series": series,
        "patient": str(summary.get("patient_name", "")).replace("^", " ").strip(),
        "studyDate": display_date(str(summary.get("study_date", ""))),
        "studyDescription": str(summary.get("description", "")),
        "findings": [
            {
                "name": finding.name,
                "url": reverse("archive:finding", args=[study_id, item.id]),
            }
            for item, finding in findings
        ],
        "download": reverse("archive:download", args=[study_id]) + "?dicom=1",
        "labels": viewer_labels(),
    }
    return render(
        request,
        "viewer/viewer.html",
        {
            "config": config,
            "title": study_title(summary),
            "study": opened.study,
            "mode": config["mode"],
            "preview": preview_url(study_uid, views[0].uid, first) if first else "",
        },
    )


@unlocked_required
@require_safe
def offline(request: HttpRequest, study_id: str) -> JsonResponse:
    """What "Keep on this device" stores for the study page's script (docs/pwa.md): the viewer's
    requests for this study, the static files, and the name of the cache to put them in."""
    holding, opened = open_study_for_request(request, study_id)
    if opened.study.kind != Study.Kind.IMAGING:
        raise Http404
    summary = read_summary(holding, load_keyring(request).require("ams"))
    return JsonResponse(
        {
            "study": str(study_id),
            "cache": kept_cache_name(str(study_id)),
            "title": study_title(summary),
            "date": display_date(str(summary.get("study_date", ""))),
            "viewer": reverse("viewer:study", args=[study_id]),
            "requests": [r.as_json() for r in viewer_requests(str(study_id), opened, summary)],
            "static": list(shell().urls),
        }
    )
