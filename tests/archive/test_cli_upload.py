"""``hds upload``: the real client against the live test server, with a real account and token."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.core.signals import request_started
from pydicom import dcmread
from typing_extensions import override

from hds import cli
from hds.accounts.apitokens import create_token, revoke_token
from hds.accounts.models import Account, ApiToken
from hds.accounts.services import unlock_master_secret
from hds.archive.models import Holding, Item
from hds.client import upload_command
from hds.dicom.dicomdir import build_dicomdir, dicomdir_entry_from_dataset, file_id_for
from tests.archive.factories import PDF, ct_series
from tests.conftest import Persona

pytestmark = pytest.mark.django_db(transaction=True)

FAST_RETRIES = (0.05, 0.05, 0.05)


@pytest.fixture
def token(alice: Persona) -> str:
    ams = unlock_master_secret(alice.account, alice.password)
    return create_token(alice.account, ams, name="hds upload test").text


@pytest.fixture
def server(live_server: Any, token: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The live server's address; the token is in HDS_TOKEN, as a user would set it."""
    monkeypatch.setenv("HDS_TOKEN", token)
    return str(live_server.url)


@pytest.fixture
def upload_requests() -> Iterator[list[str]]:
    """The paths of the upload requests the server received (counted on the server side)."""
    seen: list[str] = []

    def record(sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        if environ.get("PATH_INFO") == "/api/v1/uploads":
            seen.append(environ["PATH_INFO"])

    request_started.connect(record, weak=False, dispatch_uid="test_cli_upload")
    yield seen
    request_started.disconnect(dispatch_uid="test_cli_upload")


def stored_instances(account: Account) -> int:
    return Item.objects.filter(study__holdings__account=account, kind="instance").count()


def write_series(folder: Path, count: int, **kwargs: object) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(ct_series(count, **kwargs)):
        path = folder / f"IM{i:04d}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def output(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Standard output and standard error, each with its line wrapping undone."""
    captured = capsys.readouterr()
    return captured.out, " ".join(captured.err.split())


def row(out: str, name: str) -> str:
    """The result table's line of the file ``name``."""
    (line,) = [line for line in out.splitlines() if f" {name} " in line]
    return line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------- flows


def test_folder_upload_stores_good_files_and_lists_bad_ones_with_reasons(
    server: str, alice: Persona, token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cd = tmp_path / "cd"
    write_series(cd / "series1", 3, patient_name="Secret^Sally", description="CT Knee")
    (cd / "notes.txt").write_bytes(b"this is not an image, just some notes " * 10)
    truncated = ct_series(1, description="CT Broken")[0]
    (cd / "series2").mkdir()
    (cd / "series2" / "IM0000").write_bytes(truncated[: len(truncated) - 3000])
    (cd / ".hidden").write_bytes(ct_series(1, description="CT Hidden")[0])  # never sent
    (cd / "Thumbs.db").write_bytes(b"junk")  # never sent

    code = cli.main(["upload", "--server", server, str(cd)])

    out, err = output(capsys)
    assert code == 1
    for n in range(3):
        assert "stored" in row(out, f"cd/series1/IM{n:04d}")
    assert "error" in row(out, "cd/notes.txt")
    assert "not a DICOM file" in row(out, "cd/notes.txt")
    assert "The DICOM file is truncated" in row(out, "cd/series2/IM0000")
    assert ".hidden" not in out
    assert "Thumbs.db" not in out
    assert "5 files: 3 stored, 0 duplicate, 2 failed (1 upload request in" in out
    assert "Studies: http" in out
    assert "Skipped 1 empty or system file." in err
    assert "Secret" not in out + err  # the patient's name is not shown
    assert token not in out + err
    # The study really is in Alice's documents, with its three images and nothing else.
    (holding,) = Holding.objects.filter(account=alice.account)
    assert Item.objects.filter(study=holding.study).count() == 3
    assert f"/documents/{holding.study.id}/" in out


def test_the_same_folder_again_comes_back_as_duplicates(
    server: str, alice: Persona, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_series(tmp_path / "cd", 4)
    assert cli.main(["upload", "--server", server, str(tmp_path / "cd")]) == 0
    first, _ = output(capsys)
    assert "4 stored, 0 duplicate, 0 failed" in first

    assert cli.main(["upload", "--server", server, str(tmp_path / "cd")]) == 0

    again, _ = output(capsys)
    assert "4 files: 0 stored, 4 duplicate, 0 failed" in again
    assert "Already in your documents." in row(again, "cd/IM0003")
    assert stored_instances(alice.account) == 4


def test_many_files_go_up_in_groups_of_sixteen(
    *,
    live_server: Any,
    alice: Persona,
    token: str,
    tmp_path: Path,
    upload_requests: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "many", 20)
    monkeypatch.delenv("HDS_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))

    code = cli.main(
        ["upload", "--server", live_server.url, "--token-stdin", str(tmp_path / "many")]
    )

    out, _ = output(capsys)
    assert code == 0
    assert len(upload_requests) == 2  # 16 + 4
    assert "20 files: 20 stored" in out
    assert stored_instances(alice.account) == 20
    names = [line.split("│")[1].strip() for line in out.splitlines() if "│ stored" in line]
    assert names == [f"many/IM{n:04d}" for n in range(20)]  # in order, each with its result


def test_a_cd_sends_only_the_files_its_dicomdir_lists(
    server: str, alice: Persona, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cd = tmp_path / "cdrom"
    instances = []
    for n, data in enumerate(ct_series(3, description="CT Listed")):
        file_id = file_id_for(1, n + 1)
        path = cd.joinpath(*file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        instances.append(dicomdir_entry_from_dataset(dcmread(path), file_id))
    (cd / "DICOMDIR").write_bytes(build_dicomdir(instances))
    (cd / "VIEWER").mkdir()
    (cd / "VIEWER" / "viewer.exe").write_bytes(b"MZ not an image " * 100)  # not listed: not sent

    # The DICOMDIR given by itself stands for its CD.
    assert cli.main(["upload", "--server", server, str(cd / "DICOMDIR")]) == 0

    out, err = output(capsys)
    assert (
        "Found 1 DICOMDIR (CD index): sending the files it lists; 1 file it does not list left out"
        in err
    )
    assert "3 files: 3 stored, 0 duplicate, 0 failed" in out
    assert "DICOMDIR" not in out
    assert "viewer.exe" not in out
    assert stored_instances(alice.account) == 3


def test_pdfs_are_attached_to_the_study_given(
    server: str, alice: Persona, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_series(tmp_path / "ct", 1)
    assert cli.main(["upload", "--server", server, str(tmp_path / "ct")]) == 0
    study = Holding.objects.get(account=alice.account).study
    (tmp_path / "report.pdf").write_bytes(PDF)
    capsys.readouterr()

    code = cli.main(
        ["upload", "--server", server, "--study", str(study.id), str(tmp_path / "report.pdf")]
    )

    out, _ = output(capsys)
    assert code == 0, out
    assert "stored" in row(out, "report.pdf")
    assert Item.objects.filter(study=study, kind="finding").count() == 1
    assert Holding.objects.filter(account=alice.account).count() == 1


def test_a_study_that_is_not_yours_stops_with_exit_code_2(
    server: str, alice: Persona, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "report.pdf").write_bytes(PDF)
    other = "0b7c6ad4-3f5e-4f43-9d55-5e0c5c0c9f11"

    code = cli.main(["upload", "--server", server, "--study", other, str(tmp_path / "report.pdf")])

    _, err = output(capsys)
    assert code == 2
    assert "the study given with --study is not in your documents" in err
    assert not Item.objects.exists()


# ------------------------------------------------------------------------------ refusals


def test_a_revoked_token_is_refused_and_nothing_is_stored(
    *,
    server: str,
    alice: Persona,
    token: str,
    tmp_path: Path,
    upload_requests: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "cd", 2)
    assert revoke_token(alice.account, ApiToken.objects.get(account=alice.account).pk)

    code = cli.main(["upload", "--server", server, str(tmp_path / "cd")])

    out, err = output(capsys)
    assert code == 2
    assert "error: the token was refused" in err
    assert token not in out + err
    assert upload_requests == []
    assert not Holding.objects.exists()


def test_a_wrong_token_is_refused(
    live_server: Any,
    alice: Persona,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "cd", 1)
    monkeypatch.setenv("HDS_TOKEN", "hds_" + "A" * 64)

    code = cli.main(["upload", "--server", live_server.url, str(tmp_path / "cd")])

    _, err = output(capsys)
    assert code == 2
    assert "the token was refused" in err
    assert not Holding.objects.exists()


def test_no_token_is_a_usage_error(
    live_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "cd", 1)
    monkeypatch.delenv("HDS_TOKEN", raising=False)

    assert cli.main(["upload", "--server", live_server.url, str(tmp_path / "cd")]) == 2

    assert "no API token in HDS_TOKEN" in output(capsys)[1]


def test_an_unreachable_server_is_exit_code_2(
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "cd", 1)
    monkeypatch.setenv("HDS_TOKEN", token)
    closed = f"http://127.0.0.1:{free_port()}"

    assert cli.main(["upload", "--server", closed, str(tmp_path / "cd")]) == 2

    _, err = output(capsys)
    assert f"error: cannot reach {closed}" in err
    assert "Connection refused" in err


def test_plain_http_to_another_host_is_refused(
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "cd", 1)
    monkeypatch.setenv("HDS_TOKEN", token)

    assert cli.main(["upload", "--server", "http://hds.example.org", str(tmp_path / "cd")]) == 2

    assert "--server must use https://" in output(capsys)[1]


def test_a_server_that_does_not_answer_times_out(
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "cd", 1)
    monkeypatch.setenv("HDS_TOKEN", token)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        code = upload_command(server=url, paths=[tmp_path / "cd"], timeout=httpx.Timeout(0.5))

    assert code == 2
    assert f"error: {url} did not answer in time" in output(capsys)[1]


def test_an_answer_that_is_not_json_is_explained(
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class LoginPage(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"<html><body>Please log in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        @override
        def log_message(self, format: str, *args: Any) -> None:
            pass

    write_series(tmp_path / "cd", 1)
    monkeypatch.setenv("HDS_TOKEN", token)
    with ThreadingHTTPServer(("127.0.0.1", 0), LoginPage) as web:
        thread = threading.Thread(target=web.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{web.server_address[1]}"
        try:
            code = cli.main(["upload", "--server", url, str(tmp_path / "cd")])
        finally:
            web.shutdown()
            thread.join()

    assert code == 2
    err = output(capsys)[1]
    assert "is not JSON (HTTP 200, text/html)" in err
    assert "is --server the address of an HDS server?" in err


def test_a_full_storage_stops_the_upload_and_says_how_much_is_missing(
    *,
    server: str,
    alice: Persona,
    tmp_path: Path,
    upload_requests: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = write_series(tmp_path / "many", 20)
    Account.objects.filter(pk=alice.account.pk).update(
        quota_bytes=sum(p.stat().st_size for p in paths[:5]) + 100
    )

    code = cli.main(["upload", "--server", server, str(tmp_path / "many")])

    out, err = output(capsys)
    assert code == 1
    assert "the upload starts anyway and stops when the storage is full" in err
    assert "Stopped: Not enough storage:" in err
    assert "more space is needed" in err
    for n in range(5):
        assert "stored" in row(out, f"many/IM{n:04d}")
    assert "Not enough storage" in row(out, "many/IM0005")
    assert "20 files: 5 stored, 0 duplicate, 11 failed, 4 not sent" in out
    assert len(upload_requests) == 1  # the second group was not sent
    assert stored_instances(alice.account) == 5


def test_files_larger_than_the_server_accepts_fail_and_the_next_group_goes_on(
    server: str, alice: Persona, tmp_path: Path, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    write_series(tmp_path / "cd", 16)  # the first group: each file about 8 KB
    (tmp_path / "cd" / "report.pdf").write_bytes(PDF)  # the second group: a few hundred bytes
    settings.MAX_UPLOAD_FILE_BYTES = 2048  # the live server reads it per request

    code = cli.main(["upload", "--server", server, str(tmp_path / "cd")])

    out, err = output(capsys)
    assert code == 1
    # The server refuses the whole request (no per-file results): each file gets its reason.
    assert "This file is larger than the server accepts." in row(out, "cd/IM0000")
    assert "This file is larger than the server accepts." in row(out, "cd/IM0015")
    assert "stored" in row(out, "cd/report.pdf")
    assert "17 files: 1 stored, 0 duplicate, 16 failed" in out
    assert "Stopped" not in err
    assert stored_instances(alice.account) == 0
    assert Item.objects.filter(kind="finding").count() == 1


# --------------------------------------------------------------------- dropped connections


class FlakyProxy:
    """A TCP proxy to the live server that breaks the first ``drops`` upload requests.

    ``when="response"``: the request reaches the server (which stores the files), the answer is
    cut off. ``when="request"``: the connection is closed before the request is passed on.
    """

    def __init__(self, target: str, *, drops: int, when: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "localhost", parts.port or 80)
        self.drops, self.when = drops, when
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # so that the accept loop sees ``stopping``
        self.stopping = threading.Event()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _take(self) -> bool:
        with self.lock:
            if self.drops <= 0:
                return False
            self.drops -= 1
            return True

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _addr = self.listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        self.sockets += [client, upstream]
        cut = threading.Event()

        def close() -> None:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        def downstream() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    if cut.is_set():
                        break
                    client.sendall(data)
            close()

        thread = threading.Thread(target=downstream, daemon=True)
        thread.start()
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if data.startswith(b"POST /api/v1/uploads ") and self._take():
                    if self.when == "request":
                        break
                    cut.set()
                upstream.sendall(data)
        close()
        thread.join()

    def close(self) -> None:
        self.stopping.set()
        self.threads[0].join()
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def flaky(live_server: Any) -> Iterator[Callable[..., FlakyProxy]]:
    proxies: list[FlakyProxy] = []

    def make(*, drops: int, when: str) -> FlakyProxy:
        proxies.append(FlakyProxy(live_server.url, drops=drops, when=when))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


def test_a_dropped_answer_is_retried_and_stores_nothing_twice(
    *,
    server: str,
    alice: Persona,
    tmp_path: Path,
    flaky: Callable[..., FlakyProxy],
    upload_requests: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "many", 20)
    proxy = flaky(drops=1, when="response")

    code = upload_command(server=proxy.url, paths=[tmp_path / "many"], retry_delays=FAST_RETRIES)

    out, err = output(capsys)
    assert code == 0
    assert "connection lost" in err
    assert "sending 16 files again in 0.05 s (retry 1 of 3)" in err
    assert len(upload_requests) == 3  # the first group twice, then the second
    # The first attempt was stored although its answer was lost: the retry finds them there.
    assert "20 files: 4 stored, 16 duplicate, 0 failed (3 upload requests" in out
    assert stored_instances(alice.account) == 20


def test_a_group_that_cannot_get_through_fails_and_the_next_one_goes_on(
    *,
    server: str,
    alice: Persona,
    tmp_path: Path,
    flaky: Callable[..., FlakyProxy],
    upload_requests: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_series(tmp_path / "many", 20)
    proxy = flaky(drops=4, when="request")

    code = upload_command(server=proxy.url, paths=[tmp_path / "many"], retry_delays=FAST_RETRIES)

    out, _ = output(capsys)
    assert code == 1
    assert "connection lost" in row(out, "many/IM0000")
    assert "gave up after 4 attempts" in row(out, "many/IM0015")
    assert "stored" in row(out, "many/IM0016")
    assert "20 files: 4 stored, 0 duplicate, 16 failed (5 upload requests" in out
    assert len(upload_requests) == 1  # only the second group reached the server
    assert stored_instances(alice.account) == 4
