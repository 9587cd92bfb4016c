"""Untrusted DICOM is rendered in isolated worker processes with limits (docs/security.md, Render
sandbox)."""

from __future__ import annotations

import json
import logging
import os
import platform
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from pydicom.data import get_testdata_file

from hds import cli
from hds.archive import renderpool
from hds.archive.confine import landlock_abi, try_connect, try_open
from hds.archive.sandbox import (
    Layer,
    Limits,
    Policy,
    RenderPool,
    SandboxRefused,
    call_here,
    missing_protections,
    protected_paths,
    require_isolation,
)
from hds.dicom.frames import transcode
from hds.dicom.rendering import RenderError, make_thumbnail
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


# --- The sandbox's layers (docs/security.md, Render sandbox): each proven on its own, then all
# together. ---

ROOT = os.geteuid() == 0
LANDLOCK_ABI = landlock_abi()
ALL_LAYERS = {"rlimits", "netns", "dedicated-user", "landlock-fs", "landlock-net", "seccomp"}
# Compressed transfer syntaxes from pydicom's test files: their decoders import lazily.
SAMPLES = ["SC_rgb_jpeg_gdcm.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm", "JPEG-LL.dcm"]


def _limits() -> Limits:
    return Limits(workers=1, memory_bytes=3 * 1024**3, cpu_seconds=600, timeout_seconds=60)


@contextmanager
def _pool(policy: Policy) -> Iterator[RenderPool]:
    render_pool = RenderPool(_limits(), policy, report=False)
    try:
        yield render_pool
    finally:
        render_pool.close()


def _pepper() -> str:
    path = Path(settings.DATA_DIR) / "secrets" / "hds_pepper"  # hds.core.secrets
    assert path.read_bytes()  # this process reads it: a worker must not
    return str(path)


def _database() -> str:
    """The SQLite file; on PostgreSQL (reached over the network, which workers lack) a SQLite
    file of the embedded default's name in the data folder stands in for it."""
    if connection.vendor == "sqlite":
        path = Path(connection.settings_dict["NAME"])
    else:
        path = Path(settings.DATA_DIR) / "hds.sqlite3"
        if not path.exists():
            with sqlite3.connect(path) as stand_in:
                stand_in.execute("CREATE TABLE t (x)")
            path.chmod(0o600)
    assert path.is_file(), path
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    return str(path)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port listening on 127.0.0.1 in the test process."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        yield server


def _unreached(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


def _sample(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    assert isinstance(path, str), name
    return Path(path)


def _renders_everything(render_pool: RenderPool) -> None:
    """Previews, DICOM JSON templates, thumbnails and transcoding still work in the worker."""
    prepared = render_pool.prepare(ct_series(1)[0])
    assert prepared.rendering().frames[0].startswith(b"\xff\xd8")
    assert prepared.template
    for name in SAMPLES:
        data = _sample(name).read_bytes()
        frames = render_pool.render(data).frames
        assert frames[0].startswith(b"\xff\xd8"), name
        assert render_pool.call(make_thumbnail, frames[0]).startswith(b"\xff\xd8")
        assert b"DICM" in render_pool.call(transcode, data)[:200]


def test_the_probe_reports_which_layers_a_worker_got(pool: RenderPool) -> None:
    layers = {layer.name: layer for layer in pool.probe_layers()}
    assert set(layers) == ALL_LAYERS
    assert all(layer.detail for layer in layers.values())
    assert layers["rlimits"].active
    if ROOT:
        assert layers["dedicated-user"].active, layers["dedicated-user"]
        assert layers["netns"].active, layers["netns"]
    assert layers["landlock-fs"].active == (LANDLOCK_ABI >= 1)
    assert layers["landlock-net"].active == (LANDLOCK_ABI >= 4)
    assert layers["seccomp"].active == (platform.machine() in {"x86_64", "aarch64"})
    assert not missing_protections(list(layers.values()))


@pytest.mark.django_db
def test_the_probe_checks_that_protected_paths_are_unreadable(
    pool: RenderPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    protected = protected_paths(Path(settings.DATA_DIR), _database())
    assert _pepper() in protected
    layers = {layer.name: layer for layer in pool.probe_layers(protected)}
    assert layers["protected-paths"].active, layers["protected-paths"]
    # Secrets given as files outside the data folder are checked too.
    monkeypatch.setenv("HDS_PEPPER_FILE", "/run/secrets/hds-pepper")
    assert "/run/secrets/hds-pepper" in protected_paths(Path(settings.DATA_DIR))
    # A path the worker may read shows up by name.
    readable = pool.probe_layers([str(_sample("JPEG2000.dcm"))])
    assert not readable[-1].active
    assert "JPEG2000.dcm" in readable[-1].detail


@pytest.mark.django_db
def test_a_worker_cannot_read_the_secrets_or_the_database(pool: RenderPool) -> None:
    assert pool.call(try_open, _pepper()) == "EACCES"
    assert pool.call(try_open, _database()) == "EACCES"
    assert pool.call(try_open, str(settings.DATA_DIR)) == "EACCES"


def test_a_worker_cannot_reach_the_network(pool: RenderPool, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    assert pool.call(try_connect, "127.0.0.1", port) != "connected"
    _unreached(listener)


def test_a_fully_isolated_worker_still_renders(pool: RenderPool) -> None:
    _renders_everything(pool)


@pytest.mark.django_db
@pytest.mark.skipif(LANDLOCK_ABI < 1, reason="this kernel has no Landlock (or it is disabled)")
def test_landlock_alone_keeps_secrets_database_and_network_away(listener: socket.socket) -> None:
    """Without the user drop, network namespace and seccomp: what an unprivileged start gets
    where user namespaces are off. The worker stays root here, so only Landlock can refuse."""
    with _pool(Policy(user=None, netns=False, seccomp=False)) as landlocked:
        layers = {layer.name: layer.active for layer in landlocked.probe_layers()}
        assert layers["landlock-fs"]
        assert not layers["dedicated-user"]
        assert not layers["netns"]
        assert landlocked.call(try_open, _pepper()) == "EACCES"
        assert landlocked.call(try_open, _database()) == "EACCES"
        if LANDLOCK_ABI >= 4:
            port = listener.getsockname()[1]
            assert landlocked.call(try_connect, "127.0.0.1", port) == "EACCES"
            _unreached(listener)
        _renders_everything(landlocked)


@pytest.mark.skipif(not ROOT, reason="switching to a dedicated user needs root")
def test_the_dedicated_user_alone_keeps_the_secrets_away() -> None:
    with _pool(Policy(netns=False, landlock=False, seccomp=False)) as dropped:
        layers = {layer.name: layer.active for layer in dropped.probe_layers()}
        assert layers["dedicated-user"]
        assert not layers["landlock-fs"]
        assert dropped.call(os.getuid) != 0
        assert dropped.call(os.getgroups) == []
        assert dropped.call(try_open, _pepper()) == "EACCES"  # 0600 root: file modes refuse
        _renders_everything(dropped)  # imports done before the drop (Python may be in /root)


def test_the_network_namespace_alone_has_no_route(listener: socket.socket) -> None:
    with _pool(Policy(user=None, landlock=False, seccomp=False)) as namespaced:
        layers = {layer.name: layer for layer in namespaced.probe_layers()}
        if not layers["netns"].active:
            pytest.skip(f"no network namespace here: {layers['netns'].detail}")
        port = listener.getsockname()[1]
        assert namespaced.call(try_connect, "127.0.0.1", port) == "ENETUNREACH"
        _unreached(listener)


@pytest.mark.skipif(platform.machine() not in {"x86_64", "aarch64"}, reason="no seccomp filter")
def test_seccomp_alone_refuses_sockets(listener: socket.socket) -> None:
    with _pool(Policy(user=None, netns=False, landlock=False)) as filtered:
        port = listener.getsockname()[1]
        assert filtered.call(try_connect, "127.0.0.1", port) == "EPERM"
        _unreached(listener)
        assert filtered.render(ct_series(1)[0]).frames


def test_sandbox_layers_for_hds_check_needs_no_django() -> None:
    script = (
        "import sys\n"
        "from hds.archive.sandbox import sandbox_layers, Layer\n"
        "layers = sandbox_layers()\n"
        "assert not any(name.startswith('django') for name in sys.modules), 'django imported'\n"
        "print(','.join(f'{layer.name}={int(layer.active)}' for layer in layers))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["HDS_DATA_DIR"] = str(settings.DATA_DIR)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = dict(item.split("=") for item in result.stdout.strip().split(","))
    assert set(found) == {*ALL_LAYERS, "protected-paths"}
    assert found["rlimits"] == "1"
    assert found["protected-paths"] == "1"


def test_missing_layers_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    bare = RenderPool(_limits(), Policy(user=None, netns=False, landlock=False, seccomp=False))
    try:
        with caplog.at_level(logging.WARNING, logger="hds.archive.sandbox"):
            bare.render(ct_series(1)[0])  # starts the pool, whose first task is the probe
            deadline = time.monotonic() + 30
            while "filesystem isolation" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        bare.close()
    assert "layer landlock-fs is not active: disabled" in caplog.text
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("filesystem isolation (landlock-fs or dedicated-user)" in e for e in errors)
    assert any("network isolation (netns or landlock-net)" in e for e in errors)


def _layers(*active: str) -> Callable[[], list[Layer]]:
    return lambda: [Layer(name, name in active, "test") for name in sorted(ALL_LAYERS)]


@pytest.mark.parametrize(
    ("active", "refused"),
    [
        ((), "filesystem isolation (landlock-fs or dedicated-user); network isolation"),
        (("landlock-fs", "landlock-net"), ""),
        (("dedicated-user", "netns"), ""),
        (("dedicated-user", "seccomp", "rlimits"), "network isolation (netns or landlock-net)"),
        (("netns", "landlock-net"), "filesystem isolation (landlock-fs or dedicated-user)"),
    ],
    ids=["nothing", "landlock", "user-and-netns", "no-network", "no-filesystem"],
)
def test_production_refuses_to_start_without_isolation(
    active: tuple[str, ...], refused: str
) -> None:
    if refused:
        with pytest.raises(SandboxRefused, match=re.escape(refused)) as info:
            require_isolation(True, False, workers=2, layers=_layers(*active))
        assert "HDS_ALLOW_UNSANDBOXED=1" in str(info.value)
        assert "\n" not in str(info.value)
    else:
        require_isolation(True, False, workers=2, layers=_layers(*active))
    # HDS_ALLOW_UNSANDBOXED accepts the risk; outside production nothing is probed.
    require_isolation(True, True, workers=2, layers=_layers(*active))
    require_isolation(False, False, workers=2, layers=lambda: pytest.fail("probed"))


def test_production_refuses_readable_protected_paths() -> None:
    layers = [*_layers("landlock-fs", "landlock-net")(), Layer("protected-paths", False, "x")]
    with pytest.raises(SandboxRefused, match="protection of the data folder"):
        require_isolation(True, False, workers=2, layers=lambda: layers)


def test_production_refuses_in_process_rendering() -> None:
    with pytest.raises(SandboxRefused, match="HDS_RENDER_WORKERS=0"):
        require_isolation(True, False, workers=0, layers=lambda: pytest.fail("probed"))
    require_isolation(True, True, workers=0, layers=lambda: pytest.fail("probed"))
    require_isolation(False, False, workers=0, layers=lambda: pytest.fail("probed"))


@pytest.mark.django_db
def test_hds_commands_refuse_an_unsandboxed_production_start(
    settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.PRODUCTION = True
    settings.RENDER_WORKERS = 0
    assert cli.main(["worker", "--once"]) == 2
    assert "HDS_RENDER_WORKERS=0" in capsys.readouterr().err
    renderpool.render_pool.cache_clear()  # an earlier test in this process may have made one
    try:
        with pytest.raises(ImproperlyConfigured, match="HDS_RENDER_WORKERS=0"):
            renderpool.render_pool()
    finally:
        renderpool.render_pool.cache_clear()
    settings.ALLOW_UNSANDBOXED = True
    assert cli.main(["worker", "--once"]) == 0
    # Workers whose probe lacks a layer: refused, unless allowed.
    settings.ALLOW_UNSANDBOXED = False
    settings.RENDER_WORKERS = 2
    monkeypatch.setattr(renderpool, "sandbox_layers", lambda *a: _layers("landlock-fs")())
    assert cli.main(["worker", "--once"]) == 2
    assert "network isolation" in capsys.readouterr().err
    settings.ALLOW_UNSANDBOXED = True
    assert cli.main(["worker", "--once"]) == 0


@pytest.mark.django_db
def test_this_machine_passes_the_production_check(settings: Any) -> None:
    """The real probe (a throwaway worker) on this machine: nothing missing."""
    settings.PRODUCTION = True
    renderpool.require_render_isolation()


_UNPRIVILEGED_SCRIPT = """
import json, socket, sys
if __name__ == "__main__":
    from hds.archive.confine import try_connect, try_open
    from hds.archive.sandbox import Limits, Policy, RenderPool
    from tests.archive.factories import ct_series
    secret, port = sys.argv[1], int(sys.argv[2])
    pool = RenderPool(Limits(1, 3 * 1024**3, 600, 60), Policy(), [secret], report=False)
    try:
        print(json.dumps({
            "layers": {layer.name: layer.active for layer in pool.probe_layers()},
            "open": pool.call(try_open, secret),
            "connect": pool.call(try_connect, "127.0.0.1", port),
            "frames": len(pool.render(ct_series(1)[0]).frames),
        }))
    finally:
        pool.close()
"""


def _interpreter_for(uid: int) -> str | None:
    """This Python version, executable by ``uid`` (the test's own may sit under /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}", sys.executable):
        check = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", candidate, "-V"],
            capture_output=True,
            text=True,
            check=False,
        )
        minor = f"Python {sys.version_info.major}.{sys.version_info.minor}."
        if check.returncode == 0 and check.stdout.startswith(minor):  # the same extension ABI
            return candidate
    return None


@pytest.mark.skipif(not ROOT, reason="needs root to start a process as another user")
@pytest.mark.skipif(LANDLOCK_ABI < 4, reason="this kernel lacks Landlock ABI 4 (TCP rules)")
def test_an_unprivileged_start_still_confines_its_workers(listener: socket.socket) -> None:
    """Started as an ordinary user (no user switch possible): Landlock, seccomp and, where
    user namespaces are allowed, a network namespace still keep a world-readable secret and
    the network away; without them the same file would be readable."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    uid = pwd.getpwnam("nobody").pw_uid
    python = _interpreter_for(uid)
    if python is None:
        pytest.skip("no Python of this version that an unprivileged user may run")
    folder = Path(tempfile.mkdtemp(prefix="hds-unprivileged-"))
    try:
        folder.chmod(0o755)
        secret = folder / "hds_pepper"
        secret.write_text("not for workers\n")
        secret.chmod(0o644)  # file modes would let the user read it: only the sandbox refuses
        repo = Path(__file__).resolve().parents[2]
        site_packages = next(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{repo / 'src'}:{repo}:{site_packages}",
            "HOME": str(folder),
        }
        port = str(listener.getsockname()[1])
        as_user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        result = subprocess.run(
            [*as_user, python, "-c", _UNPRIVILEGED_SCRIPT, str(secret), port],
            env=env,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    layers = outcome["layers"]
    assert not layers["dedicated-user"]
    assert layers["landlock-fs"]
    assert layers["landlock-net"]
    assert layers["protected-paths"]
    assert outcome["open"] == "EACCES"
    assert outcome["connect"] != "connected"
    _unreached(listener)
    assert outcome["frames"] == 1
