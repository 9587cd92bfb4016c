from django.apps import AppConfig


class ViewerConfig(AppConfig):
    name = "hds.viewer"
    label = "viewer"
    verbose_name = "Viewer"
