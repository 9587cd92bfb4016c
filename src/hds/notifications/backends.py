"""Mail backends of the embedded default: files in ``var/mail/`` (mode 0600) and the console with
link tokens masked (docs/security.md, Production defaults)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.message import EmailMessage
from typing_extensions import override

# Link secrets travel in URL fragments (#t=..., #ac=...): whoever reads the console or its log
# must not be able to follow a reset or unlock link.
_LINK_SECRET = re.compile(r"#([A-Za-z]+)=[^\s\"'<>]+")


def mask_link_secrets(text: str) -> str:
    """``text`` with the secret part of every link fragment replaced by ``…``."""
    return _LINK_SECRET.sub(r"#\1=…", text)


class MaskingConsoleBackend(ConsoleBackend):
    """Print mails to the console with link tokens masked (the full mail is in the file)."""

    @override
    def write_message(self, message: EmailMessage) -> None:
        """Write the masked message."""
        mime = message.message()
        charset = mime.get_charset()
        encoding = (charset.get_output_charset() if charset else None) or "utf-8"
        text = mime.as_bytes().decode(encoding, errors="replace")
        self.stream.write(f"{mask_link_secrets(text)}\n")
        self.stream.write("-" * 79)
        self.stream.write("\n")


class PrivateFileBackend(FileBackend):
    """Django's file backend, with the folder 0700 and every mail file 0600 (they hold link
    tokens)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Path(str(getattr(self, "file_path", ""))).chmod(0o700)

    @override
    def open(self) -> bool:
        """Open the mail file and make it private before anything is written to it."""
        opened = bool(super().open())
        if opened and self.stream is not None:
            os.fchmod(self.stream.fileno(), 0o600)
        return opened


class FileAndConsoleBackend(BaseEmailBackend):
    """Write each message to the mail folder and print it (tokens masked), so a local demo can
    follow its links from the file."""

    def __init__(self, *, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        self.file = PrivateFileBackend(fail_silently=fail_silently, **kwargs)
        self.console = MaskingConsoleBackend(fail_silently=fail_silently)

    @override
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send to both; return how many the file backend took."""
        sent = self.file.send_messages(email_messages)
        self.console.send_messages(email_messages)
        return sent
