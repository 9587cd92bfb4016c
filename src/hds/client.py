"""``hds upload``: send files, folders and patient CDs to an HDS server through its upload API.

This runs on the user's machine and talks to a server over HTTPS, so it needs no Django settings
and imports no Django: httpx for HTTP, rich for the progress bar and the result table.

The API contract (``hds.archive.api``), followed the way the browser uploader does it
(``frontend/src/upload.js``):

- ``POST /api/v1/uploads/check`` (JSON): checks the token and says how much storage is free.
- ``POST /api/v1/uploads/plan`` (``dicomdir`` part): the files a CD's DICOMDIR references. The
  upload endpoint itself has no use for a DICOMDIR (it is not an image, it would come back as an
  error), so a DICOMDIR is never sent: in its folder only the files it lists (and PDFs) go up.
- ``POST /api/v1/uploads`` (multipart, ``file`` + ``path`` per file, optional ``study``): one
  result per file, in order; 413 with ``detail`` + ``results`` when the storage is full.

Files travel in groups of at most 16 files / 8 MiB (a larger file goes alone), streamed from disk.
A group whose connection drops is sent again (the server stores a SOP Instance UID once, so a
retry cannot store anything twice). The token is only ever put into the Authorization header.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text
from typing_extensions import override

# The limits the browser uses too, read from one file (hds/data/upload_rules.json, which the
# Vite build imports into frontend/src/upload/plan.js; docs/architecture.md): the server stores
# the DICOM files of one request with one commit per study, so small files are much faster in
# groups. Golden vectors both test suites run: tests/vectors/upload_plans.json.
_RULES: dict[str, Any] = json.loads(
    resources.files("hds").joinpath("data", "upload_rules.json").read_text(encoding="utf-8")
)
GROUP_FILES: int = int(_RULES["group_files"])
GROUP_BYTES: int = int(_RULES["group_bytes"])
# Then the group's files count as failed.
RETRY_DELAYS_S: tuple[float, ...] = tuple(float(s) for s in _RULES["retry_delays_s"])
JUNK_NAMES: frozenset[str] = frozenset(str(name) for name in _RULES["junk_names"])
GROUPS_LOST_IN_A_ROW = 3  # after this many groups lost to the connection, stop trying
TIMEOUT = httpx.Timeout(connect=15.0, read=300.0, write=60.0, pool=30.0)

EXIT_OK = 0
EXIT_FAILED = 1  # some files were not stored
EXIT_USAGE = 2  # usage, token or connection problem

UPLOAD_PATH = "/api/v1/uploads"
CHECK_PATH = "/api/v1/uploads/check"
PLAN_PATH = "/api/v1/uploads/plan"
AUTH_REFUSED = (
    "the token was refused: it is wrong or revoked, or its account is locked. "
    "Create a new one with 'hds token create' (or in My account)."
)


class UsageError(Exception):
    """A problem with the command line, the token or the connection (exit code 2)."""


@dataclass(frozen=True)
class LocalFile:
    """A file to send: where it is, and its "/"-separated name shown in the results."""

    path: Path
    name: str
    size: int


@dataclass
class FileResult:
    """What the server said about one file (or why it never answered)."""

    name: str
    status: str  # "stored", "duplicate" or "error"
    message: str
    study_url: str | None = None


@dataclass
class UploadReport:
    """The outcome of one ``hds upload`` run."""

    results: list[FileResult] = field(default_factory=list)
    not_sent: int = 0  # files never sent because the run stopped early
    requests: int = 0  # upload requests made, retries included
    stopped: str | None = None  # why the run stopped early
    stop_code: int = EXIT_FAILED
    studies: list[str] = field(default_factory=list)  # absolute URLs of the studies touched

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        if self.stopped is not None:
            return self.stop_code
        if self.not_sent or self.count("error"):
            return EXIT_FAILED
        return EXIT_OK


# ------------------------------------------------------------------------------ local files


def _natural_key(name: str) -> list[Any]:
    """Sort IM2 before IM10, case-insensitively (like the browser's numeric collator)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]


def path_key(name: str) -> str:
    """Comparable form of a CD path: lower case, no ISO 9660 ";1" suffixes or trailing dots."""
    segments = (
        re.sub(r";\d+$", "", s).rstrip(".").lower() for s in name.replace("\\", "/").split("/")
    )
    return "/".join(s for s in segments if s)


def _is_dicomdir(name: str) -> bool:
    return name.rsplit("/", 1)[-1].lower() == "dicomdir"


def _is_pdf(name: str) -> bool:
    return name.lower().endswith(".pdf")


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    """Files below ``root`` in sorted order, skipping hidden files and folders."""
    prefix = root.resolve().name or "files"
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=_natural_key)
        relative = Path(folder).relative_to(root).as_posix()
        base = prefix if relative == "." else f"{prefix}/{relative}"
        for filename in sorted(filenames, key=_natural_key):
            if not filename.startswith("."):
                yield Path(folder) / filename, f"{base}/{filename}"


def collect_files(paths: Sequence[Path]) -> tuple[list[LocalFile], int]:
    """The files named by ``paths`` (folders walked recursively) and how many were skipped.

    Skipped: hidden files, empty files and system clutter (Thumbs.db, .DS_Store). A DICOMDIR
    given by itself stands for its whole folder (the CD).
    """
    files: list[LocalFile] = []
    seen: set[Path] = set()
    skipped = 0
    for given in paths:
        if not given.exists():
            raise UsageError(f"{given}: no such file or folder")
        if given.is_file() and _is_dicomdir(given.name):
            given = given.parent  # noqa: PLW2901 - the CD's folder is what was meant
        if given.is_dir():
            entries: Iterator[tuple[Path, str]] = _walk(given)
        else:
            entries = iter([(given, given.name)])
        for path, name in entries:
            real = path.resolve()
            if real in seen or not path.is_file():
                continue
            seen.add(real)
            size = path.stat().st_size
            if size == 0 or name.rsplit("/", 1)[-1].lower() in JUNK_NAMES:
                skipped += 1
                continue
            files.append(LocalFile(path, name, size))
    return files, skipped


def group_files(
    files: Sequence[LocalFile], *, max_files: int = GROUP_FILES, max_bytes: int = GROUP_BYTES
) -> list[list[LocalFile]]:
    """Consecutive groups of at most ``max_files`` files and ``max_bytes`` (a bigger file alone)."""
    groups: list[list[LocalFile]] = []
    current: list[LocalFile] = []
    size = 0
    for item in files:
        if current and (len(current) >= max_files or size + item.size > max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        groups.append(current)
    return groups


def apply_plans(
    files: Sequence[LocalFile], plans: dict[str, list[str] | None]
) -> tuple[list[LocalFile], bool]:
    """Choose the files to send, given each DICOMDIR's list (``None``: it could not be read).

    Each DICOMDIR governs its folder (the deepest one wins for nested CDs): there only the files
    it lists and PDFs go up. A DICOMDIR that could not be read, or whose list matches none of the
    files, falls back to everything but itself; the second value says whether that happened.
    DICOMDIRs themselves are never sent. (The browser does the same: ``applyPlans`` in
    frontend/src/upload/plan.js; both pass tests/vectors/upload_plans.json.)
    """
    candidates = [f for f in files if not _is_dicomdir(f.name)]
    # (folder key, wanted keys or None), deepest folder first
    scopes: list[tuple[str, set[str] | None]] = []
    for dicomdir_name, listed in plans.items():
        folder = path_key(dicomdir_name.rpartition("/")[0])
        wanted = None
        if listed is not None:
            wanted = {path_key(f"{folder}/{p}" if folder else p) for p in listed}
        scopes.append((folder, wanted))
    scopes.sort(key=lambda scope: len(scope[0]), reverse=True)

    def scope_of(key: str) -> int | None:
        for n, (folder, _wanted) in enumerate(scopes):
            if not folder or key.startswith(f"{folder}/"):
                return n
        return None

    keyed = [(f, key, scope_of(key)) for f in candidates for key in [path_key(f.name)]]
    matched = [0] * len(scopes)
    for _f, key, n in keyed:
        if n is not None and key in (scopes[n][1] or ()):
            matched[n] += 1
    usable = [wanted if matched[n] else None for n, (_folder, wanted) in enumerate(scopes)]
    fallback = any(wanted is None for wanted in usable)

    def is_wanted(f: LocalFile, key: str, n: int | None) -> bool:
        listed = usable[n] if n is not None else None
        return listed is None or key in listed or _is_pdf(f.name)

    return [f for f, key, n in keyed if is_wanted(f, key, n)], fallback


class _CountingFile(io.BufferedReader):
    """A file opened for reading that reports every chunk httpx reads from it."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._on_read = on_read

    @override
    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self._on_read(len(chunk))
        return chunk


# ---------------------------------------------------------------------------------- server


def check_server_url(server: str) -> str:
    """The server's base URL without a trailing slash; https, or http on this machine only."""
    url = httpx.URL(server.strip().rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError(f"--server must be an https:// address, got {server!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise UsageError(
            "--server must use https://: over plain http the token and the images would travel "
            "unencrypted (http is accepted for this machine only, e.g. http://127.0.0.1:8000)"
        )
    return str(url).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(response: httpx.Response) -> str | None:
    data = _json(response)
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return str(data["detail"])
    return None


def _describe(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    return f"HTTP {response.status_code}, {kind}"


def _size(n: float) -> str:
    """1024-based like the server's quota messages."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover - the loop returns


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _retryable(response: httpx.Response) -> bool:
    return response.status_code >= 500 or response.status_code in (408, 429)


def _parse_results(group: list[LocalFile], data: Any) -> list[FileResult] | None:
    """The per-file results of an answer, if it has exactly one for each file of the group."""
    listed = data.get("results") if isinstance(data, dict) else None
    if not isinstance(listed, list) or len(listed) != len(group):
        return None
    results = []
    for item, entry in zip(group, listed, strict=True):
        fields = entry if isinstance(entry, dict) else {}
        state, message, url = fields.get("status"), fields.get("message"), fields.get("study_url")
        results.append(
            FileResult(
                item.name,
                state if state in ("stored", "duplicate", "error") else "error",
                message if isinstance(message, str) else "",
                url if isinstance(url, str) and url.startswith("/") else None,
            )
        )
    return results


class Uploader:
    """One upload run against one server with one token."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        study: str | None = None,
        console: Console | None = None,
        err_console: Console | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS_S,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.server = check_server_url(server)
        self.study = study
        self.console = console or Console(soft_wrap=False)
        self.err = err_console or Console(stderr=True)
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._token = token
        self._unreadable: list[FileResult] = []
        self.report = UploadReport()

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server,
            headers={
                "Authorization": f"Bearer {self._token}",
                "User-Agent": "hds-upload",
                "Accept": "application/json",
            },
            timeout=self.timeout,
            follow_redirects=False,  # never carry the token to another address
        )

    # --- requests before the upload ---

    def _preflight(self, client: httpx.Client) -> int | None:
        """Check address and token (exit code 2 on any problem); return the free bytes."""
        try:
            response = client.post(CHECK_PATH, json={"total_bytes": 0, "file_count": 0})
        except httpx.TimeoutException:
            raise UsageError(f"{self.server} did not answer in time") from None
        except httpx.ConnectError as exc:
            raise UsageError(f"cannot reach {self.server}: {exc}") from None
        except httpx.TransportError as exc:
            raise UsageError(f"the connection to {self.server} failed: {exc}") from None
        status = response.status_code
        if status in (401, 403):
            raise UsageError(AUTH_REFUSED)
        if response.is_redirect:
            raise UsageError(
                f"{self.server} redirects to {response.headers.get('location', '?')}; "
                "give that address as --server"
            )
        data = _json(response)
        if status == 404:
            raise UsageError(f"there is no HDS upload API at {self.server} (HTTP 404)")
        if data is None:
            raise UsageError(
                f"the answer from {self.server} is not JSON ({_describe(response)}): "
                "is --server the address of an HDS server?"
            )
        if status != 200 or not isinstance(data, dict):
            detail = _detail(response) or _describe(response)
            raise UsageError(f"the server refused the upload: {detail}")
        free = data.get("free_bytes")
        return free if isinstance(free, int) else None

    def _plan(self, client: httpx.Client, dicomdir: LocalFile) -> list[str] | None:
        """The files a DICOMDIR lists (relative to its folder), or None if it cannot be read."""
        try:
            with dicomdir.path.open("rb") as handle:
                response = client.post(PLAN_PATH, files={"dicomdir": ("DICOMDIR", handle)})
        except (httpx.TransportError, OSError):
            return None
        data = _json(response)
        if response.status_code != 200 or not isinstance(data, dict):
            return None
        files = data.get("files")
        if not isinstance(files, list):
            return None
        return [f for f in files if isinstance(f, str)]

    # --- the upload ---

    def run(self, paths: Sequence[Path]) -> UploadReport:
        """Upload everything under ``paths``; raise ``UsageError`` before anything is sent."""
        found, skipped = collect_files(paths)
        report = self.report
        with self._client() as client:
            free = self._preflight(client)
            dicomdirs = [f for f in found if _is_dicomdir(f.name)]
            plans = {d.name: self._plan(client, d) for d in dicomdirs}
            files, fallback = apply_plans(found, plans)
            if skipped:
                self.err.print(
                    f"Skipped {_plural(skipped, 'empty or system file')}.", highlight=False
                )
            if dicomdirs:
                left_out = len(found) - len(dicomdirs) - len(files)
                note = (
                    f"; {_plural(left_out, 'file')} it does not list left out" if left_out else ""
                )
                self.err.print(
                    f"Found {len(dicomdirs)} DICOMDIR (CD index): sending the files it lists"
                    f"{note}.",
                    highlight=False,
                )
            if fallback:
                self.err.print(
                    "[yellow]The CD index (DICOMDIR) could not be read, so all files are "
                    "uploaded.[/]"
                )
            if not files:
                raise UsageError("there are no files to upload")
            total = sum(f.size for f in files)
            if free is not None and total > free:
                self.err.print(
                    f"[yellow]The files are {_size(total)}, the account has {_size(free)} free. "
                    "Files already stored need no space, so the upload starts anyway and stops "
                    "when the storage is full.[/]",
                    highlight=False,
                )
            self._send_all(client, files, total)
        return report

    def _send_all(self, client: httpx.Client, files: list[LocalFile], total: int) -> None:
        report = self.report
        groups = group_files(files)
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TextColumn("{task.fields[files]}"),
            TimeRemainingColumn(),
            console=self.err,
            disable=not self.err.is_terminal,
        )
        task = progress.add_task("Uploading", total=total, files=f"0/{len(files)} files")
        done_bytes = done_files = lost_in_a_row = 0
        with progress:
            for n, group in enumerate(groups):
                readable = self._readable(group)
                try:
                    results, lost = (
                        self._send_group(client, readable, progress, task, done_bytes)
                        if readable
                        else ([], False)
                    )
                except KeyboardInterrupt:
                    report.stopped, report.stop_code = "interrupted", EXIT_FAILED
                    report.not_sent = sum(len(g) for g in groups[n:])
                    break
                by_name = {r.name: r for r in [*self._unreadable, *results]}
                report.results.extend(by_name[f.name] for f in group if f.name in by_name)
                self._unreadable.clear()
                done_bytes += sum(f.size for f in group)
                done_files += len(group)
                progress.update(
                    task, completed=done_bytes, files=f"{done_files}/{len(files)} files"
                )
                lost_in_a_row = lost_in_a_row + 1 if lost else 0
                if lost_in_a_row >= GROUPS_LOST_IN_A_ROW and report.stopped is None:
                    report.stopped = f"the server could not be reached for {lost_in_a_row} groups"
                if report.stopped is not None:
                    report.not_sent = sum(len(g) for g in groups[n + 1 :])
                    break
        seen: set[str] = set()
        for result in report.results:
            if result.study_url and result.study_url not in seen:
                seen.add(result.study_url)
                report.studies.append(str(httpx.URL(self.server).join(result.study_url)))

    def _readable(self, group: list[LocalFile]) -> list[LocalFile]:
        """The files of the group that can be opened; the others get an error result."""
        readable = []
        for item in group:
            try:
                item.path.open("rb").close()
            except OSError as exc:
                reason = f"cannot be read on this computer: {exc.strerror or exc}"
                self._unreadable.append(FileResult(item.name, "error", reason))
            else:
                readable.append(item)
        return readable

    def _send_group(
        self,
        client: httpx.Client,
        group: list[LocalFile],
        progress: Progress,
        task: TaskID,
        done_bytes: int,
    ) -> tuple[list[FileResult], bool]:
        """Send one group (retrying a lost connection); its results and whether it was lost."""
        data: dict[str, Any] = {"path": [f.name for f in group]}
        if self.study:
            data["study"] = self.study
        attempts = len(self.retry_delays) + 1
        for attempt in range(attempts):
            progress.update(task, completed=done_bytes)
            problem = ""
            try:
                response = self._post_group(client, group, data, progress, task)
            except httpx.TimeoutException:
                problem = "the server did not answer in time"
            except httpx.TransportError as exc:
                problem = f"connection lost ({type(exc).__name__})"
            except OSError as exc:  # reading the file failed (a scratched CD, a removed stick)
                reason = f"a file of this group could not be read: {exc.strerror or exc}"
                return [FileResult(f.name, "error", reason) for f in group], False
            else:
                if not _retryable(response):
                    return self._results(group, response), False
                problem = f"server error ({_describe(response)})"
            if attempt + 1 < attempts:
                delay = self.retry_delays[attempt]
                self.err.print(
                    Text(
                        f"{problem}; sending {len(group)} files again in {delay:g} s "
                        f"(retry {attempt + 1} of {attempts - 1})",
                        style="yellow",
                    )
                )
                time.sleep(delay)
        message = f"{problem}; gave up after {attempts} attempts"
        return [FileResult(f.name, "error", message) for f in group], True

    def _post_group(
        self,
        client: httpx.Client,
        group: list[LocalFile],
        data: dict[str, Any],
        progress: Progress,
        task: TaskID,
    ) -> httpx.Response:
        def advance(n: int) -> None:
            progress.advance(task, n)

        self.report.requests += 1
        with contextlib.ExitStack() as stack:
            parts = [
                (
                    "file",
                    (
                        f.path.name,
                        stack.enter_context(_CountingFile(f.path, advance)),
                        "application/octet-stream",
                    ),
                )
                for f in group
            ]
            return client.post(UPLOAD_PATH, data=data, files=parts)

    def _results(self, group: list[LocalFile], response: httpx.Response) -> list[FileResult]:
        """Turn a final (not retried) answer into one result per file; stop the run if needed."""
        report = self.report
        status = response.status_code
        data = _json(response)
        results = _parse_results(group, data)
        detail = _detail(response)
        if status == 200 and results is not None:
            return results
        if status in (401, 403):
            report.stopped, report.stop_code = AUTH_REFUSED, EXIT_USAGE
            reason = "the token was refused"
        elif status == 404:
            report.stop_code = EXIT_USAGE
            if self.study:
                report.stopped = reason = "the study given with --study is not in your documents"
            else:
                report.stopped = reason = f"there is no HDS upload API at {self.server}"
        elif response.is_redirect:
            location = response.headers.get("location", "?")
            report.stopped = reason = f"the server redirected the upload to {location}"
            report.stop_code = EXIT_USAGE
        elif status == 413 and results is not None:
            # The storage is full: the server says how much is missing and what it stored.
            report.stopped = detail or "the storage of the account is full"
            return results
        elif status == 413:
            reason = detail or "the request is larger than the server (or a proxy) accepts"
        elif data is None:
            reason = f"unexpected answer from the server (not JSON, {_describe(response)})"
        elif status == 200:
            reason = "unexpected answer from the server (the results do not match the files)"
        else:
            reason = detail or f"refused by the server ({_describe(response)})"
        return results or [FileResult(f.name, "error", reason) for f in group]


# ------------------------------------------------------------------------------ reporting


STATUS_STYLES = {"stored": "green", "duplicate": "cyan", "error": "bold red"}


def print_report(report: UploadReport, console: Console, err: Console, seconds: float) -> None:
    """The per-file table, the studies and a summary line."""
    if report.results:
        table = Table(title="Upload results", title_justify="left", expand=False)
        table.add_column("file", overflow="fold")
        table.add_column("result", no_wrap=True)
        table.add_column("server's message", overflow="fold")
        for result in report.results:
            table.add_row(
                Text(result.name),
                Text(result.status, style=STATUS_STYLES.get(result.status, "")),
                Text(result.message),
            )
        console.print(table)
    if report.studies:
        console.print(Text("Studies: " + " ".join(report.studies)))
    if report.stopped is not None:
        err.print(Text(f"Stopped: {report.stopped}", style="bold red"))
    summary = (
        f"{len(report.results) + report.not_sent} files: {report.count('stored')} stored, "
        f"{report.count('duplicate')} duplicate, {report.count('error')} failed"
    )
    if report.not_sent:
        summary += f", {report.not_sent} not sent"
    summary += f" ({_plural(report.requests, 'upload request')} in {seconds:.1f} s)."
    console.print(Text(summary, style="bold"))
    if report.not_sent or report.count("error"):
        console.print(
            Text(
                "Running the same command again is safe: files already stored come back as "
                "duplicates."
            )
        )


def read_token(*, from_stdin: bool) -> str:
    """The API token from standard input (``--token-stdin``) or ``HDS_TOKEN``."""
    if from_stdin:
        token = getpass.getpass("API token: ") if sys.stdin.isatty() else sys.stdin.readline()
    else:
        token = os.environ.get("HDS_TOKEN", "")
    token = token.strip()
    if not token:
        where = "on standard input" if from_stdin else "in HDS_TOKEN"
        raise UsageError(
            f"no API token {where}; create one with 'hds token create' and pass it with "
            "--token-stdin or HDS_TOKEN"
        )
    return token


def upload_command(
    *,
    server: str,
    paths: Sequence[Path],
    token_stdin: bool = False,
    study: str | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS_S,
    timeout: httpx.Timeout = TIMEOUT,
) -> int:
    """``hds upload``: run the upload, print the results; the exit code (0, 1 or 2)."""
    console = Console(soft_wrap=False) if sys.stdout.isatty() else Console(width=200)
    err = Console(stderr=True)
    started = time.monotonic()
    try:
        uploader = Uploader(
            server,
            read_token(from_stdin=token_stdin),
            study=study,
            console=console,
            err_console=err,
            retry_delays=retry_delays,
            timeout=timeout,
        )
        report = uploader.run(paths)
    except UsageError as exc:
        err.print(Text(f"error: {exc}", style="bold red"))
        return EXIT_USAGE
    print_report(report, console, err, time.monotonic() - started)
    return report.exit_code
