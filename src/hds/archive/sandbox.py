"""Rendering and any other decoding of untrusted DICOM in separate worker processes
(SECURITY.md §3.12, ASVS 5.2.6).

Pixel decoders are C code fed with files from anyone. They run in a small pool of worker
processes, never in the web process: each worker has an address-space limit, a CPU-time limit,
no core dumps and, where the kernel lets an unprivileged process make one, a network namespace
of its own with no interfaces. A task that runs too long has its pool killed and replaced; a
worker that crashes (a decoder's segfault) costs its task only. Files travel through pipes, so
nothing reaches the disk. ``HDS_RENDER_WORKERS=0`` renders in-process (tests of rendering
itself, tiny sites); the limits then do not apply.

This module imports no Django: the workers start with a fresh interpreter (spawn) that loads
only what rendering needs.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Final, TypeVar, cast

from hds.archive.rendering import RenderError, Rendering, gettext_noop, render_dataset

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000
# A worker is replaced after this many files, so slow leaks in decoders stay bounded.
_TASKS_PER_WORKER: Final = 500


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
    template: bytes | None = None  # the DICOM JSON template (hds.dicomweb.template)


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


def _isolate(memory_bytes: int, cpu_seconds: int) -> None:
    """Worker initializer: resource limits, no core dumps, no network if possible."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # The soft limit sends SIGXCPU (the worker dies, the pool notices); counted per process,
    # so workers are recycled after _TASKS_PER_WORKER tasks.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
    except (OSError, AttributeError):
        # Unprivileged user namespaces are off on this host: the other limits still apply.
        pass


def network_is_isolated() -> bool:
    """In a worker: whether this process has no network interface but loopback (for tests)."""
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return False
    return names == ["lo"]


def _render_file(data: bytes, max_size: int, max_frames: int, describe: bool = False) -> _Outcome:
    """In the worker: parse and render (and with ``describe`` make the DICOM JSON template
    first); errors come back as values (they pickle simply)."""
    from pydicom import dcmread

    from hds.dicomweb.template import template_of_file

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


def _probe() -> bool:
    return network_is_isolated()


class RenderPool:
    """A pool of isolated render workers, replaced whole when a task hangs or a worker dies."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.limits.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_isolate,
                    initargs=(self.limits.memory_bytes, self.limits.cpu_seconds),
                    max_tasks_per_child=_TASKS_PER_WORKER,
                )
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

    def probe_isolation(self) -> bool:
        """Whether the workers run without a network (asks one of them)."""
        return bool(self._executor().submit(_probe).result(timeout=60))

    def close(self) -> None:
        """Stop the workers."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
