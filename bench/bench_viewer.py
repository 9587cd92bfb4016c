"""Benchmark the DICOM viewer against Orthanc's web viewer in headless Chromium.

Run from the repository root after the frontend is built (``scripts/setup.sh``):
``.venv/bin/python bench/bench_viewer.py [--slices 300] [--big-slices 2000] [--quick]``.
Needs Debian's ``chromium`` and ``apt-get install orthanc orthanc-webviewer``. It reuses
``bench_archive.py``'s synthetic CT (512 x 512 int16, explicit VR little endian) and its server
helpers: ``hds web`` and Orthanc on loopback ports with fresh temporary folders, the same CT
uploaded to both. Then, in one headless Chromium (the same flags as the browser tests):

- time to first image: from navigation start to the first canvas that shows non-black pixels
  (polled every 10 ms in the page, both viewers alike);
- time to the whole series: from navigation start until every slice's pixels were received
  (ours: the frame responses of WADO-RS; Orthanc: its ``/web-viewer/instances/`` responses);
- memory for a big CT: the viewer opens it and the wheel scrolls through every slice; the peak of
  the page's JS heap (CDP ``Runtime.getHeapUsage``) and the peak resident memory of all Chromium
  processes (``/proc``), sampled every 100 ms.

Every figure is the median of ``--repeats`` runs in fresh browser contexts (no HTTP cache).
Timings never go into tests; this script prints them with the ratio Orthanc/ours (>1: we are
faster or smaller).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_archive import (
    EMAIL,
    MB,
    ORTHANC,
    REQUEST_TIMEOUT,
    UPLOAD_GROUP,
    Hds,
    Orthanc,
    add_server_arguments,
    encode_series,
    make_volume,
    run_stopping_servers,
    start_hds,
    start_orthanc,
    upload_hds,
    upload_orthanc,
)

CHROMIUM = os.environ.get("HDS_CHROMIUM", "/usr/bin/chromium")
ORTHANC_WEBVIEWER = Path("/usr/share/orthanc/plugins/libOrthancWebViewer.so")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-precise-memory-info",
]
VIEWPORT = {"width": 1280, "height": 800}
LOAD_TIMEOUT_S = 180.0
IDLE_S = 5.0

# Poll in the page until a canvas shows something; resolves with performance.now() then
# ("canvas") and when a picture was first on screen ("picture": the canvas, or earlier our
# viewer-boot.js's JPEG preview of the first image, an <img data-preview> once loaded).
FIRST_PIXELS = """() => new Promise((resolve) => {
  const lit = () => {
    for (const canvas of document.querySelectorAll('canvas')) {
      if (!canvas.width || !canvas.height) continue
      const ctx = canvas.getContext('2d')
      if (!ctx) continue
      const w = Math.min(canvas.width, 256), h = Math.min(canvas.height, 256)
      const x = Math.floor((canvas.width - w) / 2), y = Math.floor((canvas.height - h) / 2)
      const data = ctx.getImageData(x, y, w, h).data
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] + data[i + 1] + data[i + 2] > 30) return true
      }
    }
    return false
  }
  const preview = () => {
    const img = document.querySelector('img[data-preview]')
    return Boolean(img && !img.hidden && img.complete && img.naturalWidth > 0)
  }
  let picture = null
  const tick = () => {
    const now = performance.now()
    if (picture === null && preview()) picture = now
    if (lit()) resolve({ picture: picture === null ? now : picture, canvas: now })
    else setTimeout(tick, 10)
  }
  tick()
})"""


@dataclass(frozen=True)
class Load:
    """One opening of a viewer: ms from navigation start."""

    first_picture_ms: float
    first_image_ms: float
    series_ms: float | None
    frames: int


@dataclass(frozen=True)
class Memory:
    """Peaks while scrolling through a big series."""

    js_heap_mb: float
    chromium_rss_mb: float
    seconds: float


def _progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


def upload_all(base_url: str, headers: dict[str, str], files: list[bytes], ours: bool) -> str:
    """Upload a series; return our study page path or Orthanc's study id."""
    studies = set()
    with httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT) as client:
        if ours:
            for i in range(0, len(files), UPLOAD_GROUP):
                studies.add(upload_hds(client, files[i : i + UPLOAD_GROUP]))
        else:
            for data in files:
                studies.add(upload_orthanc(client, [data]))
    (study,) = studies
    return study


def orthanc_series_id(orthanc: Orthanc, study: str) -> str:
    """The Orthanc id of the study's one series."""
    series = httpx.get(f"{orthanc.base_url}/studies/{study}").json()["Series"]
    return str(series[0])


def start_orthanc_with_viewer(folder: Path, stack: contextlib.ExitStack) -> Orthanc:
    """Debian's Orthanc on a loopback port with its web viewer plugin."""
    return start_orthanc(
        folder,
        stack,
        plugins=[ORTHANC_WEBVIEWER],
        extra={"WebViewer": {"CachePath": str(folder / "webviewer-cache")}},
    )


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


# A mid-range phone: 412 x 915 CSS pixels, touch, coarse pointer, and 4 GB of memory as the page
# sees it (navigator.deviceMemory sizes our image cache: 48 MB per GB on coarse pointers).
PHONE: dict[str, Any] = {
    "viewport": {"width": 412, "height": 915},
    "device_scale_factor": 2.625,
    "is_mobile": True,
    "has_touch": True,
    "device_memory_gb": 4,
}


def _context(chromium: Any, *, device_memory_gb: int | None = None, **options: Any) -> Any:
    """A fresh context; ``device_memory_gb`` sets what navigator.deviceMemory reports."""
    context = chromium.new_context(locale="en-GB", **options)
    if device_memory_gb is not None:
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'deviceMemory', "
            f"{{ get: () => {device_memory_gb} }})"
        )
    return context


def hds_context(chromium: Any, hds: Hds, **options: Any) -> Any:
    """A fresh browser context logged in to HDS through the form."""
    context = _context(chromium, **(options or {"viewport": VIEWPORT}))
    page = context.new_page()
    page.goto(f"{hds.base_url}/login/")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(hds.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My documents").wait_for()
    page.close()
    return context


def open_viewer(context: Any, url: str, frame_marker: str, expected: int) -> Load:
    """Open a viewer URL; time the first pixels and the last of ``expected`` frame responses."""
    page = context.new_page()
    done = threading.Event()
    times: list[float] = []

    def on_response(response: Any) -> None:
        url = response.url
        if frame_marker in url and not url.endswith("/rendered") and response.status == 200:
            times.append(time.perf_counter())
            if len(times) >= expected:
                done.set()

    page.on("response", on_response)
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    first = page.evaluate(FIRST_PIXELS)
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while not done.is_set() and time.monotonic() < deadline:
        page.wait_for_timeout(20)  # Playwright delivers events while it waits
        if times and time.perf_counter() - times[-1] > IDLE_S:
            break  # a viewer that loads on demand only: nothing more comes without scrolling
    series_ms = (max(times) - start) * 1000 if done.is_set() else None
    page.close()
    return Load(
        first_picture_ms=float(first["picture"]),
        first_image_ms=float(first["canvas"]),
        series_ms=series_ms,
        frames=len(times),
    )


def chromium_rss_mb() -> float:
    """Resident memory of every Chromium process (ours alone run on this machine)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            text = status.read_text()
            name = text.split("\n", 1)[0]
            if "chrom" not in name:
                continue
            for line in text.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total / MB


def js_memory_mb(cdp: Any) -> float:
    """The page's JS heap plus ArrayBuffer backing stores (where decoded pixels live)."""
    usage = cdp.send("Runtime.getHeapUsage")
    return (float(usage["usedSize"]) + float(usage.get("backingStorageSize", 0))) / MB


def scroll_memory(context: Any, url: str, slices: int, ready: Callable[[Any], None]) -> Memory:
    """Open a big series and wheel through every slice; return the memory peaks."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    page.goto(url)
    ready(page)
    peaks = {"heap": 0.0, "rss": 0.0}
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.is_set():
            peaks["rss"] = max(peaks["rss"], chromium_rss_mb())
            time.sleep(0.1)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    start = time.perf_counter()
    size = page.viewport_size or VIEWPORT
    # Right of the centre on a desktop (clear of the series panel), the centre on a phone.
    page.mouse.move(size["width"] / 2 + (100 if size["width"] > 800 else 0), size["height"] / 2)
    for n in range(slices):
        page.mouse.wheel(0, 100)
        if n % 10 == 0:
            page.wait_for_timeout(30)
            peaks["heap"] = max(peaks["heap"], js_memory_mb(cdp))
    page.wait_for_timeout(2000)
    peaks["heap"] = max(peaks["heap"], js_memory_mb(cdp))
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    page.close()
    return Memory(peaks["heap"], peaks["rss"], seconds)


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _row(label: str, ours: float | None, theirs: float | None, unit: str) -> str:
    def cell(v: float | None) -> str:
        return f"{v:,.0f} {unit}" if v is not None else "n/a"

    ratio = f"{theirs / ours:.1f}x" if ours and theirs else "n/a"
    return f"| {label} | {cell(ours)} | {cell(theirs)} | {ratio} |"


MARKS = ("hds-first-image", "hds-first-render", "hds-series-loaded")


def our_marks(context: Any, url: str) -> tuple[float, ...] | None:
    """Our viewer's own User Timing marks (``MARKS``): first image decoded, first image drawn,
    whole series in the cache; ms from navigation start."""
    page = context.new_page()
    page.goto(url)
    try:
        for _ in range(int(LOAD_TIMEOUT_S * 10)):
            found = page.evaluate(
                f"{list(MARKS)}.map(n => "
                "(performance.getEntriesByName(n)[0] || {}).startTime ?? null)"
            )
            if None not in found:
                return tuple(float(x) for x in found)
            page.wait_for_timeout(100)
        return None
    finally:
        page.close()


def measure_loads(
    chromium: Any, hds: Hds, urls: tuple[str, str], count: int, repeats: int
) -> tuple[list[str], list[str]]:
    """Open both viewers ``repeats`` times in fresh contexts; table rows and notes."""
    ours_url, theirs_url = urls
    ours, theirs, marks = [], [], []
    for n in range(repeats):
        _progress(f"opening both viewers, run {n + 1} of {repeats}")
        context = hds_context(chromium, hds)
        ours.append(open_viewer(context, ours_url, "/frames/", count))
        mark = our_marks(context, ours_url)
        if mark is not None:
            marks.append(mark)
        context.close()
        context = chromium.new_context(viewport=VIEWPORT)
        theirs.append(open_viewer(context, theirs_url, "/web-viewer/instances/", count))
        context.close()
    rows = [
        _row(
            f"first picture on screen, {count}-slice CT (ours: the upload's JPEG preview)",
            _median([x.first_picture_ms for x in ours]),
            _median([x.first_picture_ms for x in theirs]),
            "ms",
        ),
        _row(
            f"first image in the interactive viewer, {count}-slice CT",
            _median([x.first_image_ms for x in ours]),
            _median([x.first_image_ms for x in theirs]),
            "ms",
        ),
        _row(
            f"whole series received, {count} slices",
            _median([x.series_ms for x in ours]),
            _median([x.series_ms for x in theirs]),
            "ms",
        ),
    ]
    notes = [
        f"frames received without interaction: ours {[x.frames for x in ours]}, "
        f"Orthanc {[x.frames for x in theirs]} (of {count})"
    ]
    if marks:
        decoded, drawn, loaded = (_median([m[i] for m in marks]) or 0.0 for i in range(3))
        notes.append(
            "ours, User Timing marks (first image decoded / drawn / whole series in the "
            f"cache): {decoded:,.0f} ms / {drawn:,.0f} ms / {loaded:,.0f} ms"
        )
    return rows, notes


def measure_big(
    chromium: Any, hds: Hds, orthanc: Orthanc, slices: int, bearer: dict[str, str]
) -> list[str]:
    """Upload a big CT to both and scroll through it in both viewers; table rows."""
    _progress(f"making and uploading a {slices}-slice CT")
    big = encode_series(make_volume(slices, seed=2), "viewer big")
    study = upload_all(hds.base_url, bearer, big.files, ours=True).strip("/").split("/")[-1]
    series = orthanc_series_id(orthanc, upload_all(orthanc.base_url, {}, big.files, False))
    del big
    rows = []
    for device, options in (("desktop", {"viewport": VIEWPORT}), ("phone", PHONE)):
        _progress(f"scrolling through the big CT in both viewers ({device})")
        context = hds_context(chromium, hds, **options)
        ours = scroll_memory(
            context,
            f"{hds.base_url}/viewer/{study}/",
            slices,
            lambda page: (
                page.locator('[data-pane="0"] [data-overlay="image"]')
                .filter(has_text="Image")
                .wait_for()
            ),
        )
        context.close()
        context = _context(chromium, **options)
        theirs = scroll_memory(
            context,
            f"{orthanc.base_url}/web-viewer/app/viewer.html?series={series}",
            slices,
            lambda page: page.evaluate(FIRST_PIXELS),
        )
        context.close()
        label = f"{slices}-slice CT scrolled through, {device}"
        rows += [
            _row(f"peak JS memory, {label}", ours.js_heap_mb, theirs.js_heap_mb, "MB"),
            _row(f"peak Chromium RSS, {label}", ours.chromium_rss_mb, theirs.chromium_rss_mb, "MB"),
            _row(f"wheel through all slices, {label}", ours.seconds, theirs.seconds, "s"),
        ]
    return rows


def run(args: argparse.Namespace, tmp: Path, stack: contextlib.ExitStack) -> None:
    """Start both servers, upload the CTs, open both viewers, print the table."""
    _progress(f"making a synthetic CT of {args.slices} slices")
    ct = encode_series(make_volume(args.slices), "viewer")
    _progress("starting hds web and Orthanc (with its web viewer)")
    hds = start_hds(tmp / "hds", stack, web_workers=args.web_workers, redis_url=args.redis_url)
    orthanc = start_orthanc_with_viewer(tmp / "orthanc", stack)
    bearer = {"Authorization": f"Bearer {hds.token}"}
    _progress(f"uploading {len(ct.files)} slices to both")
    our_study = upload_all(hds.base_url, bearer, ct.files, ours=True).strip("/").split("/")[-1]
    their_series = orthanc_series_id(orthanc, upload_all(orthanc.base_url, {}, ct.files, False))
    urls = (
        f"{hds.base_url}/viewer/{our_study}/",
        f"{orthanc.base_url}/web-viewer/app/viewer.html?series={their_series}",
    )
    with browser() as chromium:
        rows, notes = measure_loads(chromium, hds, urls, len(ct.files), args.repeats)
        if args.big_slices:
            rows += measure_big(chromium, hds, orthanc, args.big_slices, bearer)
    print(
        f"\nHDS viewer vs Orthanc Web Viewer (Orthanc {orthanc.version}), headless Chromium, "
        f"{os.cpu_count()} CPUs, median of {args.repeats}; ratio Orthanc/HDS (>1: ours is "
        "faster or smaller)\n"
    )
    print("| measure | HDS | Orthanc | ratio |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(row)
    for note in notes:
        print(f"\n- {note}")


def main() -> None:
    """Parse the arguments, run, always stop the servers and remove the temporary folders."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--big-slices", type=int, default=2000, help="0: skip the memory run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="30 slices, no big CT, 1 run")
    add_server_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.slices, args.big_slices, args.repeats = 30, 0, 1
    for needed in (ORTHANC, ORTHANC_WEBVIEWER, Path(CHROMIUM)):
        if not needed.exists():
            sys.exit(f"{needed} is missing: apt-get install chromium orthanc orthanc-webviewer")
    run_stopping_servers(run, args, prefix="hds-bench-viewer-")


if __name__ == "__main__":
    main()
