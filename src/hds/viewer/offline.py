"""The installable web app's data side: the app shell the service worker precaches, and the list
of requests "Keep on this device" stores for one study (docs/pwa.md).

Two kinds of Cache Storage caches exist in the browser, and nothing else is ever cached:

- ``hds-shell-<version>``: written only by the service worker, and only with files under
  ``/static/`` plus the offline page (no user data). The version is a hash of those files, so a
  deploy that changes any of them gets a new cache and the worker deletes the old one.
- ``hds-kept-<study id>``: written only by the study page's script when the user chooses "Keep
  on this device", with exactly the requests of :func:`viewer_requests`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse

from hds.archive.keys import OpenStudy
from hds.archive.reads import study_contents
from hds.dicom.record import ItemRecord
from hds.viewer.stack import first_image

SHELL_CACHE_PREFIX = "hds-shell-"
KEPT_CACHE_PREFIX = "hds-kept-"

# What the viewer sends (frontend/src/viewer/dicom.js fetchDicomJson, and the `mediaType` of
# @cornerstonejs/dicom-image-loader's wadors loadImage). The server answers by Accept, so the
# kept copy must be fetched with the same header; the service worker matches with ignoreVary.
METADATA_ACCEPT = "application/dicom+json"
FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"

# Build output that is never requested by a page: precompressed siblings (WhiteNoise picks them
# by Accept-Encoding for the plain name), source maps, dot files.
_SKIPPED_SUFFIXES = (".gz", ".br", ".map")

# Files whose change must give the shell a new version besides the static files themselves.
_SHELL_TEMPLATES = ("viewer/sw.js", "viewer/offline.html")


@dataclass(frozen=True)
class OfflineRequest:
    """One request as the viewer makes it: the URL, and the Accept header it sends (if any)."""

    url: str
    accept: str = ""

    def as_json(self) -> dict[str, str]:
        """For offline.json: ``{"url": …}`` plus ``"accept"`` when the viewer sends one."""
        return {"url": self.url, "accept": self.accept} if self.accept else {"url": self.url}


def _static_files() -> list[tuple[str, Path]]:
    """Every file the static finders serve under STATIC_URL, as (name, path), sorted by name."""
    found: dict[str, Path] = {}
    for finder in finders.get_finders():
        for name, storage in finder.list(["*.gz", "*.br", "*.map", ".*"]):
            if name.endswith(_SKIPPED_SUFFIXES) or name in found:
                continue  # the first finder wins, as in static serving
            found[name.replace("\\", "/")] = Path(storage.path(name))
    return sorted(found.items())


@dataclass(frozen=True)
class Shell:
    """The app shell: its static URLs and a version hash of their contents."""

    version: str
    urls: tuple[str, ...]


def _extra_inputs() -> bytes:
    """The service worker and offline page templates and the compiled translations."""
    parts = []
    for name in _SHELL_TEMPLATES:
        origin = get_template(name).origin  # type: ignore[attr-defined]  # not in the stubs
        parts.append(Path(origin.name).read_bytes())
    for locale in settings.LOCALE_PATHS:
        parts.extend(p.read_bytes() for p in sorted(Path(locale).glob("*/LC_MESSAGES/*.mo")))
    return hashlib.sha256(b"\0".join(parts)).digest()


def _read_shell() -> Shell:
    """Walk the static files and hash them (about 8 MB): the same on every app node that serves
    the same build, so all of them hand out the same service worker."""
    files = _static_files()
    digest = hashlib.sha256(_extra_inputs())
    for name, path in files:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return Shell(digest.hexdigest()[:16], tuple(static(name) for name, _path in files))


_shell_of_this_process = cache(_read_shell)


def shell() -> Shell:
    """The app shell. Read once per process, as WhiteNoise reads the static files once (browsers
    ask for the service worker at every navigation); again at each call with DEBUG, as
    WhiteNoise then refreshes too."""
    return _read_shell() if settings.DEBUG else _shell_of_this_process()


def kept_cache_name(study_id: str) -> str:
    """The Cache Storage cache "Keep on this device" fills for one study."""
    return f"{KEPT_CACHE_PREFIX}{study_id}"


def preview_url(study_uid: str, series_uid: str, record: ItemRecord) -> str:
    """WADO-RS rendered frame 1 of an instance: the JPEG made at upload."""
    return reverse("dicomweb:frames_rendered", args=[study_uid, series_uid, record.sop_uid, "1"])


def viewer_requests(
    study_id: str, opened: OpenStudy, summary: dict[str, Any]
) -> list[OfflineRequest]:
    """Every request the viewer page makes for this study, except the static files.

    KEEP IN STEP with the viewer: this must list exactly what ``/viewer/<study id>/`` asks the
    server for, as frontend/src/viewer/ (main.js, dicom.js, boot.js) builds the URLs:

    - the viewer page itself (without ``?series=`` or ``?mode=``: what "Open viewer" links to);
    - the series panel's thumbnails (``config.series[].thumbnail``, from ``views._series_config``);
    - per series, the WADO-RS series metadata (``.../series/<uid>/metadata``, Accept DICOM JSON);
    - the JPEG of the first series' first image (``.../frames/1/rendered``, the page's picture
      until Cornerstone draws: ``hds.viewer.stack.first_image``, in the page only when there is
      one);
    - per instance with pixels, each frame (``.../instances/<uid>/frames/<n>``) with the Accept
      header of Cornerstone's WADO-RS loader;
    - the findings panel's PDFs (loaded in its frame when the panel opens).

    tests/browser/test_pwa.py opens a kept study offline and records what the viewer requests
    online, so a change in the viewer that asks for anything else fails there, not in a
    patient's hands.
    """
    requests = [OfflineRequest(reverse("viewer:study", args=[study_id]))]
    series, findings = study_contents(opened)
    study_uid = str(summary.get("study_uid", ""))
    for index, view in enumerate(series):
        thumb = view.thumb_item
        if thumb is not None:
            requests.append(OfflineRequest(reverse("archive:thumbnail", args=[study_id, thumb.id])))
        requests.append(
            OfflineRequest(
                reverse("dicomweb:series_metadata", args=[study_uid, view.uid]), METADATA_ACCEPT
            )
        )
        first = first_image(view) if index == 0 else None
        if first is not None:
            requests.append(OfflineRequest(preview_url(study_uid, view.uid, first)))
        for _item, record in view.items:
            if not record.has_pixels:
                continue  # no pixel data: dicom.js leaves the instance out of the stack
            for frame in range(1, record.frames + 1):
                url = reverse(
                    "dicomweb:frames", args=[study_uid, view.uid, record.sop_uid, str(frame)]
                )
                requests.append(OfflineRequest(url, FRAME_ACCEPT))
    requests.extend(
        OfflineRequest(reverse("archive:finding", args=[study_id, item.id]))
        for item, _record in findings
    )
    return requests
