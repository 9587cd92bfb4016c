from django.urls import include, path
from django.views.i18n import set_language

from hds.archive.api import api

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", api.urls),
    path("dicomweb/", include("hds.dicomweb.urls")),
    path("", include("hds.viewer.urls")),
    path("", include("hds.archive.urls")),
    path("", include("hds.mfa.urls")),
    path("", include("hds.accounts.urls")),
]
