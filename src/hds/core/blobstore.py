"""Where ciphertext objects live: a local folder (default) or an S3-compatible object store.

Only ciphertext passes through here (the archive encrypts before ``put``), but nothing in this
module logs object contents anyway. Keys are the blobs' UUIDs: unique, written once, never
overwritten, so a ``put`` onto an existing key is an error, not an update.

``put`` is atomic on both backends: a reader sees the whole object or nothing, and a failure (the
caller's chunk iterator raising included) leaves nothing visible. Crash leftovers (local temp
files, S3 multipart uploads that were never completed) are removed by ``cleanup_temp``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from typing_extensions import override

from hds.core.env import env_str

logger = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f-]{8,64}")
_TEMP_PREFIX = ".tmp-"
DEFAULT_TEMP_MAX_AGE = timedelta(hours=1)

# S3 wants every part but the last to be at least 5 MiB; 8 MiB keeps memory bounded per upload.
S3_PART_SIZE = 8 * 1024 * 1024
_S3_MAX_PARTS = 10_000
_S3_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class BlobStoreError(Exception):
    """The store could not do what was asked; the message is safe to show to operators."""


class BlobNotFound(BlobStoreError):
    """No object has this key."""


class BlobExists(BlobStoreError):
    """An object with this key exists already; keys are written once."""


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid blob key, else raise ``ValueError``.

    Only ``0-9``, ``a-f`` and ``-`` (8 to 64 characters): a UUID fits, a path never does.
    """
    if not _KEY.fullmatch(key):
        # The key itself stays out of the message: it did not come from us.
        raise ValueError("A blob key is 8 to 64 characters of 0-9, a-f and '-'.")
    return key


def _check_range(offset: int, length: int) -> None:
    if offset < 0 or length < 0:
        raise ValueError("Blob reads need a non-negative offset and length.")


class BlobStore(ABC):
    """Write-once objects addressed by key, read back with random access."""

    @abstractmethod
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the concatenated ``chunks`` under a new ``key``; return the object's size.

        Atomic: readers see the whole object or nothing. If ``chunks`` raises, the exception
        propagates unchanged and nothing is left behind. Raises ``BlobExists`` if ``key`` exists.
        """

    @abstractmethod
    def read(self, key: str, offset: int, length: int) -> bytes:
        """Return ``length`` bytes from ``offset``; fewer only where the object ends."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Return the object's size in bytes."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Return whether an object has this key."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""

    @abstractmethod
    def iter_keys(self) -> Iterator[tuple[str, datetime]]:
        """Yield every key with its last-modified time (UTC), for the orphan collector."""

    @abstractmethod
    def cleanup_temp(self, max_age: timedelta = DEFAULT_TEMP_MAX_AGE) -> int:
        """Remove unfinished writes older than ``max_age`` (crash leftovers); return how many."""


# --- local folder ---------------------------------------------------------------------------


@contextlib.contextmanager
def _os_errors(action: str, key: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as exc:
        if action in ("read", "stat"):
            raise BlobNotFound(f"Blob {key} does not exist.") from exc
        raise BlobStoreError(f"Could not {action} blob {key}: {exc.strerror or exc}.") from exc
    except OSError as exc:
        raise BlobStoreError(f"Could not {action} blob {key}: {exc.strerror or exc}.") from exc


def _fsync_dir(path: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore(BlobStore):
    """Objects as files ``root/<key[:2]>/<key>`` (mode 0600, directories 0700)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @override
    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        validate_key(key)
        return self.root / key[:2] / key

    def _make_shard(self, shard: Path) -> None:
        if shard.is_dir():
            return
        # mode applies to the last component only; umask can only take bits away from 0700.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            shard.mkdir(mode=0o700)
        except FileExistsError:
            return
        _fsync_dir(self.root)

    @override
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        shard = path.parent
        with _os_errors("write", key):
            if path.exists():
                raise BlobExists(f"Blob {key} exists already.")
            self._make_shard(shard)
            # mkstemp creates the file with mode 0600.
            fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=shard)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:  # the caller's exceptions propagate unchanged
                    size += len(chunk)
                    with _os_errors("write", key):
                        out.write(chunk)
                with _os_errors("write", key):
                    out.flush()
                    os.fsync(out.fileno())
            with _os_errors("write", key):
                # os.replace would silently clobber: check again right before publishing. Keys
                # are fresh UUIDs, so only a caller bug could race between the check and rename.
                if path.exists():
                    raise BlobExists(f"Blob {key} exists already.")
                os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        with _os_errors("write", key):
            _fsync_dir(shard)
        return size

    @override
    def read(self, key: str, offset: int, length: int) -> bytes:
        path = self._path(key)
        _check_range(offset, length)
        with _os_errors("read", key), path.open("rb") as f:
            available = os.fstat(f.fileno()).st_size - offset
            if available <= 0 or length == 0:
                return b""
            f.seek(offset)
            return f.read(min(length, available))

    @override
    def size(self, key: str) -> int:
        path = self._path(key)
        with _os_errors("stat", key):
            return path.stat().st_size

    @override
    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    @override
    def delete(self, key: str) -> None:
        path = self._path(key)
        with _os_errors("delete", key), contextlib.suppress(FileNotFoundError):
            path.unlink()

    def _shards(self) -> Iterator[Path]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise BlobStoreError(f"Could not list the blob folder: {exc.strerror}.") from exc
        for entry in entries:
            if len(entry.name) == 2 and entry.is_dir(follow_symlinks=False):
                yield Path(entry.path)

    def _entries(self) -> Iterator[tuple[Path, os.DirEntry[str]]]:
        for shard in self._shards():
            try:
                entries = list(os.scandir(shard))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise BlobStoreError(f"Could not list the blob folder: {exc.strerror}.") from exc
            for entry in entries:
                yield shard, entry

    @override
    def iter_keys(self) -> Iterator[tuple[str, datetime]]:
        for shard, entry in self._entries():
            name = entry.name
            if not _KEY.fullmatch(name) or name[:2] != shard.name:
                continue  # temp files and anything else that is not one of our objects
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while we listed
            except OSError as exc:
                raise BlobStoreError(f"Could not stat blob {name}: {exc.strerror}.") from exc
            yield name, datetime.fromtimestamp(stat.st_mtime, tz=UTC)

    @override
    def cleanup_temp(self, max_age: timedelta = DEFAULT_TEMP_MAX_AGE) -> int:
        cutoff = time.time() - max_age.total_seconds()
        removed = 0
        for _shard, entry in self._entries():
            if not entry.name.startswith(_TEMP_PREFIX):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime <= cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # the write finished, or another cleanup got there first
            except OSError as exc:
                raise BlobStoreError(f"Could not remove a temporary file: {exc.strerror}.") from exc
        if removed:
            logger.info("removed %s stale temporary blob files", removed)
        return removed


# --- S3 ---------------------------------------------------------------------------------------


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))


class S3BlobStore(BlobStore):
    """Objects ``<prefix><key>`` in one bucket of an S3-compatible store (AWS, SeaweedFS, MinIO).

    Writes are conditional (``If-None-Match: *``), so a racing writer cannot replace an object.
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("S3BlobStore needs a bucket name.")
        if (access_key is None) != (secret_key is None):
            raise ValueError("Give both the S3 access key and the secret key, or neither.")
        self.bucket = bucket
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        config = Config(
            # Other S3-compatible stores rarely serve virtual-host bucket names.
            s3={"addressing_style": "path"} if endpoint_url else {},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10,
            read_timeout=60,
            # Flexible checksums trip up some S3-compatible stores; the AEAD authenticates every
            # byte we read back anyway.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A session of our own: boto3's default session is not safe to create from many threads.
        session = boto3.session.Session()
        self._client: Any = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    @override
    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def close(self) -> None:
        """Close the client's pooled connections."""
        self._client.close()

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        what = f"blob {key}" if key else "blobs"
        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            if key and code in _S3_NOT_FOUND:
                raise BlobNotFound(f"Blob {key} does not exist.") from exc
            if key and code == "PreconditionFailed":
                raise BlobExists(f"Blob {key} exists already.") from exc
            raise BlobStoreError(
                f"S3 {action} of {what} in bucket {self.bucket} failed: {code}."
            ) from exc
        except BotoCoreError as exc:
            # A validation error quotes the parameters, and Body is object content.
            detail = type(exc).__name__ if isinstance(exc, ParamValidationError) else str(exc)
            raise BlobStoreError(
                f"S3 {action} of {what} in bucket {self.bucket} failed: {detail}."
            ) from exc

    @override
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        name = self._name(key)
        # Fail before uploading anything; the conditional write below closes the race.
        if self.exists(key):
            raise BlobExists(f"Blob {key} exists already.")
        buffer = bytearray()
        rest = iter(chunks)
        for chunk in rest:
            buffer += chunk
            if len(buffer) >= S3_PART_SIZE:
                return self._put_multipart(key, name, buffer, rest)
        with self._errors("upload", key):
            self._client.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=bytes(buffer),
                ContentType="application/octet-stream",
                IfNoneMatch="*",
            )
        return len(buffer)

    def _put_multipart(self, key: str, name: str, buffer: bytearray, rest: Iterator[bytes]) -> int:
        with self._errors("upload", key):
            upload_id: str = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=name, ContentType="application/octet-stream"
            )["UploadId"]
        parts: list[dict[str, Any]] = []
        size = 0

        def send(data: bytes) -> None:
            nonlocal size
            if len(parts) >= _S3_MAX_PARTS:
                raise BlobStoreError(f"Blob {key} is too large for one S3 object.")
            with self._errors("upload", key):
                response = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=data,
                )
            parts.append({"PartNumber": len(parts) + 1, "ETag": response["ETag"]})
            size += len(data)

        def send_full_parts() -> None:
            while len(buffer) >= S3_PART_SIZE:
                send(bytes(buffer[:S3_PART_SIZE]))
                del buffer[:S3_PART_SIZE]

        try:
            send_full_parts()
            for chunk in rest:  # the caller's exceptions propagate unchanged
                buffer += chunk
                send_full_parts()
            if buffer:
                send(bytes(buffer))
            with self._errors("upload", key):
                self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    IfNoneMatch="*",
                )
        except BaseException:
            # Nothing half-written may stay behind (parts of an unfinished upload cost storage).
            self._abort(name, upload_id)
            raise
        return size

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except (ClientError, BotoCoreError):
            logger.warning(
                "could not abort an S3 multipart upload in bucket %s; cleanup_temp removes it",
                self.bucket,
                exc_info=True,
            )

    @override
    def read(self, key: str, offset: int, length: int) -> bytes:
        name = self._name(key)
        _check_range(offset, length)
        if length == 0:
            self.size(key)  # a missing key still raises BlobNotFound
            return b""
        with self._errors("read", key):
            try:
                response = self._client.get_object(
                    Bucket=self.bucket, Key=name, Range=f"bytes={offset}-{offset + length - 1}"
                )
            except ClientError as exc:
                if _error_code(exc) == "InvalidRange":
                    return b""  # 416: the range starts at or past the end, a short read
                raise
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        if "ContentRange" not in response:
            # The server ignored the Range header and sent the whole object.
            data = data[offset : offset + length]
        return data

    @override
    def size(self, key: str) -> int:
        name = self._name(key)
        with self._errors("stat", key):
            response = self._client.head_object(Bucket=self.bucket, Key=name)
        return int(response["ContentLength"])

    @override
    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobNotFound:
            return False
        return True

    @override
    def delete(self, key: str) -> None:
        name = self._name(key)
        with contextlib.suppress(BlobNotFound), self._errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=name)

    @override
    def iter_keys(self) -> Iterator[tuple[str, datetime]]:
        paginator = self._client.get_paginator("list_objects_v2")
        with self._errors("listing"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if _KEY.fullmatch(name):  # skip anything else sharing the prefix
                        yield name, item["LastModified"].astimezone(UTC)

    @override
    def cleanup_temp(self, max_age: timedelta = DEFAULT_TEMP_MAX_AGE) -> int:
        cutoff = time.time() - max_age.total_seconds()
        stale: list[tuple[str, str]] = []
        paginator = self._client.get_paginator("list_multipart_uploads")
        with self._errors("listing of unfinished uploads"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                stale.extend(
                    (upload["Key"], upload["UploadId"])
                    for upload in page.get("Uploads", [])
                    if upload["Initiated"].timestamp() <= cutoff
                )
        for name, upload_id in stale:
            self._abort(name, upload_id)
        if stale:
            logger.info("aborted %s stale S3 multipart uploads", len(stale))
        return len(stale)


# --- configuration ----------------------------------------------------------------------------


def blob_store_from_url(url: str, *, base_dir: Path) -> BlobStore:
    """Return the store that ``BLOB_STORE_URL`` names.

    ``file://var/blobs`` is relative to ``base_dir``, ``file:///srv/blobs`` is absolute;
    ``s3://bucket/prefix`` takes its endpoint, region and keys from ``HDS_S3_ENDPOINT_URL``,
    ``HDS_S3_REGION``, ``HDS_S3_ACCESS_KEY`` and ``HDS_S3_SECRET_KEY`` (each also as ``..._FILE``);
    without keys boto3's usual credential chain applies (instance roles, ``AWS_*``).
    """
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"BLOB_STORE_URL must not have a query or fragment, got {url!r}.")
    if parts.scheme == "file":
        raw = unquote(parts.netloc + parts.path)
        if not raw:
            raise ValueError(f"BLOB_STORE_URL needs a folder, got {url!r}.")
        return LocalBlobStore(Path(base_dir) / raw)
    if parts.scheme == "s3":
        if "@" in parts.netloc:
            # Never echo it: whatever precedes the "@" is probably a secret.
            raise ValueError("BLOB_STORE_URL must not hold credentials; use HDS_S3_* instead.")
        if not parts.netloc:
            raise ValueError(f"BLOB_STORE_URL must look like s3://bucket/prefix, got {url!r}.")
        return S3BlobStore(
            bucket=parts.netloc,
            prefix=unquote(parts.path),
            endpoint_url=env_str("HDS_S3_ENDPOINT_URL") or None,
            region=env_str("HDS_S3_REGION") or None,
            access_key=env_str("HDS_S3_ACCESS_KEY") or None,
            secret_key=env_str("HDS_S3_SECRET_KEY") or None,
        )
    raise ValueError(f"BLOB_STORE_URL must be file://folder or s3://bucket/prefix, got {url!r}.")
