"""DICOMweb resources (PS3.18 10.4-10.6) under ``/dicomweb/``, without trailing slashes."""

from __future__ import annotations

from django.urls import path, register_converter

from hds.dicomweb import views

app_name = "dicomweb"


class UidConverter:
    """A DICOM UID in a path (digits and dots; the length is checked by the lookup)."""

    regex = r"[0-9]+(?:\.[0-9]+)*"

    def to_python(self, value: str) -> str:
        """As is."""
        return value

    def to_url(self, value: str) -> str:
        """As is."""
        return value


class FrameListConverter(UidConverter):
    """A comma-separated list of frame numbers."""

    regex = r"[0-9]+(?:,[0-9]+)*"


class TagConverter(UidConverter):
    """A tag as 8 hex digits."""

    regex = r"[0-9A-Fa-f]{8}"


register_converter(UidConverter, "uid")
register_converter(FrameListConverter, "framelist")
register_converter(TagConverter, "tag")

_STUDY = "studies/<uid:study>"
_SERIES = f"{_STUDY}/series/<uid:series>"
_INSTANCE = f"{_SERIES}/instances/<uid:sop>"

urlpatterns = [
    path("studies", views.studies, name="studies"),
    path("series", views.all_series, name="all_series"),
    path("instances", views.all_instances, name="all_instances"),
    path(_STUDY, views.study, name="study"),
    path(f"{_STUDY}/metadata", views.study_metadata, name="study_metadata"),
    path(f"{_STUDY}/thumbnail", views.study_thumbnail, name="study_thumbnail"),
    path(f"{_STUDY}/series", views.study_series, name="study_series"),
    path(f"{_STUDY}/instances", views.study_instances, name="study_instances"),
    path(_SERIES, views.series, name="series"),
    path(f"{_SERIES}/metadata", views.series_metadata, name="series_metadata"),
    path(f"{_SERIES}/thumbnail", views.series_thumbnail, name="series_thumbnail"),
    path(f"{_SERIES}/instances", views.series_instances, name="series_instances"),
    path(_INSTANCE, views.instance, name="instance"),
    path(f"{_INSTANCE}/metadata", views.instance_metadata, name="instance_metadata"),
    path(f"{_INSTANCE}/rendered", views.instance_rendered, name="instance_rendered"),
    path(f"{_INSTANCE}/thumbnail", views.instance_thumbnail, name="instance_thumbnail"),
    path(f"{_INSTANCE}/frames/<framelist:frames>", views.frames, name="frames"),
    path(
        f"{_INSTANCE}/frames/<framelist:frames>/rendered",
        views.frames_rendered,
        name="frames_rendered",
    ),
    path(f"{_INSTANCE}/bulkdata/<tag:tag>", views.bulkdata, name="bulkdata"),
]
