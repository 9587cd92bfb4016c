"""Core tables: the job queue behind ``hds.core.jobs.enqueue``."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from typing_extensions import override


class Job(models.Model):
    """One run of a job function; arguments are ids only, never tokens, keys or patient data."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    run_after = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "run_after"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="core_job_status_valid",
            )
        ]

    @override
    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class PeriodicRun(models.Model):
    """When a periodic job last ran, so several workers schedule it once."""

    name = models.CharField(max_length=200, primary_key=True)
    last_run_at = models.DateTimeField()

    @override
    def __str__(self) -> str:
        return self.name


class Counter(models.Model):
    """A security counter (throttles, failure budgets): rows, never an evicting cache.

    ``key`` is a keyed digest (no e-mail address or IP in clear); ``data`` holds timestamps or a
    small state; ``expires_at`` lets the periodic clean-up drop rows nobody needs any more
    (docs/security.md, Throttling).
    """

    key = models.CharField(max_length=100, primary_key=True)
    data = models.JSONField(default=dict)
    expires_at = models.DateTimeField(db_index=True)

    @override
    def __str__(self) -> str:
        return self.key
