from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "hds.core"
    label = "core"
    verbose_name = "HDS core"
