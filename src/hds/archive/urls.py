from django.urls import path

from hds.archive import views

app_name = "archive"

urlpatterns = [
    path("documents/", views.documents, name="documents"),
    path("upload/", views.upload, name="upload"),
    path("documents/<uuid:study_id>/", views.study, name="study"),
    path("documents/<uuid:study_id>/delete/", views.delete, name="delete"),
    path("documents/<uuid:study_id>/download.zip", views.download, name="download"),
    path("documents/download.zip", views.download_selection, name="download_selection"),
    path(
        "documents/<uuid:study_id>/items/<uuid:item_id>/thumbnail.jpg",
        views.thumbnail,
        name="thumbnail",
    ),
    path(
        "documents/<uuid:study_id>/items/<uuid:item_id>/frames/<int:number>.jpg",
        views.frame,
        name="frame",
    ),
    path("documents/<uuid:study_id>/findings/<uuid:item_id>.pdf", views.finding, name="finding"),
]
