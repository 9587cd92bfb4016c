"""Mail backend of the embedded default: every mail to a file in ``var/mail/`` and the console."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.message import EmailMessage
from typing_extensions import override


class FileAndConsoleBackend(BaseEmailBackend):
    """Write each message to the mail folder and print it, so a local demo can click its links."""

    def __init__(self, *, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        self.file = FileBackend(fail_silently=fail_silently, **kwargs)
        self.console = ConsoleBackend(fail_silently=fail_silently)

    @override
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send to both; return how many the file backend took."""
        sent = self.file.send_messages(email_messages)
        self.console.send_messages(email_messages)
        return sent
