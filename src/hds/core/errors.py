"""Errors that services raise and views turn into messages or HTTP statuses."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the request; the message is safe to show to the user."""


class NotFound(DomainError):
    """The object is missing or the user may not see it: both look the same (docs/style.md,
    Access)."""


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` seconds until the next try is allowed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
