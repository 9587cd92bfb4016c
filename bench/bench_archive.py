"""Benchmark the archive end to end against Orthanc: HTTP ingest, STOW-RS, ZIP, WADO-RS frames.

Run from the repository root: ``.venv/bin/python bench/bench_archive.py [--slices 300] [--quick]``.
It builds a synthetic CT in memory, starts ``hds web`` and Debian's Orthanc (``apt-get install
orthanc orthanc-dicomweb``) on free loopback ports with fresh temporary folders, sends both the
same requests with httpx (HTTP/1.1 keep-alive), prints one table with the ratios ours/Orthanc and
stops both servers. Warm-up requests are never timed; every timed figure uses fresh UIDs, so
nothing is a duplicate on either side.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))  # the in-process step imports hds

MB = 1e6
ROWS = COLUMNS = 512
SPACING_MM = 0.7
FRAME_BYTES = ROWS * COLUMNS * 2
QUICK_SLICES = 30
UPLOAD_CONNECTIONS = 2  # like our browser uploader
UPLOAD_GROUP = 16  # files per request, like our browser uploader (Orthanc: one per request)
STOW_CONNECTIONS = 1  # one request after the other, like dicomweb-client or storescu
STOW_BATCH = 50
FRAME_CONNECTIONS = 6  # a browser's connections per host
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
ORTHANC = Path("/usr/sbin/Orthanc")
ORTHANC_DICOMWEB = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
EMAIL = "bench@example.org"
START_TIMEOUT = 180.0
REQUEST_TIMEOUT = httpx.Timeout(600.0, connect=10.0)

T = TypeVar("T")
Volume = np.ndarray[Any, np.dtype[np.int16]]


class NotAvailable(Exception):
    """The server answers 404 for an endpoint (our DICOMweb may not be there yet)."""


# ------------------------------------------------------------------------------ test data


def make_volume(slices: int, seed: int = 1) -> Volume:
    """Return a (slices, 512, 512) int16 CT in stored values (HU + 1024) with noise and shapes."""
    rng = np.random.default_rng(seed)
    axis = (np.arange(ROWS, dtype=np.float32) - ROWS / 2 + 0.5) * SPACING_MM
    y, x = np.meshgrid(axis, axis, indexing="ij")
    volume: Volume = np.empty((slices, ROWS, COLUMNS), dtype=np.int16)
    for index in range(slices):
        t = index / max(1, slices - 1)  # 0 at the shoulders, 1 at the pelvis
        hu = np.full((ROWS, COLUMNS), -1000.0, dtype=np.float32)
        body = (x / (150 + 20 * np.sin(np.pi * t))) ** 2 + ((y - 10) / (105 + 8 * t)) ** 2
        hu[body <= 1] = -90  # subcutaneous fat
        hu[body <= 0.85] = 40  # soft tissue
        lungs = np.sin(np.pi * t / 0.6) if t < 0.6 else 0.0
        if lungs > 0.05:
            for side in (-1, 1):
                lung = ((x - side * 62) / (50 * lungs)) ** 2 + ((y + 5) / (72 * lungs)) ** 2
                hu[lung <= 1] = -850
            heart = ((x - 18) / (48 * lungs + 5)) ** 2 + ((y + 15) / (40 * lungs + 5)) ** 2
            hu[heart <= 1] = 45
        else:
            liver = ((x + 55) / 70) ** 2 + ((y + 10) / 60) ** 2
            hu[liver <= 1] = 60
        hu[(x - 12) ** 2 + (y - 45) ** 2 <= 12**2] = 180  # contrast-filled aorta
        spine = x**2 + (y - 72) ** 2
        hu[spine <= 17**2] = 700
        hu[spine <= 13**2] = 250  # cancellous bone inside the cortex
        hu[(y > 128) & (y < 134) & (np.abs(x) < 170)] = 150  # patient table
        hu += rng.standard_normal((ROWS, COLUMNS), dtype=np.float32) * 18
        np.clip(hu, -1024, 3071, out=hu)
        volume[index] = np.rint(hu + 1024).astype(np.int16)
    return volume


@dataclass(frozen=True)
class Series:
    """One CT series encoded as Part 10 files (explicit VR little endian), one study."""

    study_uid: str
    series_uid: str
    sop_uids: list[str]
    files: list[bytes]

    @property
    def nbytes(self) -> int:
        """The DICOM bytes of all instances."""
        return sum(len(data) for data in self.files)


def _ds(value: float) -> str:
    return f"{value:.2f}"


def _describe(ds: Dataset, label: str, uids: tuple[str, str, str]) -> None:
    """Set what every instance of the series shares: patient, study, series, image format."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240312"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
    ds.AccessionNumber = "BENCH" + uids[0][-8:]
    ds.Modality = "CT"
    ds.Manufacturer = "HDS bench"
    ds.StudyDescription = f"CT chest/abdomen ({label})"
    ds.SeriesDescription = "Axial 1.0 mm"
    ds.PatientName = "Bench^Berta"
    ds.PatientID = "HDS-BENCH-1"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = "1.0"
    ds.KVP = "120"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = uids
    ds.StudyID = "1"
    ds.SeriesNumber = 2
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.PixelSpacing = [_ds(SPACING_MM), _ds(SPACING_MM)]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"


def encode_series(volume: Volume, label: str, count: int | None = None) -> Series:
    """Encode the first ``count`` slices as one new study and series with fresh UIDs."""
    uids = (str(generate_uid()), str(generate_uid()), str(generate_uid()))
    sop_uids: list[str] = []
    files: list[bytes] = []
    origin = _ds(-(ROWS / 2 - 0.5) * SPACING_MM)
    for index, pixels in enumerate(volume[:count]):
        sop_uid = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        _describe(ds, label, uids)
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [origin, origin, _ds(-index * 1.0)]
        ds.SliceLocation = _ds(-index * 1.0)
        ds.PixelData = pixels.tobytes()
        ds["PixelData"].VR = "OW"
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        sop_uids.append(sop_uid)
        files.append(buffer.getvalue())
    return Series(uids[0], uids[1], sop_uids, files)


def multipart_related(files: Sequence[bytes]) -> tuple[bytes, str]:
    """A STOW-RS body (one application/dicom part per file) and its Content-Type."""
    boundary = f"hds-bench-{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for data in files:
        parts += [
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
            data,
            b"\r\n",
        ]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f'multipart/related; type="application/dicom"; boundary={boundary}'


def frame_paths(series: Series, root: str) -> list[str]:
    """The WADO-RS URL paths of frame 1 of every instance."""
    return [
        f"{root}/studies/{series.study_uid}/series/{series.series_uid}/instances/{sop}/frames/1"
        for sop in series.sop_uids
    ]


# ---------------------------------------------------------------------------------- servers


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct free TCP ports on 127.0.0.1."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Server:
    """A server process in its own session (Ctrl+C reaches only us), logging into a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as handle:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                argv,
                env=env,
                cwd=log.parent,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self, lines: int = 25) -> str:
        """The last lines of the server's log."""
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_ready(self, url: str) -> None:
        """Poll ``url`` until it answers 200; fail early if the process has exited."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} in {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it is still running after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass(frozen=True)
class Hds:
    """Our web process, its environment and a bench account with a token."""

    base_url: str
    env: dict[str, str]
    password: str
    token: str


def _hds_command() -> list[str]:
    script = Path(sys.executable).with_name("hds")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hds.cli"]


def start_hds(
    folder: Path, stack: contextlib.ExitStack, *, web_workers: int = 1, redis_url: str = ""
) -> Hds:
    """Start ``hds web`` on a fresh data folder and provision an account and a token.

    With ``web_workers`` above 1 the processes share session epoch secrets and throttle counters
    through ``redis_url`` (docs/security.md, Session keys: a Redis with persistence off); the bench
    empties
    that Redis database before it starts.
    """
    port = free_ports(1)[0]
    base_url = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "BLOB_STORE_URL", "HDS_CACHE_URL", "HDS_EPOCH_CACHE_URL")
    }
    env.update(
        HDS_DATA_DIR=str(folder),
        HDS_BASE_URL=base_url,
        HDS_ARGON2_PASSWORD="65536,3,4",  # noqa: S106 - Argon2 cost, not a password
        HDS_DEFAULT_QUOTA_BYTES=str(1 << 40),  # several copies of the CT must fit
        HDS_WEB_WORKERS=str(web_workers),
    )
    if web_workers > 1:
        if not redis_url:
            raise SystemExit("--web-workers above 1 needs --redis-url")
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        env.update(HDS_EPOCH_CACHE_URL=redis_url, HDS_CACHE_URL=redis_url)
    folder.mkdir()
    server = Server(
        "hds web", [*_hds_command(), "web", "--port", str(port)], env, folder / "web.log"
    )
    stack.callback(server.stop)
    server.wait_ready(f"{base_url}/healthz")
    password = secrets.token_urlsafe(32)
    _hds_cli(env, password, "account", "create", "--email", EMAIL, "--password-stdin")
    output = _hds_cli(env, password, "token", "create", "--email", EMAIL, "--password-stdin")
    token = output.strip().splitlines()[-1].strip()
    return Hds(base_url, env, password, token)


def _hds_cli(env: dict[str, str], password: str, *args: str) -> str:
    extra = ["--role", "patient", "--birth-date", "1970-01-01", "--gender", "female"]
    argv = [*_hds_command(), *args, *(extra if args[:2] == ("account", "create") else [])]
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv,
        check=False,
        input=password + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Orthanc:
    """Orthanc's base URL, version and whether its DICOMweb plugin is loaded."""

    base_url: str
    version: str
    dicomweb: bool


def start_orthanc(
    folder: Path,
    stack: contextlib.ExitStack,
    *,
    plugins: Sequence[Path] | None = None,
    extra: dict[str, object] | None = None,
) -> Orthanc:
    """Start Debian's Orthanc with a temporary configuration: by default with DICOMweb (if
    installed); ``plugins`` and ``extra`` configuration for other benches (e.g. the viewer)."""
    http_port, dicom_port = free_ports(2)
    folder.mkdir()
    config = {
        "Name": "hds-bench",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "StorageCompression": False,
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        # Orthanc cannot bind to one address: keep its DICOM listener off (this bench speaks
        # HTTP only) and let RemoteAccessAllowed refuse HTTP clients that are not on loopback.
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "KeepAlive": True,
        "TcpNoDelay": True,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        **(extra or {}),
    }
    if plugins is None:
        plugins = [ORTHANC_DICOMWEB] if ORTHANC_DICOMWEB.exists() else []
    config["Plugins"] = [str(plugin) for plugin in plugins]
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    env = {**os.environ, "TCP_NODELAY": "1"}
    server = Server("Orthanc", [str(ORTHANC), str(path)], env, folder / "orthanc.log")
    stack.callback(server.stop)
    base_url = f"http://127.0.0.1:{http_port}"
    server.wait_ready(f"{base_url}/system")
    version = str(httpx.get(f"{base_url}/system").json().get("Version", "?"))
    plugins = httpx.get(f"{base_url}/plugins").json()
    return Orthanc(base_url, version, "dicom-web" in plugins)


# ---------------------------------------------------------------------------------- runners


def _client(base_url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT)


def run_parallel(
    clients: Sequence[httpx.Client],
    items: Sequence[T],
    send: Callable[[httpx.Client, T], object],
) -> float:
    """Send every item over the clients' connections in parallel; return the seconds taken."""
    work: queue.SimpleQueue[T] = queue.SimpleQueue()
    for item in items:
        work.put(item)
    stop = threading.Event()

    def worker(client: httpx.Client) -> None:
        while not stop.is_set():
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            send(client, item)

    with ThreadPoolExecutor(len(clients)) as pool:
        start = time.perf_counter()
        futures = [pool.submit(worker, client) for client in clients]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stop.set()
            raise
        return time.perf_counter() - start


def warm_up(
    clients: Sequence[httpx.Client],
    items: Sequence[T],
    send: Callable[[httpx.Client, T], object],
) -> None:
    """Send one item over each client (opens every connection); not timed."""
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(send, clients, items))


@dataclass(frozen=True)
class Rate:
    """A timed run: how many items and bytes in how many seconds."""

    items: int
    nbytes: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Items per second."""
        return self.items / self.seconds

    @property
    def mb_per_second(self) -> float:
        """Megabytes (10^6) per second."""
        return self.nbytes / self.seconds / MB


def _median_rate(rates: Sequence[Rate]) -> Rate:
    seconds = statistics.median(rate.seconds for rate in rates)
    return Rate(rates[0].items, rates[0].nbytes, seconds)


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code == 404:
        raise NotAvailable(f"{what}: 404")
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")


# ------------------------------------------------------------------------------ measures


def upload_hds(client: httpx.Client, group: list[bytes]) -> str:
    """``POST /api/v1/uploads`` with a ``file`` part per file, as the browser uploader sends
    them; return the study's page path."""
    response = client.post(
        "/api/v1/uploads",
        files=[("file", (f"{n}.dcm", data, "application/dicom")) for n, data in enumerate(group)],
    )
    _check(response, "HDS upload")
    studies = set()
    for result in response.json()["results"]:
        if result["status"] != "stored":
            raise RuntimeError(f"HDS upload: {result['status']}: {result['message']}")
        studies.add(str(result["study_url"]))
    (study,) = studies
    return study


def upload_orthanc(client: httpx.Client, group: list[bytes]) -> str:
    """``POST /instances`` (raw body), one request per file; return Orthanc's study id."""
    studies = set()
    for data in group:
        response = client.post(
            "/instances", content=data, headers={"Content-Type": "application/dicom"}
        )
        _check(response, "Orthanc upload")
        result = response.json()
        if result.get("Status") != "Success":
            raise RuntimeError(f"Orthanc upload: {result}")
        studies.add(str(result["ParentStudy"]))
    (study,) = studies
    return study


def measure_ingest(
    base_url: str,
    headers: dict[str, str],
    upload: Callable[[httpx.Client, list[bytes]], str],
    series: Series,
    warm: Series,
    *,
    group: int,
) -> tuple[Rate, str]:
    """Upload every file over UPLOAD_CONNECTIONS connections, ``group`` files per request;
    return the rate and study id."""
    studies: set[str] = set()

    def send(client: httpx.Client, files: list[bytes]) -> None:
        studies.add(upload(client, files))

    groups = [series.files[i : i + group] for i in range(0, len(series.files), group)]
    clients = [_client(base_url, headers) for _ in range(UPLOAD_CONNECTIONS)]
    try:
        warm_up(clients, [[f] for f in warm.files], upload)
        seconds = run_parallel(clients, groups, send)
    finally:
        for client in clients:
            client.close()
    if len(studies) != 1:
        raise RuntimeError(f"one study expected, got {sorted(studies)}")
    return Rate(len(series.files), series.nbytes, seconds), studies.pop()


def measure_stow(
    url: str, headers: dict[str, str], series: Series, warm: Sequence[list[bytes]]
) -> Rate:
    """STOW-RS in batches of STOW_BATCH instances over STOW_CONNECTIONS connections.

    ``warm`` holds one small batch per connection, sent first and not timed.
    """
    batches = [
        multipart_related(series.files[i : i + STOW_BATCH])
        for i in range(0, len(series.files), STOW_BATCH)
    ]

    def send(client: httpx.Client, batch: tuple[bytes, str]) -> None:
        body, content_type = batch
        response = client.post(
            url,
            content=body,
            headers={"Content-Type": content_type, "Accept": "application/dicom+json"},
        )
        _check(response, "STOW-RS")
        failed: list[object] = []
        with contextlib.suppress(ValueError):  # an empty or non-JSON answer lists no failures
            answer = response.json()
            if isinstance(answer, dict):
                failed = answer.get("00081198", {}).get("Value", [])
        if response.status_code != 200 or failed:
            raise RuntimeError(f"STOW-RS: HTTP {response.status_code}, {len(failed)} failed")

    clients = [_client("", headers) for _ in range(STOW_CONNECTIONS)]
    try:
        warm_up(clients, [multipart_related(files) for files in warm], send)
        seconds = run_parallel(clients, batches, send)
    finally:
        for client in clients:
            client.close()
    return Rate(len(series.files), series.nbytes, seconds)


def _set_cookies(response: httpx.Response, jar: dict[str, str]) -> None:
    # Our cookies carry Secure (and __Host-), which httpx rightly never sends over http://.
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = header.split(";")
        name, _, value = pair.strip().partition("=")
        expired = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attributes)
        if expired or not value.strip('"'):
            jar.pop(name, None)
        else:
            jar[name] = value


def _cookie_header(jar: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in jar.items())}


def log_in(hds: Hds) -> dict[str, str]:
    """Log in through the form like a browser; return the session's cookie header."""
    jar: dict[str, str] = {}
    with _client(hds.base_url, {"Origin": hds.base_url}) as client:
        page = client.get("/login/")
        _check(page, "GET /login/")
        _set_cookies(page, jar)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if match is None:
            raise RuntimeError("no CSRF token on the login page")
        form = {"csrfmiddlewaretoken": match[1], "email": EMAIL, "password": hds.password}
        answer = client.post("/login/", data=form, headers=_cookie_header(jar))
        if answer.status_code != 302:
            raise RuntimeError(f"login: HTTP {answer.status_code} instead of a redirect")
        _set_cookies(answer, jar)
    return _cookie_header(jar)


def download(client: httpx.Client, path: str) -> tuple[int, str]:
    """GET ``path`` to the end; return the bytes received and the Content-Encoding."""
    received = 0
    with client.stream("GET", path) as response:
        _check(response, f"GET {path}")
        if "zip" not in response.headers.get("content-type", ""):
            raise RuntimeError(f"GET {path}: {response.headers.get('content-type')}, not a ZIP")
        for chunk in response.iter_raw():
            received += len(chunk)
        expected = response.headers.get("content-length")
        if expected is not None and int(expected) != received:
            raise RuntimeError(f"GET {path}: {received} of {expected} bytes")
        return received, response.headers.get("content-encoding", "identity")


@dataclass(frozen=True)
class ZipResult:
    """ZIP download: the median time, the archive's size and its Content-Encoding."""

    seconds: float
    zip_bytes: int
    encoding: str


def measure_zip(base_url: str, headers: dict[str, str], path: str, repeats: int) -> ZipResult:
    """Download the archive once (warm-up), then ``repeats`` times; median seconds."""
    with _client(base_url, headers) as client:
        size, encoding = download(client, path)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            download(client, path)
            times.append(time.perf_counter() - start)
    return ZipResult(statistics.median(times), size, encoding)


def measure_frames(
    base_url: str, headers: dict[str, str], paths: list[str], repeats: int
) -> tuple[Rate, str]:
    """Fetch frame 1 of every instance over FRAME_CONNECTIONS; median of ``repeats`` passes."""
    encodings: set[str] = set()

    def fetch(client: httpx.Client, path: str) -> None:
        response = client.get(path, headers={"Accept": FRAME_ACCEPT})
        _check(response, "WADO-RS frame")
        if len(response.content) < FRAME_BYTES:
            raise RuntimeError(f"WADO-RS frame: {len(response.content)} bytes only")
        encodings.add(response.headers.get("content-encoding", "identity"))

    clients = [_client(base_url, headers) for _ in range(FRAME_CONNECTIONS)]
    try:
        warm_up(clients, (paths * FRAME_CONNECTIONS)[:FRAME_CONNECTIONS], fetch)
        rates = [
            Rate(len(paths), len(paths) * FRAME_BYTES, run_parallel(clients, paths, fetch))
            for _ in range(repeats)
        ]
    finally:
        for client in clients:
            client.close()
    return _median_rate(rates), ", ".join(sorted(encodings))


def measure_in_process(hds: Hds, series: Series, warm: Series) -> Rate:
    """Call ``hds.archive.services.ingest_file`` in this process, on the server's data folder."""
    os.environ.update(hds.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "hds.settings"
    os.environ["HDS_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.db import connections

    from hds.accounts.models import Account
    from hds.accounts.services import unlock_master_secret
    from hds.archive.services import ingest_file

    account = Account.objects.get(email=EMAIL)
    ams = unlock_master_secret(account, hds.password)

    def ingest(files: list[bytes]) -> float:
        start = time.perf_counter()
        for number, data in enumerate(files):
            result = ingest_file(account, ams, name=f"{number}.dcm", data=data)
            if result.status != "stored":
                raise RuntimeError(f"ingest_file: {result.status}: {result.message}")
        return time.perf_counter() - start

    try:
        ingest(warm.files)
        return Rate(len(series.files), series.nbytes, ingest(series.files))
    finally:
        connections.close_all()


# ---------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Row:
    """One line of the table; None means not measured."""

    measure: str
    ours: float | None
    theirs: float | None
    unit: str


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def print_table(title: str, rows: list[Row], notes: list[str]) -> None:
    """Print the table like bench_crypto.py, then the notes."""
    print(title)
    print(f"{'measure':<46}{'HDS':>16}{'Orthanc':>16}{'ratio':>8}")
    print("-" * 86)
    for row in rows:
        ratio = "-"
        if row.ours is not None and row.theirs and row.unit != "MB":
            ratio = f"{row.ours / row.theirs:.2f}"
        ours, theirs = _cell(row.ours, row.unit), _cell(row.theirs, row.unit)
        print(f"{row.measure:<46}{ours:>16}{theirs:>16}{ratio:>8}")
    for note in notes:
        print(f"- {note}")


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _rate_rows(label: str, ours: Rate | None, theirs: Rate | None, unit: str) -> list[Row]:
    return [
        Row(
            f"{label} ({unit})",
            ours.per_second if ours else None,
            theirs.per_second if theirs else None,
            unit,
        ),
        Row(
            f"{label} (MB/s)",
            ours.mb_per_second if ours else None,
            theirs.mb_per_second if theirs else None,
            "MB/s",
        ),
    ]


@dataclass
class Bench:
    """Both servers, the CT and the table being filled by the steps a to e."""

    hds: Hds
    orthanc: Orthanc
    volume: Volume
    repeats: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def bearer(self) -> dict[str, str]:
        """Our token's Authorization header."""
        return {"Authorization": f"Bearer {self.hds.token}"}

    def ingest(self, ct: Series) -> tuple[str, str]:
        """a. Upload over HTTP; return our study's page path and Orthanc's study id."""
        warm = encode_series(self.volume, "warm-up", count=UPLOAD_CONNECTIONS)
        ours, our_study = measure_ingest(
            self.hds.base_url, self.bearer, upload_hds, ct, warm, group=UPLOAD_GROUP
        )
        theirs, their_study = measure_ingest(
            self.orthanc.base_url, {}, upload_orthanc, ct, warm, group=1
        )
        label = f"a. ingest HTTP, {UPLOAD_CONNECTIONS} conn, ours {UPLOAD_GROUP}/request"
        self.rows += _rate_rows(label, ours, theirs, "inst/s")
        return our_study, their_study

    def stow(self) -> None:
        """b. STOW-RS of a fresh copy of the CT in batches."""
        ct = encode_series(self.volume, "stow")
        warm = [
            encode_series(self.volume, "stow warm-up", count=4).files
            for _ in range(STOW_CONNECTIONS)
        ]
        ours = theirs = None
        try:
            ours = measure_stow(f"{self.hds.base_url}/dicomweb/studies", self.bearer, ct, warm)
        except NotAvailable:
            self.notes.append("HDS STOW-RS not available: POST /dicomweb/studies answers 404")
        except RuntimeError as exc:  # our DICOMweb is young: report, go on with the rest
            self.notes.append(f"HDS STOW-RS failed: {exc}")
        if self.orthanc.dicomweb:
            theirs = measure_stow(f"{self.orthanc.base_url}/dicom-web/studies", {}, ct, warm)
        label = f"b. STOW-RS, {STOW_BATCH}/request, {STOW_CONNECTIONS} conn"
        self.rows += _rate_rows(label, ours, theirs, "inst/s")

    def zip(self, ct: Series, our_study: str, their_study: str) -> None:
        """c. The whole study as a ZIP: ours through a logged-in session, Orthanc's archive."""
        session = log_in(self.hds)
        ours = measure_zip(
            self.hds.base_url, session, f"{our_study}download.zip?dicom=1", self.repeats
        )
        theirs = measure_zip(
            self.orthanc.base_url, {}, f"/studies/{their_study}/archive", self.repeats
        )
        self.rows += [
            Row(
                "c. ZIP download (MB/s of ZIP)",
                ours.zip_bytes / ours.seconds / MB,
                theirs.zip_bytes / theirs.seconds / MB,
                "MB/s",
            ),
            Row(
                "c. ZIP download (MB/s of DICOM)",
                ct.nbytes / ours.seconds / MB,
                ct.nbytes / theirs.seconds / MB,
                "MB/s",
            ),
            Row("c. ZIP size", ours.zip_bytes / MB, theirs.zip_bytes / MB, "MB"),
        ]
        self.notes.append(
            f"ZIP: ours holds DICOM + JPEG previews + DICOMDIR, Content-Encoding {ours.encoding};"
            f" Orthanc deflates the DICOM files, Content-Encoding {theirs.encoding};"
            f" DICOM payload {ct.nbytes / MB:.0f} MB"
        )

    def frames(self, ct: Series) -> None:
        """d. WADO-RS frame 1 of every instance over FRAME_CONNECTIONS connections."""
        ours = theirs = None
        try:
            paths = frame_paths(ct, "/dicomweb")
            ours, encoding = measure_frames(self.hds.base_url, self.bearer, paths, self.repeats)
            self.notes.append(f"HDS frames Content-Encoding: {encoding}")
        except NotAvailable:
            self.notes.append("HDS WADO-RS not available: GET /dicomweb/.../frames/1 answers 404")
        except RuntimeError as exc:
            self.notes.append(f"HDS WADO-RS failed: {exc}")
        if self.orthanc.dicomweb:
            paths = frame_paths(ct, "/dicom-web")
            theirs, encoding = measure_frames(self.orthanc.base_url, {}, paths, self.repeats)
            self.notes.append(f"Orthanc frames Content-Encoding: {encoding} (httpx offers gzip)")
        else:
            self.notes.append("Orthanc has no DICOMweb plugin: apt-get install orthanc-dicomweb")
        label = f"d. WADO-RS frames, {FRAME_CONNECTIONS} conn"
        self.rows += _rate_rows(label, ours, theirs, "frames/s")

    def in_process(self) -> None:
        """e. ``ingest_file`` without HTTP, one thread."""
        warm = encode_series(self.volume, "in-process warm-up", count=4)
        local = measure_in_process(self.hds, encode_series(self.volume, "in-process"), warm)
        self.rows += _rate_rows("e. ingest_file in process, 1 thread", local, None, "inst/s")


def run(args: argparse.Namespace, tmp: Path, stack: contextlib.ExitStack) -> None:
    """Start both servers, run every measure, print the table."""
    _progress(f"making a synthetic CT of {args.slices} slices")
    volume = make_volume(args.slices)
    _progress("starting hds web and Orthanc")
    hds = start_hds(tmp / "hds", stack, web_workers=args.web_workers, redis_url=args.redis_url)
    orthanc = start_orthanc(tmp / "orthanc", stack)
    bench = Bench(hds, orthanc, volume, args.repeats)
    ct = encode_series(volume, "ingest")
    _progress(f"a. HTTP ingest: {len(ct.files)} files, {ct.nbytes / MB:.0f} MB")
    our_study, their_study = bench.ingest(ct)
    _progress(f"b. STOW-RS, batches of {STOW_BATCH}")
    bench.stow()
    _progress("c. ZIP download of the study")
    bench.zip(ct, our_study, their_study)
    _progress(f"d. WADO-RS frames over {FRAME_CONNECTIONS} connections")
    bench.frames(ct)
    if not args.no_in_process:
        _progress("e. in-process ingest_file")
        bench.in_process()
    print_table(
        f"HDS vs Orthanc {orthanc.version}: {args.slices} CT slices of "
        f"{ct.nbytes / len(ct.files) / MB:.2f} MB, {os.cpu_count()} CPUs; ratio HDS/Orthanc "
        f"(>1: we are faster); c and d: median of {args.repeats}",
        bench.rows,
        bench.notes,
    )


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """How ``hds web`` runs: one process (the embedded default) or several sharing a Redis."""
    parser.add_argument(
        "--web-workers", type=int, default=1, help="hds web processes (>1 needs --redis-url)"
    )
    parser.add_argument(
        "--redis-url",
        default="",
        help="a Redis database the bench may empty, e.g. redis://127.0.0.1:6379/15",
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Parse the arguments, run the benchmark, always stop the servers and remove temp files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300, help="CT slices (0.5 MB each)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SLICES} slices, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3, help="runs of c and d (median)")
    parser.add_argument("--no-in-process", action="store_true", help="skip step e")
    add_server_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.slices, args.repeats = QUICK_SLICES, 1
    if not ORTHANC.exists():
        sys.exit(f"{ORTHANC} is missing: apt-get install orthanc orthanc-dicomweb")
    run_stopping_servers(run, args, prefix="hds-bench-")


def run_stopping_servers(
    run: Callable[[argparse.Namespace, Path, contextlib.ExitStack], None],
    args: argparse.Namespace,
    *,
    prefix: str,
) -> None:
    """Run a bench in a temporary folder; the servers it starts (on ``stack``) stop and the
    folder goes on any end, Ctrl+C and SIGTERM included (exit code 130 then)."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with (
            tempfile.TemporaryDirectory(prefix=prefix) as tmp,
            contextlib.ExitStack() as stack,
        ):
            run(args, Path(tmp), stack)
    except KeyboardInterrupt:
        print("interrupted; servers stopped, temporary folders removed", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
