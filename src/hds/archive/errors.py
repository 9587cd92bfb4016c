"""Errors of the archive; messages are shown to users and never quote file contents."""

from hds.core.errors import DomainError


class IngestError(DomainError):
    """One file could not be stored (not DICOM, truncated, ...); the others go on."""


class QuotaExceeded(DomainError):
    """The upload does not fit into the account's storage."""

    def __init__(self, message: str, *, missing_bytes: int) -> None:
        super().__init__(message)
        self.missing_bytes = missing_bytes


class StudyLocked(DomainError):
    """The session cannot open this study's key (no grant for its keys, or keys replaced)."""
