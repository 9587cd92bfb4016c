from django.urls import path

from hds.viewer import pwa, views

app_name = "viewer"

urlpatterns = [
    path("viewer/<uuid:study_id>/", views.study, name="study"),
    path("viewer/<uuid:study_id>/offline.json", views.offline, name="offline"),
    # The installable web app (docs/pwa.md): the worker must sit at the root to control it all.
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("offline/", pwa.offline_page, name="offline_page"),
    path("icons/<int:size>.png", pwa.icon, name="icon"),
]
