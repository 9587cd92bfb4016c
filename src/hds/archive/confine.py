"""The confinement layers of a render worker (docs/security.md, Render sandbox), each applied on
its own.

Every function here runs in a freshly spawned worker, applies one layer and returns a
``Layer`` that says whether it took and why not; none raises, so a missing kernel feature costs
that layer only. Order matters: the network namespace needs root (or a user namespace), the
user drop comes before Landlock and seccomp, and seccomp last (it forbids ``socket()``).

Landlock (``landlock(7)``) is driven through raw syscalls with ctypes: a ruleset that handles
every filesystem right the kernel knows, read-only rules for what Python needs to import, and
(ABI 4+) TCP bind/connect with no rule at all, so both are denied.

``isolate`` is the pool's worker initializer. It lives here, in a module that imports only the
standard library, so a spawned worker starts it with a single thread (``unshare`` of a user
namespace refuses a threaded process; numpy starts a BLAS thread); the rendering modules are
imported by name afterwards, before the user drop and Landlock. No Django.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import errno
import importlib
import logging
import os
import platform
import pwd
import resource
import site
import socket
import struct
import sys
import sysconfig
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Layer:
    """One layer of the render sandbox: its name, whether it is in force, and why (not)."""

    name: str
    active: bool
    detail: str


_LIBC: Final = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long
_LIBC.prctl.restype = ctypes.c_int

_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2

# Landlock syscalls have the same numbers on every architecture (asm-generic, Linux 5.13).
_SYS_LANDLOCK_CREATE_RULESET: Final = 444
_SYS_LANDLOCK_ADD_RULE: Final = 445
_SYS_LANDLOCK_RESTRICT_SELF: Final = 446
_LANDLOCK_CREATE_RULESET_VERSION: Final = 1
_LANDLOCK_RULE_PATH_BENEATH: Final = 1

_FS_EXECUTE: Final = 1 << 0
_FS_WRITE_FILE: Final = 1 << 1
_FS_READ_FILE: Final = 1 << 2
_FS_READ_DIR: Final = 1 << 3
_FS_ABI1: Final = (1 << 13) - 1  # execute ... make_sym
_FS_REFER: Final = 1 << 13  # ABI 2
_FS_TRUNCATE: Final = 1 << 14  # ABI 3
_FS_IOCTL_DEV: Final = 1 << 15  # ABI 5
_FS_FILE_RIGHTS: Final = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP: Final = 1 << 0  # ABI 4
_NET_CONNECT_TCP: Final = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0  # ABI 6
_SCOPE_SIGNAL: Final = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _errno_name(number: int) -> str:
    return errno.errorcode.get(number, str(number))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none or it is disabled."""
    version = _LIBC.syscall(
        _SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(int(version), 0)


def limit_resources(memory_bytes: int, cpu_seconds: int) -> Layer:
    """Address-space and CPU-time limits, no core dumps."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        # The soft limit sends SIGXCPU (the worker dies, the pool notices).
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    except (OSError, ValueError) as exc:
        return Layer("rlimits", False, f"setrlimit failed ({type(exc).__name__})")
    detail = f"address space {memory_bytes // 2**20} MiB, CPU {cpu_seconds} s, no core dumps"
    return Layer("rlimits", True, detail)


def _interfaces() -> list[str]:
    """The network interfaces of this process's namespace (``/proc/self/net/dev``)."""
    with open("/proc/self/net/dev", encoding="ascii") as handle:
        return sorted(line.split(":", 1)[0].strip() for line in handle.readlines()[2:])


def new_network_namespace() -> Layer:
    """A network namespace of its own (only a down loopback): as root directly, otherwise
    inside a new user namespace where the kernel allows one."""
    flags = _CLONE_NEWNET if os.geteuid() == 0 else _CLONE_NEWUSER | _CLONE_NEWNET
    if _LIBC.unshare(flags) != 0:
        number = ctypes.get_errno()
        how = "unshare(CLONE_NEWNET)" if flags == _CLONE_NEWNET else "a user namespace"
        threads = len(os.listdir("/proc/self/task"))
        why = f" ({threads} threads: something imported numpy first)" if threads > 1 else ""
        return Layer("netns", False, f"{how} refused: {_errno_name(number)}{why}")
    try:
        names = _interfaces()
    except OSError:
        return Layer("netns", False, "unshare worked but /proc/self/net/dev is unreadable")
    if names != ["lo"]:
        return Layer("netns", False, f"new namespace has interfaces {names}")
    return Layer("netns", True, "own network namespace, loopback only (down)")


def _user_entry(name: str | None) -> tuple[pwd.struct_passwd | None, str]:
    """The account to switch to, or why there is none."""
    if not name:
        return None, "disabled"
    if os.geteuid() != 0:
        return None, f"not started as root (uid {os.geteuid()}), cannot switch"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None, f"user {name!r} does not exist"
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        return None, f"user {name!r} has uid or gid 0"
    return entry, ""


def drop_user(name: str | None) -> Layer:
    """As root: switch to the unprivileged user ``name`` (its primary group, no supplementary
    groups); file permissions then keep it from root's secrets and database."""
    entry, reason = _user_entry(name)
    if entry is None:
        return Layer("dedicated-user", False, reason)
    try:
        os.setgroups([])
        os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
        os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)
    except OSError as exc:
        return Layer("dedicated-user", False, f"switch failed: {_errno_name(exc.errno or 0)}")
    if _can_become_root():
        return Layer("dedicated-user", False, "could switch back to root")  # pragma: no cover
    detail = f"uid {entry.pw_uid} ({name}), gid {entry.pw_gid}, no supplementary groups"
    return Layer("dedicated-user", True, detail)


def _can_become_root() -> bool:
    try:
        os.setuid(0)
    except PermissionError:
        return False
    return True  # pragma: no cover


def _no_new_privs() -> bool:
    return bool(_LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)


def _add_path_rule(ruleset: int, path: str, rights: int) -> bool:
    """Allow ``rights`` beneath ``path`` (file rights only for a file); False if it is absent."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not os.path.isdir(f"/proc/self/fd/{fd}"):
            rights &= _FS_FILE_RIGHTS
        attr = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        result = _LIBC.syscall(
            _SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(attr), 0
        )
        if result != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(fd)
    return True


class Landlock:
    """A Landlock ruleset: built (its paths opened) while the worker may still open them all,
    enforced by ``restrict`` after the user drop. Read-only access beneath ``read_only``, read
    and write to the files ``writable`` (``/dev/null``), nothing else on the filesystem; no TCP
    bind or connect (ABI 4+); no abstract UNIX sockets or signals outside the sandbox (ABI 6+).
    """

    def __init__(self, read_only: Iterable[str], writable: Iterable[str] = ("/dev/null",)) -> None:
        self.abi = landlock_abi()
        self.allowed: list[str] = []
        self.failure = ""
        self._fd = -1
        if self.abi < 1:
            self.failure = "kernel has no Landlock or it is disabled"
            return
        fs = _FS_ABI1
        fs |= _FS_REFER if self.abi >= 2 else 0
        fs |= _FS_TRUNCATE if self.abi >= 3 else 0
        fs |= _FS_IOCTL_DEV if self.abi >= 5 else 0
        self.net = _NET_BIND_TCP | _NET_CONNECT_TCP if self.abi >= 4 else 0
        self.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if self.abi >= 6 else 0
        attr = _RulesetAttr(handled_access_fs=fs, handled_access_net=self.net, scoped=self.scoped)
        size = 24 if self.abi >= 6 else 16 if self.abi >= 4 else 8
        fd = int(_LIBC.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0))
        if fd < 0:
            self.failure = f"landlock_create_ruleset failed: {_errno_name(ctypes.get_errno())}"
            return
        self._fd = fd
        try:
            read = _FS_READ_FILE | _FS_READ_DIR
            self.allowed = [p for p in read_only if _add_path_rule(fd, p, read)]
            read_write = _FS_READ_FILE | _FS_WRITE_FILE
            self.allowed += [f"{p} (rw)" for p in writable if _add_path_rule(fd, p, read_write)]
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failure = f"{exc.strerror}: {_errno_name(exc.errno or 0)}"
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def restrict(self) -> tuple[Layer, Layer]:
        """Enforce the ruleset on this process (for good); the two layers it gives."""
        try:
            if self._fd < 0:
                raise OSError(0, self.failure)
            if not _no_new_privs():
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
            if _LIBC.syscall(_SYS_LANDLOCK_RESTRICT_SELF, self._fd, 0) != 0:
                raise OSError(ctypes.get_errno(), "landlock_restrict_self")
        except OSError as exc:
            self._fail(exc)
            reason = self.failure.removesuffix(": 0")
            return Layer("landlock-fs", False, reason), Layer("landlock-net", False, reason)
        os.close(self._fd)
        self._fd = -1
        abi = self.abi
        where = f"{len(self.allowed)} paths (Python, its packages, hds, system libraries)"
        fs_layer = Layer("landlock-fs", True, f"ABI {abi}; read-only beneath {where}, nothing else")
        if not self.net:
            return fs_layer, Layer("landlock-net", False, f"ABI {abi} < 4 cannot restrict TCP")
        scopes = "; abstract UNIX sockets and signals scoped" if self.scoped else ""
        detail = f"ABI {abi}; TCP bind and connect denied{scopes}"
        return fs_layer, Layer("landlock-net", True, detail)


# seccomp: socket() and io_uring_setup() fail with EPERM, so not even UDP, UNIX or netlink
# sockets can be made; everything else is allowed. (architecture, socket, io_uring_setup)
_SECCOMP_ARCH: Final = {
    "x86_64": (0xC000003E, 41, 425),
    "aarch64": (0xC00000B7, 198, 425),
}
_X32_SYSCALL_BIT: Final = 0x40000000
_SECCOMP_RET_ALLOW: Final = 0x7FFF0000
_SECCOMP_RET_ERRNO: Final = 0x00050000


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def seccomp_no_sockets() -> Layer:
    """A seccomp filter that makes ``socket()`` (and ``io_uring_setup``) fail with EPERM."""
    numbers = _SECCOMP_ARCH.get(platform.machine())
    if numbers is None:
        return Layer("seccomp", False, f"no filter for architecture {platform.machine()}")
    arch, nr_socket, nr_io_uring = numbers
    ld_w_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    program = b"".join(
        [
            _bpf(ld_w_abs, 0, 0, 4),  # seccomp_data.arch
            _bpf(jeq, 0, 5, arch),  # another ABI (i386 on x86_64): deny everything
            _bpf(ld_w_abs, 0, 0, 0),  # seccomp_data.nr
            _bpf(jge, 3, 0, _X32_SYSCALL_BIT),  # x32 numbers: deny
            _bpf(jeq, 2, 0, nr_socket),
            _bpf(jeq, 1, 0, nr_io_uring),
            _bpf(ret, 0, 0, _SECCOMP_RET_ALLOW),
            _bpf(ret, 0, 0, deny),
        ]
    )
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len=len(program) // 8, filter=ctypes.addressof(buffer))
    if not _no_new_privs():
        return Layer("seccomp", False, f"no_new_privs refused: {_errno_name(ctypes.get_errno())}")
    if _LIBC.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return Layer("seccomp", False, f"filter refused: {_errno_name(ctypes.get_errno())}")
    return Layer("seccomp", True, "socket() and io_uring_setup() fail with EPERM")


def try_open(path: str) -> str:
    """In a worker: ``"readable"`` if ``path`` (a file, or a folder to list) can be read,
    else the error's name (``"EACCES"``); for probes and tests."""
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except OSError as exc:
        return _errno_name(exc.errno or 0)
    return "readable"


def try_connect(host: str, port: int) -> str:
    """In a worker: ``"connected"`` if a TCP connection to ``host:port`` opens within two
    seconds, else the error's name; for probes and tests."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return "connected"
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return _errno_name(exc.errno or 0) if exc.errno else type(exc).__name__


def unreadable(paths: Sequence[str]) -> Layer:
    """Whether none of ``paths`` (the data folder, secrets, database) can be read here."""
    outcomes = {path: try_open(path) for path in paths}
    readable = [path for path, outcome in outcomes.items() if outcome == "readable"]
    if readable:
        return Layer("protected-paths", False, f"readable: {', '.join(readable)}")
    checked = [path for path, outcome in outcomes.items() if outcome != "ENOENT"]
    if not checked:
        return Layer("protected-paths", False, "none of the paths to check exists")
    return Layer("protected-paths", True, f"{len(checked)} paths unreadable")


# --- The worker initializer ---------------------------------------------------------------

# Imported before the worker confines itself: the dedicated user may not be able to read the
# Python installation (a pyenv under /root), and Landlock allows reading it anyway.
_PRELOAD: Final = (
    "hds.dicom.rendering",
    "hds.dicom.frames",
    "hds.dicom.template",
    "pydicom.charset",
    "pydicom.pixels",
    "pydicom.pixels.decoders",
    "pydicom.pixels.encoders",
    "PIL.Image",
    "numpy",
    "numpy.ma",  # numpy.unique (percentiles) imports it lazily
)


@dataclass(frozen=True)
class Policy:
    """Which layers a worker applies besides its limits (all by default; tests switch some
    off to prove each on its own). ``user``: the account to switch to when started as root."""

    user: str | None = "nobody"
    netns: bool = True
    landlock: bool = True
    seccomp: bool = True


# In a worker: the layers its initializer applied.
_LAYERS: list[Layer] = []


def _preload() -> None:
    """Import what rendering needs, every codec a DICOM character set maps to, Pillow's
    plugins and the pylibjpeg decoders (found through entry points)."""
    for name in _PRELOAD:
        importlib.import_module(name)
    from PIL import Image
    from pydicom.charset import python_encoding

    Image.init()
    for encoding in set(python_encoding.values()):
        with contextlib.suppress(LookupError):
            codecs.lookup(encoding)
    try:
        from pylibjpeg.utils import get_decoders, get_pixel_data_decoders

        get_decoders()
        get_pixel_data_decoders()
    except ImportError:
        pass


def _import_roots(covered: set[str]) -> set[str]:
    """Where the modules imported so far came from, beyond ``covered``: a whole
    ``site-packages`` folder (``PYTHONPATH``; entry points are read there), else only the
    top-level package, never a whole working folder that might hold the data folder."""
    entries = sorted({os.path.realpath(p) for p in sys.path if p}, key=len, reverse=True)
    inside = tuple(os.path.realpath(p) + os.sep for p in covered if p)
    roots: set[str] = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or module.__name__ in {"__main__", "__mp_main__"}:
            continue
        file = os.path.realpath(file)
        entry = next((e for e in entries if file.startswith(e + os.sep)), None)
        if entry is None or file.startswith(inside):
            continue
        if os.path.basename(entry) in {"site-packages", "dist-packages"}:
            roots.add(entry)
        else:
            roots.add(os.path.join(entry, file[len(entry) + 1 :].split(os.sep)[0]))
    return roots


def _readable_paths() -> list[str]:
    """What a confined worker may read: the Python installation and virtualenv, the ``hds``
    package, shared libraries, a few device files and its own ``/proc`` entry."""
    paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    paths.update(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib"))
    paths.update(site.getsitepackages())
    paths.add(str(Path(__file__).resolve().parent.parent))  # the hds package
    paths.update(_import_roots(paths))
    paths.update(
        [
            "/usr/lib",
            "/usr/lib64",
            "/lib",
            "/lib64",
            "/usr/local/lib",
            "/etc/ld.so.cache",
            "/etc/localtime",
            "/usr/share/zoneinfo",
            "/dev/urandom",
            "/dev/zero",
            "/proc/self",
            "/sys/devices/system/cpu",
        ]
    )
    return sorted(path for path in paths if path and path != "/")


def _apply(name: str, wanted: bool, apply: Callable[[], list[Layer]]) -> list[Layer]:
    """One layer (or a pair): its own result, "disabled", or "failed" if it raised."""
    if not wanted:
        return [Layer(name, False, "disabled")]
    try:
        return apply()
    except Exception as exc:
        return [Layer(name, False, f"failed: {type(exc).__name__}")]


def _apply_value(make: Callable[[], T]) -> T | None:
    try:
        return make()
    except Exception:
        return None


def _silence() -> None:
    """A worker has no log configuration: without this, Python's last-resort handler and the
    warnings module would print pydicom's messages, which quote element values (patient data),
    to the server's stderr. Failures reach the web process as fixed reasons instead."""
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")


def isolate(memory_bytes: int, cpu_seconds: int, policy: Policy | None = None) -> None:
    """Worker initializer: apply every layer on its own and remember which took (a missing
    kernel feature costs its layer only)."""
    policy = policy or Policy()
    _silence()
    layers = _apply("rlimits", True, lambda: [limit_resources(memory_bytes, cpu_seconds)])
    # Before any import that starts a thread (numpy's BLAS): a user namespace needs one thread.
    layers += _apply("netns", policy.netns, lambda: [new_network_namespace()])
    _preload()
    # The ruleset opens its paths before the user drop: the user may not read the Python prefix.
    ruleset = _apply_value(lambda: Landlock(_readable_paths())) if policy.landlock else None
    layers += _apply("dedicated-user", True, lambda: [drop_user(policy.user)])
    if ruleset is None:
        reason = "disabled" if not policy.landlock else "failed"
        layers += [Layer("landlock-fs", False, reason), Layer("landlock-net", False, reason)]
    else:
        layers += _apply("landlock-fs", True, lambda: list(ruleset.restrict()))
    layers += _apply("seccomp", policy.seccomp, lambda: [seccomp_no_sockets()])
    _LAYERS[:] = layers


def worker_layers(protected: Sequence[str]) -> list[Layer]:
    """In a worker: its layers, and whether it can read any of ``protected``."""
    return [*_LAYERS, *([unreadable(protected)] if protected else [])]
