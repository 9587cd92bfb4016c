from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "hds.keys"
    label = "keys"
    verbose_name = "HDS keys"
