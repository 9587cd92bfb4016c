from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "hds.mfa"
    label = "mfa"
    verbose_name = "HDS multi-factor authentication"
