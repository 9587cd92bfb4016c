from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "hds.accounts"
    label = "accounts"
    verbose_name = "HDS accounts"
