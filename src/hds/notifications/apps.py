from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "hds.notifications"
    label = "notifications"
    verbose_name = "HDS notifications"
