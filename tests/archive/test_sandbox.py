"""Untrusted DICOM is rendered in isolated worker processes with limits (SECURITY.md §3.12)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hds.archive.rendering import RenderError, make_thumbnail
from hds.archive.sandbox import Limits, RenderPool, call_here
from hds.dicomweb.pixels import transcode
from tests.archive.factories import ct_series


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    render_pool = RenderPool(
        Limits(workers=1, memory_bytes=3 * 1024**3, cpu_seconds=600, timeout_seconds=60)
    )
    yield render_pool
    render_pool.close()


def test_a_worker_renders_a_ct_slice(pool: RenderPool) -> None:
    rendering = pool.render(ct_series(1)[0])
    assert len(rendering.frames) == 1
    assert rendering.frames[0].startswith(b"\xff\xd8")


def test_errors_come_back_as_translatable_reasons(pool: RenderPool) -> None:
    data = ct_series(1)[0]
    cut = data[: len(data) - 2000]  # pixel data cut short
    with pytest.raises(RenderError) as info:
        pool.render(cut)
    assert info.value.reason in {
        "Pixel data is truncated or corrupt",
        "This image could not be rendered",
    }


def test_a_task_over_its_time_gets_its_pool_replaced() -> None:
    slow = RenderPool(
        Limits(workers=1, memory_bytes=3 * 1024**3, cpu_seconds=600, timeout_seconds=0.001)
    )
    try:
        with pytest.raises(RenderError, match="took too long"):
            slow.render(ct_series(1)[0])
        slow.limits = Limits(
            workers=1, memory_bytes=3 * 1024**3, cpu_seconds=600, timeout_seconds=60
        )
        assert len(slow.render(ct_series(1)[0]).frames) == 1  # a fresh pool works
    finally:
        slow.close()


def test_call_runs_the_function_in_a_worker(pool: RenderPool) -> None:
    assert pool.call(os.getpid) != os.getpid()
    jpeg = pool.render(ct_series(1)[0]).frames[0]
    thumbnail = pool.call(make_thumbnail, jpeg)
    assert thumbnail.startswith(b"\xff\xd8")
    assert thumbnail != jpeg


def test_a_failed_call_gives_a_reason_and_nothing_of_the_file(pool: RenderPool) -> None:
    # A decoder's own message may quote the file; only a fixed reason comes back.
    with pytest.raises(RenderError) as info:
        pool.call(transcode, b"PATIENT-SECRET" * 100)
    assert info.value.reason == "This image could not be rendered"
    assert "SECRET" not in str(info.value)
    # A RenderError raised in the worker keeps its own reason.
    with pytest.raises(RenderError, match="Not a readable JPEG image"):
        pool.call(make_thumbnail, b"not a jpeg")
    # call_here (no workers) fails the same way.
    with pytest.raises(RenderError) as here:
        call_here(transcode, b"PATIENT-SECRET" * 100)
    assert here.value.reason == info.value.reason
