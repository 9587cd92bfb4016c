"""The render workers of this process, configured from the settings: ``render_pool`` (started
on first use), ``isolated`` (run a function that decodes stored files in a worker) and
``require_render_isolation`` (refuse a production start without isolation). The workers and their
layers are ``hds.archive.sandbox`` and ``confine`` (docs/architecture.md, docs/security.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from hds.archive.sandbox import (
    Limits,
    Policy,
    RenderPool,
    SandboxRefused,
    call_here,
    protected_paths,
    require_isolation,
    sandbox_layers,
)

T = TypeVar("T")


def _render_limits(workers: int) -> Limits:
    return Limits(
        workers=workers,
        memory_bytes=settings.RENDER_MEMORY_MB * 1024 * 1024,
        cpu_seconds=3600,  # per worker lifetime: a backstop; the timeout bounds each task
        timeout_seconds=settings.RENDER_TIMEOUT_SECONDS,
    )


def _render_protected() -> list[str]:
    """What no render worker may read: the data folder, its secrets, the SQLite database."""
    database = settings.DATABASES["default"]
    sqlite = database["ENGINE"] == "django.db.backends.sqlite3"
    return protected_paths(settings.DATA_DIR, str(database["NAME"]) if sqlite else None)


@functools.cache
def render_pool() -> RenderPool | None:
    """The isolated render workers of this process (started on first use; they log the
    layers they lack); None when ``HDS_RENDER_WORKERS=0`` asks for rendering in-process,
    which production refuses without ``HDS_ALLOW_UNSANDBOXED``."""
    if settings.RENDER_WORKERS == 0:
        if settings.PRODUCTION and not settings.ALLOW_UNSANDBOXED:
            raise ImproperlyConfigured(
                "HDS_RENDER_WORKERS=0 is refused in production (HDS_ALLOW_UNSANDBOXED=1 allows it)."
            )
        return None
    policy = Policy(user=settings.RENDER_USER)
    return RenderPool(_render_limits(settings.RENDER_WORKERS), policy, _render_protected())


def require_render_isolation() -> None:
    """Refuse a production start (``ImproperlyConfigured``, one line) whose render workers
    would lack filesystem or network isolation, or that renders in-process, unless
    ``HDS_ALLOW_UNSANDBOXED`` is on (docs/security.md, Render sandbox); ``hds web``, ``run`` and
    ``worker``
    call it first."""
    try:
        require_isolation(
            settings.PRODUCTION,
            settings.ALLOW_UNSANDBOXED,
            workers=settings.RENDER_WORKERS,
            layers=lambda: sandbox_layers(
                _render_limits(1), Policy(user=settings.RENDER_USER), _render_protected()
            ),
        )
    except SandboxRefused as exc:
        raise ImproperlyConfigured(str(exc)) from None


def isolated(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a render worker (in-process with ``HDS_RENDER_WORKERS=0``), for
    anything that decodes stored files (docs/security.md, Render sandbox). ``function`` must be a
    module-level function of a module that imports no Django; a failure raises
    ``RenderError``."""
    pool = render_pool()
    if pool is None:
        return call_here(function, *args)
    return pool.call(function, *args)
