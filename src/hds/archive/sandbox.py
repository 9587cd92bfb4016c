"""Rendering and any other decoding of untrusted DICOM in separate worker processes
(docs/security.md, Render sandbox; ASVS 5.2.6).

Pixel decoders are C code fed with files from anyone. They run in a small pool of worker
processes, never in the web process. Each worker applies the layers of ``hds.archive.confine``
on its own and remembers which took: resource limits (address space, CPU time, no core dumps),
a network namespace of its own, a dedicated unprivileged user when started as root, Landlock
(read-only access to what Python imports, nothing else on the filesystem, no TCP) and a
seccomp filter without ``socket()``. The pool asks a worker which layers are active
(``RenderPool.probe_layers``, ``sandbox_layers`` for ``hds check``), checks that it cannot read
the data folder, secrets and database ("protected-paths") and logs every missing layer;
``require_isolation`` refuses a production start without isolation. A task that runs too long
has its pool killed and replaced; a worker that crashes (a decoder's segfault) costs its task
only. Files travel through pipes, so workers never need the data folder.
``HDS_RENDER_WORKERS=0`` renders in-process (tests of rendering itself, tiny sites); none of
the layers then apply.

This module imports no Django: the workers start with a fresh interpreter (spawn) that loads
only what rendering needs, and settings come in as arguments.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from hds.archive import confine
from hds.archive.confine import Layer, Policy
from hds.dicom.rendering import RenderError, Rendering, gettext_noop, render_dataset

__all__ = [
    "Layer",
    "Limits",
    "Policy",
    "RenderPool",
    "SandboxRefused",
    "call_here",
    "log_layers",
    "missing_protections",
    "protected_paths",
    "require_isolation",
    "sandbox_layers",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A worker is replaced after this many files, so slow leaks in decoders stay bounded.
_TASKS_PER_WORKER: Final = 500
# Server secrets given as files (hds.core.env): workers must not read them either.
_SECRET_FILES: Final = ("HDS_SECRET_KEY_FILE", "HDS_PEPPER_FILE", "HDS_DIRECTORY_KEY_FILE")
# One of each must be active for a production start (require_isolation).
_REQUIRED: Final = {
    "filesystem": ("landlock-fs", "dedicated-user"),
    "network": ("netns", "landlock-net"),
}


@dataclass(frozen=True)
class Limits:
    """What one worker may use."""

    workers: int
    memory_bytes: int
    cpu_seconds: int
    timeout_seconds: float


@dataclass(frozen=True)
class _Outcome:
    """What a task sends back: a rendering, or the reason it could not be made (exceptions
    with keyword parameters do not pickle)."""

    rendering: Rendering | None = None
    reason: str = ""
    params: dict[str, str | int] | None = None
    template: bytes | None = None  # the DICOM JSON template (hds.dicom.template)


@dataclass(frozen=True)
class Prepared:
    """A file's preview or why there is none, and its DICOM JSON template if one was made."""

    outcome: Rendering | RenderError
    template: bytes | None

    def rendering(self) -> Rendering:
        """The preview; ``RenderError`` says why there is none."""
        if isinstance(self.outcome, RenderError):
            raise self.outcome
        return self.outcome


def _render_file(data: bytes, max_size: int, max_frames: int, describe: bool = False) -> _Outcome:
    """In the worker: parse and render (and with ``describe`` make the DICOM JSON template
    first); errors come back as values (they pickle simply)."""
    from pydicom import dcmread

    from hds.dicom.template import template_of_file

    template = template_of_file(data) if describe else None
    try:
        ds = dcmread(BytesIO(data), force=True)
        result = render_dataset(ds, max_size=max_size, max_frames=max_frames)
    except RenderError as exc:
        return _Outcome(reason=exc.reason, params=dict(exc.params), template=template)
    except MemoryError:
        reason = gettext_noop("The image is too large for a preview")
        return _Outcome(reason=reason, template=template)
    except Exception:
        reason = gettext_noop("This image could not be rendered")
        return _Outcome(reason=reason, template=template)
    return _Outcome(rendering=result, template=template)


@dataclass(frozen=True)
class _Result:
    """What ``_call`` sends back: the value, or the reason the call failed."""

    value: Any = None
    reason: str = ""
    params: dict[str, str | int] | None = None
    failed: bool = False


def _call(function: Callable[..., Any], args: tuple[Any, ...]) -> _Result:
    """In the worker: run ``function``; any failure comes back as a reason (a decoder's
    exception may carry file content, so only ``RenderError`` reasons pass on)."""
    try:
        return _Result(value=function(*args))
    except RenderError as exc:
        return _Result(reason=exc.reason, params=dict(exc.params), failed=True)
    except MemoryError:
        return _Result(reason=gettext_noop("The image is too large for a preview"), failed=True)
    except Exception:
        return _Result(reason=gettext_noop("This image could not be rendered"), failed=True)


def _unwrap(result: _Result) -> Any:
    if result.failed:
        raise RenderError(result.reason, **(result.params or {}))
    return result.value


def call_here(function: Callable[..., T], *args: Any) -> T:
    """``RenderPool.call`` without a worker (``HDS_RENDER_WORKERS=0``): the same errors, none
    of the limits."""
    return cast(T, _unwrap(_call(function, args)))


def missing_protections(layers: Sequence[Layer]) -> list[str]:
    """What a production start needs and ``layers`` lack, in words for an operator."""
    active = {layer.name for layer in layers if layer.active}
    missing = [
        f"{need} isolation ({' or '.join(names)})"
        for need, names in _REQUIRED.items()
        if not active.intersection(names)
    ]
    missing += [
        f"protection of the data folder ({layer.detail})"
        for layer in layers
        if layer.name == "protected-paths" and not layer.active
    ]
    return missing


def log_layers(layers: Sequence[Layer]) -> None:
    """Log every missing layer (a warning) and every missing protection (an error)."""
    for layer in layers:
        if not layer.active:
            logger.warning("Render sandbox: layer %s is not active: %s", layer.name, layer.detail)
    for missing in missing_protections(layers):
        logger.error("Render sandbox: render workers run without %s", missing)


class RenderPool:
    """A pool of isolated render workers, replaced whole when a task hangs or a worker dies.

    ``protected``: paths the workers must not read (data folder, secrets, database); the
    start-up probe checks them and logs what is missing."""

    def __init__(
        self,
        limits: Limits,
        policy: Policy | None = None,
        protected: Sequence[str] = (),
        *,
        report: bool = True,
    ) -> None:
        self.limits = limits
        self.policy = policy or Policy()
        self.protected = tuple(protected)
        self._report = report
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.limits.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=confine.isolate,
                    initargs=(self.limits.memory_bytes, self.limits.cpu_seconds, self.policy),
                    max_tasks_per_child=_TASKS_PER_WORKER,
                )
                if self._report:
                    # The start-up probe: log what the first worker lacks, without waiting.
                    probe = self._pool.submit(confine.worker_layers, self.protected)
                    probe.add_done_callback(_log_probe)
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Kill the workers of ``pool`` (a task hangs or the pool broke); the next call starts
        a new pool."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
        processes = list(getattr(pool, "_processes", {}).values())
        for process in processes:
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def render(self, data: bytes, *, max_size: int = 2048, max_frames: int = 2000) -> Rendering:
        """Render a DICOM file's frames in a worker; ``RenderError`` says why it could not."""
        return self.prepare(
            data, max_size=max_size, max_frames=max_frames, describe=False
        ).rendering()

    def prepare(
        self, data: bytes, *, max_size: int = 2048, max_frames: int = 2000, describe: bool = True
    ) -> Prepared:
        """Render a DICOM file's frames in a worker and, with ``describe``, make its DICOM
        JSON template there too (no template when the worker hangs or dies)."""
        try:
            outcome = self._submit(_render_file, data, max_size, max_frames, describe)
        except RenderError as exc:
            return Prepared(exc, None)
        if outcome.rendering is None:
            error = RenderError(outcome.reason, **(outcome.params or {}))
            return Prepared(error, outcome.template)
        return Prepared(outcome.rendering, outcome.template)

    def _submit(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` in a worker; a task that hangs or kills its worker raises
        ``RenderError`` and costs the pool, which is replaced."""
        pool = self._executor()
        future: Future[T]
        try:
            future = pool.submit(function, *args)
            return future.result(timeout=self.limits.timeout_seconds)
        except FutureTimeout:
            self._discard(pool)
            logger.warning("A render task took too long; its worker pool was replaced")
            raise RenderError(gettext_noop("Rendering took too long")) from None
        except BrokenProcessPool:
            self._discard(pool)
            logger.warning("A render worker died; its pool was replaced")
            raise RenderError(gettext_noop("This image could not be rendered")) from None

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` (a module-level function of a module that imports no
        Django) in a worker and return its value; any failure raises ``RenderError`` with a
        reason fit for a user and nothing of the file in it."""
        return cast(T, _unwrap(self._submit(_call, function, args)))

    def probe_layers(self, protected: Sequence[str] | None = None) -> list[Layer]:
        """The layers a worker got, and whether it can read any of ``protected`` (by default
        the pool's own list) as a last layer "protected-paths"."""
        paths = self.protected if protected is None else tuple(protected)
        pool = self._executor()
        try:
            future = pool.submit(confine.worker_layers, paths)
            return list(future.result(timeout=max(60.0, self.limits.timeout_seconds)))
        except (BrokenProcessPool, FutureTimeout):
            self._discard(pool)
            return [Layer("worker", False, "a render worker did not start or did not answer")]

    def close(self) -> None:
        """Stop the workers."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _log_probe(future: Future[list[Layer]]) -> None:
    if future.cancelled() or future.exception() is not None:
        logger.error("Render sandbox: the start-up probe of a render worker failed")
        return
    log_layers(future.result())


def protected_paths(data_dir: Path, database: str | Path | None = None) -> list[str]:
    """What no render worker may read: the data folder, its secrets (each file), the SQLite
    database and the secret files that ``HDS_*_FILE`` variables name."""
    secrets = data_dir / "secrets"
    paths = [data_dir, secrets, data_dir / "hds.sqlite3"]
    with contextlib.suppress(OSError):
        paths += sorted(secrets.iterdir())
    if database:
        paths.append(Path(database))
    paths += [Path(os.environ[name]) for name in _SECRET_FILES if os.environ.get(name)]
    return list(dict.fromkeys(str(path) for path in paths))


def _environment_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def sandbox_layers(
    limits: Limits | None = None,
    policy: Policy | None = None,
    protected: Sequence[str] | None = None,
) -> list[Layer]:
    """Start a throwaway one-worker pool, ask it which layers it got and close it (``hds
    check``, production start). Without arguments the limits, user and data folder come from
    ``HDS_RENDER_MEMORY_MB``, ``HDS_RENDER_USER`` and ``HDS_DATA_DIR`` as the settings read
    them (not their ``_FILE`` forms)."""
    if limits is None:
        memory = _environment_int("HDS_RENDER_MEMORY_MB", 3072) * 1024 * 1024
        limits = Limits(workers=1, memory_bytes=memory, cpu_seconds=3600, timeout_seconds=120)
    if policy is None:
        policy = Policy(user=os.environ.get("HDS_RENDER_USER") or "nobody")
    if protected is None:
        protected = protected_paths(Path(os.environ.get("HDS_DATA_DIR") or "var").resolve())
    pool = RenderPool(replace(limits, workers=1), policy, protected, report=False)
    try:
        return pool.probe_layers()
    finally:
        pool.close()


class SandboxRefused(RuntimeError):
    """Production would decode untrusted DICOM without isolation."""


def require_isolation(
    production: bool,
    allow_unsandboxed: bool,
    *,
    workers: int,
    layers: Callable[[], Sequence[Layer]] = sandbox_layers,
) -> None:
    """Raise ``SandboxRefused`` (a one-line message) in production when rendering would run
    in-process (``workers == 0``) or the workers lack filesystem or network isolation, unless
    ``HDS_ALLOW_UNSANDBOXED`` accepts that risk; missing layers are logged either way."""
    if not production:
        return
    escape = "set HDS_ALLOW_UNSANDBOXED=1 to accept the risk"
    if workers == 0:
        if allow_unsandboxed:
            logger.error("Render sandbox: HDS_RENDER_WORKERS=0 decodes DICOM in this process")
            return
        raise SandboxRefused(
            f"HDS_RENDER_WORKERS=0 decodes untrusted DICOM in the web process; {escape}."
        )
    found = layers()
    log_layers(found)
    missing = missing_protections(found)
    if missing and not allow_unsandboxed:
        raise SandboxRefused(
            f"render workers lack {'; '.join(missing)} (see `hds check`); {escape}."
        )
