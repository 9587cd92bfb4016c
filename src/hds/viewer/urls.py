from django.urls import path

from hds.viewer import views

app_name = "viewer"

urlpatterns = [
    path("viewer/<uuid:study_id>/", views.study, name="study"),
]
