"""The one ``enqueue()`` seam for background work (docs/design.md, Jobs).

Jobs are plain functions registered with ``@job``; they take ids only and are safe to run twice.
Rows are claimed with a conditional UPDATE, so any number of workers can share one database
(the healthchecks ``sendalerts`` pattern). ``settings.JOBS_INLINE`` runs a job right after the
enqueuing transaction commits, which tests and one-process sites use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from hds.core.models import Job, PeriodicRun

logger = logging.getLogger(__name__)

P = ParamSpec("P")
JobFunc = Callable[..., None]

_registry: dict[str, JobFunc] = {}
_periodic: dict[str, tuple[JobFunc, timedelta]] = {}
LOCK_SECONDS = 600


def job(func: Callable[P, None]) -> Callable[P, None]:
    """Register ``func`` as a job under its dotted name."""
    _registry[f"{func.__module__}.{func.__qualname__}"] = func
    return func


def periodic(every: timedelta) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a job that the worker runs every ``every`` (and can also be enqueued)."""

    def decorator(func: Callable[[], None]) -> Callable[[], None]:
        job(func)
        _periodic[f"{func.__module__}.{func.__qualname__}"] = (func, every)
        return func

    return decorator


def _name(func: JobFunc) -> str:
    name = f"{func.__module__}.{func.__qualname__}"
    if name not in _registry:
        raise ValueError(f"{name} is not registered with @job")
    return name


def enqueue(func: JobFunc, **kwargs: Any) -> None:
    """Queue ``func(**kwargs)`` once the current transaction commits (ids only as arguments)."""
    name = _name(func)

    def _create() -> None:
        if settings.JOBS_INLINE:
            _run_inline(name, kwargs)
            return
        Job.objects.create(name=name, kwargs=kwargs)

    transaction.on_commit(_create)


def _run_inline(name: str, kwargs: dict[str, Any]) -> None:
    _registry[name](**kwargs)


def _claim_next() -> Job | None:
    now = timezone.now()
    candidates = Job.objects.filter(status=Job.Status.QUEUED, run_after__lte=now).order_by(
        "run_after"
    )[:5]
    stale = Job.objects.filter(status=Job.Status.RUNNING, locked_until__lt=now)[:5]
    for candidate in [*candidates, *stale]:
        claimed = Job.objects.filter(
            pk=candidate.pk, status=candidate.status, attempts=candidate.attempts
        ).update(
            status=Job.Status.RUNNING,
            attempts=candidate.attempts + 1,
            locked_until=now + timedelta(seconds=LOCK_SECONDS),
        )
        if claimed:
            return Job.objects.get(pk=candidate.pk)
    return None


def run_job(row: Job) -> None:
    """Run one claimed job row and record its outcome; failures retry with backoff."""
    func = _registry.get(row.name)
    try:
        if func is None:
            raise LookupError("unknown job")
        func(**row.kwargs)
    except Exception as exc:
        # Only the exception type: messages can quote data the job touched.
        logger.exception("job %s failed (attempt %s)", row.name, row.attempts)
        final = row.attempts >= row.max_attempts
        Job.objects.filter(pk=row.pk).update(
            status=Job.Status.FAILED if final else Job.Status.QUEUED,
            run_after=timezone.now() + timedelta(seconds=min(3600, 10 * 2**row.attempts)),
            last_error=type(exc).__name__,
            locked_until=None,
        )
        return
    Job.objects.filter(pk=row.pk).update(
        status=Job.Status.DONE, finished_at=timezone.now(), locked_until=None, last_error=""
    )


def schedule_periodic() -> int:
    """Enqueue every periodic job that is due; return how many were queued."""
    queued = 0
    now = timezone.now()
    for name, (_func, every) in _periodic.items():
        with transaction.atomic():
            run, created = PeriodicRun.objects.select_for_update().get_or_create(
                name=name, defaults={"last_run_at": now}
            )
            if created or run.last_run_at + every <= now:
                run.last_run_at = now
                run.save(update_fields=["last_run_at"])
                Job.objects.create(name=name, kwargs={})
                queued += 1
    return queued


def run_pending(limit: int = 100) -> int:
    """Run up to ``limit`` due jobs in this process; return how many ran."""
    ran = 0
    while ran < limit and (row := _claim_next()) is not None:
        run_job(row)
        ran += 1
    return ran


def work_forever(*, stop: Callable[[], bool] = lambda: False) -> None:
    """The worker loop: schedule periodic jobs, run due jobs, sleep a little, repeat."""
    import_job_modules()
    logger.info("worker started")
    while not stop():
        close_old_connections()
        schedule_periodic()
        if run_pending() == 0:
            time.sleep(settings.WORKER_POLL_SECONDS)


def import_job_modules() -> None:
    """Import every app's ``tasks`` module so their jobs are registered."""
    from importlib import import_module
    from importlib.util import find_spec

    from django.apps import apps

    for app in apps.get_app_configs():
        module = f"{app.name}.tasks"
        if app.name.startswith("hds.") and find_spec(module) is not None:
            import_module(module)


__all__ = ["enqueue", "job", "periodic", "run_pending", "work_forever"]
