"""Upload intake (docs/security.md, Upload memory and spool): refusals before the body
is read, the per-process in-flight budget, and the encrypted spool, against the live server."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.servers import basehttp
from django.test import Client
from pydicom.uid import generate_uid

from hds import cli
from hds.accounts.apitokens import create_token
from hds.accounts.models import Account
from hds.accounts.services import unlock_master_secret
from hds.archive import intake
from hds.archive.models import Item
from hds.core.spool import Spool
from hds.dicomweb.multipart import iter_parts, iter_streamed_parts
from tests.archive.factories import ct_slice
from tests.conftest import Persona

MiB = 1024 * 1024
BOUNDARY = "intake-test-boundary"
MARKER = b"INTAKE-PIXEL-MARKER-0815"


# ------------------------------------------------------------------------------- helpers


def form_body(data: bytes, name: str = "scan.dcm") -> bytes:
    """A multipart/form-data body with one ``file`` and its ``path``, as the client sends it."""
    return b"".join(
        [
            f"--{BOUNDARY}\r\n".encode(),
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            data,
            f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="path"\r\n\r\n'.encode(),
            name.encode(),
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ]
    )


FORM_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def head(
    path: str, token: str, length: int, content_type: str = FORM_TYPE, host: str = "localhost"
) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "localhost", parts.port or 80))
    sock.settimeout(60)
    return sock


def response_of(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers and JSON body of the answer on ``sock``."""
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    body = answer.read()
    return answer.status, dict(answer.getheaders()), json.loads(body) if body else {}


def post(url: str, path: str, token: str, body: bytes) -> tuple[int, dict[str, str], Any]:
    """Send headers and the whole body (without copying it), then read the answer."""
    with connect(url) as sock:
        sock.sendall(head(path, token, len(body)))
        with contextlib.suppress(OSError):  # an early answer may close the connection
            sock.sendall(memoryview(body))
        return response_of(sock)


def spool_fds(directory: Path) -> list[str]:
    """The open descriptors of this process (the live server runs in it) into ``directory``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(directory)):
                found.append(fd)
    return found


def wait_for(condition: Any, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@pytest.fixture
def token(alice: Persona) -> str:
    ams = unlock_master_secret(alice.account, alice.password)
    return create_token(alice.account, ams, name="intake test").text


@pytest.fixture
def spool_dir(tmp_path: Path, settings: Any) -> Path:
    settings.UPLOAD_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


@pytest.fixture
def chunked_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's test server discards an unread body with one ``read()`` of all of it (one
    allocation the size of the body); gunicorn discards in 1 KiB reads. Drain like gunicorn, so
    that the memory measured is the application's."""

    def close(self: basehttp.ServerHandler) -> None:
        stdin = self.get_stdin()
        with contextlib.suppress(OSError):
            while stdin.read(65536):
                pass
        super(basehttp.ServerHandler, self).close()

    monkeypatch.setattr(basehttp.ServerHandler, "close", close)


# ------------------------------------------------------------------------ in-flight budget


def test_the_budget_waits_and_then_gives_up() -> None:
    budget = intake.InflightBytes()
    assert budget.acquire(6, capacity=10, timeout=0) == 6
    started = time.monotonic()
    assert budget.acquire(5, capacity=10, timeout=0.2) is None
    assert time.monotonic() - started >= 0.2
    threading.Timer(0.1, budget.release, args=(6,)).start()
    assert budget.acquire(5, capacity=10, timeout=5) == 5  # woken by the release
    budget.release(5)
    assert budget.used == 0


def test_a_body_larger_than_the_budget_runs_alone() -> None:
    budget = intake.InflightBytes()
    assert budget.acquire(1, capacity=10, timeout=0) == 1
    assert budget.acquire(50, capacity=10, timeout=0.05) is None
    budget.release(1)
    assert budget.acquire(50, capacity=10, timeout=0) == 10
    assert budget.acquire(1, capacity=10, timeout=0) is None
    budget.release(10)


# ----------------------------------------------------------------------------------- spool


def test_a_small_file_stays_in_memory_and_is_handed_out_without_a_copy(spool_dir: Path) -> None:
    spool = Spool(threshold=MiB)
    spool.write(b"x" * 1000)
    spool.finish()
    assert not spool.on_disk
    assert spool.getvalue() is spool.getvalue()  # the buffer itself, not copies
    assert not spool_dir.exists() or not os.listdir(spool_dir)


def test_a_large_file_goes_to_a_nameless_encrypted_file(spool_dir: Path) -> None:
    data = MARKER * (3 * MiB // len(MARKER))
    spool = Spool(threshold=MiB)
    for start in range(0, len(data), 65536):
        spool.write(data[start : start + 65536])
    spool.finish()
    assert spool.on_disk
    assert os.listdir(spool_dir) == []  # no name in the folder, not even while open
    (fd,) = spool_fds(spool_dir)
    with open(f"/proc/self/fd/{fd}", "rb") as on_disk:
        ciphertext = on_disk.read()
    assert len(ciphertext) >= len(data)
    assert MARKER not in ciphertext

    tracemalloc.start()
    try:
        value = spool.getvalue()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert value == data
    assert peak < len(data) + MiB // 2  # one copy and a segment, not two copies
    with spool.open() as file:
        file.seek(len(data) - 5)
        assert file.read() == data[-5:]
    spool.close()
    assert spool_fds(spool_dir) == []


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20, 3 << 20])
def test_streamed_parts_match_the_parsed_parts(step: int, spool_dir: Path) -> None:
    # Boundary-like text inside the content, and parts around the read chunk size.
    tricky = b"\r\n--" + BOUNDARY.encode() + b"X not a delimiter"
    contents = [b"", b"abc", tricky * 3, os.urandom((1 << 20) + 17) + tricky, os.urandom(3 << 20)]
    body = b"".join(
        b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + c + b"\r\n"
        for c in contents
    )
    body += b"--" + BOUNDARY.encode() + b"--\r\n"

    def reader() -> Any:
        stream = BytesIO(body)
        return lambda n: stream.read(min(n, step))

    expected = [p.data for p in iter_parts(reader(), BOUNDARY)]
    streamed = list(iter_streamed_parts(reader(), BOUNDARY, lambda: Spool(threshold=MiB)))
    assert [p.body.getvalue() for p in streamed] == expected == contents
    assert [p.body.on_disk for p in streamed] == [False, False, False, True, True]
    for part in streamed:
        part.body.close()


def test_a_streamed_part_is_never_held_whole(spool_dir: Path) -> None:
    content = os.urandom(24 * MiB)
    body = b"".join(
        [b"--", BOUNDARY.encode(), b"\r\n\r\n", content, b"\r\n--", BOUNDARY.encode(), b"--"]
    )
    stream = BytesIO(body)
    del content
    tracemalloc.start()
    try:
        (part,) = iter_streamed_parts(stream.read, BOUNDARY, lambda: Spool(threshold=MiB))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert part.body.size == 24 * MiB
    assert peak < 6 * MiB  # read chunks and one spool segment, not 24 MiB (or 48)
    part.body.close()


# --------------------------------------------------------------- refusals before reading


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/uploads", "/dicomweb/studies"])
def test_an_upload_larger_than_the_free_storage_is_refused_before_its_body(
    path: str, live_server: Any, token: str, alice: Persona
) -> None:
    Account.objects.filter(pk=alice.account.pk).update(quota_bytes=10 * MiB)
    content_type = FORM_TYPE if path.startswith("/api/") else STOW_TYPE
    with connect(live_server.url) as sock:
        sock.settimeout(5)  # the answer must come while the body has not been sent
        sock.sendall(head(path, token, 500 * MiB, content_type) + b"--" + BOUNDARY.encode())
        started = time.monotonic()
        status, headers, body = response_of(sock)
    assert time.monotonic() - started < 3
    assert status == 413
    assert body["detail"].startswith("Not enough storage: 490.0 MB more space is needed.")
    assert body["missing_bytes"] == 490 * MiB
    assert body["results"] == []
    if path.startswith("/dicomweb/"):
        assert headers["Warning"].startswith('299 HDS: "Not enough storage')


@pytest.mark.django_db(transaction=True)
def test_an_upload_above_the_size_limit_is_refused_before_its_body(
    live_server: Any, token: str, settings: Any
) -> None:
    settings.MAX_UPLOAD_FILE_BYTES = 4 * MiB
    with connect(live_server.url) as sock:
        sock.settimeout(5)
        sock.sendall(head("/api/v1/uploads", token, 5 * MiB))
        status, _headers, body = response_of(sock)
    assert status == 413
    assert body["detail"] == "This file is larger than the server accepts."


@pytest.mark.django_db(transaction=True)
def test_a_session_upload_over_quota_is_refused_without_reading(
    alice_client: Client, alice: Persona
) -> None:
    """The session path (browser uploader): the test client's body would raise if read past
    its 10 bytes, so a 413 proves the body was not read (not even by the CSRF check)."""
    Account.objects.filter(pk=alice.account.pk).update(quota_bytes=MiB)
    response = alice_client.generic(
        "POST", "/api/v1/uploads", b"0123456789", FORM_TYPE, CONTENT_LENGTH=str(100 * MiB)
    )
    assert response.status_code == 413
    assert response.json()["missing_bytes"] == 99 * MiB


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/uploads", "/api/v1/uploads/plan", "/dicomweb/studies"])
@pytest.mark.parametrize("authorization", ["", "Bearer hds_not-a-token"])
def test_an_unauthenticated_upload_is_refused_without_reading(
    client: Client, path: str, authorization: str
) -> None:
    """No account, no reading: django-ninja's session auth would run the CSRF check, which
    parses the whole body, before it finds that nobody is logged in."""
    response = client.generic(
        "POST",
        path,
        b"0123456789",
        FORM_TYPE,
        headers={"Authorization": authorization} if authorization else None,
        CONTENT_LENGTH=str(100 * MiB),
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="HDS"'


@pytest.mark.django_db(transaction=True)
def test_an_upload_a_little_over_the_free_storage_is_read_and_stored_in_part(
    live_server: Any, token: str, alice: Persona
) -> None:
    """Within the slack the body is read: files already stored need no space, and the answer
    says per file what fit (the CLI client's 'stops when the storage is full')."""
    data = ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), index=0, size=256)
    Account.objects.filter(pk=alice.account.pk).update(quota_bytes=len(data) // 2)
    status, _headers, body = post(live_server.url, "/api/v1/uploads", token, form_body(data))
    assert status == 413
    assert body["results"][0]["status"] == "error"
    assert "missing_bytes" not in body  # the view's own answer, after reading


@pytest.mark.django_db(transaction=True)
def test_the_cli_client_shows_the_early_refusal_per_file(
    *,
    live_server: Any,
    token: str,
    alice: Persona,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``hds upload`` (unchanged) reads the early 413 like any 413 without results: the file
    fails with the server's message, and the next group goes on."""
    folder = tmp_path / "cd"
    folder.mkdir()
    (folder / "big.dcm").write_bytes(  # about 9.2 MiB: alone in its group
        ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), index=0, size=2200)
    )
    small = ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), index=0, size=64)
    (folder / "small.dcm").write_bytes(small)
    Account.objects.filter(pk=alice.account.pk).update(quota_bytes=len(small) + 1000)
    monkeypatch.setenv("HDS_TOKEN", token)

    code = cli.main(["upload", "--server", live_server.url, str(folder)])

    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert "Not enough storage" in out
    assert "2 files: 1 stored, 0 duplicate, 1 failed" in out
    assert Item.objects.filter(study__holdings__account=alice.account).count() == 1


# ----------------------------------------------------------- memory under concurrent load


@pytest.mark.django_db(transaction=True)
def test_eight_clients_at_once_stay_within_the_inflight_bound(
    *,
    live_server: Any,
    token: str,
    alice: Persona,
    settings: Any,
    spool_dir: Path,
    chunked_drain: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bound = 16 * MiB
    settings.UPLOAD_INFLIGHT_BYTES = bound
    settings.UPLOAD_INFLIGHT_WAIT_SECONDS = 1
    settings.UPLOAD_SPOOL_BYTES = MiB
    # About 5.5 MiB each: two fit into the bound at a time; 8 together are 44 MiB. One study
    # each: parallel uploads into one new study race to create it, and the losing request's
    # parsed file then waits for the garbage collector (an IntegrityError's reference cycle).
    bodies = [
        form_body(ct_slice(study_uid=generate_uid(), series_uid=generate_uid(), index=0, size=1700))
        for _ in range(8)
    ]
    file_bytes = len(bodies[0])
    reserved: list[int] = []
    waits: list[float] = []
    acquire = intake.INFLIGHT.acquire

    def recording_acquire(amount: int, *, capacity: int, timeout: float) -> int | None:
        started = time.monotonic()
        got = acquire(amount, capacity=capacity, timeout=timeout)
        if got is not None:
            reserved.append(intake.INFLIGHT.used)
            waits.append(time.monotonic() - started)
        return got

    monkeypatch.setattr(intake.INFLIGHT, "acquire", recording_acquire)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client(body: bytes) -> None:
        for _attempt in range(40):
            status, headers, _json = post(live_server.url, "/api/v1/uploads", token, body)
            with lock:
                answers.append((status, headers.get("Retry-After")))
            if status != 503:
                return
            time.sleep(0.2)  # Retry-After says 5 s; the test does not wait that long

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        threads = [threading.Thread(target=client, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()

    statuses = [status for status, _ in answers]
    assert statuses.count(200) == 8, answers
    assert set(statuses) <= {200, 503}
    assert statuses.count(503) > 0 or max(waits) > 0.1  # the budget made some wait or retry
    assert all(retry == "5" for status, retry in answers if status == 503)
    assert max(reserved) <= bound
    assert Item.objects.filter(study__holdings__account=alice.account).count() == 8
    print(
        f"\nbodies {file_bytes / MiB:.1f} MiB x 8, bound {bound / MiB:.0f} MiB, "
        f"503 answers {statuses.count(503)}, longest wait {max(waits):.2f} s, "
        f"max reserved {max(reserved) / MiB:.1f} MiB, "
        f"peak traced {peak / MiB:.1f} MiB = {peak / bound:.2f} x bound"
    )
    # The bodies held are bounded by the budget. Ingest's own working copies of the bodies it
    # stores come on top (pydicom's PixelData, the pickled argument of the render worker: two
    # more copies of what the budget admits), and multiprocessing's feeder thread keeps the last
    # pickled task (one file). Without the budget all 8 would be in ingest at once: about
    # 8 x 3 x 5.5 = 132 MiB.
    assert peak < 3 * bound + file_bytes + 2 * MiB
    assert intake.INFLIGHT.used == 0
    assert os.listdir(spool_dir) == []


# ------------------------------------------------------------------ the spool in a request


@pytest.mark.django_db(transaction=True)
def test_a_large_upload_is_spooled_as_ciphertext_and_leaves_nothing(
    live_server: Any, token: str, alice: Persona, settings: Any, spool_dir: Path
) -> None:
    settings.UPLOAD_SPOOL_BYTES = MiB
    data = ct_slice(
        study_uid=generate_uid(), series_uid=generate_uid(), index=0, size=1200, marker=MARKER
    )
    body = form_body(data)
    half = len(body) // 2
    with connect(live_server.url) as sock:
        sock.sendall(head("/api/v1/uploads", token, len(body)) + body[:half])
        assert wait_for(lambda: len(spool_fds(spool_dir)) == 1)
        (fd,) = spool_fds(spool_dir)
        assert os.listdir(spool_dir) == []  # open, but without a name
        time.sleep(0.2)  # let the server take in what was sent
        with open(f"/proc/self/fd/{fd}", "rb") as on_disk:
            ciphertext = on_disk.read()
        assert len(ciphertext) > MiB
        assert MARKER not in ciphertext
        assert MARKER in body[:half]
        sock.sendall(body[half:])
        status, _headers, answer = response_of(sock)
    assert status == 200, answer
    assert answer["results"][0]["status"] == "stored"
    assert wait_for(lambda: spool_fds(spool_dir) == [])
    assert os.listdir(spool_dir) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/uploads", "/dicomweb/studies"])
def test_an_interrupted_upload_leaves_nothing_and_frees_its_budget(
    *, path: str, live_server: Any, token: str, alice: Persona, settings: Any, spool_dir: Path
) -> None:
    settings.UPLOAD_SPOOL_BYTES = MiB
    data = ct_slice(
        study_uid=generate_uid(), series_uid=generate_uid(), index=0, size=1200, marker=MARKER
    )
    if path.startswith("/api/"):
        body, content_type = form_body(data), FORM_TYPE
    else:
        body = b"".join(
            [b"--", BOUNDARY.encode(), b"\r\nContent-Type: application/dicom\r\n\r\n", data]
        )
        body += b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
        content_type = STOW_TYPE
    with connect(live_server.url) as sock:
        # STOW-RS reads 1 MiB at a time: send enough for two reads, so that the part spills.
        sock.sendall(head(path, token, len(body), content_type) + body[: len(body) - 1000])
        assert wait_for(lambda: intake.INFLIGHT.used > 0)
        assert wait_for(lambda: len(spool_fds(spool_dir)) == 1)
        sock.shutdown(socket.SHUT_RDWR)

    assert wait_for(lambda: intake.INFLIGHT.used == 0)
    assert wait_for(lambda: spool_fds(spool_dir) == [])
    assert os.listdir(spool_dir) == []
    assert not Item.objects.filter(study__holdings__account=alice.account).exists()


@pytest.fixture(autouse=True)
def _no_budget_left_over() -> Iterator[None]:
    yield
    assert intake.INFLIGHT.used == 0
