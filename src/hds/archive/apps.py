from django.apps import AppConfig
from typing_extensions import override


class ArchiveConfig(AppConfig):
    name = "hds.archive"
    label = "archive"
    verbose_name = "HDS archive"

    @override
    def ready(self) -> None:
        """Remove an account's studies when it is deleted or reset; read DICOM leniently."""
        from pydicom import config as pydicom_config

        # Real-world files carry values that break VR rules (e.g. "1A" in an IS). They are kept
        # byte for byte; warning on every such value would only flood the logs.
        pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE

        from hds.accounts.signals import account_deleting, account_keys_replaced
        from hds.archive import receivers

        account_deleting.connect(receivers.remove_holdings, dispatch_uid="archive-delete")
        account_keys_replaced.connect(receivers.remove_holdings, dispatch_uid="archive-reset")
