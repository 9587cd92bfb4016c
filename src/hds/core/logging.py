"""Logging filters: secrets and codes never reach a log line (SECURITY.md §3.12, Logs)."""

from __future__ import annotations

import logging
import re

from typing_extensions import override

# Paths that can carry one-time material (share links, code portal, mail-link tokens).
_MASKED_PATHS = re.compile(r"(/(?:s|code|activate|recover|reset|unlock)/)[^\s\"?#]+")
_FRAGMENT = re.compile(r"#[^\s\"]+")


class MaskSecretsFilter(logging.Filter):
    """Mask the variable part of secret-bearing URL paths and any URL fragment in messages."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message in place; never drop the record."""
        message = record.getMessage()
        masked = _FRAGMENT.sub("#…", _MASKED_PATHS.sub(r"\1…", message))
        if masked != message:
            record.msg, record.args = masked, None
        return True
